package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	writeFile(t, good, "port 26379\ndir "+dir+"\nsentinel monitor m1 198.18.0.1 6379 2\nsentinel auth-pass m1 s3cret\nsentinel vip m1 198.18.0.100/24 eth0\n")
	writeFile(t, bad, "port 26379\nsentinel down-after-milliseconds nosuch 1000\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring
		noOutput string // must not appear on stdout
	}{
		{"no arguments", nil, exitUsage, "", "Usage:", ""},
		{"help", []string{"--help"}, exitOK, "check-config", "", ""},
		{"version", []string{"version"}, exitOK, "vipsentinel ", "", ""},
		{"version flag", []string{"--version"}, exitOK, "vipsentinel ", "", ""},
		{"unknown flag", []string{"--frobnicate"}, exitUsage, "", "unknown flag", ""},
		{"check-config good", []string{"check-config", good}, exitOK, "sentinel vip m1 198.18.0.100/24 eth0", "configuration OK", "s3cret"},
		{"check-config bad", []string{"check-config", bad}, exitConfig, "", "bad.conf:2", ""},
		{"check-config missing", []string{"check-config", filepath.Join(dir, "nope.conf")}, exitConfig, "", "nope.conf", ""},
		{"check-config no file", []string{"check-config"}, exitUsage, "", "Usage", ""},
		{"run bad config", []string{bad}, exitConfig, "", "bad.conf:2", ""},
		{"run too many args", []string{"run", good, good}, exitUsage, "", "Usage", ""},
		{"demo moved", []string{"demo", "-h"}, exitUsage, "", "vipsentinel-lab demo", ""},
		{"bench moved", []string{"bench"}, exitUsage, "", "vipsentinel-lab bench", ""},
		{"status unreachable", []string{"status", "--addr", "127.0.0.1:1", "--timeout", "200ms"}, exitFail, "", "127.0.0.1:1", ""},
		{"status deprecated password", []string{"status", "--addr", "127.0.0.1:1", "--timeout", "200ms", "--password", "pw"}, exitFail, "", "--password is deprecated", ""},
		{"check-config protected mode", []string{"check-config", good}, exitOK, "protected-mode yes", "protected mode: no requirepass is set", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out.String())
			}
			if !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errb.String())
			}
			if tt.noOutput != "" && strings.Contains(out.String(), tt.noOutput) {
				t.Errorf("stdout shows %q:\n%s", tt.noOutput, out.String())
			}
		})
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
