package redislink

import (
	"strconv"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// ParseInfo extracts the fields the core uses from an INFO reply. Unknown or
// malformed lines are skipped, as Sentinel skips them.
//
// TODO(core): replace with sentinel.ParseInfo once the core exports it.
func ParseInfo(raw string) *sentinel.Info {
	info := &sentinel.Info{SlavePriority: 100, ReplicaAnnounced: true}
	for _, line := range strings.Split(raw, "\n") {
		line = strings.TrimRight(line, "\r")
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case k == "run_id":
			info.RunID = v
		case k == "role":
			info.Role = v
		case k == "master_host":
			info.MasterHost = v
		case k == "master_port":
			info.MasterPort, _ = strconv.Atoi(v)
		case k == "master_link_status":
			info.MasterLinkUp = v == "up"
		case k == "master_link_down_since_seconds":
			info.MasterLinkDownSinceSecs, _ = strconv.ParseInt(v, 10, 64)
		case k == "slave_priority" || k == "replica_priority":
			if n, err := strconv.Atoi(v); err == nil {
				info.SlavePriority = n
			}
		case k == "slave_repl_offset":
			info.SlaveReplOffset, _ = strconv.ParseInt(v, 10, 64)
		case k == "master_repl_offset":
			info.MasterReplOffset, _ = strconv.ParseInt(v, 10, 64)
		case k == "replica_announced":
			info.ReplicaAnnounced = v != "0"
		case strings.HasPrefix(k, "slave") && isDigits(k[len("slave"):]):
			if r, ok := parseReplicaLine(v); ok {
				info.Replicas = append(info.Replicas, r)
			}
		}
	}
	return info
}

func parseReplicaLine(v string) (sentinel.InfoReplica, bool) {
	var r sentinel.InfoReplica
	if !strings.Contains(v, "=") {
		// Old format: ip,port,state
		parts := strings.Split(v, ",")
		if len(parts) < 3 {
			return r, false
		}
		port, err := strconv.Atoi(parts[1])
		if err != nil {
			return r, false
		}
		r.Addr = sentinel.Addr{Host: parts[0], Port: port}
		r.State = parts[2]
		return r, true
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "ip":
			r.Addr.Host = val
		case "port":
			r.Addr.Port, _ = strconv.Atoi(val)
		case "state":
			r.State = val
		case "offset":
			r.Offset, _ = strconv.ParseInt(val, 10, 64)
		}
	}
	return r, r.Addr.Host != "" && r.Addr.Port > 0
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
