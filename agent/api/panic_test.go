package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// panickingBackend panics on SENTINEL MASTER, as a bug triggered by a
// client's request would.
type panickingBackend struct{ testBackend }

func (b *panickingBackend) Master(ctx context.Context, name string) ([]KV, error) {
	panic("injected panic for " + name)
}

// TestPanicClosesOnlyItsClient: a panic while serving one client closes
// that client's connection, is logged with its stack and counted; the
// server and its other clients carry on.
func TestPanicClosesOnlyItsClient(t *testing.T) {
	var logs testenv.Buffer
	s, addr := startServer(t, Config{Backend: &panickingBackend{}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	other := dialRaw(t, addr)
	other.roundTrip("PING\r\n", "+PONG\r\n")

	bad := dialRaw(t, addr)
	if _, err := bad.c.Write([]byte("SENTINEL MASTER mymaster\r\n")); err != nil {
		t.Fatal(err)
	}
	bad.expectClosed()
	testenv.Eventually(t, 5*time.Second, "one recovered panic", func() error {
		n := s.PanicsRecovered()
		return testenv.Pending(n == 1, fmt.Sprintf("PanicsRecovered = %d", n))
	})
	if got := logs.String(); !strings.Contains(got, "api client goroutine panicked") || !strings.Contains(got, "panic_test.go") {
		t.Fatalf("panic not logged with its stack:\n%.3000s", got)
	}
	other.roundTrip("PING\r\n", "+PONG\r\n")
	dialRaw(t, addr).roundTrip("PING\r\n", "+PONG\r\n")
}
