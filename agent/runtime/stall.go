package runtime

import (
	"context"
	goruntime "runtime"
	"strings"
	"time"
)

// stallReport is how long the loop may go without completing an iteration
// before watchStall reports it. A calm loop still wakes at least every
// TiltTrigger/4 (sentinel.Node.Quiet), and a busy one every Tick; a save
// or a VIP change takes milliseconds. Ten seconds without an iteration is
// a loop blocked in a call, not a slow one.
const stallReport = 10 * time.Second

// maxStallStacks bounds the goroutine dump of one report.
const maxStallStacks = 512 << 10

// watchStall logs, once per stall, the stacks of every goroutine when the
// loop has not completed an iteration for stallReport, and the length of
// the stall when the loop resumes. It runs until ctx ends.
//
// Why: issue 13's liveness failures (an agent that, under load, never
// adopted a verified peer's failover for 40 to 60 s, logged nothing in
// that time, and answered no lease request) look like a loop blocked in
// one of the calls it makes (saving the state, the transport, the API's
// pub/sub, the VIP manager). Nothing else would show where; systemd's
// watchdog only restarts the agent, and only under systemd.
func (r *Runtime) watchStall(ctx context.Context) {
	t := r.clock.NewTimer(stallReport / 4)
	defer t.Stop()
	// The heartbeat is a wall-clock stamp: the stall is measured on the
	// runtime's own clock, from when the stamp was last seen to change,
	// so that a step of the wall clock is not taken for one.
	beat, seen := r.heartbeat.Load(), r.clock.Now()
	reported := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			t.Reset(stallReport / 4)
		}
		now := r.clock.Now()
		if b := r.heartbeat.Load(); b != beat {
			if reported {
				r.log.Warn("main loop resumed after a stall", "stalled_for", now.Sub(seen).Round(time.Millisecond))
				reported = false
			}
			beat, seen = b, now
			continue
		}
		if age := now.Sub(seen); age >= stallReport && !reported {
			reported = true
			buf := make([]byte, maxStallStacks)
			buf = buf[:goruntime.Stack(buf, true)]
			r.log.Error("main loop stalled: no iteration completed; stacks of every goroutine follow",
				"for", age.Round(time.Millisecond), "stacks", string(buf))
			// The loop's own stack again, last and short: a failing
			// test prints only the tail of an agent's log.
			r.log.Error("main loop stalled here", "for", age.Round(time.Millisecond), "stack", loopStack(string(buf)))
		}
	}
}

// loopStack picks the loop goroutine's stack out of a dump of every
// goroutine (runtime.Stack), or says it is not there.
func loopStack(dump string) string {
	for _, g := range strings.Split(dump, "\n\n") {
		if strings.Contains(g, ".(*Runtime).loop(") {
			return g
		}
	}
	return "no goroutine in Runtime.loop"
}
