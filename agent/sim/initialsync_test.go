package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// The master dies while the best-ranked replica (slave-priority 10) is in
// its initial sync after losing its data: the synced replica is promoted
// instead, and no acknowledged write is lost. When the synced replica has
// slave-priority 0 nothing is promoted: each attempt ends in
// -failover-abort-no-good-slave naming the reason, and the group waits for
// the master to return.
func TestNoPromotionMidInitialSync(t *testing.T) {
	for _, tt := range []struct {
		name      string
		priority  []int
		promote   int // host expected to be promoted; -1: none
		wantAbort bool
	}{
		{"synced replica promoted", []int{100, 100, 10}, 1, false},
		{"no synced replica: no failover", []int{100, 0, 10}, -1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := calm(41, 3)
			o.Priority = tt.priority
			if tt.priority[1] == 0 {
				o.Priority0 = []int{1}
			}
			o.KillMaster, o.KillHost = true, 2
			o.SyncBase, o.SyncPerWrite = 100*time.Millisecond, 100*time.Millisecond // ~8 s for the warm-up's writes
			var aborts []string
			w, res := scenario(t, o, func(w *world) {
				w.at(o.Warmup-2*time.Second, func() {
					w.trace("r2 loses its data")
					w.redis[2].crash()
					w.redis[2].start(true)
				})
				w.onEvent = func(a *agent, ev sentinel.Event) {
					if ev.Type == "-failover-abort-no-good-slave" {
						aborts = append(aborts, ev.Detail)
					}
				}
			})
			if res.Err != nil {
				failWithTail(t, res, "violation: %v", res.Err)
				return
			}
			t.Logf("failovers %d, promoted %s, aborts %d (first: %q), writes acked %d lost %d",
				res.Failovers, w.promAddr, len(aborts), first1(aborts), res.WritesAcked, res.WritesLost)
			if tt.promote >= 0 {
				if res.Failovers != 1 || w.promAddr != w.redis[tt.promote].addr {
					failWithTail(t, res, "failovers %d promoted %s, want r%d", res.Failovers, w.promAddr, tt.promote)
				}
				if res.WritesLost != 0 {
					failWithTail(t, res, "%d acknowledged writes lost", res.WritesLost)
				}
			} else if res.Failovers != 0 {
				failWithTail(t, res, "failovers %d, want none", res.Failovers)
			}
			if tt.wantAbort {
				if len(aborts) == 0 || !strings.Contains(aborts[0], w.redis[2].addr.String()+" rejected: ") ||
					!strings.Contains(aborts[0], "allow-unsynced-promotion is no") {
					failWithTail(t, res, "abort details %q", aborts)
				}
			}
		})
	}
}

func first1(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
