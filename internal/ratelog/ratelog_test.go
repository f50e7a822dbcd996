package ratelog

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(time.Minute)
	l.now = func() time.Time { return now }
	step := func(key string, wantOK bool, wantSuppressed int) {
		t.Helper()
		ok, n := l.Allow(key)
		if ok != wantOK || n != wantSuppressed {
			t.Fatalf("Allow(%q) at %v = %v, %d; want %v, %d", key, now.Unix(), ok, n, wantOK, wantSuppressed)
		}
	}
	step("a", true, 0)
	for range 20000 {
		step("a", false, 0)
	}
	step("b", true, 0) // kinds are independent
	now = now.Add(59 * time.Second)
	step("a", false, 0)
	now = now.Add(time.Second)
	step("a", true, 20001)
	step("a", false, 0)
}

func TestLimiterBoundsKeys(t *testing.T) {
	now := time.Unix(1000, 0)
	l := New(time.Minute)
	l.now = func() time.Time { return now }
	written := 0
	for i := range 100 * maxKeys {
		if ok, _ := l.Allow(fmt.Sprint("addr-", i)); ok {
			written++
		}
	}
	// maxKeys kinds, then one line for all the others.
	if written != maxKeys+1 || len(l.keys) != maxKeys+1 {
		t.Fatalf("%d distinct keys: %d lines written, %d keys kept; want %d", 100*maxKeys, written, len(l.keys), maxKeys+1)
	}
	// Once their interval is over, idle kinds make room again.
	now = now.Add(time.Minute)
	if ok, _ := l.Allow("new"); !ok {
		t.Fatal("new kind refused after the interval")
	}
}
