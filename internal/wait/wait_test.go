package wait

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	ctx := context.Background()
	n := 0
	if err := For(ctx, time.Millisecond, func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || n != 3 {
		t.Errorf("For = %v after %d calls, want nil after 3", err, n)
	}

	died := errors.New("exited")
	n = 0
	if err := For(ctx, time.Millisecond, func() error { n++; return Permanent(died) }); !errors.Is(err, died) || n != 1 {
		t.Errorf("For with a permanent error = %v after %d calls, want %v after 1", err, n, died)
	}

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	err := For(short, time.Millisecond, func() error { return errors.New("still down") })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "still down") {
		t.Errorf("For past its deadline = %v, want the deadline and the last error", err)
	}
}
