package testenv

import (
	"testing"
	"time"
)

func TestReceive(t *testing.T) {
	sent := make(chan int, 1)
	sent <- 7
	if got := Receive(t, sent, time.Second, "value"); got != 7 {
		t.Errorf("Receive of a sent value = %d, want 7", got)
	}

	closed := make(chan struct{})
	close(closed)
	r := &recorder{TB: t}
	Receive(r, closed, time.Second, "end")
	if r.ended != "" {
		t.Errorf("Receive on a closed channel ended the test: %q", r.ended)
	}

	r = &recorder{TB: t}
	if got := Receive(r, make(chan int), 10*time.Millisecond, "reply"); got != 0 || r.ended != "fatal: no reply within 10ms" {
		t.Errorf("Receive on a silent channel = %d and ended the test with %q, want 0 and %q", got, r.ended, "fatal: no reply within 10ms")
	}
}
