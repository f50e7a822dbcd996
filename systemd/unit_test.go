package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

const unitFile = "vipsentinel.service"

// unitSettings parses the unit file into section.key -> values.
func unitSettings(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("malformed line %q", line)
			}
			set[section+"."+k] = append(set[section+"."+k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return set
}

// The settings the agent's behaviour depends on; a change to any of them is
// a contract change with the runtime, the packages or the operators.
func TestUnitContract(t *testing.T) {
	set := unitSettings(t)
	for key, want := range map[string]string{
		"Service.Type":                     "notify",
		"Service.NotifyAccess":             "main",
		"Service.ExecStart":                "/usr/bin/vipsentinel /etc/vipsentinel/vipsentinel.conf",
		"Service.ExecCondition":            "/usr/bin/vipsentinel configured /etc/vipsentinel/vipsentinel.conf",
		"Unit.ConditionFileNotEmpty":       "/etc/vipsentinel/vipsentinel.conf",
		"Service.ExecReload":               "/bin/kill -HUP $MAINPID",
		"Service.ExecStopPost":             "/usr/bin/vipsentinel release-handover /etc/vipsentinel/vipsentinel.conf",
		"Service.Restart":                  "always",
		"Service.RestartPreventExitStatus": "78",
		"Service.WatchdogSec":              "10s",
		"Service.MemoryMax":                "256M",
		"Service.Environment":              "GOMEMLIMIT=192MiB",
		"Service.User":                     "vipsentinel",
		"Service.Group":                    "vipsentinel",
		"Service.AmbientCapabilities":      "CAP_NET_ADMIN CAP_NET_RAW",
		"Service.CapabilityBoundingSet":    "CAP_NET_ADMIN CAP_NET_RAW",
		"Service.StateDirectory":           "vipsentinel",
		"Service.RestrictAddressFamilies":  "AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET",
		"Install.WantedBy":                 "multi-user.target",
	} {
		if got := set[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	// Each of these breaks netlink, nftables or raw sockets in the host
	// network namespace.
	for _, key := range []string{"Service.PrivateUsers", "Service.PrivateNetwork", "Service.DynamicUser",
		"Service.IPAddressDeny", "Service.ProcSubset"} {
		if v, ok := set[key]; ok {
			t.Errorf("%s=%q must not be set", key, v)
		}
	}
}

// TestUnitSecurityExposure holds the sandbox to `systemd-analyze security`
// exposure 2.5 or better (the threshold is exposure x 10).
func TestUnitSecurityExposure(t *testing.T) {
	sa := testenv.NeedTool(t, "systemd-analyze")
	out, err := exec.Command(sa, "security", "--offline=yes", "--threshold=25", "--no-pager", "./"+unitFile).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	exposure, perr := strconv.ParseFloat(string(m[1]), 64)
	if perr != nil {
		t.Fatal(perr)
	}
	t.Logf("systemd-analyze security exposure: %.1f", exposure)
	if err != nil || exposure > 2.5 {
		t.Fatalf("exposure %.1f, want <= 2.5 (%v)\n%s", exposure, err, out)
	}
}

// TestUnitVerifies runs `systemd-analyze verify` on the unit. The binary is
// not installed on the build host, so the one complaint about ExecStart's
// missing executable is expected; anything else (unknown keys, bad values)
// fails. The packaging e2e test verifies it again inside a booted system
// with the package installed, where it must be fully clean.
func TestUnitVerifies(t *testing.T) {
	sa := testenv.NeedTool(t, "systemd-analyze")
	out, _ := exec.Command(sa, "verify", "--no-pager", "./"+unitFile).CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" || strings.Contains(line, "Command /usr/bin/vipsentinel is not executable") {
			continue
		}
		t.Errorf("systemd-analyze verify: %s", line)
	}
}
