package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// cmdPause is `vipsentinel pause [master] [--for d]` and, with resume set,
// `vipsentinel resume [master]`. Maintenance is group-wide: the command
// tells the local agent and every agent it knows for the master(s)
// (SENTINEL SENTINELS), each over its own authenticated API connection,
// so no agent ever accepts a pause it cannot attribute to the operator.
// Each agent persists the pause. An agent that was not reached (down,
// unreachable) is not paused, but while a majority is, the paused agents
// refuse it their votes and it cannot be elected to fail the master over
// (sentinel.Maintenance); the command says how many agents it reached and
// fails unless all did.
func cmdPause(args []string, stdout, stderr io.Writer, resume bool) int {
	verb := "pause"
	if resume {
		verb = "resume"
	}
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af agentFlags
	af.register(fs)
	var d time.Duration
	if !resume {
		fs.DurationVar(&d, "for", 0, "end the pause by itself after this long (e.g. 1h; at most 720h); default: until vipsentinel resume")
	}
	fs.Usage = func() {
		if resume {
			fmt.Fprintf(stderr, "Usage: vipsentinel resume [master] [--addr host:port] [--config file]\n\n"+
				"Ends the maintenance of master (of every master when none is named) on the local agent\n"+
				"and on every agent it knows.\n\nFlags:\n")
		} else {
			fmt.Fprintf(stderr, "Usage: vipsentinel pause [master] [--for duration] [--addr host:port] [--config file]\n\n"+
				"Maintenance mode: no agent starts or votes for a failover of master (of every master when\n"+
				"none is named) until vipsentinel resume, or until the --for time has passed (also across\n"+
				"restarts). Failures are still detected and reported; the floating IP and fencing work as\n"+
				"always; vipsentinel failover still switches over on request. The local agent and every\n"+
				"agent it knows are told, each over its authenticated API.\n\nFlags:\n")
		}
		fs.PrintDefaults()
	}
	pos, code, ok := parseCommand(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "vipsentinel %s: at most one master name, got %q\n", verb, pos)
		return exitUsage
	}
	if d < 0 || d > sentinel.MaxMaintenance || d > 0 && d < time.Millisecond {
		fmt.Fprintf(stderr, "vipsentinel pause: --for %v: want from 1ms to %v\n", d, sentinel.MaxMaintenance)
		return exitUsage
	}
	name := "*"
	if len(pos) == 1 {
		name = pos[0]
	}
	cmd := []any{"VIPSENTINEL", "RESUME", name}
	if !resume {
		cmd = []any{"VIPSENTINEL", "PAUSE", name}
		if d > 0 {
			cmd = append(cmd, strconv.FormatInt(d.Milliseconds(), 10))
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*af.timeout)
	defer cancel()
	peers, err := groupAgents(ctx, &af, name)
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel %s: %s: %v\n", verb, af.addr, err)
		return exitUnreachable
	}
	agents := append([]string{af.addr}, peers...)
	done := 0
	for _, a := range agents {
		err := sendTo(ctx, &af, a, cmd)
		if err != nil {
			fmt.Fprintf(stdout, "%s: FAILED: %v\n", a, err)
			continue
		}
		done++
		what := "paused"
		switch {
		case resume:
			what = "resumed"
		case d > 0:
			what = "paused until " + time.Now().Add(d).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s: %s\n", a, what)
	}
	fmt.Fprintf(stdout, "%s %s on %d of %d agents\n", name, verbPast(resume), done, len(agents))
	if done == len(agents) {
		return exitOK
	}
	switch {
	case !resume && 2*done <= len(agents):
		fmt.Fprintf(stderr, "vipsentinel pause: WARNING: no majority of agents is paused: an agent not told can still be elected to fail the master over. Run the command again when they are reachable.\n")
	case !resume:
		fmt.Fprintf(stderr, "vipsentinel pause: a majority is paused, so no failover can be elected; agents not told will learn of it only from a later vipsentinel pause.\n")
	default:
		fmt.Fprintf(stderr, "vipsentinel resume: agents still paused give no votes for a failover of the master; run the command again when they are reachable.\n")
	}
	return exitFail
}

func verbPast(resume bool) string {
	if resume {
		return "resumed"
	}
	return "paused"
}

// groupAgents returns the API addresses of the other agents the local
// agent knows for master name ("*": for any master), sorted.
func groupAgents(ctx context.Context, af *agentFlags, name string) ([]string, error) {
	cl, err := af.client(af.addr)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	var names []string
	if name == "*" {
		ms, err := maps(ctx, cl, "SENTINEL", "MASTERS")
		if err != nil {
			return nil, fmt.Errorf("SENTINEL MASTERS: %w", err)
		}
		for _, m := range ms {
			names = append(names, m["name"])
		}
	} else {
		names = []string{name}
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		ss, err := maps(ctx, cl, "SENTINEL", "SENTINELS", n)
		if err != nil {
			return nil, fmt.Errorf("SENTINEL SENTINELS %s: %w", n, err)
		}
		for _, s := range ss {
			a := net.JoinHostPort(s["ip"], s["port"])
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// sendTo runs one command on the agent at addr and wants +OK.
func sendTo(ctx context.Context, af *agentFlags, addr string, cmd []any) error {
	cl, err := af.client(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	return cl.Do(ctx, cmd...).Err()
}
