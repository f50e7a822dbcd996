package main

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	log := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		env  string
		want int64
	}{
		{"", defaultMemoryLimit},
		{"64MiB", 64 << 20},
	} {
		t.Setenv("GOMEMLIMIT", tc.env)
		if tc.env != "" {
			// The runtime reads GOMEMLIMIT at start only: stand in for it.
			debug.SetMemoryLimit(tc.want)
		}
		if got := setMemoryLimit(log); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q: limit %d, want %d", tc.env, got, tc.want)
		}
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q: runtime limit %d, want %d", tc.env, got, tc.want)
		}
	}
}
