package compat

import (
	"regexp"
	"slices"
	"strings"
)

// This file holds the adjustments for the deliberate differences between
// redis-sentinel 7.0 and vipsentinel (used as dcase.fix), each with its
// reason.

// expect replaces redis-sentinel 7.0's reply with the one vipsentinel is
// meant to give, where it deliberately follows Redis 7.2+ Sentinel (the
// version sentinel-behaviour.md §1.14 describes) rather than 7.0.
func expect(want value) func(int, *value, *value) {
	return func(_ int, r, _ *value) { *r = want }
}

func errReply(s string) value    { return value{kind: kError, str: s} }
func simpleReply(s string) value { return value{kind: kSimple, str: s} }

// expectAll is expect for a case of several replies.
func expectAll(want ...value) func(int, *value, *value) {
	return func(i int, r, _ *value) {
		if i < len(want) {
			*r = want[i]
		}
	}
}

// withLoglevel adds the loglevel parameter, which Redis 7.2 added to
// SENTINEL CONFIG (and §1.14 lists last), to redis-sentinel 7.0's reply.
func withLoglevel(_ int, r, _ *value) {
	if (r.kind == kMap || r.kind == kArray) && lookup(r, "loglevel") == nil {
		r.elems = append(r.elems, value{kind: kBulk, str: "loglevel"}, value{kind: kBulk, str: "notice"})
	}
}

// infoDeliberate removes what vipsentinel deliberately does differently in
// INFO:
//   - the "# VIPSentinel" section (floating addresses, fence, epochs), which
//     redis-sentinel has no equivalent of;
//   - vipsentinel_version and go_version in "# Server", which stand where
//     redis-sentinel has atomicvar_api and gcc_version: facts about a C
//     build that a Go program does not have.
func infoDeliberate(_ int, r, v *value) {
	deleteKeys(v, "# VIPSentinel")
	if s := lookup(v, "# Server"); s != nil {
		deleteKeys(s, "vipsentinel_version", "go_version")
	}
	if s := lookup(r, "# Server"); s != nil {
		deleteKeys(s, "atomicvar_api", "gcc_version")
	}
}

// withoutLibFields removes lib-name and lib-ver from vipsentinel's client
// descriptions (CLIENT INFO, CLIENT LIST, ACL LOG's client-info): they come
// with CLIENT SETINFO (Redis 7.2), which vipsentinel supports because
// go-redis and redis-py send it.
func withoutLibFields(_ int, _, v *value) {
	var walk func(v *value)
	walk = func(v *value) {
		if v.kind == kMap && lookup(v, "id") != nil && lookup(v, "lib-name") != nil {
			deleteKeys(v, "lib-name", "lib-ver")
			return
		}
		for i := range v.elems {
			walk(&v.elems[i])
		}
	}
	walk(v)
}

// vipsentinel also serves commands redis-sentinel 7.0 does not: VIPSENTINEL
// (the agent's own STATUS), QUIT and RESET, which Redis 7.0 leaves out of
// sentinel mode although clients send them (redis-py and phpredis on close,
// go-redis when resetting a pooled connection), and CLIENT SETINFO (Redis
// 7.2; go-redis and redis-py send it on every connection). They are
// unlisted: COMMAND and ACL CAT answer exactly as redis-sentinel's, and
// the cases below compare them with no fix.

// sortElems sorts an array of strings that Redis gives in hash order.
func sortElems(v *value) {
	slices.SortFunc(v.elems, func(a, b value) int { return strings.Compare(a.str, b.str) })
}

// isCommandInfo reports whether v is one COMMAND INFO entry.
func isCommandInfo(v *value) bool {
	return v.kind == kArray && len(v.elems) == 10 && v.elems[0].kind == kBulk
}

// sortCommandInfo sorts COMMAND INFO's entries, and the subcommands of each,
// by name: Redis gives both in hash order.
func sortCommandInfo(v *value) {
	byName := func(a, b value) int {
		if !isCommandInfo(&a) || !isCommandInfo(&b) {
			return 0
		}
		return strings.Compare(a.elems[0].str, b.elems[0].str)
	}
	slices.SortStableFunc(v.elems, byName)
	for i := range v.elems {
		if e := &v.elems[i]; isCommandInfo(e) {
			slices.SortStableFunc(e.elems[9].elems, byName)
		}
	}
}

// sortDocs sorts COMMAND DOCS's entries, and each container's subcommands,
// by name: Redis gives both in hash order.
func sortDocs(v *value) {
	sortPairs(v)
	_, docs, ok := v.pairs()
	if !ok {
		return
	}
	for _, d := range docs {
		if subs := lookup(d, "subcommands"); subs != nil {
			sortDocs(subs)
		}
	}
}

// sortPairs sorts a map's (or flat key/value array's) entries by key.
func sortPairs(v *value) {
	type kv struct{ k, v value }
	var kvs []kv
	for i := 0; i+1 < len(v.elems); i += 2 {
		kvs = append(kvs, kv{v.elems[i], v.elems[i+1]})
	}
	slices.SortStableFunc(kvs, func(a, b kv) int { return strings.Compare(a.k.str, b.k.str) })
	v.elems = v.elems[:0]
	for _, e := range kvs {
		v.elems = append(v.elems, e.k, e.v)
	}
}

