package sentinel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInfo is wrapped by every ParseInfo error.
var ErrInfo = errors.New("sentinel: malformed INFO reply")

// maxInfoSize bounds the INFO text ParseInfo accepts; real replies are a few
// KiB, plus one line per replica.
const maxInfoSize = 4 << 20

// ParseInfo extracts the fields Sentinel uses from an INFO reply. It accepts
// CRLF or LF line ends, ignores sections, comments and unknown fields, and
// reads both replica line formats (slaveN:ip=..,port=..,state=..,offset=..
// and the old slaveN:<ip>,<port>,<state>). It fails, naming the problem, on
// text that is not an INFO reply (no key:value line at all) or on a known
// field with a malformed value; other lines that are not key:value are
// skipped.
func ParseInfo(text string) (*Info, error) {
	if len(text) > maxInfoSize {
		return nil, fmt.Errorf("%w: %d bytes is more than %d", ErrInfo, len(text), maxInfoSize)
	}
	if strings.IndexByte(text, 0) >= 0 || !utf8.ValidString(text) {
		return nil, fmt.Errorf("%w: binary content", ErrInfo)
	}
	info := &Info{SlavePriority: 100, ReplicaAnnounced: true}
	fields, bad := 0, 0
	firstBad := ""
	for len(text) > 0 {
		var line string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			line, text = text, ""
		}
		line = strings.TrimRight(line, "\r")
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			bad++
			if firstBad == "" {
				firstBad = line
			}
			continue
		}
		fields++
		var err error
		switch key {
		case "run_id":
			info.RunID = val
		case "redis_version":
			info.Version = val
		case "role":
			info.Role = strings.ToLower(val)
		case "master_host":
			info.MasterHost = val
		case "master_port":
			info.MasterPort, err = infoPort(val)
		case "master_link_status":
			info.MasterLinkUp = val == "up"
		case "master_link_down_since_seconds":
			info.MasterLinkDownSinceSecs, err = strconv.ParseInt(val, 10, 64)
		case "master_sync_in_progress":
			info.MasterSyncInProgress, err = infoFlag(val)
		case "loading":
			info.Loading, err = infoFlag(val)
		case "slave_priority", "replica_priority":
			info.SlavePriority, err = strconv.Atoi(val)
		case "slave_repl_offset":
			info.SlaveReplOffset, err = strconv.ParseInt(val, 10, 64)
		case "replica_announced":
			info.ReplicaAnnounced = val != "0"
		case "master_repl_offset":
			info.MasterReplOffset, err = strconv.ParseInt(val, 10, 64)
		case "min_slaves_good_slaves":
			info.Guarded = true
		default:
			if isReplicaKey(key) {
				if r, ok := parseReplicaLine(val); ok {
					info.Replicas = append(info.Replicas, r)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: field %s: invalid value %.40q", ErrInfo, key, val)
		}
	}
	if fields == 0 {
		if bad > 0 {
			return nil, fmt.Errorf("%w: line %.80q is not key:value", ErrInfo, firstBad)
		}
		return nil, fmt.Errorf("%w: no fields", ErrInfo)
	}
	return info, nil
}

func infoPort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		return 0, errors.New("bad port")
	}
	return p, nil
}

// infoFlag reads a 0/1 field.
func infoFlag(s string) (bool, error) {
	switch s {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, errors.New("want 0 or 1")
}

// isReplicaKey matches slave<digits>.
func isReplicaKey(k string) bool {
	if len(k) < 6 || !strings.HasPrefix(k, "slave") {
		return false
	}
	for i := 5; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return false
		}
	}
	return true
}

// parseReplicaLine parses the value of a slaveN line, new or old format.
// Lines without a usable address are skipped, as Sentinel does.
func parseReplicaLine(v string) (InfoReplica, bool) {
	r := InfoReplica{Lag: -1}
	if !strings.Contains(v, "ip=") {
		parts := strings.Split(v, ",")
		if len(parts) < 2 {
			return r, false
		}
		p, err := infoPort(parts[1])
		if err != nil || parts[0] == "" || p == 0 {
			return r, false
		}
		r.Addr = Addr{Host: parts[0], Port: p}
		if len(parts) > 2 {
			r.State = parts[2]
		}
		return r, true
	}
	var havePort bool
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "ip":
			r.Addr.Host = val
		case "port":
			p, err := infoPort(val)
			if err != nil || p == 0 {
				return r, false
			}
			r.Addr.Port = p
			havePort = true
		case "state":
			r.State = val
		case "offset":
			r.Offset, _ = strconv.ParseInt(val, 10, 64)
		case "lag":
			if l, err := strconv.ParseInt(val, 10, 64); err == nil && l >= 0 {
				r.Lag = l
			}
		}
	}
	if r.Addr.Host == "" || !havePort {
		return r, false
	}
	return r, true
}
