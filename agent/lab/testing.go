package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// logTail is how much of each process log NewT prints for a failed test.
const logTail = 8 << 10

// NewT is New for tests: it calls RequireRoot, fails the test if New fails,
// prints the tail of every process log if the test failed, and closes the
// lab in t.Cleanup.
func NewT(t testing.TB, cfg Config) *Lab {
	t.Helper()
	RequireRoot(t)
	l, err := New(cfg)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			l.dumpLogs(t)
		}
		if err := l.Close(); err != nil {
			t.Errorf("lab: close: %v", err)
		}
	})
	return l
}

func (l *Lab) dumpLogs(t testing.TB) {
	l.mu.Lock()
	procs := append([]*Proc(nil), l.procs...)
	l.mu.Unlock()
	for _, p := range procs {
		log := p.Log()
		if len(log) > logTail {
			log = "[...]\n" + log[len(log)-logTail:]
		}
		t.Logf("lab %s: %s, log:\n%s", l.id, p.describe(), log)
	}
}

var (
	envOnce sync.Once
	envErr  error
)

// RequireRoot skips the test, or fails it when CI=true (testenv.Missing),
// unless the process can build labs: root, the ip tool, and network
// namespace support.
func RequireRoot(t testing.TB) {
	t.Helper()
	envOnce.Do(func() { envErr = checkEnv() })
	if envErr != nil {
		testenv.Missing(t, "lab: %v", envErr)
	}
}

func checkEnv() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root to create network namespaces (euid %d)", os.Geteuid())
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("needs the ip tool (iproute2): %w", err)
	}
	// Probe namespace creation on a throw-away thread state.
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("no network namespace support: %w", err)
	}
	defer orig.Close()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("cannot create a network namespace: %w", err)
	}
	if netns.Set(orig) == nil {
		runtime.UnlockOSThread()
	}
	return nil
}

// Eventually polls cond until it returns nil and fails the test, naming what
// it waited for and cond's last error, if ctx ends first (testenv.Wait). Call
// it from the test goroutine.
func Eventually(ctx context.Context, t testing.TB, cond func() error, what string) {
	t.Helper()
	testenv.Wait(ctx, t, what, cond)
}
