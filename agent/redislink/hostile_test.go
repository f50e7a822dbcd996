package redislink

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/resp"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// fakeServer is a TCP server on 127.0.0.1 that answers "+OK" to every
// request (an error to HELLO), except the requests named in hostile, which it answers with the
// given raw bytes. It stands in for a hostile peer or a fake Redis
// announced in a forged hello.
type fakeServer struct {
	ln      net.Listener
	hostile map[string]string // upper-case command name -> raw reply
}

func startFake(t *testing.T, hostile map[string]string) *fakeServer {
	t.Helper()
	ln := testenv.Listen(t)
	s := &fakeServer{ln: ln, hostile: hostile}
	testenv.Serve(t, ln, s.serve)
	return s
}

// fakeRunID is the run id the fake announces and proves (open mode: the
// Transport has no secret), so that its links get past the peer proof and
// meet the hostile replies.
var fakeRunID = strings.Repeat("f", 40)

func (s *fakeServer) ref() sentinel.Ref {
	return sentinel.Ref{Master: "mymaster", Kind: sentinel.KindSentinel, RunID: fakeRunID,
		Addr: sentinel.Addr{Host: "127.0.0.1", Port: s.ln.Addr().(*net.TCPAddr).Port}}
}

// serve answers the requests on c.
func (s *fakeServer) serve(c net.Conn) {
	rd := resp.NewReader(c)
	for {
		args, err := rd.ReadRequest(resp.Authenticated)
		if err != nil || len(args) == 0 {
			return
		}
		name := strings.ToUpper(string(args[0]))
		reply, ok := s.hostile[name]
		switch {
		case ok:
		case name == "VIPSENTINEL":
			reply = "*2\r\n$40\r\n" + fakeRunID + "\r\n$0\r\n\r\n"
		case name == "HELLO":
			// As a server older than Redis 6; go-redis then
			// carries on in RESP2.
			reply = "-ERR unknown command 'HELLO'\r\n"
		default:
			reply = "+OK\r\n"
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
}

func linkDown(t *testing.T, tr *Transport, l sentinel.Link) sentinel.LinkDown {
	t.Helper()
	return await(t, tr, "link down", func(in sentinel.Input) bool {
		d, ok := in.(sentinel.LinkDown)
		return ok && d.Link == l
	}).(sentinel.LinkDown)
}

// TestHostileRepliesCloseOnlyTheirLink: a peer answering with huge declared
// lengths, deep nesting or garbage costs its link (LinkDown naming the
// problem, a log line, a count) and nothing else: the process survives and a
// good server works afterwards on the same Transport.
func TestHostileRepliesCloseOnlyTheirLink(t *testing.T) {
	good := redistest.Start(t)
	cases := []struct{ name, reply, want string }{
		{"huge bulk length", "$9223372036854775806\r\n", "bulk length over"},
		{"huge array", "*99999999999\r\n", "aggregate over"},
		{"huge map", "%99999999999\r\n", "aggregate over"},
		{"deep nesting", strings.Repeat("*1\r\n", 100000), "nested deeper"},
		{"garbage", "HTTP/1.1 400 Bad Request\r\n\r\n", "invalid reply type byte"},
		{"endless line", "+" + strings.Repeat("A", 1<<20), "line longer"},
		{"bulk without CRLF", "$3\r\nabcdef", "not followed by CRLF"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs testenv.Buffer
			tr := newTransportWith(t, Options{CommandTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})

			// Every command the core sends a peer on the command link.
			for _, cmd := range []string{"PING", "PUBLISH", "SENTINEL"} {
				fake := startFake(t, map[string]string{cmd: tc.reply})
				ref := fake.ref()
				tr.Do(sentinel.Command{Kind: sentinel.CmdConnect, To: ref, Link: sentinel.LinkCmd,
					Cmds: [][]string{{"CLIENT", "SETNAME", "sentinel-test-cmd"}}})
				linkUp(t, tr, sentinel.LinkCmd)
				c := sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"PING"}}}
				switch cmd {
				case "PUBLISH":
					c = sentinel.Command{Kind: sentinel.CmdPublish, To: ref, Cmds: [][]string{{"PUBLISH", sentinel.HelloChannel, "x"}}}
				case "SENTINEL":
					c = sentinel.Command{Kind: sentinel.CmdAskMasterDown, To: ref, Cmds: [][]string{{"SENTINEL", "is-master-down-by-addr", "127.0.0.1", "6379", "1", "*"}}}
				}
				start := time.Now()
				tr.Do(c)
				d := linkDown(t, tr, sentinel.LinkCmd)
				t.Logf("%s answered with %s: link down after %v", cmd, tc.name, time.Since(start).Round(time.Microsecond))
				if !strings.Contains(d.Err, "refused reply") || !strings.Contains(d.Err, tc.want) || d.To != ref {
					t.Fatalf("link down = %+v, want an error containing %q", d, tc.want)
				}
			}
			if n := tr.Stats().BadReplies; n != 3 {
				t.Fatalf("BadReplies = %d, want 3", n)
			}
			if got := logs.String(); strings.Count(got, "refused a reply; closing the link") != 3 || !strings.Contains(got, "kind=sentinel") {
				t.Fatalf("log:\n%.2000s", got)
			}

			// The pub/sub link of a (fake) Redis: SUBSCRIBE answered with it.
			fake := startFake(t, map[string]string{"SUBSCRIBE": tc.reply})
			ref := fake.ref()
			ref.Kind = sentinel.KindMaster
			connectPubSub(tr, ref, nil)
			if d := linkDown(t, tr, sentinel.LinkPubSub); !strings.Contains(d.Err, tc.want) {
				t.Fatalf("pub/sub link down = %+v", d)
			}

			// A good server on the same Transport still works.
			gref := refOf(good, sentinel.KindMaster)
			connectUp(t, tr, gref, sentinel.LinkCmd, nil)
			tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: gref, Cmds: [][]string{{"PING"}}})
			pr := awaitType[sentinel.PingReply](t, tr, "ping reply")
			if pr.Status != "PONG" {
				t.Fatalf("good server: %+v", pr)
			}
		})
	}
}

