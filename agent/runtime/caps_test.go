package runtime

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/clock"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// capsScript writes its own capability sets (from /proc/self/status, read
// by the shell itself) to out.
const capsScript = `while read -r l; do case $l in Cap*) echo "$l";; esac; done < /proc/self/status > "$1.tmp" && mv "$1.tmp" "$1"`

// readCaps parses "CapXxx:\t<hex>" lines.
func readCaps(t *testing.T, path string) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	caps := map[string]uint64{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !strings.HasPrefix(k, "Cap") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("%s: %q: %v", path, l, err)
		}
		caps[k] = n
	}
	return caps
}

// runCapsScript runs capsScript through a scriptRunner and returns the
// capabilities it saw.
func runCapsScript(t *testing.T, dir string, capset func(*unix.CapUserHeader, *unix.CapUserData) error) map[string]uint64 {
	t.Helper()
	script := filepath.Join(dir, "caps.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+capsScript+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "caps.out")
	r := newScriptRunner(testLogger(t), func(sentinel.Event) {}, clock.Real{})
	r.capset = capset
	defer r.stop(time.Second)
	r.run(sentinel.ScriptRun{Master: "m", Path: script, Args: []string{out}}, sentinel.Timing{ScriptMaxRuntime: 5 * time.Second})
	testenv.Until(t, 10*time.Second, "capability script", func() bool { _, err := os.Stat(out); return err == nil })
	return readCaps(t, out)
}

func assertNoCaps(t *testing.T, caps map[string]uint64) {
	t.Helper()
	for _, set := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		v, ok := caps[set]
		if !ok || v != 0 {
			t.Errorf("script's %s = %#x (present %v), want 0; all: %v", set, v, ok, caps)
		}
	}
}

// TestScriptsRunWithoutCapsAsRoot: an agent running as root (every
// capability) starts scripts with none.
func TestScriptsRunWithoutCapsAsRoot(t *testing.T) {
	testenv.NeedRoot(t)
	self := readCaps(t, "/proc/self/status")
	if self["CapEff"] == 0 {
		t.Fatalf("test process has no effective capabilities: %v", self)
	}
	assertNoCaps(t, runCapsScript(t, t.TempDir(), nil))
}

// TestScriptsRunWithoutCapsAsServiceUser reproduces the packaged unit: a
// non-root agent holding CAP_NET_ADMIN and CAP_NET_RAW as ambient
// capabilities (setpriv does what systemd's AmbientCapabilities= does).
// Ambient capabilities survive exec, so without care every script would
// hold them too.
func TestScriptsRunWithoutCapsAsServiceUser(t *testing.T) {
	testenv.NeedRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) not installed: %v", err)
	}
	// A directory the unprivileged user can use, holding a copy of the test
	// binary (go test's build directory is private to root).
	dir, err := os.MkdirTemp("", "vipsentinel-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "runtime.test")
	testenv.CopyFile(t, os.Args[0], bin, 0o755)

	const netCaps = 1<<12 | 1<<13 // CAP_NET_ADMIN, CAP_NET_RAW
	for _, seccomp := range []bool{false, true} {
		cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps=-all,+net_admin,+net_raw", "--ambient-caps=+net_admin,+net_raw",
			bin, "-test.run=^TestScriptCapsHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "VIPSENTINEL_CAPS_HELPER_DIR="+dir)
		if seccomp {
			cmd.Env = append(cmd.Env, "VIPSENTINEL_CAPS_HELPER_NO_CAPSET=1")
		}
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestScriptCapsHelper") {
			t.Fatalf("helper as uid 65534 with ambient NET_ADMIN, NET_RAW (capset refused: %v): %v\n%s", seccomp, err, out)
		}
		agent := readCaps(t, filepath.Join(dir, "agent.caps"))
		if agent["CapAmb"] != netCaps || agent["CapEff"] != netCaps {
			t.Fatalf("helper (the agent) did not hold the service's capabilities: %v", agent)
		}
		caps := readCaps(t, filepath.Join(dir, "caps.out"))
		if seccomp {
			// As under the packaged unit's seccomp filter: only the
			// inheritable set is left, which grants nothing.
			if caps["CapInh"] != netCaps {
				t.Errorf("capset refused, yet the inheritable set changed: %v", caps)
			}
			caps["CapInh"] = 0
		}
		assertNoCaps(t, caps)
		_ = os.Remove(filepath.Join(dir, "caps.out"))
	}
}

// TestScriptCapsHelper runs inside TestScriptsRunWithoutCapsAsServiceUser's
// child process only.
func TestScriptCapsHelper(t *testing.T) {
	dir := os.Getenv("VIPSENTINEL_CAPS_HELPER_DIR")
	if dir == "" {
		t.Skip("helper of TestScriptsRunWithoutCapsAsServiceUser")
	}
	testenv.CopyFile(t, "/proc/self/status", filepath.Join(dir, "agent.caps"), 0o644)
	var capset func(*unix.CapUserHeader, *unix.CapUserData) error
	if os.Getenv("VIPSENTINEL_CAPS_HELPER_NO_CAPSET") != "" {
		// What the unit's SystemCallFilter=~@privileged does to capset.
		capset = func(*unix.CapUserHeader, *unix.CapUserData) error { return unix.EPERM }
	}
	runCapsScript(t, dir, capset)
}
