package scenario

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// notReceivingSlack covers what the bound leaves out in the lab: the
// client's and the kill's round trips and two loaded cores delaying the
// agent's INFO timer.
const notReceivingSlack = time.Second

// TestReplicaNotReceiving (issue 13): the master's only replica is cut one
// way, so that it receives nothing from the master while its
// acknowledgements still reach it and Redis's guard (min-replicas-to-write
// 1) keeps counting it. The master's agent must disconnect it within
// sentinel.ReplicationWindow (+replica-not-receiving), so that writes
// through the VIP are refused (-NOREPLICAS) from then on and none is
// acknowledged after; once the cut heals the replica reconnects and writes
// resume.
func TestReplicaNotReceiving(t *testing.T) {
	c, ctx := startGuardedCluster(t, "campnotrecv")
	h1, h2 := c.Hosts[0], c.Hosts[1]
	evs, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}

	w := oneReplicaWriter(ctx, t, c)
	defer w.Stop()

	// h1's frames no longer reach h2: the replication stream stops, h2's
	// REPLCONF ACKs still arrive. h3's agent still reaches h1, so h1
	// keeps a majority (no fence, no failover: h2 alone sees it down).
	cutAt := time.Now()
	cut := w.Since(cutAt)
	if err := c.Lab.CutOneWay(h1, h2); err != nil {
		t.Fatal(err)
	}
	refusedAt := firstRefusal(ctx, t, w, cut, "its replica stopped receiving")
	lastAck := w.LastAck()
	event, err := notReceivingEvent(ctx, evs)
	if err != nil {
		t.Errorf("writes refused, but by Redis's own guard: %v", err)
	}
	bound := sentinel.ReplicationWindow + notReceivingSlack
	t.Logf("bound %v (window %v + slack %v); replica cut one way at %v; first -NOREPLICAS %v later; last write acknowledged %v after the cut",
		bound, sentinel.ReplicationWindow, notReceivingSlack, cut, refusedAt-cut, lastAck-cut)
	if event != nil {
		t.Logf("%s on %s %v after the cut: %s", event.Type, event.Host, event.At.Sub(cutAt), event.Payload)
		if event.Host != h1.Name || !strings.Contains(event.Payload, h2.IP4.String()) {
			t.Errorf("event from %s about %q, want h1's agent about %s", event.Host, event.Payload, h2.IP4)
		}
	}
	if refusedAt-cut > bound {
		t.Errorf("first refusal %v after the cut, bound %v", refusedAt-cut, bound)
	}
	if lastAck-cut > bound {
		t.Errorf("writes acknowledged for %v after the replica stopped receiving, bound %v", lastAck-cut, bound)
	}
	// Hold the cut: the replica cannot reconnect (its handshake needs
	// both directions), so nothing is acknowledged.
	holdCut(ctx, t, 3*time.Second)
	afterBound := 0
	for _, a := range w.Stop() {
		if a.At > cut+bound {
			afterBound++
		}
	}
	t.Logf("writes acknowledged later than the bound after the cut: %d", afterBound)
	if afterBound > 0 {
		t.Errorf("%d writes acknowledged later than %v after the cut", afterBound, bound)
	}

	w2 := c.StartWriter()
	defer w2.Stop()
	healAndResume(ctx, t, c, w2, func() error { return c.Lab.HealOneWay(h1, h2) })
}

// oneReplicaWriter leaves the master one replica (h3's redis-server is
// killed) and returns a writer through the VIP that has written.
func oneReplicaWriter(ctx context.Context, t *testing.T, c *Cluster) *Writer {
	t.Helper()
	if err := c.Redis[2].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	w := c.StartWriter()
	if err := wait.For(ctx, 10*time.Millisecond, func() error {
		if w.Acked() < 50 {
			return errors.New("the writer has not written yet")
		}
		return nil
	}); err != nil {
		w.Stop()
		t.Fatal(err)
	}
	return w
}

// firstRefusal waits for the writer's first -NOREPLICAS after the moment
// after (on the writer's clock) and returns when it came.
func firstRefusal(ctx context.Context, t *testing.T, w *Writer, after time.Duration, why string) time.Duration {
	t.Helper()
	var at time.Duration
	if err := wait.For(ctx, 10*time.Millisecond, func() error {
		for _, r := range w.Refused() {
			if r.Code == "NOREPLICAS" && r.At > after {
				at = r.At
				return nil
			}
		}
		return errors.New("no write refused yet")
	}); err != nil {
		t.Fatalf("the master never refused a write after %s: %v", why, err)
	}
	return at
}

// healAndResume heals a cut of the master's replica with heal, waits for
// w's writes to be acknowledged again and checks that the first two hosts'
// agents still name the first host's master: a cut between the master and
// one replica must not cause a failover.
func healAndResume(ctx context.Context, t *testing.T, c *Cluster, w *Writer, heal func() error) {
	t.Helper()
	healed := w.Since(time.Now())
	if err := heal(); err != nil {
		t.Fatal(err)
	}
	if err := wait.For(ctx, 10*time.Millisecond, func() error {
		if w.LastAck() <= healed {
			return errors.New("no write acknowledged since the heal")
		}
		return nil
	}); err != nil {
		t.Fatalf("writes never resumed after the heal: %v", err)
	}
	t.Logf("writes resumed %v after the heal", w.LastAck()-healed)
	for h := range c.Hosts[:2] {
		if a, err := c.MasterAddr(ctx, h); err != nil || a != c.Hosts[0].IP4.String()+":6379" {
			t.Errorf("agent on %s names master %q (%v), want %s: the cut caused a failover", c.Hosts[h].Name, a, err, c.Hosts[0].IP4)
		}
	}
}

// notReceivingEvent waits until evs delivers a +replica-not-receiving
// event, skipping the others, and returns it; an error once ctx ends.
func notReceivingEvent(ctx context.Context, evs <-chan Event) (*Event, error) {
	var event *Event
	err := wait.For(ctx, 10*time.Millisecond, func() error {
		for {
			select {
			case e := <-evs:
				if e.Type == "+replica-not-receiving" {
					event = &e
					return nil
				}
			default:
				return errors.New("no +replica-not-receiving event yet")
			}
		}
	})
	return event, err
}
