package redislink

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// newTransport returns a Transport with a 2 s command timeout, closed at
// the end of the test.
func newTransport(t *testing.T) *Transport {
	t.Helper()
	return newTransportWith(t, Options{CommandTimeout: 2 * time.Second})
}

// newTransportWith returns New(opts), closed at the end of the test.
func newTransportWith(t *testing.T, opts Options) *Transport {
	t.Helper()
	tr := New(opts)
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

func refOf(s *redistest.Server, kind sentinel.Kind) sentinel.Ref {
	return sentinel.Ref{Master: "mymaster", Kind: kind, Addr: sentinel.Addr{Host: "127.0.0.1", Port: s.Port}}
}

// await reads inputs until match returns true, failing after 10 s. Inputs
// that do not match are skipped.
func await(t *testing.T, tr *Transport, what string, match func(sentinel.Input) bool) sentinel.Input {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case in := <-tr.Inputs():
			if testing.Verbose() {
				if _, ok := in.(sentinel.InfoReply); ok {
					t.Logf("input InfoReply")
				} else {
					t.Logf("input %T %+v", in, in)
				}
			}
			if match(in) {
				return in
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
}

// connectCmd asks tr for the command link to ref, with AUTH auth (none when
// nil), named sentinel-test-cmd.
func connectCmd(tr *Transport, ref sentinel.Ref, auth []string) {
	connect(tr, ref, sentinel.LinkCmd, auth)
}

// connectPubSub asks tr for the pub/sub link to ref, with AUTH auth (none
// when nil), named sentinel-test-pubsub and subscribed to the hello channel.
func connectPubSub(tr *Transport, ref sentinel.Ref, auth []string) {
	connect(tr, ref, sentinel.LinkPubSub, auth)
}

// connect asks tr for link l to ref with the set-up commands the core sends:
// AUTH auth when auth is not nil, CLIENT SETNAME, then PING (command link) or
// SUBSCRIBE to the hello channel (pub/sub link).
func connect(tr *Transport, ref sentinel.Ref, l sentinel.Link, auth []string) {
	name, last := "sentinel-test-cmd", []string{"PING"}
	if l == sentinel.LinkPubSub {
		name, last = "sentinel-test-pubsub", []string{"SUBSCRIBE", sentinel.HelloChannel}
	}
	cmds := [][]string{}
	if auth != nil {
		cmds = append(cmds, append([]string{"AUTH"}, auth...))
	}
	cmds = append(cmds, []string{"CLIENT", "SETNAME", name}, last)
	tr.Do(sentinel.Command{Kind: sentinel.CmdConnect, To: ref, Link: l, Cmds: cmds})
}

// is reports whether in is a T: the match for await of one input type.
func is[T sentinel.Input](in sentinel.Input) bool { _, ok := in.(T); return ok }

// either reports whether in is an A or a B.
func either[A, B sentinel.Input](in sentinel.Input) bool { return is[A](in) || is[B](in) }

// awaitType is await for the next input of type T.
func awaitType[T sentinel.Input](t *testing.T, tr *Transport, what string) T {
	t.Helper()
	return await(t, tr, what, is[T]).(T)
}

// awaitLinkKept is awaitType that fails t on a LinkDown first: for inputs
// the test expects while the link stays up.
func awaitLinkKept[T sentinel.Input](t *testing.T, tr *Transport, what string) T {
	t.Helper()
	return await(t, tr, what, func(in sentinel.Input) bool {
		if d, ok := in.(sentinel.LinkDown); ok {
			t.Fatalf("link down instead of %s: %+v", what, d)
		}
		return is[T](in)
	}).(T)
}

// awaitTo returns the first T or LinkDown addressed to ref: the answer to
// a command sent to ref, or the failure of the link that carried it.
func awaitTo[T sentinel.Input](t *testing.T, tr *Transport, what string, ref sentinel.Ref) sentinel.Input {
	t.Helper()
	return await(t, tr, what, func(in sentinel.Input) bool {
		if !either[T, sentinel.LinkDown](in) {
			return false
		}
		to, ok := addressee(in)
		return ok && to == ref
	})
}

// addressee returns the instance an input is about: its To field, which
// every input that names one has.
func addressee(in sentinel.Input) (sentinel.Ref, bool) {
	if v := reflect.ValueOf(in); v.Kind() == reflect.Struct {
		if f := v.FieldByName("To"); f.IsValid() {
			ref, ok := f.Interface().(sentinel.Ref)
			return ref, ok
		}
	}
	return sentinel.Ref{}, false
}

// connectUp connects link l to ref (with AUTH auth when not nil) and returns its
// LinkUp.
func connectUp(t *testing.T, tr *Transport, ref sentinel.Ref, l sentinel.Link, auth []string) sentinel.LinkUp {
	t.Helper()
	connect(tr, ref, l, auth)
	return linkUp(t, tr, l)
}

func linkUp(t *testing.T, tr *Transport, l sentinel.Link) sentinel.LinkUp {
	t.Helper()
	return await(t, tr, "link up", func(in sentinel.Input) bool {
		switch in := in.(type) {
		case sentinel.LinkUp:
			return in.Link == l
		case sentinel.LinkDown:
			t.Fatalf("link down instead of up: %+v", in)
		}
		return false
	}).(sentinel.LinkUp)
}

func TestPingInfoPublishHello(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTransport(t)
	ref := refOf(srv, sentinel.KindMaster)

	if up := connectUp(t, tr, ref, sentinel.LinkCmd, nil); up.LocalIP != "127.0.0.1" || up.To != ref {
		t.Fatalf("link up = %+v", up)
	}
	connectUp(t, tr, ref, sentinel.LinkPubSub, nil)
	if got := srv.CLI(t, "CLIENT", "LIST"); !strings.Contains(got, "name=sentinel-test-cmd") || !strings.Contains(got, "name=sentinel-test-pubsub") {
		t.Fatalf("set-up names not applied; CLIENT LIST:\n%s", got)
	}

	tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"PING"}}})
	pr := awaitType[sentinel.PingReply](t, tr, "ping reply")
	if pr.Status != "PONG" || pr.To != ref {
		t.Fatalf("ping reply = %+v", pr)
	}

	tr.Do(sentinel.Command{Kind: sentinel.CmdInfo, To: ref, Cmds: [][]string{{"INFO"}}})
	ir := awaitType[sentinel.InfoReply](t, tr, "info reply")
	if ir.Info == nil || ir.Info.Role != "master" || len(ir.Info.RunID) != 40 || !strings.Contains(ir.Raw, "# Replication") {
		t.Fatalf("info reply = %+v", ir.Info)
	}

	payload := fmt.Sprintf("127.0.0.1,26379,%s,7,mymaster,127.0.0.1,%d,3", strings.Repeat("a", 40), srv.Port)
	tr.Do(sentinel.Command{Kind: sentinel.CmdPublish, To: ref, Cmds: [][]string{{"PUBLISH", sentinel.HelloChannel, payload}}})
	// The hello may arrive before or after the PUBLISH reply.
	var gotPub, gotHello bool
	for !gotPub || !gotHello {
		in := await(t, tr, "publish reply and hello", either[sentinel.PublishReply, sentinel.Hello])
		switch in := in.(type) {
		case sentinel.PublishReply:
			if !in.OK {
				t.Fatalf("publish failed")
			}
			gotPub = true
		case sentinel.Hello:
			if in.Payload != payload || in.Via != ref {
				t.Fatalf("hello = %+v", in)
			}
			gotHello = true
		}
	}

	// An error reply to PING is reported with its code.
	tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"NOSUCHCMD"}}})
	pr = awaitType[sentinel.PingReply](t, tr, "ping error")
	if pr.Status != "ERR" {
		t.Fatalf("ping error status = %q", pr.Status)
	}
}

