package sim

import (
	"testing"
	"time"
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
	w, res := scenario(t, o, func(w *world) {
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
	_ = w
}
