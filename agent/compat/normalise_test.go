package compat

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Normalisation replaces values that legitimately differ between two
// servers (ids, times, counters, versions, ports of the servers themselves)
// with placeholders, after checking they have the expected form: a field
// that should hold a number and does not is left as is, so the comparison
// shows it.

// rule rewrites one value in place.
type rule func(v *value)

// asInt replaces a decimal integer (integer reply or bulk) with "<int>".
func asInt(v *value) {
	if v.null || (v.kind != kInt && v.kind != kBulk && v.kind != kSimple) {
		return
	}
	if _, err := strconv.ParseInt(v.str, 10, 64); err == nil {
		v.str = "<int>"
	}
}

// asDouble replaces a floating-point number (RESP3 double or bulk) with
// "<double>".
func asDouble(v *value) {
	if v.null || (v.kind != kDouble && v.kind != kBulk) {
		return
	}
	if _, err := strconv.ParseFloat(v.str, 64); err == nil {
		v.str = "<double>"
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{40}$`)

// asID replaces a 40-hex-digit run id with "<id>".
func asID(v *value) {
	if !v.null && hexID.MatchString(v.str) {
		v.str = "<id>"
	}
}

// asVersion replaces a dotted version number with "<version>".
func asVersion(v *value) {
	if regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v.str) {
		v.str = "<version>"
	}
}

// keyRules apply to the value of these keys in any map (or flat RESP2
// key/value array): the times, counters and offsets of Sentinel's instance
// maps, which depend on when the request arrives.
var keyRules = map[string]rule{
	"runid":                 asID,
	"link-pending-commands": asInt,
	"link-refcount":         asInt,
	"last-ping-sent":        asInt,
	"last-ok-ping-reply":    asInt,
	"last-ping-reply":       asInt,
	"s-down-time":           asInt,
	"o-down-time":           asInt,
	"info-refresh":          asInt,
	"role-reported-time":    asInt,
	"master-link-down-time": asInt,
	"slave-repl-offset":     asInt,
	"last-hello-message":    asInt,
	"age-seconds":           asDouble, // ACL LOG
}

// normaliser holds the rules for one test case.
type normaliser struct {
	keys map[string]rule // extra per-key rules, taking precedence over keyRules
	// infoExact lists INFO fields whose values must match exactly; every
	// other INFO value becomes a placeholder for its form (infoShape).
	infoExact map[string]bool
}

var defaultInfoExact = map[string]bool{
	"redis_mode":                      true,
	"arch_bits":                       true,
	"process_supervised":              true,
	"sentinel_masters":                true,
	"sentinel_tilt":                   true,
	"sentinel_running_scripts":        true,
	"sentinel_scripts_queue_length":   true,
	"sentinel_simulate_failure_flags": true,
	"master0":                         true,
	"cluster_connections":             true,
	"blocked_clients":                 true,
	"tracking_clients":                true,
	"clients_in_timeout_table":        true,
	"pubsub_channels":                 true,
	"pubsub_patterns":                 true,
	"sentinel_tilt_since_seconds":     true,
	// expire_cycle_cpu_milliseconds is not here: redis-sentinel runs its
	// (empty) active-expire cycle in serverCron and times it with the wall
	// clock, so on a loaded machine it reads 1 ms or more; vipsentinel,
	// with no keyspace, says 0. Only its form is compared.
	// Concepts a sentinel does not have (keys, replication streams, forks,
	// defragmentation, key tracking, I/O threads): 0 in both.
	"io_threads_active":              true,
	"total_net_repl_input_bytes":     true,
	"total_net_repl_output_bytes":    true,
	"instantaneous_input_repl_kbps":  true,
	"instantaneous_output_repl_kbps": true,
	"sync_full":                      true,
	"sync_partial_ok":                true,
	"sync_partial_err":               true,
	"expired_keys":                   true,
	"expired_stale_perc":             true,
	"expired_time_cap_reached_count": true,
	"evicted_keys":                   true,
	"evicted_clients":                true,
	"total_eviction_exceeded_time":   true,
	"current_eviction_exceeded_time": true,
	"keyspace_hits":                  true,
	"keyspace_misses":                true,
	"pubsubshard_channels":           true,
	"latest_fork_usec":               true,
	"total_forks":                    true,
	"migrate_cached_sockets":         true,
	"slave_expires_tracked_keys":     true,
	"active_defrag_hits":             true,
	"active_defrag_misses":           true,
	"active_defrag_key_hits":         true,
	"active_defrag_key_misses":       true,
	"total_active_defrag_time":       true,
	"current_active_defrag_time":     true,
	"tracking_total_keys":            true,
	"tracking_total_items":           true,
	"tracking_total_prefixes":        true,
	"unexpected_error_replies":       true,
	"dump_payload_sanitizations":     true,
	"io_threaded_reads_processed":    true,
	"io_threaded_writes_processed":   true,
}

func (n normaliser) apply(v *value) {
	switch v.kind {
	case kMap, kArray, kSet, kPush:
		keys, vals, ok := v.pairs()
		if ok && v.kind == kArray && !looksLikeKeys(keys) {
			ok = false
		}
		if ok {
			for i, k := range keys {
				if r := n.keys[k]; r != nil {
					r(vals[i])
				} else if r := keyRules[k]; r != nil {
					r(vals[i])
				} else {
					n.apply(vals[i])
				}
			}
			return
		}
		for i := range v.elems {
			n.apply(&v.elems[i])
		}
	case kBulk, kVerbatim:
		if v.null {
			return
		}
		s := v.str
		if v.kind == kVerbatim && len(s) > 4 && s[3] == ':' {
			s = s[4:]
		}
		switch {
		case strings.HasPrefix(s, "# "):
			*v = n.info(s, v.kind)
		case strings.HasPrefix(s, "id="):
			*v = clientLines(s)
		default:
			asID(v)
		}
	}
}

// infoType is the first key of a normalised INFO text: the RESP type the
// text came in (bulk or verbatim).
const infoType = "(reply type)"

// info turns an INFO text into a map of sections, each a map of fields, so
// that a difference names its section and field.
func (n normaliser) info(s string, k kind) value {
	exact := n.infoExact
	if exact == nil {
		exact = defaultInfoExact
	}
	out := value{kind: kMap, elems: []value{{kind: kBulk, str: infoType}, {kind: kSimple, str: k.String()}}}
	var sec *value
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, "# "):
			out.elems = append(out.elems, value{kind: kBulk, str: line}, value{kind: kMap})
			sec = &out.elems[len(out.elems)-1]
		default:
			k, val, ok := strings.Cut(line, ":")
			if !ok {
				k, val = line, "<no colon>"
			} else if !exact[k] {
				val = infoShape(k, val)
			}
			if sec == nil {
				out.elems = append(out.elems, value{kind: kBulk, str: "(no section)"}, value{kind: kMap})
				sec = &out.elems[len(out.elems)-1]
			}
			sec.elems = append(sec.elems, value{kind: kBulk, str: k}, value{kind: kBulk, str: val})
		}
	}
	return out
}

var (
	decimalForm = regexp.MustCompile(`^-?\d+\.(\d+)$`)
	integerForm = regexp.MustCompile(`^-?\d+$`)
)

// infoShape replaces an INFO value that may differ between the servers with
// its form, so a counter that is not an integer, or a rate with the wrong
// number of decimals, still shows: "<int>", "<decimal:N>" (N decimals) or
// "<v>" for free text. redis_build_id is free text (a hash that may happen
// to be all digits).
func infoShape(key, val string) string {
	switch {
	case key == "redis_build_id":
		return "<v>"
	case integerForm.MatchString(val):
		return "<int>"
	case decimalForm.MatchString(val):
		return fmt.Sprintf("<decimal:%d>", len(decimalForm.FindStringSubmatch(val)[1]))
	}
	return "<v>"
}

// clientFieldsExact are the CLIENT INFO/LIST fields whose values must match.
var clientFieldsExact = map[string]bool{
	"name": true, "db": true, "sub": true, "psub": true, "ssub": true, "multi": true,
	"flags": true, "cmd": true, "user": true, "redir": true, "resp": true, "events": true,
}

// clientLines turns CLIENT INFO/LIST output into an array of maps.
func clientLines(s string) value {
	out := value{kind: kArray}
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		m := value{kind: kMap}
		for _, f := range strings.Fields(line) {
			k, val, _ := strings.Cut(f, "=")
			if !clientFieldsExact[k] {
				val = "<v>"
			}
			m.elems = append(m.elems, value{kind: kBulk, str: k}, value{kind: kBulk, str: val})
		}
		out.elems = append(out.elems, m)
	}
	return out
}

// deleteKeys removes the given keys from a map (or flat key/value array).
func deleteKeys(v *value, keys ...string) {
	drop := make(map[string]bool, len(keys))
	for _, k := range keys {
		drop[k] = true
	}
	var kept []value
	for i := 0; i+1 < len(v.elems); i += 2 {
		if !drop[v.elems[i].str] {
			kept = append(kept, v.elems[i], v.elems[i+1])
		}
	}
	v.elems = kept
}

// lookup returns the value of key in a map (or flat key/value array).
func lookup(v *value, key string) *value {
	for i := 0; i+1 < len(v.elems); i += 2 {
		if v.elems[i].str == key {
			return &v.elems[i+1]
		}
	}
	return nil
}
