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

// infoMissing lists the INFO fields redis-sentinel 7.0 has and vipsentinel
// lacks (known incompatibility "info-fields").
var infoMissing = map[string][]string{
	"# Server": {"lru_clock", "io_threads_active"},
	"# CPU":    {"used_cpu_sys_main_thread", "used_cpu_user_main_thread"},
	"# Stats": {
		"total_net_repl_input_bytes", "total_net_repl_output_bytes",
		"instantaneous_input_kbps", "instantaneous_output_kbps",
		"instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps",
		"sync_full", "sync_partial_ok", "sync_partial_err",
		"expired_keys", "expired_stale_perc", "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds",
		"evicted_keys", "evicted_clients", "total_eviction_exceeded_time", "current_eviction_exceeded_time",
		"keyspace_hits", "keyspace_misses", "pubsubshard_channels", "latest_fork_usec", "total_forks",
		"migrate_cached_sockets", "slave_expires_tracked_keys",
		"active_defrag_hits", "active_defrag_misses", "active_defrag_key_hits", "active_defrag_key_misses",
		"total_active_defrag_time", "current_active_defrag_time",
		"tracking_total_keys", "tracking_total_items", "tracking_total_prefixes",
		"unexpected_error_replies", "dump_payload_sanitizations",
		"total_reads_processed", "total_writes_processed",
		"io_threaded_reads_processed", "io_threaded_writes_processed",
		"reply_buffer_shrinks", "reply_buffer_expands",
	},
}

// infoExtra lists INFO fields vipsentinel has and redis-sentinel 7.0 lacks,
// in the same known incompatibility.
var infoExtra = map[string][]string{
	"# Stats": {"client_output_buffer_limit_disconnections", "acl_access_denied_auth"},
}

// infoTolerate hides the known INFO differences: the field sets above and
// the section order ("info-section-order": redis-sentinel has Stats before
// CPU).
func infoTolerate(_ int, r, v *value) {
	for sec, keys := range infoMissing {
		if s := lookup(r, sec); s != nil {
			deleteKeys(s, keys...)
		}
	}
	for sec, keys := range infoExtra {
		if s := lookup(v, sec); s != nil {
			deleteKeys(s, keys...)
		}
	}
	reorderLike(v, r)
}

// reorderLike sorts v's keys into the order they have in ref; keys ref
// lacks go last, in their order.
func reorderLike(v, ref *value) {
	rank := map[string]int{}
	for i := 0; i+1 < len(ref.elems); i += 2 {
		rank[ref.elems[i].str] = i
	}
	type kv struct{ k, v value }
	var kvs []kv
	for i := 0; i+1 < len(v.elems); i += 2 {
		kvs = append(kvs, kv{v.elems[i], v.elems[i+1]})
	}
	pos := func(k string) int {
		if r, ok := rank[k]; ok {
			return r
		}
		return len(ref.elems)
	}
	slices.SortStableFunc(kvs, func(a, b kv) int { return pos(a.k.str) - pos(b.k.str) })
	v.elems = v.elems[:0]
	for _, e := range kvs {
		v.elems = append(v.elems, e.k, e.v)
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

// tolerateVerbatim hides known incompatibility "info-cache-verbatim": an
// INFO text that Redis sends as a bulk string and vipsentinel as a RESP3
// verbatim string.
func tolerateVerbatim(_ int, r, v *value) {
	var walk func(r, v *value)
	walk = func(r, v *value) {
		if r.kind == kMap && v.kind == kMap && len(r.elems) >= 2 && len(v.elems) >= 2 &&
			r.elems[0].str == infoType && v.elems[0].str == infoType &&
			r.elems[1].str == kBulk.String() && v.elems[1].str == kVerbatim.String() {
			v.elems[1].str = r.elems[1].str
		}
		for i := range r.elems {
			if i < len(v.elems) {
				walk(&r.elems[i], &v.elems[i])
			}
		}
	}
	walk(r, v)
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