func TestLinkDownWhenInstanceDies(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTransport(t)
	ref := refOf(srv, sentinel.KindMaster)
	connectUp(t, tr, ref, sentinel.LinkCmd, nil)
	connectUp(t, tr, ref, sentinel.LinkPubSub, nil)

	srv.Kill()
	// The pub/sub link notices at once; the command link on its next command.
	if d := linkDown(t, tr, sentinel.LinkPubSub); d.AuthFailed {
		t.Fatalf("pubsub link down as an authentication failure: %+v", d)
	}
	tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"PING"}}})
	if d := linkDown(t, tr, sentinel.LinkCmd); d.AuthFailed {
		t.Fatalf("cmd link down as an authentication failure: %+v", d)
	}
	// Connecting to a dead instance fails with LinkDown.
	connectCmd(tr, ref, nil)
	linkDown(t, tr, sentinel.LinkCmd)
	// A transaction on a link that is not connected fails at once.
	tr.Do(sentinel.Command{ID: 9, Kind: sentinel.CmdTransaction, To: ref, Cmds: [][]string{{"MULTI"}, {"EXEC"}}})
	cd := awaitType[sentinel.CommandDone](t, tr, "command done")
	if cd.ID != 9 || cd.Err == "" {
		t.Fatalf("command done = %+v", cd)
	}
}

