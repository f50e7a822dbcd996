package redislink

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestCloseDuringPubSubDial: the core closes a pub/sub link while its
// connection is being dialed. go-redis holds the PubSub's lock while it
// dials, so the close (which holds the link's mutex) waits in
// PubSub.Close until the dial ends; the dialer must then be able to
// record what it learned without the link's mutex, or the two wait for
// each other and the agent's loop, which runs the close, stops for good
// (the one-hour campaign's agent that ignored SIGTERM). The dial here
// completes just after the close began, as a connect racing the close
// does.
func TestCloseDuringPubSubDial(t *testing.T) {
	srv := redistest.Start(t)
	dialing, release := make(chan struct{}, 1), make(chan struct{})
	tr := newTransportWith(t, Options{CommandTimeout: 2 * time.Second,
		Dial: func(_ context.Context, network, addr string) (net.Conn, error) {
			dialing <- struct{}{}
			<-release
			var d net.Dialer
			return d.DialContext(context.Background(), network, addr)
		}})
	ref := refOf(srv, sentinel.KindMaster)
	connectPubSub(tr, ref, nil)
	testenv.Receive(t, dialing, 10*time.Second, "the pub/sub dial")

	s := func() *sharedSub {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return tr.subOf[ref]
	}()
	if s == nil {
		t.Fatal("no pub/sub link for the master")
	}
	closed := make(chan struct{})
	go func() {
		tr.Do(sentinel.Command{Kind: sentinel.CmdClose, To: ref, Link: sentinel.LinkPubSub})
		close(closed)
	}()
	// The close holds the link's mutex while it waits for the PubSub.
	testenv.Eventually(t, 10*time.Second, "the close holding the link's mutex", func() error {
		if s.l.mu.TryLock() {
			s.l.mu.Unlock()
			return errors.New("the close has not taken the link's mutex")
		}
		return nil
	})
	close(release)
	testenv.Receive(t, closed, 10*time.Second, "the close of a link whose pub/sub connection was being dialed")
}

// TestCloseDuringBlackholedPubSubDial: the close of a pub/sub link whose
// dial goes to a host that never answers (SYNs dropped: a powered-off or
// cut-off host) must not wait for the dial timeout. The close runs on the
// agent's loop and waits for the PubSub's lock, which the dial holds, so
// it relies on the dial running on the link's context, which the close
// cancels first. The dial timeout here is far longer than the wait.
func TestCloseDuringBlackholedPubSubDial(t *testing.T) {
	srv := redistest.Start(t)
	dialing := make(chan struct{}, 1)
	tr := newTransportWith(t, Options{CommandTimeout: 2 * time.Second, DialTimeout: time.Minute,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			dialing <- struct{}{}
			<-ctx.Done() // nothing ever answers
			return nil, ctx.Err()
		}})
	ref := refOf(srv, sentinel.KindMaster)
	connectPubSub(tr, ref, nil)
	testenv.Receive(t, dialing, 10*time.Second, "the pub/sub dial")
	closed := make(chan struct{})
	go func() {
		tr.Do(sentinel.Command{Kind: sentinel.CmdClose, To: ref, Link: sentinel.LinkPubSub})
		close(closed)
	}()
	testenv.Receive(t, closed, 10*time.Second, "the close of a link dialing a host that never answers (the dial timeout is a minute)")
}
