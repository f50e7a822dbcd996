package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// exitCode runs a command in the container and returns its stdout and exit
// status (a failure to run it at all fails the test).
func (c *container) exitCode(args ...string) (string, int) {
	c.t.Helper()
	out, err := c.exec(args...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out, 0
	case errors.As(err, &ee):
		return out, ee.ExitCode()
	}
	c.t.Fatal(err)
	return "", -1
}

// opsStatus is the part of `vipsentinel status --json` read here.
type opsStatus struct {
	Masters []struct {
		Name        string `json:"name"`
		Paused      bool   `json:"paused"`
		PausedUntil string `json:"paused_until"`
	} `json:"masters"`
	Health struct {
		State   string   `json:"state"`
		Reasons []string `json:"reasons"`
	} `json:"health"`
}

func (c *container) opsStatus() (opsStatus, int) {
	c.t.Helper()
	out, code := c.exitCode("vipsentinel", "status", "--json")
	var st opsStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		c.t.Fatalf("status --json: exit %d: %v\n%s", code, err, out)
	}
	return st, code
}

// TestDebOperationsBooted walks issue 16's day-two operations on the
// installed deb under a booted systemd: an unconfigured install stays
// inactive (not failed) when started; `vipsentinel import` of Debian's
// stock sentinel.conf makes a configuration that passes check-config and
// runs under the unit's sandbox; `status --json` and its exit statuses;
// pause (kept across a restart, in the state directory the sandbox leaves
// writable) and resume.
func TestDebOperationsBooted(t *testing.T) {
	testenv.NeedRoot(t)
	const stock = "/etc/redis/sentinel.conf" // the host's redis-sentinel package
	if _, err := os.Stat(stock); err != nil {
		testenv.Missing(t, "Debian's stock %s: %v", stock, err)
	}
	v1 := build(t, defaultVersion(t))
	root := newRootfs(t)
	c := boot(t, root, fmt.Sprintf("vseops-%d", os.Getpid()), "--private-network",
		"--bind-ro="+filepath.Dir(v1.Deb)+":/srv/v1", "--bind-ro="+stock+":/srv/sentinel.conf")
	const unit = "vipsentinel.service"
	conf := "/etc/vipsentinel/vipsentinel.conf"
	c.must("dpkg", "-i", "/srv/v1/"+filepath.Base(v1.Deb))

	// Unconfigured: the template (placeholders) and an empty file are
	// skipped by the unit's conditions: inactive, never failed, no restart.
	for _, state := range []string{"the template", "an empty file"} {
		if state == "an empty file" {
			c.writeFile(conf, "")
		}
		if out, err := c.exec("systemctl", "start", unit); err != nil {
			t.Errorf("start of an unconfigured install failed: %v\n%s", err, out)
		}
		p := c.show(unit, "ActiveState", "Result", "NRestarts", "ConditionResult")
		if p["ActiveState"] != "inactive" || p["NRestarts"] != "0" {
			t.Errorf("unconfigured (%s): %v, want inactive with no restart\n%s", state, p, c.journal(unit))
		}
		t.Logf("unconfigured (%s): %v", state, p)
		if out, _ := c.exec("systemctl", "is-failed", unit); strings.TrimSpace(out) == "failed" {
			t.Errorf("unconfigured install is failed")
		}
	}
	// The template is back, as the package installs it: import replaces it.
	c.must("sh", "-c", "dpkg-deb --fsys-tarfile /srv/v1/"+filepath.Base(v1.Deb)+" | tar -xO ./etc/vipsentinel/vipsentinel.conf > "+conf)

	out := c.must("vipsentinel", "import", "/srv/sentinel.conf")
	for _, want := range []string{"-dir /var/lib/redis", "+dir /var/lib/vipsentinel", "wrote " + conf, "wrote /var/lib/vipsentinel/vipsentinel.state"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	if got := strings.TrimSpace(c.must("stat", "-c", "%U:%G %a", conf)); got != "root:vipsentinel 640" {
		t.Errorf("%s: %s, want root:vipsentinel 640", conf, got)
	}
	if got := strings.TrimSpace(c.must("stat", "-c", "%U %a", "/var/lib/vipsentinel/vipsentinel.state")); got != "vipsentinel 600" {
		t.Errorf("state file: %s, want vipsentinel 600", got)
	}
	if out, code := c.exitCode("vipsentinel", "check-config", conf); code != 0 {
		t.Errorf("check-config of the imported file: exit %d\n%s", code, out)
	}

	c.must("systemctl", "start", unit)
	if p := c.show(unit, "ActiveState"); p["ActiveState"] != "active" {
		t.Fatalf("imported configuration: %v\n%s", p, c.journal(unit))
	}
	// One agent, no replica: degraded (exit 1), with the reason.
	testenv.Eventually(t, 30*time.Second, "status --json of the running agent", func() error {
		st, code := c.opsStatus()
		return testenv.Pending(code == 1 && len(st.Masters) == 1 && strings.Contains(strings.Join(st.Health.Reasons, ";"), "no replica could be promoted"),
			fmt.Sprintf("exit %d %+v", code, st))
	})

	out = c.must("vipsentinel", "pause", "mymaster", "--for", "1h")
	if !strings.Contains(out, "mymaster paused on 1 of 1 agents") {
		t.Errorf("pause: %s", out)
	}
	st, code := c.opsStatus()
	if code != 1 || !st.Masters[0].Paused || st.Masters[0].PausedUntil == "" {
		t.Errorf("after pause: exit %d %+v", code, st)
	}
	c.must("systemctl", "restart", unit)
	testenv.Eventually(t, 30*time.Second, "the pause after a restart", func() error {
		st, code := c.opsStatus()
		return testenv.Pending(code == 1 && len(st.Masters) == 1 && st.Masters[0].Paused, fmt.Sprintf("exit %d %+v", code, st))
	})
	if !strings.Contains(c.must("journalctl", "-u", unit, "-o", "cat", "--no-pager"), "+maintenance") {
		t.Errorf("no +maintenance in the journal:\n%s", c.journal(unit))
	}
	c.must("vipsentinel", "resume")
	if st, _ := c.opsStatus(); st.Masters[0].Paused {
		t.Errorf("after resume: %+v", st)
	}

	c.must("systemctl", "stop", unit)
	if st, code := c.opsStatus(); code != 2 || st.Health.State != "unreachable" {
		t.Errorf("stopped agent: exit %d %+v", code, st)
	}
}
