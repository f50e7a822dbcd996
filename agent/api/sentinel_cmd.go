package api

import (
	"strconv"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

func (c *client) cmdSentinel(args []string) {
	sub, ok := c.subcommand("sentinel", args)
	if !ok {
		return
	}
	b := c.srv.cfg.Backend
	ctx, cancel := c.srv.call(c)
	defer cancel()
	switch sub {
	case "masters":
		ms, err := b.Masters(ctx)
		if err != nil {
			c.writeErr(err)
			return
		}
		c.writeInstances(ms)
	case "master":
		m, err := b.Master(ctx, args[2])
		if err != nil {
			c.writeErr(err)
			return
		}
		c.writeKVs(m)
	case "replicas", "slaves":
		rs, err := b.Replicas(ctx, args[2])
		if err != nil {
			c.writeErr(err)
			return
		}
		c.writeInstances(rs)
	case "sentinels":
		ss, err := b.Sentinels(ctx, args[2])
		if err != nil {
			c.writeErr(err)
			return
		}
		c.writeInstances(ss)
	case "get-master-addr-by-name":
		addr, ok, err := b.MasterAddr(ctx, args[2])
		if err != nil {
			c.writeErr(err)
			return
		}
		if !ok {
			c.w.NullArray()
			return
		}
		c.w.Array(2)
		c.w.Bulk(addr.Host)
		c.w.BulkInt(int64(addr.Port))
	case "is-master-down-by-addr":
		port, err1 := strconv.ParseInt(args[3], 10, 64)
		epoch, err2 := strconv.ParseInt(args[4], 10, 64)
		if err1 != nil || err2 != nil || epoch < 0 || port < 0 || port > 65535 {
			c.w.Error("ERR value is not an integer or out of range")
			return
		}
		r, err := b.IsMasterDownByAddr(ctx, sentinel.Addr{Host: args[2], Port: int(port)}, uint64(epoch), args[5])
		if err != nil {
			c.writeErr(err)
			return
		}
		leader := r.Leader
		if leader == "" {
			leader = "*"
		}
		c.w.Array(3)
		if r.Down {
			c.w.Int(1)
		} else {
			c.w.Int(0)
		}
		c.w.Bulk(leader)
		c.w.Int(int64(r.LeaderEpoch))
	case "reset":
		n, err := b.Reset(ctx, args[2])
		if err != nil {
			c.writeErr(err)
			return
		}
		c.w.Int(int64(n))
	case "failover":
		c.okOrErr(b.Failover(ctx, args[2]))
	case "ckquorum":
		msg, err := b.CKQuorum(ctx, args[2])
		if err != nil {
			c.writeErr(err)
			return
		}
		c.w.Status(msg)
	case "flushconfig":
		c.okOrErr(b.FlushConfig(ctx))
	case "monitor":
		c.okOrErr(b.Monitor(ctx, args[2], args[3], args[4], args[5]))
	case "remove":
		c.okOrErr(b.Remove(ctx, args[2]))
	case "set":
		c.okOrErr(b.Set(ctx, args[2], args[3:]))
	case "config":
		switch {
		case strings.EqualFold(args[2], "set") && len(args) >= 5:
			c.okOrErr(b.ConfigSet(ctx, args[3:]))
		case strings.EqualFold(args[2], "get") && len(args) >= 4:
			kvs, err := b.ConfigGet(ctx, args[3:])
			if err != nil {
				c.writeErr(err)
				return
			}
			c.writeKVs(c.srv.hideSecrets(kvs))
		default:
			c.w.Error("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.")
		}
	case "myid":
		id, err := b.MyID(ctx)
		if err != nil {
			c.writeErr(err)
			return
		}
		c.w.Bulk(id)
	case "info-cache":
		entries, err := b.InfoCache(ctx, args[2:])
		if err != nil {
			c.writeErr(err)
			return
		}
		c.w.Array(2 * len(entries))
		for _, e := range entries {
			c.w.Bulk(e.Master)
			c.w.Array(len(e.Instances))
			for _, in := range e.Instances {
				c.w.Array(2)
				c.w.Int(in.AgeMillis)
				if in.Valid {
					// A bulk string in RESP3 too, as in redis-sentinel.
					c.w.Bulk(in.Info)
				} else {
					c.w.NullBulk()
				}
			}
		}
	case "pending-scripts":
		scripts, err := b.PendingScripts(ctx)
		if err != nil {
			c.writeErr(err)
			return
		}
		c.w.Array(len(scripts))
		for _, s := range scripts {
			c.w.Map(5)
			c.w.Bulk("argv")
			c.w.Bulks(s.Argv...)
			c.w.Bulk("flags")
			if s.Running {
				c.w.Bulk("running")
			} else {
				c.w.Bulk("scheduled")
			}
			c.w.Bulk("pid")
			c.w.BulkInt(int64(s.PID))
			if s.Running {
				c.w.Bulk("run-time")
			} else {
				c.w.Bulk("run-delay")
			}
			c.w.BulkInt(s.RunTimeMillis)
			c.w.Bulk("retry-num")
			c.w.BulkInt(int64(s.RetryNum))
		}
	case "simulate-failure":
		var flags []string
		for _, a := range args[2:] {
			switch f := strings.ToLower(a); f {
			case "crash-after-election", "crash-after-promotion":
				flags = append(flags, f)
			case "help":
				c.w.Bulks("crash-after-election", "crash-after-promotion")
				return
			default:
				c.w.Error("ERR Unknown failure simulation specified")
				return
			}
		}
		c.okOrErr(b.SimulateFailure(ctx, flags))
	case "debug":
		kvs, err := b.Debug(ctx, args[2:])
		if err != nil {
			c.writeErr(err)
			return
		}
		if len(args) > 2 {
			c.w.Status("OK")
			return
		}
		c.writeKVs(kvs)
	case "help":
		c.writeHelp("SENTINEL", sentinelHelp)
	}
}

func (c *client) okOrErr(err error) {
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.Status("OK")
}

func (c *client) writeInstances(list [][]KV) {
	c.w.Array(len(list))
	for _, kvs := range list {
		c.writeKVs(kvs)
	}
}

// sentinelHelp is vipsentinel's own summary of the subcommands (the wording
// is ours; clients only rely on HELP being an array of status lines).
var sentinelHelp = []string{
	"MASTERS", "    List the monitored masters with their state.",
	"MASTER <name>", "    State of one master.",
	"REPLICAS <name> (or SLAVES)", "    Replicas known for a master.",
	"SENTINELS <name>", "    Other agents (sentinels) known for a master.",
	"GET-MASTER-ADDR-BY-NAME <name>", "    Current address and port of a master.",
	"IS-MASTER-DOWN-BY-ADDR <ip> <port> <epoch> <runid|*>", "    Peer query: is that master down here; with a run id, also a vote request.",
	"CKQUORUM <name>", "    Whether enough agents are reachable for the quorum and for a majority.",
	"FAILOVER <name>", "    Start a failover now, without asking the other agents.",
	"RESET <pattern>", "    Forget replicas, agents and failover state of the matching masters.",
	"MONITOR <name> <host> <port> <quorum>", "    Start monitoring a master (kept in the state file).",
	"REMOVE <name>", "    Stop monitoring a master.",
	"SET <name> <option> <value> [...]", "    Change per-master options.",
	"CONFIG GET <pattern> [...] | CONFIG SET <param> <value> [...]", "    Read or change global options.",
	"FLUSHCONFIG", "    Write the state file now.",
	"INFO-CACHE <name> [...]", "    Last INFO received from a master and its replicas.",
	"PENDING-SCRIPTS", "    Scripts queued or running.",
	"SIMULATE-FAILURE <point> ... (CRASH-AFTER-ELECTION, CRASH-AFTER-PROMOTION) | SIMULATE-FAILURE HELP", "    Arm crash points for testing.",
	"DEBUG [<param> <ms> ...]", "    Show or change the timers, in milliseconds.",
	"MYID", "    This agent's run id.",
}

// secretParams are the SENTINEL CONFIG parameters that hold a password.
var secretParams = map[string]bool{"sentinel-pass": true}

// hideSecrets masks passwords in SENTINEL CONFIG GET's answer unless the
// client proved it knows requirepass. redis-sentinel returns sentinel-pass
// to any client; here, without requirepass, nobody has authenticated, so
// nobody gets it.
func (s *Server) hideSecrets(kvs []KV) []KV {
	if !s.acl.anonymousOK() {
		return kvs // only authenticated clients get this far
	}
	out := make([]KV, len(kvs))
	for i, kv := range kvs {
		if secretParams[kv.Key] && kv.Value != "" {
			kv.Value = maskedSecret
		}
		out[i] = kv
	}
	return out
}

// maskedSecret stands for a password that is not shown.
const maskedSecret = "******"
