package sim

import (
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// A replica the write guard counts while it loads the RDB of a full sync
// (issue 13): r2 is down and r1 lost its data, so after r1's transfer it is
// the only replica, online at offset 0 on r0 while it loads for 3 s, and
// Redis's guard (min-replicas-to-write 1) counts it although the writes it
// acknowledges wait in r0's buffer. r0 crashes 2 s into the load and r1,
// loaded with the RDB only, is promoted. The master's agent must disconnect
// r1 at the first INFO showing it so (the guard then refuses writes), which
// leaves the writes of about one watch period; with
// allow-unreplicated-writes (the rule off) the whole 2 s is lost, which
// shows the scenario catches the class.
func TestLoadingReplicaBoundsLoss(t *testing.T) {
	for _, allow := range []bool{false, true} {
		name := map[bool]string{false: "rule", true: "allow-unreplicated-writes"}[allow]
		t.Run(name, func(t *testing.T) {
			o := calm(13, 3)
			o.DownAfter = time.Second
			o.MinReplicas = 1
			o.WriteEvery = 10 * time.Millisecond
			o.AllowUnreplicatedWrites = allow
			o.SyncBase, o.SyncLoad = 500*time.Millisecond, 3*time.Second
			o.Safety = 30 * time.Second
			var events []sentinel.Event
			var loadedAt time.Duration = -1
			w, res := scenario(t, o, func(w *world) {
				w.onEvent = func(a *agent, ev sentinel.Event) {
					if ev.Type == "+replica-not-receiving" {
						events = append(events, ev)
					}
				}
				w.at(o.Warmup, func() {
					w.redis[2].crash()
					w.redis[1].crash()
				})
				// Once the model's guard (replicas acknowledging within
				// 10 s) counts neither, r1 comes back without data.
				w.at(o.Warmup+11*time.Second, func() {
					w.trace("r1 restarts without data")
					w.redis[1].start(true)
				})
				var watch func()
				watch = func() {
					if r1 := w.redis[1]; loadedAt < 0 && r1.rdbLoadUntil > 0 {
						loadedAt = w.now
						w.at(w.now+2*time.Second, func() {
							w.trace("r0 crashes while r1 loads")
							w.redis[0].crash()
						})
						return
					}
					w.at(w.now+time.Millisecond, watch)
				}
				w.at(o.Warmup+11*time.Second, watch)
			})
			if res.Err != nil {
				failWithTail(t, res, "violation: %v", res.Err)
				return
			}
			t.Logf("failovers %d, r1 %s, writes acked %d lost %d; kills on r0 %d; events %d",
				res.Failovers, w.redis[1].role, res.WritesAcked, res.WritesLost, w.redis[0].kills, len(events))
			for _, ev := range events { // r0 and r2 back after the safety phase sync from r1, and are caught loading too
				t.Logf("%s %s (%s)", ev.Type, ev.Payload, ev.Detail)
			}
			if loadedAt < 0 {
				t.Fatal("r1 never finished its transfer")
			}
			if res.Failovers != 1 || w.redis[1].role != roleMaster {
				failWithTail(t, res, "failovers %d, r1 %s, want r1 promoted once", res.Failovers, w.redis[1].role)
			}
			if allow {
				if res.WritesLost < 150 || len(events) > 0 {
					failWithTail(t, res, "with the rule off, %d writes lost and %d events: the scenario no longer shows the class", res.WritesLost, len(events))
				}
				return
			}
			if len(events) == 0 || w.redis[0].kills == 0 {
				failWithTail(t, res, "no +replica-not-receiving / CLIENT KILL of r1's link")
			}
			// Two of the agent's watch periods (250 ms: the INFO that
			// first shows r1 online may come one period after the
			// transfer, and the writes since the RDB began), plus the
			// kill's round trips and the client's.
			const watchPeriod = 250 * time.Millisecond
			if max := uint64(2*watchPeriod/o.WriteEvery) + 10; res.WritesLost > max {
				failWithTail(t, res, "%d writes lost, want at most about a watch period's %d", res.WritesLost, max)
			}
		})
	}
}
