package sim

import (
	"fmt"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// The one-hour campaign's 92 writes lost beyond the replication bound
// (issue 13, seed 61206, failover epoch 253122 at 1636 s), replayed: r2's
// Redis is down and the master's host h0 is isolated, so r1 is promoted
// with no replica and refuses writes (NOREPLICAS). h0 heals, its agent
// converts r0 (whose log went past r1's promotion point) into a replica of
// r1, which needs a full sync; r0 is then r1's only replica and Redis
// counts it while it loads the RDB, so r1 acknowledges writes again that
// wait in its output buffer. r1's host is isolated before r0's load ends
// and r0, holding the RDB only, is promoted. r1's agent must disconnect r0
// within two watch periods of the first write acknowledged after the
// transfer; with allow-unreplicated-writes (the rule off) every write of
// the load is lost, which shows the scenario catches the class.
//
// In the campaign r1's own agent led the failover (seed 1 here; h2's
// agent leads with seed 61206): its switch carried the promoted replica's
// INFO over to the new master instance, and with the watch not yet active
// the next INFO of r1 was due InfoPeriod (10 s) later, so the watch never
// saw r0's sync nor its load and disconnected nothing.
func TestReconvertedOldMasterLoadingBoundsLoss(t *testing.T) {
	leaders := map[int]bool{}
	for _, tc := range []struct {
		seed   uint64
		allow  bool
		leader int // the agent that leads the failover to r1 with this seed
	}{{1, false, 1}, {61206, false, 2}, {1, true, 1}} {
		name := fmt.Sprintf("seed %d leader h%d", tc.seed, tc.leader)
		if tc.allow {
			name += " allow-unreplicated-writes"
		}
		t.Run(name, func(t *testing.T) {
			allow := tc.allow
			o := calm(tc.seed, 3)
			o.DownAfter = time.Second
			o.MinReplicas = 1
			o.WriteEvery = 10 * time.Millisecond
			o.AllowUnreplicatedWrites = allow
			o.SyncBase, o.SyncLoad = 500*time.Millisecond, 2500*time.Millisecond
			o.Safety = 40 * time.Second
			isolate := func(w *world, h int, on bool) {
				for x := range w.cut {
					if x != h {
						w.cut[h][x], w.cut[x][h] = on, on
					}
				}
				w.partitioned = true // healed with the safety phase's end
				w.trace("h%d isolated: %v", h, on)
				w.check.topology()
			}
			var (
				events   []sentinel.Event
				ackedAt  []time.Duration // ack time of each acknowledged write, by index in w.acked
				promoted time.Duration   = -1
				syncAt   time.Duration   = -1 // r0's full sync from r1 began (its RDB point)
				loadAt   time.Duration   = -1 // r0's transfer ended: online at offset 0, loading
				killAt   time.Duration   = -1 // r1 disconnected r0
				cutAt    time.Duration   = -1 // h1 isolated, r0 still loading
				leader                   = -1
			)
			_, res := scenario(t, o, func(w *world) {
				w.onEvent = func(a *agent, ev sentinel.Event) {
					switch ev.Type {
					case "+replica-not-receiving":
						events = append(events, ev)
					case "+elected-leader":
						if leader < 0 {
							leader = a.id
						}
					}
				}
				r0, r1 := w.redis[0], w.redis[1]
				w.at(o.Warmup, func() {
					w.trace("r2 killed")
					w.redis[2].crash()
				})
				// Once the model's guard (replicas acknowledging within
				// 10 s) no longer counts r2, h0 is isolated.
				w.at(o.Warmup+11*time.Second, func() { isolate(w, 0, true) })
				var watch func()
				watch = func() {
					for len(ackedAt) < len(w.acked) {
						ackedAt = append(ackedAt, w.now)
					}
					switch {
					case promoted < 0 && r1.role == roleMaster:
						promoted = w.now
						// The isolated old master's offset went past the
						// promotion point (its replication PINGs and the
						// agents' hellos), so it needs a full sync.
						w.nextWrite++
						r0.log = append(r0.log, w.nextWrite)
						w.at(w.now+300*time.Millisecond, func() { isolate(w, 0, false) })
					case promoted >= 0 && syncAt < 0 && r0.syncFrom == r1:
						syncAt = w.now
					case syncAt >= 0 && loadAt < 0 && r0.rdbLoadUntil > w.now:
						loadAt = w.now
						w.at(w.now+2*time.Second, func() {
							cutAt = w.now
							isolate(w, 1, true)
						})
					}
					if killAt < 0 && r1.kills > 0 {
						killAt = w.now
					}
					if cutAt < 0 {
						w.at(w.now+time.Millisecond, watch)
					}
				}
				w.at(o.Warmup, watch)
			})
			if res.Err != nil {
				failWithTail(t, res, "violation: %v", res.Err)
				return
			}
			if leader != tc.leader {
				failWithTail(t, res, "h%d led the failover to r1, want h%d: pick another seed", leader, tc.leader)
			}
			leaders[leader] = true
			if loadAt < 0 || cutAt < 0 {
				failWithTail(t, res, "r1 promoted at %v, r0's full sync at %v, its load at %v: the scenario did not unfold", promoted, syncAt, loadAt)
				return
			}
			var first time.Duration = -1 // first write acknowledged after the transfer
			afterLoad, beforeKill := 0, 0
			for _, at := range ackedAt {
				if at <= loadAt || at > cutAt {
					continue
				}
				if first < 0 {
					first = at
				}
				afterLoad++
				if killAt < 0 || at < killAt {
					beforeKill++
				}
			}
			t.Logf("leader h%d; r1 promoted at %v; r0's full sync at %v, loading at %v, disconnected at %v, h1 cut at %v; "+
				"first write acked after the transfer at %v, %d acked during the load (%d before the kill); failovers %d, writes acked %d lost %d; events %d",
				leader, promoted, syncAt, loadAt, killAt, cutAt, first, afterLoad, beforeKill, res.Failovers, res.WritesAcked, res.WritesLost, len(events))
			for _, ev := range events {
				t.Logf("%s %s (%s)", ev.Type, ev.Payload, ev.Detail)
			}
			if allow {
				if res.WritesLost < 100 || len(events) > 0 {
					failWithTail(t, res, "with the rule off, %d writes lost and %d events: the scenario no longer shows the class", res.WritesLost, len(events))
				}
				return
			}
			if first < 0 {
				failWithTail(t, res, "no write acknowledged while r0 loaded: the guard did not count it, the scenario no longer shows the class")
				return
			}
			// Two of the agent's watch periods (the INFO showing r0 online
			// at offset 0 may precede the first write, and the next one
			// sees the master advanced), plus the CLIENT LIST and KILL
			// round trips and the client's.
			const watchPeriod = 250 * time.Millisecond
			slack := 2*o.Tick + 10*time.Millisecond
			if killAt < 0 || killAt > cutAt || killAt-first > 2*watchPeriod+slack {
				failWithTail(t, res, "r0 disconnected at %v, want within %v of the first write acknowledged during its load (%v)", killAt, 2*watchPeriod+slack, first)
			}
			if killAt < 0 || killAt-syncAt > sentinel.ReplicationWindow+o.SyncBase {
				failWithTail(t, res, "r0 disconnected at %v, want within %v of its RDB point (%v) plus the transfer", killAt, sentinel.ReplicationWindow, syncAt)
			}
			if max := uint64(2*watchPeriod/o.WriteEvery) + 10; res.WritesLost > max {
				failWithTail(t, res, "%d writes lost, want at most about two watch periods' %d", res.WritesLost, max)
			}
		})
	}
	if !leaders[1] || !leaders[2] {
		t.Errorf("failovers led by %v, want both the new master's own agent (h1) and another (h2)", leaders)
	}
}