func TestCloseReportsNothing(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTransport(t)
	ref := refOf(srv, sentinel.KindMaster)
	connectUp(t, tr, ref, sentinel.LinkPubSub, nil)
	tr.Do(sentinel.Command{Kind: sentinel.CmdClose, To: ref, Link: sentinel.LinkPubSub})
	// The server sees the connection go away and nothing is reported.
	waitClosedQuietly(t, tr, srv, "sentinel-test-pubsub", "pub/sub connection closed after CmdClose")
}

func TestTransactionPromotesReplica(t *testing.T) {
	for _, renamed := range []bool{false, true} {
		t.Run(fmt.Sprintf("renamed=%v", renamed), func(t *testing.T) {
			var extra []string
			cfg, slaveof := "CONFIG", "SLAVEOF"
			if renamed {
				cfg, slaveof = "cfg-7f3a", "so-7f3a"
				extra = []string{"rename-command CONFIG " + cfg, "rename-command SLAVEOF " + slaveof}
			}
			master := redistest.Start(t, extra...)
			replica := redistest.Start(t, append(extra, fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))...)
			tr := newTransport(t)
			ref := refOf(replica, sentinel.KindReplica)
			connectUp(t, tr, ref, sentinel.LinkCmd, nil)

			if renamed {
				// The original names no longer exist: EXEC aborts and says why.
				tr.Do(sentinel.Command{ID: 1, Kind: sentinel.CmdTransaction, To: ref, Cmds: [][]string{
					{"MULTI"}, {"SLAVEOF", "NO", "ONE"}, {"CONFIG", "REWRITE"}, {"EXEC"}}})
				cd := awaitType[sentinel.CommandDone](t, tr, "aborted transaction")
				if !strings.Contains(cd.Err, "EXECABORT") || !strings.Contains(cd.Err, "SLAVEOF") {
					t.Fatalf("unrenamed transaction: %+v", cd)
				}
			}
			tr.Do(sentinel.Command{ID: 2, Kind: sentinel.CmdTransaction, To: ref, Cmds: [][]string{
				{"MULTI"}, {slaveof, "NO", "ONE"}, {cfg, "REWRITE"},
				{"CLIENT", "KILL", "TYPE", "normal"}, {"CLIENT", "KILL", "TYPE", "pubsub"}, {"EXEC"}}})
			cd := awaitType[sentinel.CommandDone](t, tr, "transaction")
			if cd.ID != 2 || cd.Err != "" {
				t.Fatalf("transaction: %+v", cd)
			}
			tr.Do(sentinel.Command{Kind: sentinel.CmdInfo, To: ref, Cmds: [][]string{{"INFO"}}})
			ir := awaitType[sentinel.InfoReply](t, tr, "info")
			if ir.Info.Role != "master" {
				t.Fatalf("replica not promoted: role %q", ir.Info.Role)
			}

			// And back: make it a replica of the old master again.
			tr.Do(sentinel.Command{ID: 3, Kind: sentinel.CmdTransaction, To: ref, Cmds: [][]string{
				{"MULTI"}, {slaveof, "127.0.0.1", fmt.Sprint(master.Port)}, {cfg, "REWRITE"}, {"EXEC"}}})
			cd = awaitType[sentinel.CommandDone](t, tr, "reconfigure")
			if cd.Err != "" {
				t.Fatalf("reconfigure: %+v", cd)
			}
			tr.Do(sentinel.Command{Kind: sentinel.CmdInfo, To: ref, Cmds: [][]string{{"INFO", "replication"}}})
			ir = awaitType[sentinel.InfoReply](t, tr, "info")
			if ir.Info.Role != "slave" || ir.Info.MasterPort != master.Port {
				t.Fatalf("not a replica again: %+v", ir.Info)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	srv := redistest.Start(t,
		"requirepass s3cret",
		"user sentinel on >sentpw allchannels +@all",
	)
	cases := []struct {
		name       string
		auth       []string
		authFailed bool
	}{
		{"password", []string{"s3cret"}, false},
		{"acl user", []string{"sentinel", "sentpw"}, false},
		{"wrong password", []string{"nope"}, true},
		{"wrong acl password", []string{"sentinel", "nope"}, true},
		{"no auth", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTransport(t)
			ref := refOf(srv, sentinel.KindMaster)
			for _, l := range []sentinel.Link{sentinel.LinkCmd, sentinel.LinkPubSub} {
				connect(tr, ref, l, tc.auth)
				in := await(t, tr, "link result", either[sentinel.LinkUp, sentinel.LinkDown])
				switch in := in.(type) {
				case sentinel.LinkUp:
					if tc.authFailed {
						t.Fatalf("link %d up despite bad credentials", l)
					}
				case sentinel.LinkDown:
					if !tc.authFailed || !in.AuthFailed {
						t.Fatalf("link %d: %+v", l, in)
					}
					if strings.Contains(in.Err, "nope") {
						t.Fatalf("error leaks the password: %q", in.Err)
					}
				}
			}
			if !tc.authFailed {
				tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"PING"}}})
				pr := awaitType[sentinel.PingReply](t, tr, "ping")
				if pr.Status != "PONG" {
					t.Fatalf("ping = %q", pr.Status)
				}
			}
		})
	}
}

