package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// The campaign's first data loss (issue 13, seed 2026 at 152 s), replayed:
// replica h1 is cut one way (it sends nothing) for 4.4 s, so it stops
// receiving the master's replication stream while h2 keeps up; 2.4 s in, the
// master h0 is cut one way too (its acknowledgements stop); 3.8 s in, h2
// cannot receive for 1.2 s. When h1 comes back it is elected with h2's
// vote, but its last contact with r2 is 4.4 s old, so r2 is not a candidate
// yet: promoting r1 at once drops the 2.4 s of writes h0 acknowledged
// after h1 was cut, which r2 holds. The leader must wait (a bounded time)
// for r2 and promote it, and demote r0 at once (it still receives).
func TestLaggingReplicaNotPromotedOverBetterOne(t *testing.T) {
	o := calm(7, 3)
	o.DownAfter = time.Second
	o.WriteEvery = 20 * time.Millisecond
	// out[h]/in[h]: h sends/receives nothing; the cuts overlap, so the
	// matrix is recomputed from both sets at every change.
	var out, in [3]bool
	cut := func(w *world, h int, isOut bool, d time.Duration) {
		set := func(v bool) {
			if isOut {
				out[h] = v
			} else {
				in[h] = v
			}
			for a := range w.cut {
				for b := range w.cut[a] {
					w.cut[a][b] = a != b && (a < 3 && out[a] || b < 3 && in[b])
				}
			}
			w.trace("h%d one-way-%s cut=%v", h, map[bool]string{true: "out", false: "in"}[isOut], v)
			w.check.topology()
		}
		set(true)
		w.at(w.now+d, func() { set(false) })
	}
	var promoted []string
	var oldMaster []time.Duration
	w, res := scenario(t, o, func(w *world) {
		w.onEvent = func(a *agent, ev sentinel.Event) {
			if ev.Type == "+promoted-slave" {
				promoted = append(promoted, ev.Payload)
				// The leader demotes the old master, which it can
				// still reach (r0 only cannot send): it must not stay
				// a writable master until its own agent hears.
				w.at(w.now+300*time.Millisecond, func() {
					if r0 := w.redis[0]; r0.role == roleMaster {
						oldMaster = append(oldMaster, w.now)
					}
				})
			}
		}
		t0 := o.Warmup
		w.at(t0, func() { cut(w, 1, true, 4400*time.Millisecond) })
		w.at(t0+2400*time.Millisecond, func() { cut(w, 0, true, 5*time.Second) })
		w.at(t0+3800*time.Millisecond, func() { cut(w, 2, false, 1200*time.Millisecond) })
	})
	if res.Err != nil {
		failWithTail(t, res, "violation: %v", res.Err)
		return
	}
	t.Logf("failovers %d, promoted %q, writes acked %d lost %d", res.Failovers, promoted, res.WritesAcked, res.WritesLost)
	if res.Failovers != 1 || len(promoted) != 1 || !strings.Contains(promoted[0], w.redis[2].addr.String()) {
		failWithTail(t, res, "failovers %d promoted %q, want r2 (the replica that kept up)", res.Failovers, promoted)
	}
	if len(oldMaster) > 0 {
		failWithTail(t, res, "old master r0 still a master 300 ms after the promotion (at %v)", oldMaster)
	}
	if res.WritesLost != 0 {
		failWithTail(t, res, "%d acknowledged writes lost", res.WritesLost)
	}
}
