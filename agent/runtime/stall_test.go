package runtime

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestStallReported: a loop that stops completing iterations gets one
// report with every goroutine's stack once stallReport has passed, none
// before, none repeated while the stall lasts, and a line saying how long
// it lasted when it resumes.
func TestStallReported(t *testing.T) {
	clk := testenv.NewClock()
	var out testenv.Buffer
	r := &Runtime{clock: clk, log: slog.New(slog.NewTextHandler(&out, nil))}
	r.heartbeat.Store(clk.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.watchStall(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	step := func(d time.Duration) {
		clk.WaitTimers(t, 1)
		clk.Advance(d)
	}
	stalls := func() int { return strings.Count(out.String(), "main loop stalled:") }
	for elapsed := time.Duration(0); elapsed < stallReport-stallReport/4; elapsed += stallReport / 4 {
		step(stallReport / 4)
	}
	clk.WaitTimers(t, 1)
	if n := stalls(); n != 0 {
		t.Fatalf("%d stall reports before stallReport:\n%s", n, out.String())
	}
	step(stallReport / 4)
	testenv.Until(t, 10*time.Second, "the stall report", func() bool { return stalls() == 1 })
	if s := out.String(); !strings.Contains(s, "watchStall") || !strings.Contains(s, "goroutine ") || !strings.Contains(s, "main loop stalled here") {
		t.Fatalf("the report has no goroutine stacks:\n%.2000s", s)
	}
	step(stallReport)
	clk.WaitTimers(t, 1)
	if n := stalls(); n != 1 {
		t.Fatalf("%d stall reports for one stall", n)
	}

	r.heartbeat.Store(clk.Now().UnixNano() + 1)
	step(stallReport / 4)
	testenv.Until(t, 10*time.Second, "the resume line", func() bool {
		return strings.Contains(out.String(), "main loop resumed after a stall")
	})
	if !strings.Contains(out.String(), "stalled_for=22.5s") {
		t.Errorf("resume line without the stall's length:\n%s", out.String()[strings.Index(out.String(), "main loop resumed"):])
	}
}

func TestLoopStack(t *testing.T) {
	loop := "goroutine 10 [chan send]:\ngithub.com/vipsentinel/vipsentinel/agent/runtime.(*Runtime).process(...)\n" +
		"github.com/vipsentinel/vipsentinel/agent/runtime.(*Runtime).loop(0xc0, {0x1, 0x2})\n\t/x/runtime.go:515 +0x825"
	dump := "goroutine 12 [running]:\nmain.watch()\n\n" + loop + "\n\ngoroutine 11 [IO wait]:\nnet.accept()\n"
	if got := loopStack(dump); got != loop {
		t.Errorf("loopStack = %q, want the loop goroutine's block %q", got, loop)
	}
	if got := loopStack("goroutine 1 [running]:\nmain.main()\n"); !strings.Contains(got, "no goroutine") {
		t.Errorf("loopStack without a loop goroutine = %q", got)
	}
}
