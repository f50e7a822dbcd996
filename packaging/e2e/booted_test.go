package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/systemd"
)

// singleNodeConfig monitors the container's own redis-server and holds a
// VIP on a veth pair inside the container (a dummy link has no ARP).
const singleNodeConfig = `# vipsentinel e2e: one agent, the local redis-server as master
port 26379
dir /var/lib/vipsentinel
sentinel monitor mymaster 127.0.0.1 6379 1
sentinel down-after-milliseconds mymaster 1000
sentinel auth-pass mymaster e2e-secret-password
sentinel vip mymaster 198.18.0.100/24 vse2e0
firewall yes
`

// TestDebLifecycleBooted installs the deb into a booted Debian and walks an
// operator's life with it: install (enabled, not started), a broken config
// (exit 78, no restart loop), start (READY, STATUS=, sandbox, journal),
// reload, a hung agent (the watchdog restarts it), an upgrade keeping the
// edited config, remove and purge.
func TestDebLifecycleBooted(t *testing.T) {
	testenv.NeedRoot(t)
	start := time.Now()
	v1, v2 := upgradeBuilds(t)
	root := newRootfs(t)
	c := boot(t, root, fmt.Sprintf("vse2e-%d", os.Getpid()), "--private-network",
		"--bind-ro="+filepath.Dir(v1.Deb)+":/srv/v1", "--bind-ro="+filepath.Dir(v2.Deb)+":/srv/v2")
	t.Logf("booted in %v", time.Since(start).Round(time.Millisecond))
	const unit = "vipsentinel.service"
	conf := "/etc/vipsentinel/vipsentinel.conf"

	// Install: enabled for boot, but an unconfigured agent is not started.
	c.must("dpkg", "-i", "/srv/v1/"+filepath.Base(v1.Deb))
	if got := strings.TrimSpace(c.must("stat", "-c", "%U:%G %a", conf)); got != "root:vipsentinel 640" {
		t.Errorf("%s: %s, want root:vipsentinel 640", conf, got)
	}
	if out, _ := c.exec("systemctl", "is-enabled", unit); strings.TrimSpace(out) != "enabled" {
		t.Errorf("after install: is-enabled %q, want enabled", out)
	}
	if out, _ := c.exec("systemctl", "is-active", unit); strings.TrimSpace(out) != "inactive" {
		t.Errorf("after install: is-active %q, want inactive (never start an unconfigured agent)", out)
	}

	// The unit as installed, under this systemd: clean verify, exposure <= 2.5.
	if out, err := c.exec("systemd-analyze", "verify", unit); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	sec, err := c.exec("systemd-analyze", "security", "--threshold=25", "--no-pager", unit)
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(sec)
	if err != nil || m == nil {
		t.Errorf("systemd-analyze security (threshold 2.5): %v\n%s", err, sec)
	} else {
		t.Logf("systemd-analyze security exposure: %s", m[1])
	}

	// The VIP's link exists only in the container's private network.
	c.must("ip", "link", "add", "vse2e0", "type", "veth", "peer", "name", "vse2e1")
	c.must("ip", "link", "set", "vse2e0", "up")
	c.must("ip", "link", "set", "vse2e1", "up")
	c.must("systemctl", "is-active", "redis-server")

	// Started with a broken configuration, the agent fails with EX_CONFIG
	// and is not restarted. (Unconfigured, the shipped file with its <...>
	// placeholders, the unit is skipped: TestDebOperationsBooted.)
	for _, broken := range []string{"INVALID-directive yes\n"} {
		c.writeFile(conf, broken)
		if _, err := c.exec("systemctl", "start", unit); err == nil {
			t.Errorf("start with configuration %q succeeded", broken)
		}
		p := c.show(unit, "ActiveState", "Result", "ExecMainStatus", "NRestarts")
		if p["ActiveState"] != "failed" || p["ExecMainStatus"] != "78" || p["NRestarts"] != "0" {
			t.Errorf("configuration %q: %v, want failed with status 78 and no restart\n%s", broken, p, c.journal(unit))
		}
		c.must("systemctl", "reset-failed", unit)
	}

	// Start: Type=notify, so systemctl returns once READY=1 arrived.
	c.writeFile(conf, singleNodeConfig)
	startAt := time.Now()
	c.must("systemctl", "start", unit)
	t.Logf("systemctl start returned after %v (READY=1)", time.Since(startAt).Round(time.Millisecond))
	p := c.show(unit, "ActiveState", "SubState", "StatusText", "MainPID", "NRestarts", "WatchdogUSec")
	if p["ActiveState"] != "active" || p["SubState"] != "running" {
		t.Fatalf("after start: %v\n%s", p, c.journal(unit))
	}
	if p["WatchdogUSec"] != "10s" {
		t.Errorf("WatchdogUSec = %q, want 10s", p["WatchdogUSec"])
	}
	testenv.Eventually(t, 20*time.Second, "a STATUS= text", func() error {
		p = c.show(unit, "StatusText")
		return testenv.Pending(p["StatusText"] != "", fmt.Sprint(p))
	})
	t.Logf("StatusText: %q", p["StatusText"])
	pid := c.show(unit, "MainPID")["MainPID"]
	checkSandbox(t, c, pid)
	// Under that sandbox the agent holds the VIP (netlink) and its nftables table.
	hasVIP := func() bool {
		out, _ := c.exec("ip", "-o", "addr", "show", "dev", "vse2e0")
		return strings.Contains(out, " 198.18.0.100/")
	}
	hasTable := func() bool {
		_, err := c.exec("nft", "list", "table", "inet", "vipsentinel")
		return err == nil
	}
	testenv.Eventually(t, 20*time.Second, "the VIP and the nftables table", func() error {
		return testenv.Pending(hasVIP() && hasTable(), fmt.Sprintf("vip %v table %v", hasVIP(), hasTable()))
	})

	// Journal: native-protocol entries with upper-case fields and no secret.
	checkJournal(t, c, unit)

	// Reload: ExecReload's SIGHUP makes the agent re-read its file without
	// restarting. The proof is a changed setting seen through the API; had
	// SIGHUP restarted the agent, the new process would show it too, but
	// with another PID and a restart counted before it could answer.
	c.writeFile(conf, strings.Replace(singleNodeConfig, "down-after-milliseconds mymaster 1000", "down-after-milliseconds mymaster 1500", 1))
	c.must("systemctl", "reload", unit)
	testenv.Eventually(t, 20*time.Second, "the reloaded down-after-milliseconds through the API", func() error {
		out, err := c.exec("redis-cli", "-p", "26379", "sentinel", "master", "mymaster")
		return testenv.Pending(err == nil && strings.Contains(out, "down-after-milliseconds\n1500\n"), fmt.Sprint(out, err))
	})
	if got := c.show(unit, "MainPID", "ActiveState", "NRestarts"); got["MainPID"] != pid || got["ActiveState"] != "active" || got["NRestarts"] != "0" {
		t.Errorf("after reload: %v, want the same MainPID %s, active, no restart\n%s", got, pid, c.journal(unit))
	}

	// A hung agent (SIGSTOP: no keep-alives) is killed by the watchdog and restarted.
	p = c.show(unit, "MainPID", "NRestarts")
	pid, restarts := p["MainPID"], p["NRestarts"]
	hungAt := time.Now()
	c.must("kill", "-STOP", pid)
	testenv.Eventually(t, 60*time.Second, "the watchdog to restart the stopped agent", func() error {
		p := c.show(unit, "MainPID", "ActiveState", "NRestarts")
		return testenv.Pending(p["NRestarts"] != restarts && p["MainPID"] != pid && p["MainPID"] != "0" && p["ActiveState"] == "active", fmt.Sprint(p))
	})
	t.Logf("watchdog restart %v after SIGSTOP", time.Since(hungAt).Round(time.Millisecond))
	// systemd's verdict, then the Go runtime's goroutine dump on SIGABRT.
	all := c.must("journalctl", "-u", unit, "-o", "cat", "--no-pager")
	for _, want := range []string{"Watchdog timeout (limit 10s)", "SIGABRT: abort", "goroutine "} {
		if !strings.Contains(all, want) {
			t.Errorf("journal lacks %q after the watchdog kill:\n%s", want, c.journal(unit))
		}
	}

	// Upgrade: the edited configuration stays, the running agent is replaced.
	p = c.show(unit, "MainPID", "NRestarts")
	pid, restarts = p["MainPID"], p["NRestarts"]
	c.writeFile(conf, singleNodeConfig+"# edited by the operator\n")
	c.must("dpkg", "-i", "/srv/v2/"+filepath.Base(v2.Deb))
	if !strings.Contains(c.must("cat", conf), "# edited by the operator") {
		t.Error("upgrade lost the edited configuration")
	}
	if out, _ := c.exec("ls", "/etc/vipsentinel"); strings.Contains(out, "dpkg-") {
		t.Errorf("upgrade left dpkg leftovers: %s", out)
	}
	wantV := strings.Replace(v2.Version, "-", "~", 1) + "-1"
	if got := c.must("dpkg-query", "-W", "-f=${Version}", "vipsentinel"); got != wantV {
		t.Errorf("installed version %q, want %q", got, wantV)
	}
	// The running agent re-executes the new version in place (a handover,
	// not a restart): same PID, no restart counted, the new executable.
	testenv.Eventually(t, 30*time.Second, "the agent to re-execute the new version after the upgrade", func() error {
		p := c.show(unit, "MainPID", "ActiveState", "NRestarts")
		exe, _ := c.exec("readlink", "/proc/"+pid+"/exe")
		return testenv.Pending(p["MainPID"] == pid && p["ActiveState"] == "active" && p["NRestarts"] == restarts &&
			strings.TrimSpace(exe) == "/usr/bin/vipsentinel", fmt.Sprint(p, " exe ", exe))
	})
	if j := c.journal(unit); !strings.Contains(j, "re-executing") {
		t.Errorf("journal lacks the re-exec after the upgrade:\n%s", j)
	}

	// Remove stops the agent and keeps configuration and user; purge removes them.
	c.must("dpkg", "-r", "vipsentinel")
	if out, _ := c.exec("systemctl", "is-active", unit); strings.TrimSpace(out) == "active" {
		t.Error("remove did not stop the agent")
	}
	if hasVIP() || hasTable() {
		t.Errorf("the stopped agent left the VIP (%v) or its nftables table (%v)", hasVIP(), hasTable())
	}
	c.must("test", "-f", conf)
	c.must("getent", "passwd", "vipsentinel")
	c.must("dpkg", "-P", "vipsentinel")
	for _, check := range [][]string{
		{"getent", "passwd", "vipsentinel"}, {"getent", "group", "vipsentinel"},
		{"test", "-e", "/etc/vipsentinel"}, {"test", "-e", "/var/lib/vipsentinel"},
		{"test", "-e", "/etc/systemd/system/multi-user.target.wants/vipsentinel.service"},
	} {
		if out, err := c.exec(check...); err == nil {
			t.Errorf("after purge: %v succeeded: %s", check, out)
		}
	}
	t.Logf("single-node lifecycle took %v", time.Since(start).Round(time.Millisecond))
}

