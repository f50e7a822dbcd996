package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/vipsentinel/vipsentinel/agent/config"
)

// cmdCheckConfig validates a configuration file and prints the effective
// configuration (every default explicit, secrets masked), then checks it
// against this host (hostProblems).
func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "Usage: vipsentinel check-config <config>\n\nValidates <config> and prints the effective configuration; exit status 0 when valid, 78 when not.")
		if len(args) == 1 {
			return exitOK
		}
		return exitUsage
	}
	f, warnings, err := config.Load(args[0])
	if err != nil {
		return configFailed(stderr, err)
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	fmt.Fprint(stdout, f.Effective())
	if msg := f.APIAccess(); msg != "" {
		fmt.Fprintf(stderr, "warning: %s\n", msg)
	}
	errs, warns := hostProblems(f, filepath.Clean(args[0]) == defaultConfigPath)
	// The replica guard is the redis-servers' setting: check the
	// configured master as it is now (a master refusing writes is not a
	// problem of the file).
	guardWarns, _ := checkGuards(f, configuredAddr, guardBudget)
	warns = append(warns, guardWarns...)
	for _, w := range warns {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintf(stderr, "vipsentinel: %s: %s\n", args[0], e)
		}
		fmt.Fprintf(stderr, "%s: NOT OK on this host (%d problems)\n", args[0], len(errs))
		return exitConfig
	}
	fmt.Fprintf(stderr, "%s: configuration OK (%d masters, %d files read)\n", args[0], len(f.Masters), len(f.Files))
	return exitOK
}

// configFailed reports a configuration error and returns 78 (EX_CONFIG).
// A file that cannot be read counts too: restarting will not fix it, and
// systemd's RestartPreventExitStatus=78 stops the restart loop.
func configFailed(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "vipsentinel: %v\n", err)
	return exitConfig
}
