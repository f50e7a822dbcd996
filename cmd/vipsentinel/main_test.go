package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	port := testenv.FreePort(t)
	writeFile(t, good, fmt.Sprintf("port %d\ndir %s\nsentinel monitor m1 198.18.0.1 6379 2\nsentinel auth-pass m1 s3cret\nsentinel vip m1 198.18.0.100/24 lo\n", port, dir))
	noDir := filepath.Join(dir, "nodir.conf")
	writeFile(t, noDir, fmt.Sprintf("port %d\ndir %s/missing\nsentinel monitor m1 198.18.0.1 6379 2\n", port, dir))
	noIface := filepath.Join(dir, "noiface.conf")
	writeFile(t, noIface, fmt.Sprintf("port %d\ndir %s\nsentinel monitor m1 198.18.0.1 6379 2\nsentinel vip m1 198.18.0.100/24 nosuch0\n", port, dir))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyConf := filepath.Join(dir, "busy.conf")
	writeFile(t, busyConf, fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nsentinel monitor m1 198.18.0.1 6379 2\n", busy.Addr().(*net.TCPAddr).Port, dir))
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
		{"check-config good", []string{"check-config", good}, exitOK, "sentinel vip m1 198.18.0.100/24 lo", "configuration OK", "s3cret"},
		{"check-config dir missing", []string{"check-config", noDir}, exitConfig, "", "missing: does not exist", ""},
		{"check-config dir not the package's: a warning", []string{"check-config", good}, exitOK, "", "the packaged unit can write only /var/lib/vipsentinel", ""},
		{"check-config no interface", []string{"check-config", noIface}, exitConfig, "", `no interface "nosuch0" on this host`, ""},
		{"check-config port in use", []string{"check-config", busyConf}, exitConfig, "", "is in use by another process", ""},
		{"check-config bad", []string{"check-config", bad}, exitConfig, "", "bad.conf:2", ""},
		{"check-config missing", []string{"check-config", filepath.Join(dir, "nope.conf")}, exitConfig, "", "nope.conf", ""},
		{"check-config no file", []string{"check-config"}, exitUsage, "", "Usage", ""},
		{"run bad config", []string{bad}, exitConfig, "", "bad.conf:2", ""},
		{"run too many args", []string{"run", good, good}, exitUsage, "", "Usage", ""},
		{"demo moved", []string{"demo", "-h"}, exitUsage, "", "vipsentinel-lab demo", ""},
		{"bench moved", []string{"bench"}, exitUsage, "", "vipsentinel-lab bench", ""},
		{"status unreachable", []string{"status", "--addr", "127.0.0.1:1", "--timeout", "200ms"}, exitUnreachable, "", "127.0.0.1:1", ""},
		{"status unreachable json", []string{"status", "--json", "--addr", "127.0.0.1:1", "--timeout", "200ms"}, exitUnreachable, `"state": "unreachable"`, "127.0.0.1:1", ""},
		{"status deprecated password", []string{"status", "--addr", "127.0.0.1:1", "--timeout", "200ms", "--password", "pw"}, exitUnreachable, "", "--password is deprecated", ""},
		{"pause unreachable", []string{"pause", "m1", "--addr", "127.0.0.1:1", "--timeout", "200ms", "--config", good}, exitUnreachable, "", "127.0.0.1:1", ""},
		{"pause two masters", []string{"pause", "a", "b"}, exitUsage, "", "at most one master name", ""},
		{"pause negative", []string{"pause", "--for", "-1h"}, exitUsage, "", "want from 1ms to 720h0m0s", ""},
		{"pause too long", []string{"pause", "m1", "--for", "721h"}, exitUsage, "", "want from 1ms to 720h0m0s", ""},
		{"pause bad flag", []string{"pause", "--frob"}, exitUsage, "", "flag provided but not defined", ""},
		{"pause help", []string{"pause", "-h"}, exitOK, "Maintenance mode", "", ""},
		{"resume has no --for", []string{"resume", "--for", "1h"}, exitUsage, "", "flag provided but not defined: -for", ""},
		{"failover no master", []string{"failover"}, exitUsage, "", "want one master name", ""},
		{"failover bad --to", []string{"failover", "m1", "--to", "198.18.0.2"}, exitUsage, "", "want host:port", ""},
		{"failover bad port", []string{"failover", "m1", "--to", "198.18.0.2:x"}, exitUsage, "", "bad port", ""},
		{"failover unreachable", []string{"failover", "m1", "--to", "198.18.0.2:6379", "--addr", "127.0.0.1:1", "--timeout", "200ms", "--config", good}, exitFail, "", "127.0.0.1:1", ""},
		{"import no file", []string{"import"}, exitUsage, "", "Usage: vipsentinel import", ""},
		{"configured: the packaged template is not", []string{"configured", "../../packaging/vipsentinel.conf"}, exitFail, "", "<master-ip> is a placeholder", ""},
		{"configured: an edited file is", []string{"configured", good}, exitOK, "", "", ""},
		{"configured: a broken file is (the agent reports it)", []string{"configured", bad}, exitOK, "", "", ""},
		{"configured: no file", []string{"configured"}, exitUsage, "", "Usage", ""},
		{"import bad file", []string{"import", "--dry-run", bad}, exitConfig, "", "bad.conf:2", ""},
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

// TestParseInterleaved: flags may come before, between or after the
// positional arguments; "--" ends the flags.
func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args []string
		pos  []string
		dur  string
		to   string
		err  bool
	}{
		{nil, nil, "0s", "", false},
		{[]string{"m"}, []string{"m"}, "0s", "", false},
		{[]string{"m", "--for", "1h"}, []string{"m"}, "1h0m0s", "", false},
		{[]string{"--for=90m", "m"}, []string{"m"}, "1h30m0s", "", false},
		{[]string{"m", "--to", "h:1", "x"}, []string{"m", "x"}, "0s", "h:1", false},
		{[]string{"m", "--", "--for"}, []string{"m", "--for"}, "0s", "", false},
		{[]string{"m", "--for"}, nil, "", "", true},
		{[]string{"--bogus", "m"}, nil, "", "", true},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(new(bytes.Buffer))
		d := fs.Duration("for", 0, "")
		to := fs.String("to", "", "")
		pos, err := parseInterleaved(fs, tt.args)
		if tt.err {
			if err == nil {
				t.Errorf("%q: no error", tt.args)
			}
			continue
		}
		if err != nil || !slices.Equal(pos, tt.pos) || d.String() != tt.dur || *to != tt.to {
			t.Errorf("%q: pos %q for %v to %q err %v; want %q %s %q", tt.args, pos, d, *to, err, tt.pos, tt.dur, tt.to)
		}
	}
}
