// Package clock is the view of time that code with a substitutable clock
// reads (the runtime, systemd's watchdog and status updater): Real in
// production, testenv.Clock, a clock only the test moves, in tests.
package clock

import "time"

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer that its users need.
type Timer interface {
	C() <-chan time.Time
	// Reset makes the timer fire d from now (and not for an earlier
	// setting), as time.Timer.Reset does since Go 1.23.
	Reset(d time.Duration)
	Stop()
}

// Real is the system clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// NewTimer is time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) Stop()                 { r.t.Stop() }
