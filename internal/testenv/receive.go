package testenv

import (
	"testing"
	"time"
)

// Receive returns the next value sent on ch, or fails t, naming what it
// waited for, when none comes within timeout. A closed ch yields its zero
// value at once: that is how a done channel says its goroutine ended. It
// is the one form of "this must happen soon" for a test that waits on a
// channel, as Eventually is for a condition it polls.
func Receive[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("no %s within %v", what, timeout)
	}
	var zero T
	return zero
}
