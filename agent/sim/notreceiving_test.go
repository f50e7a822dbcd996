package sim

import (
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// The campaign's last data-loss class (issue 13): the only replica that
// can take over is cut one way, so it stops receiving the master's stream
// while its acknowledgements still reach the master, and Redis's guard
// (min-replicas-to-write 1) keeps counting it; the other replica is down.
// Later the master's host is isolated and the cut replica, the only one
// left, is promoted: every write the master acknowledged since the cut is
// lost. The master's agent must disconnect the replica within
// sentinel.ReplicationWindow, so that the guard refuses writes from then
// on; with allow-unreplicated-writes (the rule off) the loss is the whole
// 6 s, which shows the scenario catches the class.
func TestReplicaNotReceivingBoundsLoss(t *testing.T) {
	guardScenarios(t, 11, func(t *testing.T, o Options) {
		// r2 crashes first; the cut comes once the model's guard
		// (replicas acknowledging within 10 s) no longer counts it.
		cutAt := o.Warmup + 11*time.Second
		isolateAt := cutAt + 6*time.Second
		var events []sentinel.Event
		var ackedAt []time.Duration // ack time of each acknowledged write, by index in w.acked
		w, res := scenario(t, o, func(w *world) {
			recordNotReceiving(w, &events)
			w.at(o.Warmup, func() { w.redis[2].crash() })
			w.at(cutAt, func() {
				w.cut[0][1] = true   // h0's frames no longer reach h1
				w.partitioned = true // healed with the safety phase's end
				w.trace("h0 -> h1 cut one way")
				w.check.topology()
			})
			w.at(isolateAt, func() {
				for h := 1; h < 3; h++ {
					w.cut[0][h], w.cut[h][0] = true, true
				}
				w.trace("h0 isolated")
				w.check.topology()
			})
			var watch func()
			watch = func() {
				for len(ackedAt) < len(w.acked) {
					ackedAt = append(ackedAt, w.now)
				}
				w.at(w.now+time.Millisecond, watch)
			}
			w.at(0, watch)
		})
		if res.Err != nil {
			failWithTail(t, res, "violation: %v", res.Err)
			return
		}
		// Writes acknowledged after the cut, and after the window.
		var afterCut, afterWindow int
		slack := 2*o.Tick + 10*time.Millisecond // the kill's round trips and the client's
		for _, at := range ackedAt {
			if at > cutAt {
				afterCut++
			}
			if at > cutAt+sentinel.ReplicationWindow+slack && at < isolateAt {
				afterWindow++
			}
		}
		t.Logf("failovers %d, writes acked %d lost %d; acked after the cut %d, after the window (%v) %d; kills on r0 %d; events %d",
			res.Failovers, res.WritesAcked, res.WritesLost, afterCut, sentinel.ReplicationWindow, afterWindow, w.redis[0].kills, len(events))
		if res.Failovers != 1 {
			failWithTail(t, res, "failovers %d, want 1 (r1 promoted after h0's isolation)", res.Failovers)
		}
		if !ruleActed(t, w, res, events, o, 300) {
			return
		}
		if afterWindow > 0 {
			failWithTail(t, res, "%d writes acknowledged later than %v after the cut", afterWindow, sentinel.ReplicationWindow)
		}
		if max := uint64(sentinel.ReplicationWindow/o.WriteEvery) + 10; res.WritesLost > max {
			failWithTail(t, res, "%d writes lost, want at most the window's %d", res.WritesLost, max)
		}
	})
}

// guardScenarios runs body twice, as subtests "rule" and
// "allow-unreplicated-writes" (the not-receiving rule off: the contrast
// that shows the scenario catches the class), on a calm 3-agent group with
// seed, down-after 1 s, min-replicas-to-write 1, a write every 10 ms and a
// 30 s safety phase: the set-up every scenario of the rule (issue 13)
// shares.
func guardScenarios(t *testing.T, seed uint64, body func(t *testing.T, o Options)) {
	for _, allow := range []bool{false, true} {
		name := map[bool]string{false: "rule", true: "allow-unreplicated-writes"}[allow]
		t.Run(name, func(t *testing.T) {
			o := calm(seed, 3)
			o.DownAfter = time.Second
			o.MinReplicas = 1
			o.WriteEvery = 10 * time.Millisecond
			o.AllowUnreplicatedWrites = allow
			o.Safety = 30 * time.Second
			body(t, o)
		})
	}
}

// recordNotReceiving appends every +replica-not-receiving event of w to
// events.
func recordNotReceiving(w *world, events *[]sentinel.Event) {
	w.onEvent = func(a *agent, ev sentinel.Event) {
		if ev.Type == "+replica-not-receiving" {
			*events = append(*events, ev)
		}
	}
}

// ruleActed logs a guard scenario's events and checks what every one
// shows: with the rule off (o.AllowUnreplicatedWrites) at least offLoss
// writes are lost and the rule never acted, so the scenario still shows the
// class; with it on the rule acted (+replica-not-receiving and a CLIENT
// KILL on r0). It reports whether the rule was on, when the scenario's own
// loss bounds apply.
func ruleActed(t *testing.T, w *world, res *Result, events []sentinel.Event, o Options, offLoss uint64) bool {
	t.Helper()
	for _, ev := range events {
		t.Logf("%s %s (%s)", ev.Type, ev.Payload, ev.Detail)
	}
	if o.AllowUnreplicatedWrites {
		if res.WritesLost < offLoss || len(events) > 0 {
			failWithTail(t, res, "with the rule off, %d writes lost and %d events: the scenario no longer shows the class", res.WritesLost, len(events))
		}
		return false
	}
	if len(events) == 0 || w.redis[0].kills == 0 {
		failWithTail(t, res, "no +replica-not-receiving / CLIENT KILL of r1's link")
	}
	return true
}
