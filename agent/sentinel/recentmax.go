package sentinel

import "time"

// recentMax is the largest duration noted recently: within the last memory
// at least, two memories at most. It keeps two buckets a memory long each,
// the current one and the one before it, so that it costs three words and
// no list. The zero value has noted nothing.
type recentMax struct {
	start     Time // when the current bucket began
	cur, prev time.Duration
}

// note records d at now.
func (r *recentMax) note(now Time, d, memory time.Duration) {
	switch age := now - r.start; {
	case age >= 2*memory:
		*r = recentMax{start: now}
	case age >= memory:
		*r = recentMax{start: r.start + memory, prev: r.cur}
	}
	r.cur = max(r.cur, d)
}

// get is the largest duration noted recently before now (0 if none).
func (r recentMax) get(now Time, memory time.Duration) time.Duration {
	switch age := now - r.start; {
	case age >= 2*memory:
		return 0
	case age >= memory:
		return r.cur
	}
	return max(r.cur, r.prev)
}
