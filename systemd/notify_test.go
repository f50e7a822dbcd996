package systemd

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// notifySocket listens on a unixgram socket and points NOTIFY_SOCKET at it,
// as systemd does for a Type=notify service.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

func recvDatagram(t *testing.T, c *net.UnixConn, within time.Duration) (string, bool) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(within)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return "", false
		}
		t.Fatalf("read notify socket: %v", err)
	}
	return string(buf[:n]), true
}

func mustRecv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	s, ok := recvDatagram(t, c, 5*time.Second)
	if !ok {
		t.Fatal("no notification within 5s")
	}
	return s
}

func TestNotifyMessages(t *testing.T) {
	c := notifySocket(t)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"ready", Ready, "READY=1"},
		{"status", func() error { return Status("role=master vip=198.18.0.100") }, "STATUS=role=master vip=198.18.0.100"},
		{"status cannot inject assignments", func() error { return Status("x\nREADY=1\n") }, "STATUS=x READY=1"},
		{"reloading", Reloading, "RELOADING=1"},
		{"stopping", Stopping, "STOPPING=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); err != nil {
				t.Fatal(err)
			}
			if got := mustRecv(t, c); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNotifyOutsideSystemdIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	for _, f := range []func() error{Ready, Reloading, Stopping, func() error { return Status("x") }} {
		if err := f(); err != nil {
			t.Fatalf("not under systemd: got %v, want nil", err)
		}
	}
}

func TestNotifyUnreachableSocketIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
	err := Ready()
	if err == nil || !strings.Contains(err.Error(), "READY=1") {
		t.Fatalf("got %v, want an error naming READY=1", err)
	}
}

func TestOneLine(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	for _, tc := range []struct{ in, want string }{
		{"role=master", "role=master"},
		{"  a\tb\r\nc  ", "a b  c"},
		{"x\x00y\x7fz", "x y z"},
		{long, strings.Repeat("é", 100) + "…"},
	} {
		if got := OneLine(tc.in); got != tc.want {
			t.Errorf("OneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestChildEnv(t *testing.T) {
	in := []string{"PATH=/usr/bin", "NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=10000000",
		"WATCHDOG_PID=42", "JOURNAL_STREAM=8:9", "NOTIFY_SOCKETX=keep"}
	want := []string{"PATH=/usr/bin", "JOURNAL_STREAM=8:9", "NOTIFY_SOCKETX=keep"}
	if got := ChildEnv(in); !slices.Equal(got, want) {
		t.Fatalf("ChildEnv = %q, want %q", got, want)
	}
}

// chanNotify records notifications instead of sending them.
func chanNotify(ch chan<- string) notifyFunc {
	return func(s string) (bool, error) { ch <- s; return true, nil }
}

func expectNothing(t *testing.T, ch <-chan string) {
	t.Helper()
	select {
	case s := <-ch:
		t.Fatalf("unexpected notification %q", s)
	default:
	}
}

func expect(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	if got := testenv.Receive(t, ch, 5*time.Second, fmt.Sprintf("notification (want %q)", want)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestStatusUpdaterRateLimitsAndSendsNewest(t *testing.T) {
	const interval = time.Second
	clk := testenv.NewClock()
	sent := make(chan string, 16)
	u := newStatusUpdater(interval, nil, chanNotify(sent), clk)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	u.Set("starting")
	expect(t, sent, "STATUS=starting") // the first line goes out at once

	// A burst within the interval collapses into its newest line, sent
	// when the interval has passed.
	u.Set("waiting for quorum (1/3)")
	u.Set("role=master\nquorum=2/3")
	clk.WaitTimers(t, 1)
	expectNothing(t, sent)
	clk.Advance(interval)
	expect(t, sent, "STATUS=role=master quorum=2/3")

	// An unchanged line is not sent again.
	u.Set("role=master quorum=2/3")
	clk.WaitTimers(t, 1)
	clk.Advance(interval)
	clk.Advance(interval)
	u.Set("role=replica")
	expect(t, sent, "STATUS=role=replica") // not a repeat of the unchanged line
	expectNothing(t, sent)
}

func TestStatusUpdaterSendsLineSetBeforeRun(t *testing.T) {
	sent := make(chan string, 4)
	u := newStatusUpdater(0, nil, chanNotify(sent), testenv.NewClock())
	u.Set("early")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	expect(t, sent, "STATUS=early")
	cancel()
	testenv.Receive(t, done, 5*time.Second, "return of Run after cancel")
}

func TestStatusUpdaterOverRealSocket(t *testing.T) {
	c := notifySocket(t)
	u := NewStatusUpdater(10*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go u.Run(ctx)
	u.Set("role=master vip=198.18.0.100@eth0 epoch=3 quorum=3/3")
	if got := mustRecv(t, c); got != "STATUS=role=master vip=198.18.0.100@eth0 epoch=3 quorum=3/3" {
		t.Fatalf("got %q", got)
	}
}
