// Package ratelog limits how often a log line of one kind is written.
//
// Some failures repeat for as long as their cause lasts: a peer that keeps
// refusing our password, a hostile server that answers every reconnect
// with garbage. One line per occurrence would bury the agent's own failover
// logs (journald rate-limits per service and drops the excess, whatever it
// is). A Limiter lets the first line of a kind through at once, then one per
// interval, each saying how many were held back.
package ratelog

import (
	"sync"
	"time"
)

// maxKeys bounds the kinds a Limiter remembers. Beyond it, new kinds share
// one more slot, so a flood of distinct keys (addresses) is limited as one.
const maxKeys = 1024

// Limiter decides which lines to write. Its methods are safe for concurrent
// use.
type Limiter struct {
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	keys    map[string]*entry
	expired time.Time // last expireLocked scan
}

type entry struct {
	last       time.Time
	suppressed int
}

// New returns a Limiter letting through one line per key per every.
func New(every time.Duration) *Limiter {
	return &Limiter{every: every, now: time.Now, keys: map[string]*entry{}}
}

// Allow reports whether a line of kind key may be written now and, if so,
// how many lines of that kind were held back since the last one written.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.keys[key]
	if e == nil {
		if len(l.keys) >= maxKeys && now.Sub(l.expired) >= l.every {
			// At most one scan per interval: a flood of new keys must
			// not cost a scan each.
			l.expired = now
			l.expireLocked(now)
		}
		if len(l.keys) >= maxKeys {
			key = "\x00overflow"
			e = l.keys[key]
		}
		if e == nil {
			l.keys[key] = &entry{last: now}
			return true, 0
		}
	}
	if now.Sub(e.last) < l.every {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	return true, n
}

// expireLocked forgets kinds with nothing held back whose interval is over.
func (l *Limiter) expireLocked(now time.Time) {
	for k, e := range l.keys {
		if e.suppressed == 0 && now.Sub(e.last) >= l.every {
			delete(l.keys, k)
		}
	}
}
