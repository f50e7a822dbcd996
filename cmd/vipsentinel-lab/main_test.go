package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"no arguments", nil, exitUsage, "", "Usage:"},
		{"help", []string{"--help"}, exitOK, "demo", ""},
		{"unknown", []string{"frob"}, exitUsage, "", "unknown command"},
		{"demo help", []string{"demo", "-h"}, exitOK, "", "network namespaces"},
		{"bench help", []string{"bench", "-h"}, exitOK, "", "redis-sentinel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
