package config

import (
	"strings"
	"testing"
	"time"
)

// TestAPIDirectives: protected-mode, maxclients and timeout are read with
// Redis's syntax and defaults (protected mode on, 10000 clients, timeout 0).
func TestAPIDirectives(t *testing.T) {
	tests := []struct {
		text      string
		protected bool
		clients   int
		timeout   time.Duration
	}{
		{mon, true, 10000, 0},
		{mon + "protected-mode no\nrequirepass pw\n", false, 10000, 0},
		{mon + "protected-mode YES\n", true, 10000, 0},
		{mon + "maxclients 64\ntimeout 300\n", true, 64, 300 * time.Second},
		{mon + "timeout 0\n", true, 10000, 0},
	}
	for _, tt := range tests {
		f, w := mustParse(t, tt.text)
		if len(w) != 0 {
			t.Errorf("%q: warnings %v", tt.text, w)
		}
		if f.ProtectedMode != tt.protected || f.MaxClients != tt.clients || f.Timeout != tt.timeout {
			t.Errorf("%q: protected-mode %v maxclients %d timeout %v, want %v %d %v", tt.text,
				f.ProtectedMode, f.MaxClients, f.Timeout, tt.protected, tt.clients, tt.timeout)
		}
	}
	for _, tt := range []struct{ text, msg string }{
		{"protected-mode maybe\n", "want yes or no"},
		{"maxclients 0\n", "want an integer in 1.."},
		{"maxclients lots\n", "want an integer in 1.."},
		{"timeout -1\n", "want a number of seconds"},
		{"timeout 1.5\n", "want a number of seconds"},
	} {
		_, _, err := parse(t, mon+tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%q: error %v, want one containing %q", tt.text, err, tt.msg)
		}
	}
}