// checkSandbox looks at the running agent's credentials as the kernel sees
// them: the service user, exactly CAP_NET_ADMIN and CAP_NET_RAW, no new
// privileges, a seccomp filter.
func checkSandbox(t *testing.T, c *container, pid string) {
	t.Helper()
	uid := strings.TrimSpace(c.must("id", "-u", "vipsentinel"))
	status := c.must("cat", "/proc/"+pid+"/status")
	want := map[string]string{
		"Uid":        uid,
		"CapEff":     "0000000000003000", // CAP_NET_ADMIN (12) | CAP_NET_RAW (13)
		"CapBnd":     "0000000000003000",
		"CapAmb":     "0000000000003000",
		"NoNewPrivs": "1",
		"Seccomp":    "2",
	}
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if w, check := want[k]; ok && check {
			if f := strings.Fields(v); len(f) == 0 || f[0] != w {
				t.Errorf("agent %s: %q, want %s", k, strings.TrimSpace(v), w)
			}
			delete(want, k)
		}
	}
	if len(want) > 0 {
		t.Errorf("agent status lacks %v", want)
	}
	if st := strings.TrimSpace(c.must("stat", "-c", "%U:%G %a", "/var/lib/vipsentinel")); st != "vipsentinel:vipsentinel 750" {
		t.Errorf("StateDirectory: %s, want vipsentinel:vipsentinel 750", st)
	}
}

