package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// The configuration file shipped in the packages (packaging/vipsentinel.conf).
const packaged = "../../packaging/vipsentinel.conf"

var packagedValues = strings.NewReplacer(
	"<master-ip>", "192.0.2.11",
	"<vip>", "192.0.2.10",
	"<interface>", "eth0",
	"<redis-password>", "redis-pw",
	"<redis-user>", "sentinel",
	"<agent-password>", "agent-pw",
	"<agent-user>", "agent",
	"<new-name>", "GUARDED-CONFIG",
)

// TestPackagedAsShipped: installed and started without editing, the agent
// stops at the placeholders of the required lines, the agents' password
// among them, and says so.
func TestPackagedAsShipped(t *testing.T) {
	_, _, err := Load(packaged)
	if err == nil {
		t.Fatal("the unedited packaged configuration loads")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("errors:\n%v", err)
	}
	for i, want := range []string{"sentinel monitor: <master-ip> is a placeholder", "sentinel vip: <vip>, <interface> are placeholders: replace them with the real values", "requirepass: <agent-password> is a placeholder"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("error %d = %q, want %q", i, lines[i], want)
		}
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.File != packaged {
		t.Errorf("not a *config.Error for %s: %v", packaged, err)
	}
}

// TestPackagedFilledIn: with the placeholders filled in, the file loads
// without warnings, and every commented-out example is valid too; those
// that show a default show the real one.
func TestPackagedFilledIn(t *testing.T) {
	data, err := os.ReadFile(packaged)
	if err != nil {
		t.Fatal(err)
	}
	text := packagedValues.Replace(string(data))
	base, w, err := Parse(packaged, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	m := base.Master("mymaster")
	if m == nil || m.Addr.Host != "192.0.2.11" || len(m.VIPs) != 1 || m.VIPs[0].Interface != "eth0" || !m.Fence {
		t.Fatalf("required lines:\n%s", base.Effective())
	}

	var all []string
	examples := 0
	for _, l := range strings.Split(text, "\n") {
		if d, ok := strings.CutPrefix(l, "# "); ok && isDirective(d) {
			l = d
			examples++
		}
		all = append(all, l)
	}
	if examples < 30 {
		t.Errorf("only %d commented-out examples found", examples)
	}
	full, w, err := Parse(packaged, []byte(strings.Join(all, "\n")), NoInclude())
	if err != nil {
		t.Fatalf("commented-out examples: %v", err)
	}
	if len(w) != 0 {
		t.Errorf("commented-out examples: warnings: %v", w)
	}
	fm := full.Master("mymaster")
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"down-after", fm.DownAfter, m.DownAfter},
		{"failover-timeout", fm.FailoverTimeout, m.FailoverTimeout},
		{"parallel-syncs", fm.ParallelSyncs, m.ParallelSyncs},
		{"master-reboot", fm.MasterRebootDownAfter, m.MasterRebootDownAfter},
		{"vip-garp", fm.GARP, m.GARP},
		{"fence", fm.Fence, m.Fence},
		{"release-on-stop", fm.ReleaseOnStop, m.ReleaseOnStop},
		{"firewall-mode", full.Firewall.Mode, base.Firewall.Mode},
		{"firewall-keep-on-stop", full.Firewall.KeepOnStop, base.Firewall.KeepOnStop},
		{"firewall-fence", full.Firewall.Fence, base.Firewall.Fence},
		{"port", full.Port, base.Port},
		{"dir", full.Dir, base.Dir},
		{"loglevel", full.LogLevel, base.LogLevel},
		{"resolve-hostnames", full.ResolveHostnames, base.ResolveHostnames},
		{"announce-hostnames", full.AnnounceHostnames, base.AnnounceHostnames},
		{"deny-scripts-reconfig", full.DenyScriptsReconfig, base.DenyScriptsReconfig},
	} {
		if c.got != c.want {
			t.Errorf("the example for %s shows %v, but the default is %v", c.name, c.got, c.want)
		}
	}
}

// isDirective reports whether a comment's text is a commented-out directive
// (other than include, which would read the host's files).
func isDirective(s string) bool {
	f := strings.Fields(s)
	if len(f) < 2 {
		return false
	}
	if f[0] == "sentinel" {
		_, ok := sentinelSpecs[f[1]]
		return ok
	}
	_, ok := globalSpecs[f[0]]
	return ok
}
