package api

import (
	"strconv"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// cmdVIPSentinelAdmin serves VIPSENTINEL PAUSE, RESUME and FAILOVER, which
// `vipsentinel pause`, `resume` and `failover --to` send. They change what
// the agent may do to a master, so like SENTINEL FAILOVER they are admin
// commands: only an authenticated client with the admin category (the
// operator, holding the group's password or an ACL user allowed them)
// reaches them, never a peer's hello. The master name "*" means every
// master for PAUSE and RESUME.
func (c *client) cmdVIPSentinelAdmin(sub string, args []string) {
	name := args[2]
	if name == "*" && sub != "failover" {
		name = ""
	}
	ctx, cancel := c.srv.call(c)
	defer cancel()
	b := c.srv.cfg.Backend
	var err error
	switch sub {
	case "pause":
		if len(args) > 4 {
			c.w.Error(subArity("vipsentinel", sub))
			return
		}
		var d time.Duration
		if len(args) == 4 {
			ms, perr := strconv.ParseInt(args[3], 10, 64)
			if perr != nil || ms <= 0 || ms > sentinel.MaxMaintenance.Milliseconds() {
				c.w.Error("ERR the pause must be a number of milliseconds from 1 to " + strconv.FormatInt(sentinel.MaxMaintenance.Milliseconds(), 10))
				return
			}
			d = time.Duration(ms) * time.Millisecond
		}
		err = b.Pause(ctx, name, d)
	case "resume":
		err = b.Resume(ctx, name)
	case "failover":
		port, perr := strconv.Atoi(args[4])
		if perr != nil || port <= 0 || port > 65535 {
			c.w.Error("ERR invalid port " + strconv.Quote(args[4]))
			return
		}
		err = b.FailoverTo(ctx, name, sentinel.Addr{Host: args[3], Port: port})
	}
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.Status("OK")
}
