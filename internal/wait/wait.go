// Package wait polls a condition until it holds or a deadline passes: the
// one wait loop of the labs (agent/lab, agent/scenario) and the tests
// (internal/testenv). Waiting for a condition with a deadline, never
// sleeping a fixed time, is how the tests stay independent of the machine's
// speed.
package wait

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Default bounds For when ctx has no deadline, so that a condition that
// never holds ends the wait instead of hanging it.
const Default = 10 * time.Second

// For calls cond every interval (10 ms if zero) until it returns nil, and
// returns nil then. When ctx is done first it returns ctx's error together
// with cond's last error. Without a deadline on ctx, Default applies. A cond
// error made with Permanent ends the wait at once with that error.
func For(ctx context.Context, interval time.Duration, cond func() error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Default)
		defer cancel()
	}
	if interval <= 0 {
		interval = 10 * time.Millisecond
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.err
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), fmt.Errorf("last: %w", err))
		case <-t.C:
		}
	}
}

// Permanent wraps an error after which waiting is pointless (the process
// died), so For returns it at once.
func Permanent(err error) error { return permanent{err} }

type permanent struct{ err error }

func (p permanent) Error() string { return fmt.Sprint(p.err) }
func (p permanent) Unwrap() error { return p.err }
