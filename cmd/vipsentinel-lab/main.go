// Command vipsentinel-lab is the developers' tool that builds throw-away labs
// of hosts in network namespaces and runs the vipsentinel agent in them:
//
//	vipsentinel-lab demo [flags]    fail over a three-host lab live (needs root)
//	vipsentinel-lab bench [flags]   measure failover against the classic setup (needs root)
//
// It is a binary of its own so that the daemon, /usr/bin/vipsentinel, links
// neither the lab nor package testing. It runs the agent binary named
// vipsentinel found beside its own executable, else on PATH, else the one in
// $VIPSENTINEL_BIN. It is not shipped in the packages.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Exit statuses, as the daemon's.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 64 // EX_USAGE
)

const usage = `vipsentinel-lab: developers' labs for the vipsentinel agent (needs root).

Usage:
  vipsentinel-lab demo [flags]    build a three-host lab in network namespaces and fail
                                  over a real Redis master live (see demo -h)
  vipsentinel-lab bench [flags]   measure failover, idle cost and API rate against
                                  redis-sentinel with a reconfig script (see bench -h)

The agent run in the lab is $VIPSENTINEL_BIN, else the vipsentinel beside this
executable, else vipsentinel on PATH (make build builds both into bin/).
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "demo":
		return cmdDemo(args, stdout, stderr)
	case "bench":
		return cmdBench(args, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "":
		fmt.Fprint(stderr, usage)
	default:
		fmt.Fprintf(stderr, "vipsentinel-lab: unknown command %q\n\n%s", cmd, usage)
	}
	return exitUsage
}

// agentBinary finds the vipsentinel executable the lab runs as its agents.
func agentBinary() (string, error) {
	if p := os.Getenv("VIPSENTINEL_BIN"); p != "" {
		return p, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "vipsentinel")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("vipsentinel")
	if err != nil {
		return "", errors.New("no vipsentinel binary beside this one or on PATH (build it: make build, or set VIPSENTINEL_BIN)")
	}
	return p, nil
}

// agentVersion is what "agent version" prints, without the program name.
func agentVersion(agent string) string {
	out, err := exec.Command(agent, "version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "vipsentinel ")
}
