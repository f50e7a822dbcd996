package lab_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestSweep fakes what a crashed run leaves (a namespace named by a dead
// process, with a process still inside) and checks that Sweep removes it
// while sparing labs of live processes and other names.
func TestSweep(t *testing.T) {
	t.Parallel()
	lab.RequireRoot(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("sweep%06d", rand.IntN(1e6))
	nsStale := fmt.Sprintf("vsl-%s-%d-beef-h1", name, dead.Process.Pid)
	nsLive := fmt.Sprintf("vsl-%s-%d-beef-h1", name, os.Getpid())
	nsOther := fmt.Sprintf("vsl-x%s-%d-beef-h1", name, dead.Process.Pid)
	nsForeign := fmt.Sprintf("notours-%s-%d-beef-h1", name, dead.Process.Pid)
	for _, ns := range []string{nsStale, nsLive, nsOther, nsForeign} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
		}
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	// A process left running inside the stale namespace, in its own session.
	orphan := exec.Command("ip", "netns", "exec", nsStale, "sleep", "303")
	orphan.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- orphan.Wait() }()
	t.Cleanup(func() { orphan.Process.Kill() })
	// Sweep only sees it once "ip netns exec" has entered the namespace and
	// exec'd sleep.
	ctx := testenv.Context(t, 5*time.Second)
	lab.Eventually(ctx, t, func() error {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", orphan.Process.Pid))
		if err != nil || !strings.HasPrefix(string(b), "sleep\x00") {
			return fmt.Errorf("cmdline %q, %v", b, err)
		}
		return nil
	}, "orphan inside the namespace")

	swept, err := lab.Sweep(name)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(swept, []string{nsStale}) {
		t.Errorf("swept %v, want only %s", swept, nsStale)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Error("process in the stale namespace survived Sweep")
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for ns, want := range map[string]bool{nsStale: false, nsLive: true, nsOther: true, nsForeign: true} {
		if got := strings.Contains(string(out), ns+" ") || strings.Contains(string(out), ns+"\n"); got != want {
			t.Errorf("namespace %s listed = %v, want %v", ns, got, want)
		}
	}
}
