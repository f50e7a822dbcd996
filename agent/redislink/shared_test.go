package redislink

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// countClients counts the server's connections named name.
func countClients(t *testing.T, srv *redistest.Server, name string) int {
	return strings.Count(srv.CLI(t, "CLIENT", "LIST"), "name="+name+" ")
}

// Two masters naming one server: a command connection each (their commands
// and PINGs stay their own), one shared subscription whose hellos reach
// each master through its own Ref.
func TestMastersSharingAServer(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTransport(t)
	a := refOf(srv, sentinel.KindMaster)
	b := a
	b.Master = "other"

	connectUp(t, tr, a, sentinel.LinkCmd, nil)
	connectUp(t, tr, b, sentinel.LinkCmd, nil)
	if n := countClients(t, srv, "sentinel-test-cmd"); n != 2 {
		t.Fatalf("%d command connections, want 2", n)
	}
	for _, ref := range []sentinel.Ref{a, b} {
		tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"PING"}}})
		pr := awaitType[sentinel.PingReply](t, tr, "ping reply")
		if pr.Status != "PONG" || pr.To != ref {
			t.Fatalf("ping reply = %+v, want PONG to %+v", pr, ref)
		}
	}

	if up := connectUp(t, tr, a, sentinel.LinkPubSub, nil); up.To != a {
		t.Fatalf("pub/sub up = %+v", up)
	}
	if up := connectUp(t, tr, b, sentinel.LinkPubSub, nil); up.To != b || up.LocalIP != "127.0.0.1" {
		t.Fatalf("pub/sub up = %+v", up)
	}
	if n := countClients(t, srv, "sentinel-test-pubsub"); n != 1 {
		t.Fatalf("%d pub/sub connections, want 1 shared", n)
	}
	hello := func(master string, want sentinel.Ref) {
		t.Helper()
		payload := fmt.Sprintf("127.0.0.1,26379,%s,7,%s,127.0.0.1,%d,3", strings.Repeat("a", 40), master, srv.Port)
		srv.CLI(t, "PUBLISH", sentinel.HelloChannel, payload)
		h := awaitType[sentinel.Hello](t, tr, "hello")
		if h.Payload != payload || h.Via != want {
			t.Fatalf("hello %+v, want via %+v", h, want)
		}
		select {
		case in := <-tr.Inputs():
			t.Fatalf("hello delivered twice: %+v", in)
		case <-time.After(100 * time.Millisecond):
		}
	}
	hello("mymaster", a)
	hello("other", b)
	hello("unknown", a) // any member

	// Closing one member keeps the subscription for the other.
	tr.Do(sentinel.Command{Kind: sentinel.CmdClose, To: a, Link: sentinel.LinkPubSub})
	hello("mymaster", b)
	if n := countClients(t, srv, "sentinel-test-pubsub"); n != 1 {
		t.Fatalf("%d pub/sub connections after one close, want 1", n)
	}
	// The server going away reaches every member.
	connectUp(t, tr, a, sentinel.LinkPubSub, nil)
	srv.Kill()
	down := map[sentinel.Ref]bool{}
	for len(down) < 2 {
		d := linkDown(t, tr, sentinel.LinkPubSub)
		down[d.To] = true
	}
	if !down[a] || !down[b] {
		t.Fatalf("link down for %v, want both masters", down)
	}
}

// The last member's close closes the shared connection.
func TestSharedSubscriptionClosesWithLastMember(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTransport(t)
	a := refOf(srv, sentinel.KindMaster)
	b := refOf(srv, sentinel.KindReplica)
	b.Master = "other"
	connectUp(t, tr, a, sentinel.LinkPubSub, nil)
	connectUp(t, tr, b, sentinel.LinkPubSub, nil)
	tr.Do(sentinel.Command{Kind: sentinel.CmdClose, To: a, Link: sentinel.LinkPubSub})
	tr.Do(sentinel.Command{Kind: sentinel.CmdClose, To: b, Link: sentinel.LinkPubSub})
	waitClosedQuietly(t, tr, srv, "sentinel-test-pubsub", "shared pub/sub connection closed after every member closed")
}

// waitClosedQuietly waits until srv has no client called name (failing,
// naming what it waited for, after 5 s), then checks that closing it
// reported nothing.
func waitClosedQuietly(t *testing.T, tr *Transport, srv *redistest.Server, name, what string) {
	t.Helper()
	testenv.Until(t, 5*time.Second, what, func() bool { return countClients(t, srv, name) == 0 })
	select {
	case in := <-tr.Inputs():
		t.Fatalf("unexpected input after close: %#v", in)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestHelloMaster(t *testing.T) {
	for p, want := range map[string]string{
		"1.2.3.4,26379,abc,7,mymaster,1.2.3.4,6379,3": "mymaster",
		"a,b,c,d,e":  "e",
		"a,b,c,d":    "",
		"":           "",
		"a,b,c,d,,f": "",
	} {
		if got := helloMaster(p); got != want {
			t.Errorf("helloMaster(%q) = %q, want %q", p, got, want)
		}
	}
}
