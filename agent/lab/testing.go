package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultWait bounds WaitFor and Eventually when ctx has no deadline, so a
// condition that never holds fails the test instead of hanging it.
const DefaultWait = 10 * time.Second

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

// RequireRoot skips the test, or fails it when CI=true, unless the process
// can build labs: root, the ip tool, and network namespace support.
func RequireRoot(t testing.TB) {
	t.Helper()
	envOnce.Do(func() { envErr = checkEnv() })
	if envErr == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("lab: %v (CI=true: missing privileges are a failure, not a skip)", envErr)
	}
	t.Skipf("lab: %v", envErr)
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

// WaitFor calls cond every interval (10 ms if zero) until it returns nil, and
// returns nil then. When ctx is done first it returns ctx's error together
// with cond's last error. Without a deadline on ctx, DefaultWait applies. A
// cond error made with Permanent ends the wait at once with that error.
func WaitFor(ctx context.Context, interval time.Duration, cond func() error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWait)
		defer cancel()
	}
	if interval <= 0 {
		interval = 10 * time.Millisecond
	}
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), fmt.Errorf("last: %w", err))
		case <-time.After(interval):
		}
	}
}

// Permanent wraps an error after which waiting is pointless (the process
// died), so WaitFor returns it at once.
func Permanent(err error) error { return permanent{err} }

type permanent struct{ err error }

func (p permanent) Error() string { return fmt.Sprint(p.err) }
func (p permanent) Unwrap() error { return p.err }

// Eventually polls cond like WaitFor and fails the test, naming what it
// waited for and cond's last error, if cond does not return nil in time. Call
// it from the test goroutine.
func Eventually(ctx context.Context, t testing.TB, cond func() error, what string) {
	t.Helper()
	start := time.Now()
	if err := WaitFor(ctx, 0, cond); err != nil {
		t.Fatalf("waiting for %s (%v): %v", what, time.Since(start).Round(time.Millisecond), err)
	}
}
