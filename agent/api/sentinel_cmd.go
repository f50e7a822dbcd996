package api

import (
	"strconv"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// sentinelSubcommands are SENTINEL's subcommands with Sentinel's arities.
var sentinelSubcommands = []subcommand{
	{"ckquorum", 3}, {"config", -4}, {"debug", -2}, {"failover", 3}, {"flushconfig", 2},
	{"get-master-addr-by-name", 3}, {"help", 2}, {"info-cache", -3}, {"is-master-down-by-addr", 6},
	{"master", 3}, {"masters", 2}, {"monitor", 6}, {"myid", 2}, {"pending-scripts", 2},
	{"remove", 3}, {"replicas", 3}, {"reset", 3}, {"sentinels", 3}, {"set", -5},
	{"simulate-failure", -3}, {"slaves", 3},
}

func (c *client) cmdSentinel(args []string) {
	sub := strings.ToLower(args[1])
	arity, known := subArityOf("sentinel", sub)
	if !known {
		c.w.Error(unknownSubcommand(args[1], "SENTINEL"))
		return
	}
	if !arityOK(arity, len(args)) {
		c.w.Error(subArity("sentinel", sub))
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
			c.writeKVs(kvs)
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
					c.w.Verbatim("txt", in.Info)
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

var sentinelHelp = []string{
	"CKQUORUM <master-name>",
	"    Check if the current Sentinel configuration is able to reach the quorum",
	"    needed to failover a master and the majority needed to authorize the",
	"    failover.",
	"CONFIG SET <param> <value> [<param> <value>] ...",
	"    Set a global Sentinel configuration parameter.",
	"CONFIG GET <param> [param param param ...]",
	"    Get global Sentinel configuration parameter.",
	"DEBUG [<param> <value> ...]",
	"    Show a list of configurable time parameters and their values (milliseconds).",
	"    Or update current configurable parameters values (one or more).",
	"GET-MASTER-ADDR-BY-NAME <master-name>",
	"    Return the ip and port number of the master with that name.",
	"FAILOVER <master-name>",
	"    Manually failover a master node without asking for agreement from other",
	"    Sentinels",
	"FLUSHCONFIG",
	"    Force Sentinel to rewrite its configuration on disk, including the current",
	"    Sentinel state.",
	"INFO-CACHE <master-name>",
	"    Return last cached INFO output from masters and all its replicas.",
	"IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
	"    Check if the master specified by ip:port is down from current Sentinel's",
	"    point of view.",
	"MASTER <master-name>",
	"    Show the state and info of the specified master.",
	"MASTERS",
	"    Show a list of monitored masters and their state.",
	"MONITOR <name> <ip> <port> <quorum>",
	"    Start monitoring a new master with the specified name, ip, port and quorum.",
	"MYID",
	"    Return the ID of the Sentinel instance.",
	"PENDING-SCRIPTS",
	"    Get pending scripts information.",
	"REMOVE <master-name>",
	"    Remove master from Sentinel's monitor list.",
	"REPLICAS <master-name>",
	"    Show a list of replicas for this master and their state.",
	"RESET <pattern>",
	"    Reset masters for specific master name matching this pattern.",
	"SENTINELS <master-name>",
	"    Show a list of Sentinel instances for this master and their state.",
	"SET <master-name> <option> <value> [<option> <value> ...]",
	"    Set configuration paramters for certain masters.",
	"SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
	"    Simulate a Sentinel crash.",
}
