package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// cmdDemo builds a lab of hosts in network namespaces, runs real Redis and
// one agent per host, writes through the floating IP and fails the master
// over while printing a live timeline.
func cmdDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hosts := fs.Int("hosts", 3, "number of Redis hosts (each runs redis-server and an agent)")
	downAfter := fs.Duration("down-after", time.Second, "down-after-milliseconds of the monitored master")
	partition := fs.Bool("partition", false, "cut the master's host off from the other hosts instead of killing redis-server")
	ipv6 := fs.Bool("ipv6", false, "use an IPv6 floating address (unsolicited neighbour advertisements)")
	classic := fs.Bool("classic", false, "run redis-sentinel with an ip-addr/arping client-reconfig-script instead, for comparison")
	showLogs := fs.Bool("logs", false, "print every agent's log at the end")
	useTLS := fs.Bool("tls", false, "run TLS-only: redis-server and the agents with port 0 and client certificates required, replication and agent links over TLS, certificates from a throw-away CA")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vipsentinel-lab demo [flags]\n\n"+
			"Builds a throw-away lab of hosts in network namespaces (198.18.0.0/15), starts a real\n"+
			"redis-server master and replicas and one agent per host holding a floating IP, writes through\n"+
			"that IP from a client namespace, kills the master and prints what happens, live. Needs root.\n"+
			"Ctrl-C stops it and removes everything it created.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *hosts < 2 || *hosts > 9 {
		fmt.Fprintln(stderr, "vipsentinel-lab demo: -hosts must be between 2 and 9")
		return exitUsage
	}
	ctx, stop, self, err := labSession("demo", stdout)
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel demo: %v\n", err)
		return exitFail
	}
	defer stop()
	stack := scenario.Vipsentinel
	if *classic {
		stack = scenario.Classic
	}
	fault := scenario.KillMaster
	if *partition {
		fault = scenario.IsolateMaster
	}
	say := func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) }
	say("vipsentinel demo: %d hosts, %s, down-after %v, fault: %s", *hosts, stack, *downAfter, fault)
	say("building the lab (network namespaces, bridge, redis-server x%d, agents x%d)...", *hosts, *hosts)
	started := time.Now()
	c, err := scenario.Start(ctx, scenario.Options{
		Stack: stack, Hosts: *hosts, DownAfter: *downAfter, IPv6: *ipv6, Binary: self, Name: "demo", TLS: *useTLS,
	})
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel demo: %v\n", err)
		return exitFail
	}
	defer func() {
		if *showLogs {
			for i, p := range c.Agents {
				say("\n--- log of the agent on %s ---\n%s", c.Hosts[i].Name, p.Log())
			}
		}
		say("cleaning up...")
		if err := c.Close(); err != nil {
			fmt.Fprintf(stderr, "vipsentinel demo: clean-up: %v\n", err)
		}
	}()
	say("ready in %v: master %s on %s, replicas on the other hosts, floating IP %s on h1",
		time.Since(started).Round(time.Millisecond), c.Redis[0].Addr, c.Hosts[0].Name, c.VIP)
	if f, ok := c.TLSFiles(); ok {
		say("TLS only: throw-away CA %s, client certificate %s (key %s); try: ip netns exec %s redis-cli --tls --cacert %s --cert %s --key %s -h %s -p %d SENTINEL get-master-addr-by-name %s",
			f.CA, f.Cert, f.Key, c.Client.NS, f.CA, f.Cert, f.Key, c.Hosts[0].IP4, scenario.AgentPort, scenario.MasterName)
	}
	say("a client in %s writes through %s every %v; now: %s on h1\n", c.Client.Name, c.VIP, scenario.WriteInterval, fault)
	say("   time from fault  host   what")
	res, err := c.RunFailover(ctx, fault, func(l scenario.Line) { say("%s", l) })
	if ctx.Err() != nil {
		say("interrupted")
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel demo: %v\n", err)
		return exitFail
	}
	say("")
	say("summary (%s, %s):", res.Stack, res.Fault)
	say("  new master                      %s (was %s)", res.NewMaster, res.OldMaster)
	say("  all agents agreed after         %v", res.Switch.Round(time.Millisecond))
	say("  client write outage             %v (first write after the fault at +%v)", res.Outage.Round(time.Millisecond), res.FirstWrite.Round(time.Millisecond))
	say("  acknowledged writes             %d, lost %d", res.Acked, res.Lost)
	say("  floating IP on two hosts        %v (most holders at once: %d)", res.Dual.Round(time.Millisecond), res.MaxHolders)
	return exitOK
}

// labSession prepares a command that builds labs (demo, bench): it needs
// root, finds the agent binary the lab runs (agentBinary), stops on SIGINT or
// SIGTERM (cleaning up on the way out), and first removes what an earlier run
// of the same command killed with SIGKILL left behind.
func labSession(name string, stdout io.Writer) (ctx context.Context, stop func(), agent string, err error) {
	if os.Geteuid() != 0 {
		return nil, nil, "", errors.New("needs root (it creates network namespaces); run it with sudo")
	}
	agent, err = agentBinary()
	if err != nil {
		return nil, nil, "", err
	}
	ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if gone, err := lab.Sweep(name); err == nil && len(gone) > 0 {
		fmt.Fprintf(stdout, "removed %d namespaces left by an earlier %s\n", len(gone), name)
	}
	return ctx, stop, agent, nil
}
