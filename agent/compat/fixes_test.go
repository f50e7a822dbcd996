package compat

import (
	"slices"
	"strconv"
	"strings"
)

// This file holds the adjustments for differences between redis-sentinel
// 7.0 and vipsentinel: deliberate ones (used as dcase.fix, each with its
// reason) and known incompatibilities (used as dcase.tolerate, each also
// listed in the package report and run strictly by
// TestKnownIncompatibilities).

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

// refusedACL accepts vipsentinel's refusal of an ACL command that changes
// users: the agent has only the default user, whose password is the
// configuration file's requirepass, so a user database that a restart would
// silently drop is worse than a clear error.
func refusedACL(sub string) func(int, *value, *value) {
	return func(_ int, r, v *value) {
		prefix := "ERR ACL " + sub + " is not supported by vipsentinel"
		if v.kind == kError && strings.HasPrefix(v.str, prefix) {
			*r = *v
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

// tolerateNullArray hides the known difference "null-array-for-null-bulk":
// vipsentinel answers *-1 where Redis answers $-1 in RESP2.
func tolerateNullArray(_ int, r, v *value) {
	var walk func(r, v *value)
	walk = func(r, v *value) {
		if r.kind == kBulk && r.null && v.kind == kArray && v.null {
			*v = *r
			return
		}
		for i := range r.elems {
			if i < len(v.elems) {
				walk(&r.elems[i], &v.elems[i])
			}
		}
	}
	walk(r, v)
}

// extraCommands are the commands vipsentinel answers that redis-sentinel
// 7.0 does not: VIPSENTINEL (the agent's own STATUS), and QUIT and RESET,
// which Redis 7.0 leaves out of sentinel mode although clients send them
// (redis-py and phpredis on close, go-redis when resetting a pooled
// connection); answering them is harmless.
var extraCommands = []string{"vipsentinel", "quit", "reset"}

// countWithoutExtras takes extraCommands out of vipsentinel's COMMAND COUNT.
func countWithoutExtras(_ int, _, v *value) {
	if n, err := strconv.Atoi(v.str); err == nil && v.kind == kInt {
		v.str = strconv.Itoa(n - len(extraCommands))
	}
}

// sortElems sorts an array of strings that Redis gives in hash order.
func sortElems(v *value) {
	slices.SortFunc(v.elems, func(a, b value) int { return strings.Compare(a.str, b.str) })
}

// withoutExtraCommands takes extraCommands out of vipsentinel's COMMAND
// LIST.
func withoutExtraCommands(_ int, _, v *value) {
	v.elems = slices.DeleteFunc(v.elems, func(e value) bool { return slices.Contains(extraCommands, e.str) })
}

// ownSummaries accepts vipsentinel's own wording of COMMAND DOCS summaries:
// the project writes its own text rather than copying Redis's.
func ownSummaries(_ int, r, v *value) {
	for _, doc := range [](*value){r, v} {
		_, vals, ok := doc.pairs()
		if !ok {
			continue
		}
		for _, d := range vals {
			if s := lookup(d, "summary"); s != nil {
				s.str = "<summary>"
			}
		}
	}
}

// helpShape reduces HELP replies to their shape: an array of status lines
// whose first line names the command, the rest alternating between usage
// lines and indented descriptions. The wording is deliberately the
// project's own (it writes its own text rather than copying Redis's), and
// no client parses it.
func helpShape(_ int, r, v *value) {
	shape := func(h *value) {
		if h.kind != kArray || len(h.elems) < 2 {
			return
		}
		first := strings.Fields(h.elems[0].str)
		out := value{kind: kArray}
		for i, e := range h.elems {
			desc := e.kind
			if i == 0 && len(first) > 0 {
				out.elems = append(out.elems, value{kind: desc, str: first[0] + " <subcommand> ..."})
				continue
			}
			if e.kind != kSimple || e.str == "" {
				out.elems = append(out.elems, e) // shows up as a difference
			}
		}
		*h = out
	}
	shape(r)
	shape(v)
}
