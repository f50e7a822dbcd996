package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/config"
)

// TestRestartChanges: every change a running agent does not apply in place
// is listed (a reload then applies it by a handover to a re-executed agent),
// and a monitor address that differs from the file (the agents track the
// master themselves) is not.
func TestRestartChanges(t *testing.T) {
	dir := t.TempDir()
	base := "port 26379\ndir " + dir + "\nrequirepass pw1\nsentinel monitor m 198.18.0.1 6379 2\n" +
		"sentinel auth-pass m rpw1\nsentinel vip m 198.18.0.100/24 eth0\nmin-agents 3\n"
	load := func(t *testing.T, text string) *config.File {
		t.Helper()
		p := filepath.Join(dir, "c.conf")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		f, _, err := config.Load(p)
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		return f
	}
	old := load(t, base)
	for _, tt := range []struct {
		name, from, to string
		want           string // "" = nothing
	}{
		{"unchanged", "", "", ""},
		{"requirepass", "requirepass pw1", "requirepass pw2", "requirepass"},
		{"auth-pass", "sentinel auth-pass m rpw1", "sentinel auth-pass m rpw2", "sentinel auth-pass/auth-user m"},
		{"vip", "198.18.0.100/24", "198.18.0.101/24", "sentinel vip"},
		{"firewall", "min-agents 3", "min-agents 3\nfirewall yes", "firewall"},
		{"script", "min-agents 3", "min-agents 3\nsentinel notification-script m /bin/true", "scripts of m"},
		{"monitor address", "198.18.0.1 6379", "198.18.0.2 6379", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := restartChanges(old, load(t, strings.Replace(base, tt.from, tt.to, 1)))
			if tt.want == "" && len(got) > 0 || tt.want != "" && !slices.Contains(got, tt.want) {
				t.Errorf("restartChanges = %q, want %q", got, tt.want)
			}
		})
	}
}
