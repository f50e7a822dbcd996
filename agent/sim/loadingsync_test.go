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
	guardScenarios(t, 13, func(t *testing.T, o Options) {
		o.SyncBase, o.SyncLoad = 500*time.Millisecond, 3*time.Second
		var events []sentinel.Event
		var loadedAt time.Duration = -1
		w, res := scenario(t, o, func(w *world) {
			recordNotReceiving(w, &events)
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
		if loadedAt < 0 {
			t.Fatal("r1 never finished its transfer")
		}
		if res.Failovers != 1 || w.redis[1].role != roleMaster {
			failWithTail(t, res, "failovers %d, r1 %s, want r1 promoted once", res.Failovers, w.redis[1].role)
		}
		// The events include r0 and r2, back after the safety phase:
		// they sync from r1 and are caught loading too.
		if !ruleActed(t, w, res, events, o, 150) {
			return
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
