// Package testenv holds what every test package needs around its tests:
// waiting for a condition with a deadline (Eventually, Until, Wait) or for a
// value on a channel (Receive), the rule that a missing prerequisite fails
// under CI instead of skipping (Missing, NeedRoot, NeedTool), a manual clock
// (Clock), a log buffer safe for concurrent use (Buffer), a local listener
// and its accept loop (Listen, Serve), and the small chores of test files
// (Context, FreePort, LogLines, CopyFile). Test certificates are in the
// subpackage testpki. It is for tests only.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// CI reports whether the tests run under CI (CI=true), where every privilege
// and tool must be present: a missing one is a failure, not a skip, so that
// a green run never hides tests that did not run.
func CI() bool { return os.Getenv("CI") == "true" }

// Missing skips t because a prerequisite is missing, or fails it under CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("%s (CI=true: missing prerequisites are a failure, not a skip)", msg)
	}
	t.Skip(msg)
}

// NeedRoot calls Missing unless the test runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "test needs root (euid %d)", os.Geteuid())
	}
}

// NeedTool returns the path of the program name, or calls Missing.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not installed: %v", name, err)
	}
	return p
}

// Eventually polls cond until it returns nil, and fails t, naming what it
// waited for and cond's last error, if cond has not returned nil within
// timeout. It polls about a thousand times over timeout (every 1 ms to
// 200 ms), so a short wait notices the condition at once and a long one,
// typically running a program per poll, stays cheap. Call it from the test
// goroutine.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	poll(ctx, t, min(max(timeout/1000, time.Millisecond), 200*time.Millisecond), what, cond)
}

// Until is Eventually for a condition with no error to tell.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, timeout, what, func() error { return Pending(cond(), "condition false") })
}

// Wait is Eventually bounded by ctx instead (wait.Default when ctx has no
// deadline), polling every 10 ms; a cond error made with wait.Permanent ends
// it at once.
func Wait(ctx context.Context, t testing.TB, what string, cond func() error) {
	t.Helper()
	poll(ctx, t, 10*time.Millisecond, what, cond)
}

func poll(ctx context.Context, t testing.TB, interval time.Duration, what string, cond func() error) {
	t.Helper()
	start := time.Now()
	if err := wait.For(ctx, interval, cond); err != nil {
		t.Fatalf("waiting for %s (%v): %v", what, time.Since(start).Round(time.Millisecond), err)
	}
}

// Pending is the error of a condition that does not hold yet: nil when ok,
// else an error carrying state, the observation that shows why.
func Pending(ok bool, state string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("not yet: %s", state)
}

// IsSubsequence reports whether want appears in got in order, other
// elements allowed in between: how event sequences are checked.
func IsSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// Buffer is a bytes.Buffer safe for concurrent use: a log destination that
// the code under test writes from its goroutines while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Context returns a context that ends after d, or when t's cleanup runs:
// the deadline of a test's waits and commands.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// LogLines logs lines under title, one String() a line: how a test shows
// the timeline it measured.
func LogLines[L fmt.Stringer](t testing.TB, title string, lines []L) {
	t.Helper()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.String())
		b.WriteByte('\n')
	}
	t.Logf("%s:\n%s", title, b.String())
}

// CopyFile copies the file from to a new or truncated file to with
// permission bits mode (before the umask), and fails t on any error,
// closing included, so that the copy is complete when it returns.
func CopyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
