package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that records how a helper ended the test
// instead of ending it.
type recorder struct {
	testing.TB
	ended string // "fatal: ..." or "skip: ...", the first only
	logs  []string
}

func (r *recorder) Helper() {}
func (r *recorder) end(kind, msg string) {
	if r.ended == "" {
		r.ended = kind + ": " + msg
	}
}
func (r *recorder) Fatalf(format string, args ...any) { r.end("fatal", fmt.Sprintf(format, args...)) }
func (r *recorder) Skip(args ...any)                  { r.end("skip", fmt.Sprint(args...)) }
func (r *recorder) Fatal(args ...any)                 { r.end("fatal", fmt.Sprint(args...)) }
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func TestMissing(t *testing.T) {
	for _, tt := range []struct {
		ci   string
		want string
	}{
		{"true", "fatal: redis-server not installed (CI=true"},
		{"", "skip: redis-server not installed"},
		{"1", "skip: redis-server not installed"}, // only CI=true counts
	} {
		t.Setenv("CI", tt.ci)
		r := &recorder{TB: t}
		Missing(r, "%s not installed", "redis-server")
		if !strings.HasPrefix(r.ended, tt.want) {
			t.Errorf("CI=%q: Missing ended the test with %q, want %q...", tt.ci, r.ended, tt.want)
		}
	}
}

func TestEventually(t *testing.T) {
	r := &recorder{TB: t}
	n := 0
	Until(r, time.Second, "three calls", func() bool { n++; return n == 3 })
	if r.ended != "" || n != 3 {
		t.Errorf("Until ended the test with %q after %d calls, want no end after 3", r.ended, n)
	}
	Eventually(r, 20*time.Millisecond, "the impossible", func() error { return errors.New("still down") })
	if !strings.Contains(r.ended, "waiting for the impossible") || !strings.Contains(r.ended, "still down") {
		t.Errorf("Eventually past its timeout ended the test with %q, want what it waited for and the last error", r.ended)
	}
	if err := Pending(false, "2 of 3 replicas"); err == nil || !strings.Contains(err.Error(), "2 of 3 replicas") {
		t.Errorf("Pending(false) = %v", err)
	}
	if err := Pending(true, "x"); err != nil {
		t.Errorf("Pending(true) = %v", err)
	}
}

func TestIsSubsequence(t *testing.T) {
	for _, tt := range []struct {
		want, got []string
		ok        bool
	}{
		{nil, nil, true},
		{nil, []string{"a"}, true},
		{[]string{"a", "c"}, []string{"a", "b", "c"}, true},
		{[]string{"a", "a"}, []string{"a", "b", "a"}, true},
		{[]string{"c", "a"}, []string{"a", "b", "c"}, false},
		{[]string{"a", "a"}, []string{"a"}, false},
		{[]string{"a"}, nil, false},
	} {
		if got := IsSubsequence(tt.want, tt.got); got != tt.ok {
			t.Errorf("IsSubsequence(%q, %q) = %v, want %v", tt.want, tt.got, got, tt.ok)
		}
	}
}

// TestClock checks the manual clock: a timer fires only once the clock has
// been advanced to it, Reset drops a value not yet received, and Stop
// disarms.
func TestClock(t *testing.T) {
	c := NewClock()
	start := c.Now()
	tm := c.NewTimer(time.Second)
	fired := func() bool {
		select {
		case <-tm.C():
			return true
		default:
			return false
		}
	}
	c.WaitTimers(t, 1)
	if c.Advance(999 * time.Millisecond); fired() {
		t.Fatal("timer fired before its time")
	}
	if c.Advance(time.Millisecond); !fired() {
		t.Fatal("timer did not fire at its time")
	}
	if got := c.Now().Sub(start); got != time.Second {
		t.Fatalf("clock moved %v, want 1s", got)
	}
	c.WaitTimers(t, 0)
	tm.Reset(time.Second)
	c.Advance(time.Second)
	tm.Reset(time.Second)
	if fired() {
		t.Fatal("Reset kept the value of the earlier setting")
	}
	tm.Stop()
	c.WaitTimers(t, 0)
	if c.Advance(time.Hour); fired() {
		t.Fatal("stopped timer fired")
	}
}

type line string

func (l line) String() string { return "at " + string(l) }

func TestLogLines(t *testing.T) {
	r := &recorder{TB: t}
	LogLines(r, "timeline", []line{"1s a", "2s b"})
	LogLines(r, "empty", []line(nil))
	want := []string{"timeline:\nat 1s a\nat 2s b\n", "empty:\n"}
	if fmt.Sprint(r.logs) != fmt.Sprint(want) {
		t.Errorf("LogLines logged %q, want %q", r.logs, want)
	}
}

func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, "from"), filepath.Join(dir, "to")
	if err := os.WriteFile(from, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, []byte("older and longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	CopyFile(r, from, to, 0o700)
	if b, err := os.ReadFile(to); err != nil || string(b) != "new" || r.ended != "" {
		t.Errorf("after CopyFile over an existing file: %q (%v), test ended %q; want %q", b, err, r.ended, "new")
	}
	dst := filepath.Join(dir, "exe")
	CopyFile(r, from, dst, 0o700)
	if st, err := os.Stat(dst); err != nil {
		t.Error(err)
	} else if st.Mode().Perm()&0o100 == 0 {
		t.Errorf("new copy: mode %v, want executable by its owner", st.Mode())
	}
	CopyFile(r, filepath.Join(dir, "missing"), to, 0o600)
	if !strings.HasPrefix(r.ended, "fatal: ") {
		t.Errorf("CopyFile of a missing file ended the test with %q, want a failure", r.ended)
	}
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	if p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d", p)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("port %d from FreePort is not free: %v", p, err)
	}
	ln.Close()
}

func TestContext(t *testing.T) {
	var ctx context.Context
	t.Run("sub", func(t *testing.T) {
		ctx = Context(t, time.Hour)
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > time.Hour || ctx.Err() != nil {
			t.Errorf("Context(t, 1h): deadline %v (%v), err %v; want within the hour, not ended", dl, ok, ctx.Err())
		}
	})
	if ctx.Err() == nil {
		t.Error("the context did not end with its test")
	}
}
