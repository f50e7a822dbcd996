package metrics

import (
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// DefaultFailoverWindow is the default Options.FailoverWindow.
const DefaultFailoverWindow = 15 * time.Minute

// failoverTracker pairs the start of this agent's failover attempts with
// their end, per master, from the event timestamps alone.
type failoverTracker struct {
	window time.Duration

	mu    sync.Mutex
	start map[string]time.Time // master -> first attempt not yet ended
}

func newFailoverTracker(window time.Duration) *failoverTracker {
	return &failoverTracker{window: window, start: map[string]time.Time{}}
}

// observe feeds one event and returns the duration of the failover it
// completes, if any.
//
// The earliest +try-failover or +elected-leader starts the clock, and later
// attempts (a lost election is retried with a new epoch) keep it running, so
// the duration is what clients waited since this agent first tried. A
// +switch-master or +failover-end stops it: the leader emits both, a loser
// learns the new address through a +switch-master from hellos. An attempt
// abandoned for good (no replica could be promoted, the promotion timed
// out, or a forced failover's replica could not catch up), or older than
// the window, is dropped unmeasured: it did not end in a
// failover that can be timed.
func (t *failoverTracker) observe(at time.Time, e sentinel.Event) (time.Duration, bool) {
	if e.Master == "" {
		return 0, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	start, running := t.start[e.Master]
	if running && (at.Sub(start) > t.window || at.Before(start)) {
		// A stale start, or a clock that went backwards: whatever ends now is
		// not the failover that began then.
		delete(t.start, e.Master)
		running = false
	}
	switch e.Type {
	case "+try-failover", "+elected-leader":
		if !running {
			t.start[e.Master] = at
		}
	case "+switch-master", "+failover-end", "+failover-end-for-timeout":
		if running {
			delete(t.start, e.Master)
			return at.Sub(start), true
		}
	case "-failover-abort-no-good-slave", "-failover-abort-slave-timeout", "-monitor",
		"-failover-abort-replica-lagging", "-failover-abort-pause-failed":
		delete(t.start, e.Master)
	}
	return 0, false
}