func TestAskMasterDownAgainstRealSentinel(t *testing.T) {
	master := redistest.Start(t)
	sent := redistest.StartSentinel(t, fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 1", master.Port))
	addr := sentinel.Addr{Host: "127.0.0.1", Port: sent.Port}
	tr := newTransportWith(t, Options{CommandTimeout: 2 * time.Second, PeerAllowed: func(a sentinel.Addr) bool { return a == addr }})
	ref := sentinel.Ref{Master: "mymaster", Kind: sentinel.KindSentinel, Addr: addr, RunID: strings.TrimSpace(sent.CLI(t, "SENTINEL", "MYID"))}
	connectUp(t, tr, ref, sentinel.LinkCmd, nil)
	myid := strings.Repeat("b", 40)
	tr.Do(sentinel.Command{Kind: sentinel.CmdAskMasterDown, To: ref, Cmds: [][]string{
		{"SENTINEL", "is-master-down-by-addr", "127.0.0.1", fmt.Sprint(master.Port), "5", myid}}})
	r := awaitType[sentinel.IsDownReply](t, tr, "is-down reply")
	if !r.Valid || r.Down || r.Leader != myid || r.LeaderEpoch != 5 {
		t.Fatalf("is-down reply = %+v", r)
	}
	// PUBLISH to a sentinel accepts only the hello channel.
	tr.Do(sentinel.Command{Kind: sentinel.CmdPublish, To: ref, Cmds: [][]string{{"PUBLISH", "other", "x"}}})
	p := awaitType[sentinel.PublishReply](t, tr, "publish")
	if p.OK {
		t.Fatal("publish to a non-hello channel accepted")
	}
}

func TestQueueOverflowFailsLink(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTransportWith(t, Options{CommandTimeout: 2 * time.Second, MaxQueue: 2})
	ref := refOf(srv, sentinel.KindMaster)
	connectUp(t, tr, ref, sentinel.LinkCmd, nil)
	// Stop the server so commands pile up, then overflow the queue.
	if err := srv.Cmd.Process.Signal(stopSignal); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Cmd.Process.Signal(contSignal) }()
	for i := 0; i < 5; i++ {
		tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"PING"}}})
	}
	d := awaitType[sentinel.LinkDown](t, tr, "link down")
	if !strings.Contains(d.Err, "queued") {
		t.Fatalf("link down = %+v", d)
	}
}

