package runtime

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// fakeClock is a manual Clock: time moves, and timers fire, only when the
// test calls Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c     *fakeClock
	ch    chan time.Time
	at    time.Time
	armed bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.mu.Lock()
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	t.Reset(d)
	return t
}

// Advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.armed && !t.at.After(c.now) {
			t.armed = false
			select {
			case t.ch <- c.now:
			default:
			}
		}
	}
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	select { // as time.Timer since Go 1.23: no stale value after Reset
	case <-t.ch:
	default:
	}
	t.at, t.armed = t.c.now.Add(d), true
}

func (t *fakeTimer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.armed = false
}

// TestInjectedClock runs the runtime on a clock only the test moves:
// the loop's heartbeat is stamped with it, and the save-failure limit is
// measured on it (an hour-long limit is reached in no real time once the
// clock is advanced past it, and not before).
func TestInjectedClock(t *testing.T) {
	clk := newFakeClock()
	store := &memStore{}
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"},
		Masters: []sentinel.MasterConfig{masterCfg("mymaster", 6999, 2)}}
	tr := &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)}
	a := startAgent(t, cfg, nil, store, Options{Transport: tr, Clock: clk, MaxSaveFailure: time.Hour})
	if hb := a.rt.Heartbeat(); !hb.Equal(clk.Now()) {
		t.Fatalf("heartbeat %v, want the injected clock's %v", hb, clk.Now())
	}

	store.setFail(errors.New("disk full"))
	rc := redis.NewClient(&redis.Options{Addr: a.addr, Protocol: 2})
	defer rc.Close()
	// A configuration change must be saved; the save fails, so the reply
	// is the save error and the agent keeps running within the limit.
	err := rc.Do(context.Background(), "SENTINEL", "SET", "mymaster", "quorum", "1").Err()
	if err == nil || err.Error() != errNotSaved.Msg {
		t.Fatalf("SENTINEL SET with an unsavable state: %v, want %q", err, errNotSaved.Msg)
	}
	clk.Advance(30 * time.Minute)
	// A loop turn after the advance (this request) retries the save, and
	// is still within the limit.
	if err := rc.Do(context.Background(), "SENTINEL", "SET", "mymaster", "quorum", "2").Err(); err == nil || err.Error() != errNotSaved.Msg {
		t.Fatalf("second SENTINEL SET: %v, want %q", err, errNotSaved.Msg)
	}
	select {
	case err := <-a.done:
		a.done <- err
		t.Fatalf("Run returned %v within the save-failure limit", err)
	default:
	}
	testenv.Until(t, 10*time.Second, "heartbeat stamped with the advanced clock", func() bool {
		return a.rt.Heartbeat().Equal(clk.Now())
	})
	// Past the limit, the next loop turn (the timer the advance fires)
	// stops the agent.
	clk.Advance(time.Hour)
	var runErr error
	testenv.Until(t, 10*time.Second, "Run to return ErrStateNotSaved", func() bool {
		select {
		case runErr = <-a.done:
			a.done <- runErr
			return true
		default:
			return false
		}
	})
	if !errors.Is(runErr, ErrStateNotSaved) {
		t.Fatalf("Run returned %v, want ErrStateNotSaved", runErr)
	}
}
