package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// cmdFailover is `vipsentinel failover <master> [--to host:port]`: the safe
// switchover SENTINEL FAILOVER does (writes paused on the master, the
// replica promoted once it has every acknowledged write), to the best
// replica or to the one --to names, asked of the local agent. It waits
// until the group names the new master, or --wait has passed.
func cmdFailover(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af agentFlags
	af.register(fs)
	to := fs.String("to", "", "promote the replica at host:port (it must qualify: see vipsentinel status); default: the best replica")
	wait := fs.Duration("wait", 30*time.Second, "wait this long for the new master to be announced (0: do not wait)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vipsentinel failover <master> [--to host:port] [--wait duration] [--addr host:port] [--config file]\n\n"+
			"Switches master over to a replica without losing acknowledged writes: writes are paused\n"+
			"on the master until the replica has caught up, then it is promoted. With --to, that replica\n"+
			"or nothing: a replica that does not qualify is refused with the reason.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, code, ok := parseCommand(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "vipsentinel failover: want one master name, got %q\n", pos)
		return exitUsage
	}
	name := pos[0]
	cmd := []any{"SENTINEL", "FAILOVER", name}
	var host, port string
	if *to != "" {
		var err error
		if host, port, err = net.SplitHostPort(*to); err != nil || host == "" {
			fmt.Fprintf(stderr, "vipsentinel failover: --to %q: want host:port\n", *to)
			return exitUsage
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			fmt.Fprintf(stderr, "vipsentinel failover: --to %q: bad port\n", *to)
			return exitUsage
		}
		cmd = []any{"VIPSENTINEL", "FAILOVER", name, host, port}
	}
	cl, err := af.client(af.addr)
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel failover: %v\n", err)
		return exitUsage
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), af.timeout+*wait)
	defer cancel()
	before, err := cl.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name).StringSlice()
	if err != nil || len(before) != 2 {
		fmt.Fprintf(stderr, "vipsentinel failover: %s: master %s: %v\n", af.addr, name, err)
		return exitFail
	}
	old := net.JoinHostPort(before[0], before[1])
	start := time.Now()
	if err := cl.Do(ctx, cmd...).Err(); err != nil {
		fmt.Fprintf(stderr, "vipsentinel failover: %s refused: %v\n", af.addr, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "failover of %s (at %s) started\n", name, old)
	if *wait == 0 {
		return exitOK
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		now, err := cl.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name).StringSlice()
		if err == nil && len(now) == 2 {
			cur := net.JoinHostPort(now[0], now[1])
			if cur != old {
				fmt.Fprintf(stdout, "%s is now at %s (%v)\n", name, cur, time.Since(start).Round(time.Millisecond))
				if *to != "" && cur != net.JoinHostPort(host, port) {
					fmt.Fprintf(stderr, "vipsentinel failover: the new master is not %s\n", *to)
					return exitFail
				}
				return exitOK
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "vipsentinel failover: %s still at %s after %v: see vipsentinel status and the agent's log (the failover may have been aborted, e.g. -failover-abort-replica-lagging)\n", name, old, *wait)
			return exitFail
		case <-tick.C:
		}
	}
}
