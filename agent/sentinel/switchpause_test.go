package sentinel

import (
	"strings"
	"testing"
	"time"
)

// The rules that shorten a planned switchover's write pause, one test
// each (design.md, "Forced failover without losing writes").

// infosTo counts the INFO commands to a among cmds.
func infosTo(cmds []Command, a Addr) int {
	n := 0
	for _, c := range cmds {
		if c.Kind == CmdInfo && c.To.Addr == a {
			n++
		}
	}
	return n
}

// TestCatchUpPolledEveryTick: while a forced failover waits for the
// replica to catch up (the master paused for writes), the replica's INFO
// is asked every tick, not every down-after/20; once the wait is over
// (here: aborted, the replica never catches up) it is back to the idle
// rate.
func TestCatchUpPolledEveryTick(t *testing.T) {
	h := newHarness(t, testConfig())
	lagging := func(r Ref) string {
		if r.Kind == KindMaster {
			return masterInfo(tRep1, tRep2)
		}
		return replicaInfo(tMaster, true, 100, 50, strings.Repeat(string(rune('b'+r.Addr.Port%5)), 40))
	}
	h.healthy(time.Second, lagging)
	h.takeCmds()
	if err := h.n.Failover(h.now, "mymaster"); err != nil {
		t.Fatal(err)
	}
	h.ready()
	m := h.n.masters["mymaster"]
	r := m.promoted
	h.drive(30*time.Millisecond, lagging, nil)
	if m.sync.phase != syncWaiting {
		t.Fatalf("phase %d, want waiting", m.sync.phase)
	}
	var sent []Command
	rec := func(c Command) bool { sent = append(sent, c); return false }
	h.drive(200*time.Millisecond, lagging, rec)
	if got := infosTo(sent, r.addr); got < 15 {
		t.Errorf("%d INFOs to the replica in 200 ms of the catch-up, want one per 10 ms tick", got)
	}
	h.drive(time.Second, lagging, nil) // the bound (500 ms) aborts
	if m.inst.flags&fFailoverInProgress != 0 {
		t.Fatalf("failover still running: %v", types(h.events))
	}
	sent = nil
	h.drive(time.Second, lagging, rec)
	if got := infosTo(sent, r.addr); got > 1 {
		t.Errorf("%d INFOs to the replica in 1 s after the catch-up ended, want the idle rate", got)
	}
}

// TestReplicaReconnectAsksInfo: a Redis that closed our connections (a
// promotion's or reconfiguration's CLIENT KILL TYPE normal) may have
// changed its role: its INFO is asked as soon as the command connection
// is back, without waiting for the pub/sub connection (reconnected a dial
// period later) or the replica's INFO period.
func TestReplicaReconnectAsksInfo(t *testing.T) {
	h := newHealthy(t)
	h.takeCmds()
	m := h.n.masters["mymaster"]
	r := h.n.findReplica(m, tRep1)
	h.step(LinkDown{To: r.link.ref, Link: LinkCmd, Err: "killed"})
	h.now += time.Millisecond
	h.step(Tick{})
	h.step(LinkDown{To: r.link.ref, Link: LinkPubSub, Err: "killed"})
	var connects int
	for _, c := range h.takeCmds() {
		if c.Kind == CmdConnect && c.To.Addr == tRep1 {
			connects++
			if c.Link == LinkCmd {
				h.step(LinkUp{To: c.To, Link: c.Link, LocalIP: "198.18.0.1"})
			}
		}
	}
	if connects != 1 {
		t.Fatalf("%d connects to the replica, want the command connection's", connects)
	}
	if got := infosTo(h.takeCmds(), tRep1); got != 1 {
		t.Errorf("%d INFOs to the replica when its command connection came back, want 1", got)
	}
}
