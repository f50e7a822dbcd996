package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	// args, exit status, and what stdout or stderr must contain.
	tests := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{nil, exitUsage, "", "Usage:"},
		{[]string{"--help"}, exitOK, "demo", ""},
		{[]string{"frob"}, exitUsage, "", "unknown command"},
		{[]string{"demo", "-h"}, exitOK, "", "network namespaces"},
		{[]string{"bench", "-h"}, exitOK, "", "redis-sentinel"},
		{[]string{"bench", "-h"}, exitOK, "", "switchover (SENTINEL FAILOVER of a healthy master, -runs), api"},
		{[]string{"bench", "-case", "frob"}, exitUsage, "", "unknown -case \"frob\" (want boot, campaign, idle-loss, loss, idle, partition, switchover, api or scale)"},
		{[]string{"bench", "-scale-masters", "1,x"}, exitUsage, "", "-scale-masters"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stdout %q, stderr %q; want them to contain %q, %q", out.String(), errb.String(), tt.stdout, tt.stderr)
			}
		})
	}
}
