package systemd

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

func TestHeartbeat(t *testing.T) {
	var h Heartbeat
	if !h.Last().IsZero() {
		t.Fatalf("zero Heartbeat: Last = %v, want zero", h.Last())
	}
	before := time.Now()
	h.Beat()
	if l := h.Last(); l.Before(before.Add(-time.Millisecond)) || l.After(time.Now().Add(time.Millisecond)) {
		t.Fatalf("Last = %v, want about %v", l, before)
	}
}

func TestWatchdogEnvironment(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		wantErr         bool
	}{
		{"no watchdog", "", "", 0, false},
		{"enabled", "10000000", "", 10 * time.Second, false},
		{"enabled for us", "2000000", pid, 2 * time.Second, false},
		{"for another process", "2000000", "1", 0, false},
		{"malformed usec", "ten", "", 0, true},
		{"malformed pid", "2000000", "me", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			w := NewWatchdog(time.Now, nil)
			if got := w.Timeout(); got != tc.want {
				t.Errorf("Timeout = %v, want %v", got, tc.want)
			}
			if tc.want != 0 {
				return // Run pings until cancelled; see the tests below
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := w.Run(ctx)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Run = %v, want error: %v", err, tc.wantErr)
			}
			if ctx.Err() != nil {
				t.Fatal("Run without a watchdog did not return at once")
			}
		})
	}
}

// Over a real NOTIFY_SOCKET: a fresh heartbeat gives keep-alives every half
// timeout, and only WATCHDOG=1 is sent.
func TestWatchdogPingsOverSocketWhileFresh(t *testing.T) {
	c := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	var hb Heartbeat
	hb.Beat()
	w := NewWatchdog(hb.Last, nil)
	if w.Interval() != 100*time.Millisecond {
		t.Fatalf("Interval = %v, want 100ms", w.Interval())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopBeating := make(chan struct{})
	go func() { // the "main loop"
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stopBeating:
				return
			case <-tk.C:
				hb.Beat()
			}
		}
	}()
	for i := 0; i < 3; i++ {
		if got := mustRecv(t, c); got != "WATCHDOG=1" {
			t.Fatalf("got %q, want WATCHDOG=1", got)
		}
	}
	close(stopBeating)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Over a real NOTIFY_SOCKET: a main loop that never beats after Run starts
// gets one keep-alive (the start-up grace) and then none, however long we
// wait.
func TestWatchdogSilentOverSocketWhenStalled(t *testing.T) {
	c := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", "")
	stale := time.Now().Add(-time.Hour)
	var logs testenv.Buffer
	w := NewWatchdog(func() time.Time { return stale }, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	if got := mustRecv(t, c); got != "WATCHDOG=1" {
		t.Fatalf("got %q, want the start-up grace keep-alive", got)
	}
	if s, ok := recvDatagram(t, c, 500*time.Millisecond); ok { // 10 intervals
		t.Fatalf("stalled main loop got a keep-alive: %q", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "main loop has made no progress") {
		t.Fatalf("no stall report in log:\n%s", logs.String())
	}
}

// With a manual clock: pings stop as soon as the heartbeat is older than
// the interval, the stall is reported once, and pings resume (with a
// recovery report) once the loop beats again.
// runOnClock runs a watchdog of heartbeat hb on clk until the test ends and
// returns what it notifies and its log.
func runOnClock(t *testing.T, hb func() time.Time, timeout time.Duration, clk *testenv.Clock) (chan string, *testenv.Buffer) {
	sent := make(chan string, 16)
	logs := &testenv.Buffer{}
	w := newWatchdog(hb, slog.New(slog.NewTextHandler(logs, nil)), timeout, nil, chanNotify(sent), clk)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return sent, logs
}

func TestWatchdogStallAndRecovery(t *testing.T) {
	const timeout = 10 * time.Second
	clk := testenv.NewClock()
	var beat atomic.Int64
	beat.Store(clk.Now().UnixNano())
	hb := func() time.Time { return time.Unix(0, beat.Load()) }
	sent, logs := runOnClock(t, hb, timeout, clk)

	step := func() { clk.WaitTimers(t, 1); clk.Advance(timeout / 2) }

	expect(t, sent, "WATCHDOG=1") // t=0, beat age 0
	beat.Store(clk.Now().Add(timeout / 4).UnixNano())
	step()
	expect(t, sent, "WATCHDOG=1") // t=5s, beat age 2.5s
	step()                        // t=10s, beat age 7.5s: stalled
	step()                        // t=15s: still stalled
	clk.WaitTimers(t, 1)
	expectNothing(t, sent)
	if n := strings.Count(logs.String(), "main loop stalled"); n != 1 {
		t.Fatalf("stall reported %d times, want once:\n%s", n, logs.String())
	}
	beat.Store(clk.Now().UnixNano())
	clk.Advance(timeout / 2) // t=20s, beat age 5s = interval: still stale
	clk.WaitTimers(t, 1)
	expectNothing(t, sent)
	clk.Advance(time.Second)
	beat.Store(clk.Now().UnixNano()) // t=21s; the next check is due at t=25s
	clk.Advance(timeout/2 - time.Second)
	expect(t, sent, "WATCHDOG=1")
	clk.WaitTimers(t, 1)
	if !strings.Contains(logs.String(), "main loop recovered") {
		t.Fatalf("no recovery report:\n%s", logs.String())
	}
}

// A main loop that has not beaten since Run started (zero time, the Unix
// epoch as an atomic counter's zero value gives, or an older beat) gets one
// interval's grace from Run's start, and pings start with its first beat.
func TestWatchdogNotYetBeating(t *testing.T) {
	for _, tc := range []struct {
		name string
		last time.Time
	}{
		{"zero time", time.Time{}},
		{"unix epoch", time.Unix(0, 0)},
		{"before Run", time.Unix(1_600_000_000, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const timeout = 4 * time.Second
			clk := testenv.NewClock()
			var beat atomic.Int64
			beat.Store(tc.last.UnixNano())
			if tc.last.IsZero() {
				beat.Store(0)
			}
			hb := func() time.Time {
				if n := beat.Load(); n != 0 || !tc.last.IsZero() {
					return time.Unix(0, n)
				}
				return time.Time{}
			}
			sent, logs := runOnClock(t, hb, timeout, clk)
			expect(t, sent, "WATCHDOG=1") // grace
			clk.WaitTimers(t, 1)
			clk.Advance(timeout / 2)
			clk.WaitTimers(t, 1)
			expectNothing(t, sent)
			if !strings.Contains(logs.String(), "main loop has made no progress") {
				t.Fatalf("no report:\n%s", logs.String())
			}
			beat.Store(clk.Now().Add(time.Second).UnixNano()) // the loop starts
			clk.Advance(timeout / 2)
			expect(t, sent, "WATCHDOG=1")
		})
	}
}