// TestPanicInLinkGoroutineClosesOnlyThatLink injects a panic into a link
// goroutine: the command being run is answered, the link reports LinkDown
// with the panic, the panic is logged with its stack and counted, and the
// other links keep working.
func TestPanicInLinkGoroutineClosesOnlyThatLink(t *testing.T) {
	srv := redistest.Start(t)
	other := redistest.Start(t)
	var logs testenv.Buffer
	tr := newTransportWith(t, Options{CommandTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ref, oref := refOf(srv, sentinel.KindMaster), refOf(other, sentinel.KindMaster)
	tr.beforeExec = func(c sentinel.Command) {
		if c.To == ref && c.Kind == sentinel.CmdOther {
			panic("injected panic")
		}
	}
	connectUp(t, tr, ref, sentinel.LinkCmd, nil)
	connectUp(t, tr, oref, sentinel.LinkCmd, nil)

	tr.Do(sentinel.Command{ID: 7, Kind: sentinel.CmdOther, To: ref, Cmds: [][]string{{"CLIENT", "PAUSE", "1", "WRITE"}}})
	cd := awaitType[sentinel.CommandDone](t, tr, "command done")
	if cd.ID != 7 || !strings.Contains(cd.Err, "panic") {
		t.Fatalf("command done = %+v", cd)
	}
	d := linkDown(t, tr, sentinel.LinkCmd)
	if d.To != ref || !strings.Contains(d.Err, "panic: injected panic") {
		t.Fatalf("link down = %+v", d)
	}
	if n := tr.Stats().Panics; n != 1 {
		t.Fatalf("Panics = %d, want 1", n)
	}
	if got := logs.String(); !strings.Contains(got, "link goroutine panicked") || !strings.Contains(got, "hostile_test.go") {
		t.Fatalf("panic not logged with its stack:\n%.3000s", got)
	}

	tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: oref, Cmds: [][]string{{"PING"}}})
	pr := awaitType[sentinel.PingReply](t, tr, "ping reply")
	if pr.To != oref || pr.Status != "PONG" {
		t.Fatalf("other link: %+v", pr)
	}
	// The panicking link can be connected again.
	connectUp(t, tr, ref, sentinel.LinkCmd, nil)
}

// TestHostileServerLogsOnce: a server that answers every reconnect with a
// hostile reply is counted every time but logged once per interval, so it
// cannot flood the journal.
func TestHostileServerLogsOnce(t *testing.T) {
	var logs testenv.Buffer
	tr := newTransportWith(t, Options{CommandTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	fake := startFake(t, map[string]string{"CLIENT": "*99999999999\r\n"})
	for i := range 5 {
		connectCmd(tr, fake.ref(), nil)
		if d := linkDown(t, tr, sentinel.LinkCmd); !strings.Contains(d.Err, "aggregate over") {
			t.Fatalf("connect %d: %+v", i, d)
		}
	}
	if n := tr.Stats().BadReplies; n != 5 {
		t.Fatalf("BadReplies = %d, want 5", n)
	}
	if got := strings.Count(logs.String(), "refused a reply"); got != 1 {
		t.Fatalf("%d log lines for 5 refused replies from one server, want 1:\n%s", got, logs.String())
	}
}