// TestPingNotBehindPausedPublish: under CLIENT PAUSE WRITE (fencing) Redis
// holds a PUBLISH until the pause ends. A hello PUBLISH outstanding to a
// paused master must not delay the PINGs and INFOs that tell every agent
// the master is healthy.
func TestPingNotBehindPausedPublish(t *testing.T) {
	srv := redistest.Start(t, "requirepass s3cret")
	tr := newTransportWith(t, Options{CommandTimeout: 20 * time.Second})
	ref := refOf(srv, sentinel.KindMaster)
	connectUp(t, tr, ref, sentinel.LinkCmd, []string{"s3cret"})

	srv.CLI(t, "-a", "s3cret", "--no-auth-warning", "CLIENT", "PAUSE", "30000", "WRITE")
	unpaused := false
	unpause := func() {
		if !unpaused {
			unpaused = true
			srv.CLI(t, "-a", "s3cret", "--no-auth-warning", "CLIENT", "UNPAUSE")
		}
	}
	t.Cleanup(unpause)
	payload := fmt.Sprintf("127.0.0.1,26379,%s,7,mymaster,127.0.0.1,%d,3", strings.Repeat("a", 40), srv.Port)
	tr.Do(sentinel.Command{Kind: sentinel.CmdPublish, To: ref, Cmds: [][]string{{"PUBLISH", sentinel.HelloChannel, payload}}})
	// Wait until Redis holds the PUBLISH, so the PINGs really come after it.
	testenv.Until(t, 10*time.Second, "the PUBLISH held by the paused server", func() bool {
		return strings.Contains(srv.CLI(t, "-a", "s3cret", "--no-auth-warning", "CLIENT", "LIST"), "cmd=publish")
	})

	var worst time.Duration
	for i := range 20 {
		kind, cmd := sentinel.CmdPing, []string{"PING"}
		if i%5 == 4 {
			kind, cmd = sentinel.CmdInfo, []string{"INFO"}
		}
		start := time.Now()
		tr.Do(sentinel.Command{Kind: kind, To: ref, Cmds: [][]string{cmd}})
		in := await(t, tr, "ping or info reply", func(in sentinel.Input) bool {
			switch in := in.(type) {
			case sentinel.PingReply, sentinel.InfoReply:
				return true
			case sentinel.PublishReply:
				t.Fatalf("PUBLISH answered during the pause: %+v", in)
			case sentinel.LinkDown:
				t.Fatalf("link down during the pause: %+v", in)
			}
			return false
		})
		if pr, ok := in.(sentinel.PingReply); ok && pr.Status != "PONG" {
			t.Fatalf("ping reply during the pause: %+v", pr)
		}
		worst = max(worst, time.Since(start))
	}
	t.Logf("20 PING/INFO answered behind a paused PUBLISH; slowest %v", worst)

	// When the pause ends the hello goes out, on time for its own reply.
	unpause()
	p := awaitType[sentinel.PublishReply](t, tr, "publish reply")
	if !p.OK {
		t.Fatalf("publish after the pause: %+v", p)
	}
	// Both connections carry the set-up commands (authenticated, named).
	if got := srv.CLI(t, "-a", "s3cret", "--no-auth-warning", "CLIENT", "LIST"); strings.Count(got, "name=sentinel-test-cmd") != 2 {
		t.Fatalf("want the command and the publish connection, CLIENT LIST:\n%s", got)
	}
}

// TestPublishConnectionFailureKeepsLinkUp: a publish connection that fails
// answers its PUBLISH with OK false and is reopened by the next one; the
// command link is not reported down.
func TestPublishConnectionFailureKeepsLinkUp(t *testing.T) {
	srv := redistest.Start(t)
	tr := newTransportWith(t, Options{CommandTimeout: 300 * time.Millisecond})
	ref := refOf(srv, sentinel.KindMaster)
	connectUp(t, tr, ref, sentinel.LinkCmd, nil)
	srv.CLI(t, "CLIENT", "PAUSE", "2000", "WRITE")
	publish := sentinel.Command{Kind: sentinel.CmdPublish, To: ref, Cmds: [][]string{{"PUBLISH", sentinel.HelloChannel, "x"}}}
	tr.Do(publish)
	// The PUBLISH times out (CommandTimeout) while the pause lasts.
	p := awaitLinkKept[sentinel.PublishReply](t, tr, "publish reply")
	if p.OK {
		t.Fatal("publish under a 2 s pause succeeded within 300 ms")
	}
	srv.CLI(t, "CLIENT", "UNPAUSE")
	tr.Do(publish)
	p = awaitLinkKept[sentinel.PublishReply](t, tr, "publish reply")
	if !p.OK {
		t.Fatal("publish on a reopened connection failed")
	}
	tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"PING"}}})
	await(t, tr, "ping reply", is[sentinel.PingReply])
}
