package scenario

import (
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
)

// LogEvent is one Sentinel event an agent logged: the agent logs every event
// it publishes (with its time, type, payload and epoch), from its first
// instant, so its log misses nothing a late subscriber would.
type LogEvent struct {
	At      time.Time
	Host    string
	Type    string // "+switch-master", "+fence", ...
	Payload string
	Epoch   uint64 // the event's epoch attribute, 0 if none
	Detail  string
}

// String renders the event for timelines.
func (e LogEvent) String() string {
	s := strings.TrimSpace(e.Type + " " + e.Payload)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// AgentLogEvents parses the events out of the text log of an agent process
// (log/slog's text format: time=... level=... msg=... event=... payload=...).
// Lines without an event attribute are skipped.
func AgentLogEvents(p *lab.Proc) []LogEvent {
	var out []LogEvent
	for _, line := range strings.Split(p.Log(), "\n") {
		attrs := parseLogfmt(line)
		typ := attrs["event"]
		if typ == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, attrs["time"])
		if err != nil {
			continue
		}
		e := LogEvent{At: at, Host: p.Host.Name, Type: typ, Payload: attrs["payload"], Detail: attrs["detail"]}
		e.Epoch, _ = strconv.ParseUint(attrs["epoch"], 10, 64)
		out = append(out, e)
	}
	return out
}

// parseLogfmt splits a slog text line into its key=value attributes; quoted
// values are unquoted. Malformed tails are dropped.
func parseLogfmt(line string) map[string]string {
	m := map[string]string{}
	s := line
	for {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return m
		}
		key, rest := s[:eq], s[eq+1:]
		if strings.ContainsRune(key, ' ') {
			return m
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return m
			}
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			val, rest = rest[:sp], rest[sp:]
		} else {
			val, rest = rest, ""
		}
		m[key] = val
		s = rest
	}
}
