// Command vipsentinel is a Redis Sentinel-compatible high-availability agent
// that also holds the master's floating IP and opens its ports with nftables.
//
// Usage:
//
//	vipsentinel <config>                 run the agent in the foreground
//	vipsentinel check-config <config>    validate and print the effective configuration
//	vipsentinel status [--json]           ask a running agent for its state
//	vipsentinel pause|resume [master]     group-wide maintenance mode
//	vipsentinel failover <master> [--to]  safe switchover
//	vipsentinel import <sentinel.conf>    migrate from redis-sentinel
//	vipsentinel version
//
// The live demo and the benchmarks are in the developers' tool
// cmd/vipsentinel-lab, so that this daemon links neither the test lab nor
// package testing.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit statuses, following sysexits.h where one fits.
const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 64 // EX_USAGE
	exitConfig = 78 // EX_CONFIG: systemd's RestartPreventExitStatus keeps a bad config from restart-looping
)

const usage = `vipsentinel: Redis Sentinel-compatible HA agent that moves the master's floating IP.

Usage:
  vipsentinel <config>                   run the agent in the foreground (like redis-sentinel <config>)
  vipsentinel run <config>               the same
  vipsentinel check-config <config>      validate <config> and print the effective configuration;
                                         exit 0 when valid, 78 when not
  vipsentinel status [--json] [--addr host:port] [--config file]
                                         show masters, roles, epochs, VIP and firewall state and
                                         peers of a running agent (default 127.0.0.1:26379); the
                                         password comes from REDISCLI_AUTH or the config file;
                                         exit 0 healthy, 1 degraded, 2 unreachable
  vipsentinel pause [master] [--for 1h]  maintenance: no agent of the group fails master (every
                                         master) over until resume or the time has passed
  vipsentinel resume [master]            end the maintenance
  vipsentinel failover <master> [--to host:port]
                                         switch over without losing acknowledged writes, to the
                                         best replica or the one named
  vipsentinel import [--out file] /etc/redis/sentinel.conf
                                         write a vipsentinel configuration (and state) from a
                                         redis-sentinel one, showing the differences
  vipsentinel version                    print the version

The configuration file uses redis-sentinel's syntax; an existing sentinel.conf works as is.
Runtime state (epochs, votes, discovered peers) is kept in a state file in 'dir', never in
the configuration file. See /usr/share/doc/vipsentinel/README.md.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	if len(args) == 2 && isHelp(args[1]) && args[0] != "demo" && args[0] != "bench" {
		// A command's help was asked for: it is the answer, so it goes to
		// standard output (vipsentinel status --help | less), as --help
		// does.
		if args[0] == "run" {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		stderr = stdout
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "-v", "--version", "version":
		fmt.Fprintf(stdout, "vipsentinel %s\n", version())
		return exitOK
	case "check-config":
		return cmdCheckConfig(args[1:], stdout, stderr)
	case "status":
		quietRedis()
		return cmdStatus(args[1:], stdout, stderr)
	case "pause":
		quietRedis()
		return cmdPause(args[1:], stdout, stderr, false)
	case "resume":
		quietRedis()
		return cmdPause(args[1:], stdout, stderr, true)
	case "failover":
		quietRedis()
		return cmdFailover(args[1:], stdout, stderr)
	case "import":
		return cmdImport(args[1:], stdout, stderr)
	case "configured":
		return cmdConfigured(args[1:], stdout, stderr)
	case "release-handover":
		return cmdReleaseHandover(args[1:], stderr)
	case "demo", "bench":
		// No path in this text: lintian reads a bin/ path naming this
		// program as a wrong location (bin-sbin-mismatch).
		fmt.Fprintf(stderr, "vipsentinel: %s is in vipsentinel-lab, the developers' tool that the package does not ship;\n"+
			"in a source checkout, make build puts it beside vipsentinel: run vipsentinel-lab %s -h as root\n", args[0], args[0])
		return exitUsage
	case "run":
		return cmdRun(args[1:], stderr)
	}
	if len(args[0]) > 0 && args[0][0] == '-' {
		fmt.Fprintf(stderr, "vipsentinel: unknown flag %q\n\n%s", args[0], usage)
		return exitUsage
	}
	return cmdRun(args, stderr)
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help"
}
