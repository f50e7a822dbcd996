package sim

import (
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// The campaign's long two-writable-masters episode (issue 13, seed 2026 at
// 1234 s), replayed: the master's Redis is killed, the group fails over,
// and the old master restarts from its data as a master (its config file
// says so) after its agent switched to the new configuration. Its first
// INFO comes while it loads its dataset, when Redis refuses SLAVEOF
// (-LOADING). The agent must demote it as soon as the load ends, not after
// Sentinel's slow convert-to-slave path.
func TestRestartedOldMasterDemotedAfterLoading(t *testing.T) {
	o := calm(5, 3)
	o.DownAfter = time.Second
	const load = 400 * time.Millisecond
	var loaded time.Duration
	var demotedAt []time.Duration
	_, res := scenario(t, o, func(w *world) {
		r0 := w.redis[0]
		w.at(o.Warmup, func() {
			w.trace("kill r0")
			r0.crash()
		})
		w.at(o.Warmup+4*time.Second, func() {
			r0.start(false)
			r0.loadingUntil = w.now + load
			loaded = r0.loadingUntil
			w.trace("r0 restarted as %s, loading until %.3fs", r0.role, loaded.Seconds())
			for _, d := range []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 2 * time.Second} {
				w.at(loaded+d, func() {
					if r0.role == roleReplica {
						demotedAt = append(demotedAt, d)
					}
				})
			}
		})
	})
	if res.Err != nil {
		failWithTail(t, res, "violation: %v", res.Err)
		return
	}
	t.Logf("failovers %d; old master a replica again at %v after its load (of +100ms, +300ms, +2s)", res.Failovers, demotedAt)
	if res.Failovers != 1 {
		failWithTail(t, res, "failovers %d, want 1", res.Failovers)
	}
	if len(demotedAt) == 0 || demotedAt[0] > 300*time.Millisecond {
		failWithTail(t, res, "old master still a master 300 ms after its load ended (replica at %v)", demotedAt)
	}
}

// The campaign's 610 ms of two writable masters (issue 13, seed 2026 fixed
// run at 1273 s), reduced: the old master's agent is down and its host
// cannot send (loss in the campaign), so the others fail it over while
// it still receives. Its own agent cannot demote it; the leader, whose
// connection to it is still up, does so at the promotion instead of
// leaving a writable old master to whoever still follows it.
func TestLeaderDemotesReachableOldMaster(t *testing.T) {
	o := calm(9, 3)
	o.DownAfter = time.Second
	var stillMaster []time.Duration
	promotions := 0
	_, res := scenario(t, o, func(w *world) {
		w.onEvent = func(a *agent, ev sentinel.Event) {
			if ev.Type != "+promoted-slave" {
				return
			}
			promotions++
			w.at(w.now+300*time.Millisecond, func() {
				if w.redis[0].role == roleMaster {
					stillMaster = append(stillMaster, w.now)
				}
			})
		}
		w.at(o.Warmup, func() {
			w.agents[0].crash("test: agent down")
			w.agentDownFor(w.agents[0], 8*time.Second)
			for x := range w.cut {
				if x != 0 {
					w.cut[0][x] = true
				}
			}
			w.trace("h0 one-way-out")
			w.check.topology()
		})
		w.at(o.Warmup+4*time.Second, func() {
			for x := range w.cut {
				w.cut[0][x] = false
			}
			w.trace("h0 one-way-out healed")
			w.check.topology()
		})
	})
	if res.Err != nil {
		failWithTail(t, res, "violation: %v", res.Err)
		return
	}
	t.Logf("promotions %d, old master still a master 300 ms after: %v", promotions, stillMaster)
	if promotions != 1 || len(stillMaster) > 0 {
		failWithTail(t, res, "promotions %d; old master r0 still a master 300 ms after the promotion (%v)", promotions, stillMaster)
	}
}