// journalEntries returns the unit's journal entries (journalctl -o json).
func journalEntries(t *testing.T, c *container, unit string) []map[string]any {
	t.Helper()
	var entries []map[string]any
	for _, line := range strings.Split(c.must("journalctl", "-u", unit, "-o", "json", "--no-pager"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("journal entry %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	return entries
}

// journal formats the unit's last journal entries for a failure message:
// the message and the entry's own (upper-case, non-trusted) fields.
func (c *container) journal(unit string) string {
	out, err := c.exec("journalctl", "-u", unit, "-o", "json", "--no-pager", "-n", "200")
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, line := range strings.Split(out, "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		fmt.Fprintf(&b, "%v: %v", e["SYSLOG_IDENTIFIER"], e["MESSAGE"])
		keys := make([]string, 0, len(e))
		for k := range e {
			if !strings.HasPrefix(k, "_") && !journalMeta[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%v", k, e[k])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// journalMeta are the fields journal adds to every entry.
var journalMeta = map[string]bool{
	"MESSAGE": true, "SYSLOG_IDENTIFIER": true, "PRIORITY": true, "SYSLOG_FACILITY": true,
	"SYSLOG_TIMESTAMP": true, "CODE_FILE": true, "CODE_LINE": true, "CODE_FUNC": true,
	"__CURSOR": true, "__REALTIME_TIMESTAMP": true, "__MONOTONIC_TIMESTAMP": true,
}

var journalField = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// checkJournal requires the agent's own entries to arrive over the native
// protocol (not as stderr lines), with a priority, upper-case fields,
// MESSAGE_IDs only from the known set, and no secret from the config.
func checkJournal(t *testing.T, c *container, unit string) {
	t.Helper()
	known := map[string]bool{}
	for _, ev := range systemd.Events() {
		known[ev.MessageID] = true
	}
	var native, withIDs int
	var sample map[string]any
	testenv.Eventually(t, 20*time.Second, "structured journal entries from the agent", func() error {
		native, withIDs = 0, 0
		for _, e := range journalEntries(t, c, unit) {
			raw, _ := json.Marshal(e)
			if strings.Contains(string(raw), "e2e-secret-password") {
				t.Fatalf("journal entry leaks the auth-pass: %s", raw)
			}
			if e["_TRANSPORT"] != "journal" || e["SYSLOG_IDENTIFIER"] != "vipsentinel" {
				continue
			}
			native++
			if _, ok := e["PRIORITY"]; !ok {
				t.Errorf("entry without PRIORITY: %s", raw)
			}
			for k := range e {
				if !journalField.MatchString(k) {
					t.Errorf("field %q is not a journal field name: %s", k, raw)
				}
			}
			if id, ok := e["MESSAGE_ID"].(string); ok {
				if !known[id] {
					t.Errorf("unknown MESSAGE_ID %s: %s", id, raw)
				}
				withIDs++
				sample = e
			}
		}
		return testenv.Pending(native > 0 && withIDs > 0, fmt.Sprintf("%d native entries, %d with MESSAGE_ID", native, withIDs))
	})
	t.Logf("journal: %d native entries from the agent, %d with MESSAGE_ID; e.g. %s=%v EVENT=%v VIP=%v",
		native, withIDs, "MESSAGE", sample["MESSAGE"], sample["EVENT"], sample["VIP"])
}
