package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestInjectedClock runs the runtime on a clock only the test moves:
// the loop's heartbeat is stamped with it, and the save-failure limit is
// measured on it (an hour-long limit is reached in no real time once the
// clock is advanced past it, and not before).
func TestInjectedClock(t *testing.T) {
	clk := testenv.NewClock()
	store := &memStore{}
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"},
		Masters: []sentinel.MasterConfig{masterCfg("mymaster", 6999, 2)}}
	tr := &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)}
	a := startAgent(t, cfg, nil, store, Options{Transport: tr, Clock: clk, MaxSaveFailure: time.Hour})
	if hb := a.rt.Heartbeat(); !hb.Equal(clk.Now()) {
		t.Fatalf("heartbeat %v, want the injected clock's %v", hb, clk.Now())
	}

	store.setFail(errors.New("disk full"))
	rc := redis.NewClient(&redis.Options{Addr: a.addr, Protocol: 2})
	defer rc.Close()
	// A configuration change must be saved; the save fails, so the reply
	// is the save error and the agent keeps running within the limit.
	err := rc.Do(context.Background(), "SENTINEL", "SET", "mymaster", "quorum", "1").Err()
	if err == nil || err.Error() != errNotSaved.Msg {
		t.Fatalf("SENTINEL SET with an unsavable state: %v, want %q", err, errNotSaved.Msg)
	}
	clk.Advance(30 * time.Minute)
	// A loop turn after the advance (this request) retries the save, and
	// is still within the limit.
	if err := rc.Do(context.Background(), "SENTINEL", "SET", "mymaster", "quorum", "2").Err(); err == nil || err.Error() != errNotSaved.Msg {
		t.Fatalf("second SENTINEL SET: %v, want %q", err, errNotSaved.Msg)
	}
	select {
	case err := <-a.done:
		a.done <- err
		t.Fatalf("Run returned %v within the save-failure limit", err)
	default:
	}
	testenv.Until(t, 10*time.Second, "heartbeat stamped with the advanced clock", func() bool {
		return a.rt.Heartbeat().Equal(clk.Now())
	})
	// Past the limit, the next loop turn (the timer the advance fires)
	// stops the agent.
	clk.Advance(time.Hour)
	var runErr error
	testenv.Until(t, 10*time.Second, "Run to return ErrStateNotSaved", func() bool {
		select {
		case runErr = <-a.done:
			a.done <- runErr
			return true
		default:
			return false
		}
	})
	if !errors.Is(runErr, ErrStateNotSaved) {
		t.Fatalf("Run returned %v, want ErrStateNotSaved", runErr)
	}
}
