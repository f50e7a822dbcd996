package panics

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var c Counter
	var got *Error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer Recover(log, &c, "link goroutine panicked", func(e *Error) { got = e }, "addr", "198.18.0.1:6379")
		panic("injected")
	}()
	<-done
	if c.Load() != 1 {
		t.Fatalf("counted %d panics, want 1", c.Load())
	}
	var e *Error
	if got == nil || !errors.As(error(got), &e) || got.Error() != "panic: injected" {
		t.Fatalf("then got %v", got)
	}
	out := buf.String()
	for _, want := range []string{"link goroutine panicked", "addr=198.18.0.1:6379", "panic=injected", "panics_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestRecoverWithoutPanicDoesNothing(t *testing.T) {
	var c Counter
	called := false
	func() {
		defer Recover(nil, &c, "x", func(*Error) { called = true })
	}()
	if called || c.Load() != 0 {
		t.Fatalf("called=%v count=%d after a normal return", called, c.Load())
	}
}
