package sim

import (
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// A healthy master paused for writes (CLIENT PAUSE WRITE, longer than
// down-after) is not failed over: Redis still answers PING and INFO, and
// the agents send their hello PUBLISHes, which the pause blocks, on a
// connection of their own. With the hellos on the command link (the runtime
// before issue 13) the PINGs queue behind a blocked PUBLISH and the peers
// fail the healthy master over; the contrast case shows that the simulator
// catches that.
func TestPausedMasterNotFailedOver(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "separate-publish-link"
		if shared {
			name = "shared-link"
		}
		t.Run(name, func(t *testing.T) {
			o := calm(31, 3)
			o.SharedPublishLink = shared
			pauseAt, pauseFor := o.Warmup+time.Second, 4*o.DownAfter
			var sdown []string
			w, res := scenario(t, o, func(w *world) {
				w.at(pauseAt, func() { w.redis[0].pause(pauseFor, "operator") })
				w.onEvent = func(a *agent, ev sentinel.Event) {
					if ev.Type == "+sdown" && w.now >= pauseAt && w.now < pauseAt+pauseFor+o.DownAfter {
						sdown = append(sdown, a.name+" "+ev.Payload)
					}
				}
			})
			if res.Err != nil {
				failWithTail(t, res, "violation: %v", res.Err)
				return
			}
			t.Logf("paused %v at %v: failovers %d, +sdown during the pause %q, writes acked %d lost %d",
				pauseFor, pauseAt, res.Failovers, sdown, res.WritesAcked, res.WritesLost)
			if shared {
				if res.Failovers == 0 || len(sdown) == 0 {
					failWithTail(t, res, "with PUBLISH on the command link the paused master should look down and be failed over")
				}
				return
			}
			if res.Failovers != 0 || len(sdown) != 0 {
				failWithTail(t, res, "paused master failed over %d times, +sdown %q", res.Failovers, sdown)
			}
			if r0 := w.redis[0]; r0.role != roleMaster {
				failWithTail(t, res, "r0 ended as %s", r0.role)
			}
		})
	}
}

// CLIENT PAUSE WRITE holds a PUBLISH and everything behind it on the same
// connection until the pause ends; PING and INFO on another connection are
// answered at once.
func TestPauseBlocksPublishInOrder(t *testing.T) {
	o := calm(32, 3)
	w, err := newWorld(o)
	if err != nil {
		t.Fatal(err)
	}
	r := w.redis[0]
	var got []string
	dial := func() *conn {
		c := &conn{w: w, owner: w.agents[1], svc: svcRedis, target: 0}
		c.req, c.rep = newStream(w, c, 1, 0), newStream(w, c, 0, 1)
		r.attach(c)
		return c
	}
	shared, other := dial(), dial()
	send := func(c *conn, kind sentinel.CmdKind, label string, argv ...string) {
		cmd := sentinel.Command{Kind: kind, To: sentinel.Ref{Kind: sentinel.KindMaster, Addr: r.addr}, Cmds: [][]string{argv}}
		if len(c.held) > 0 || r.blocks(cmd) {
			r.hold(c, cmd)
			got = append(got, label+" held")
			return
		}
		if in := w.redisReply(r, c, cmd); in != nil {
			got = append(got, label+" answered")
		}
	}
	r.pause(time.Second, "test")
	send(shared, sentinel.CmdPublish, "publish", "PUBLISH", sentinel.HelloChannel, "x")
	send(shared, sentinel.CmdPing, "ping-behind", "PING")
	send(other, sentinel.CmdPing, "ping-other", "PING")
	send(other, sentinel.CmdInfo, "info-other", "INFO")
	want := []string{"publish held", "ping-behind held", "ping-other answered", "info-other answered"}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if len(shared.held) != 2 || shared.held[0].Kind != sentinel.CmdPublish || shared.held[1].Kind != sentinel.CmdPing {
		t.Fatalf("held %v", shared.held)
	}
	w.now += time.Second
	r.release()
	if len(shared.held) != 0 || len(r.held) != 0 {
		t.Errorf("after the pause: %d held on the connection, %d connections held", len(shared.held), len(r.held))
	}
}
