package defaults

import (
	"log/slog"
	"testing"
	"time"
)

func TestPositive(t *testing.T) {
	for _, tc := range []struct{ v, def, want time.Duration }{
		{0, time.Second, time.Second},
		{-1, time.Second, time.Second},
		{1, time.Second, 1},
		{time.Minute, time.Second, time.Minute},
	} {
		if got := Positive(tc.v, tc.def); got != tc.want {
			t.Errorf("Positive(%v, %v) = %v, want %v", tc.v, tc.def, got, tc.want)
		}
	}
}

func TestLogger(t *testing.T) {
	l := slog.Default()
	if Logger(l) != l {
		t.Error("Logger(l) is not l")
	}
	if d := Logger(nil); d == nil || d.Handler() != slog.DiscardHandler {
		t.Errorf("Logger(nil) = %v, want a logger with slog.DiscardHandler", d)
	}
}
