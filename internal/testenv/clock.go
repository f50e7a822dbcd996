package testenv

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/clock"
)

// Clock is a manual clock.Clock: time moves, and timers fire, only when
// the test calls Advance.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	armed []*timer // in the order they were armed, so that due timers fire in that order
}

type timer struct {
	c  *Clock
	ch chan time.Time
	at time.Time
}

// NewClock returns a manual clock set to a fixed date.
func NewClock() *Clock { return &Clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires once the clock has been advanced by d.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	t := &timer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the clock by d and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.armed = slices.DeleteFunc(c.armed, func(t *timer) bool {
		if t.at.After(c.now) {
			return false
		}
		select {
		case t.ch <- c.now:
		default:
		}
		return true
	})
}

// WaitTimers waits until n timers are armed (the code under test has
// reached its wait), and fails t if that takes more than 10 s.
func (c *Clock) WaitTimers(t testing.TB, n int) {
	t.Helper()
	Eventually(t, 10*time.Second, fmt.Sprintf("%d armed timers", n), func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		return Pending(len(c.armed) == n, fmt.Sprintf("%d armed", len(c.armed)))
	})
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	select { // as time.Timer since Go 1.23: no stale value after Reset
	case <-t.ch:
	default:
	}
	t.at = t.c.now.Add(d)
	if !slices.Contains(t.c.armed, t) {
		t.c.armed = append(t.c.armed, t)
	}
}

func (t *timer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.c.armed = slices.DeleteFunc(t.c.armed, func(x *timer) bool { return x == t })
}
