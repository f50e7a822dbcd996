package sentinel

import (
	"testing"
	"time"
)

// TestRecentMax: a noted duration counts for at least one memory and at
// most two, and a larger one is never hidden by a smaller one noted later.
func TestRecentMax(t *testing.T) {
	const mem = 10 * time.Second
	s := time.Second
	type note struct{ at, d time.Duration }
	for _, tc := range []struct {
		name  string
		notes []note
		at    time.Duration
		want  time.Duration
	}{
		{"nothing noted", nil, 5 * s, 0},
		{"just noted", []note{{s, 200 * time.Millisecond}}, s, 200 * time.Millisecond},
		{"larger kept over smaller", []note{{s, 300 * time.Millisecond}, {2 * s, 100 * time.Millisecond}}, 3 * s, 300 * time.Millisecond},
		{"a memory later, still there", []note{{9 * s, 300 * time.Millisecond}}, 19 * s, 300 * time.Millisecond},
		{"two memories after its bucket began, gone", []note{{9 * s, 300 * time.Millisecond}}, 20 * s, 0},
		{"carried into the previous bucket", []note{{9 * s, 300 * time.Millisecond}, {15 * s, 50 * time.Millisecond}}, 19 * s, 300 * time.Millisecond},
		{"previous bucket expires, current stays", []note{{9 * s, 300 * time.Millisecond}, {15 * s, 50 * time.Millisecond}}, 21 * s, 50 * time.Millisecond},
		{"long quiet resets", []note{{s, 300 * time.Millisecond}, {40 * s, 60 * time.Millisecond}}, 41 * s, 60 * time.Millisecond},
	} {
		var r recentMax
		for _, n := range tc.notes {
			r.note(n.at, n.d, mem)
		}
		if got := r.get(tc.at, mem); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