// bigO is the leading complexity class of a COMMAND DOCS complexity
// ("O(N)", "O(log N)", "O(N+M)"), or "" when the text has none.
var bigO = regexp.MustCompile(`^O\([^)]*\)`)

// docsDeliberate compares COMMAND DOCS by structure and facts only. It
// replaces the prose, which
// vipsentinel writes in its own words rather than copying Redis's:
// summaries, the explanation after a complexity's class (the class itself
// is compared), and the description of each history entry (its version is
// compared). Prose that is word for word Redis's is left in place, marked,
// so that the comparison fails.
func docsDeliberate(_ int, r, v *value) {
	var walk func(r, v *value)
	walk = func(r, v *value) {
		rkeys, rdocs, ok := r.pairs()
		if !ok {
			return
		}
		for i, name := range rkeys {
			vd := lookup(v, name)
			if vd == nil {
				continue
			}
			ownWords(rdocs[i], vd)
			rs, vs := lookup(rdocs[i], "subcommands"), lookup(vd, "subcommands")
			if rs != nil && vs != nil {
				walk(rs, vs)
			}
		}
	}
	walk(r, v)
}

// ownWords replaces the prose of one pair of COMMAND DOCS entries (see
// docsDeliberate).
func ownWords(r, v *value) {
	copied := func(what, s string) string { return "<" + what + " copied from Redis: " + s + ">" }
	if rs, vs := lookup(r, "summary"), lookup(v, "summary"); rs != nil && vs != nil {
		if vs.str == rs.str {
			vs.str = copied("summary", vs.str)
		} else {
			rs.str, vs.str = "<summary>", "<summary>"
		}
	}
	if rc, vc := lookup(r, "complexity"), lookup(v, "complexity"); rc != nil && vc != nil {
		class := func(s string) string {
			if c := bigO.FindString(s); c != "" {
				return c
			}
			return "<no complexity class>"
		}
		if vc.str == rc.str && bigO.FindString(vc.str) != vc.str {
			vc.str = copied("complexity", vc.str)
		} else {
			rc.str, vc.str = class(rc.str), class(vc.str)
		}
	}
	rh, vh := lookup(r, "history"), lookup(v, "history")
	if rh == nil || vh == nil {
		return
	}
	for i := range rh.elems {
		if i >= len(vh.elems) || len(rh.elems[i].elems) != 2 || len(vh.elems[i].elems) != 2 {
			continue
		}
		rt, vt := &rh.elems[i].elems[1], &vh.elems[i].elems[1]
		if vt.str == rt.str {
			vt.str = copied("history", vt.str)
		} else {
			rt.str, vt.str = "<change>", "<change>"
		}
	}
}

// helpShape reduces HELP replies to their shape: an array of at least two
// non-empty status lines, the first naming the command. The wording is
// deliberately the project's own (it writes its own text rather than
// copying Redis's), and no client parses it; a description line that is
// word for word one of Redis's is kept, marked, so the comparison fails.
func helpShape(_ int, r, v *value) {
	theirs := map[string]bool{}
	for _, e := range r.elems {
		if strings.HasPrefix(e.str, " ") {
			theirs[strings.TrimSpace(e.str)] = true
		}
	}
	shape := func(h *value, mine bool) {
		if h.kind != kArray || len(h.elems) < 2 {
			return // shows up as a difference
		}
		first := strings.Fields(h.elems[0].str)
		out := value{kind: kArray}
		for i, e := range h.elems {
			switch {
			case e.kind != kSimple || e.str == "":
				out.elems = append(out.elems, e) // shows up as a difference
			case i == 0 && len(first) > 0:
				out.elems = append(out.elems, value{kind: kSimple, str: first[0] + " <subcommand> ..."})
			case mine && theirs[strings.TrimSpace(e.str)]:
				out.elems = append(out.elems, value{kind: kSimple, str: "<copied from Redis: " + e.str + ">"})
			}
		}
		*h = out
	}
	shape(r, false)
	shape(v, true)
}

// aclRuleOrder sorts each run of single-command rules (+ping,
// +sentinel|get-master-addr-by-name; category rules such as -@all end a run)
// in every string of both replies: redis-sentinel renders them in its hash
// table's order, vipsentinel in command order (README, Differences from
// redis-sentinel: a stable rendering; the rules mean the same).
func aclRuleOrder(_ int, r, v *value) {
	var walk func(v *value)
	walk = func(v *value) {
		if v.kind == kBulk || v.kind == kSimple {
			v.str = sortCommandRules(v.str)
		}
		for i := range v.elems {
			walk(&v.elems[i])
		}
	}
	walk(r)
	walk(v)
}

func sortCommandRules(s string) string {
	words := strings.Split(s, " ")
	single := func(w string) bool { return len(w) > 1 && (w[0] == '+' || w[0] == '-') && !strings.Contains(w, "@") }
	for i := 0; i < len(words); {
		j := i
		for j < len(words) && single(words[j]) {
			j++
		}
		slices.Sort(words[i:j])
		i = max(j, i+1)
	}
	return strings.Join(words, " ")
}
