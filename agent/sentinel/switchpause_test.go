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
	h, m, r := catchingUp(t)
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

// switchedToLocal returns a fenced Node on tRep1's host, two peer agents
// known, after a verified peer's hello moved the master to tRep1, with
// tRep1 answering as a master: the new master's host of a switchover.
func switchedToLocal(t *testing.T) (*harness, *master, []*instance) {
	t.Helper()
	cfg := testConfig()
	cfg.LocalIPs = []string{tRep1.Host}
	cfg.Masters[0].HasVIP = true
	cfg.Masters[0].Fence = true
	h := newHarness(t, cfg)
	ps := h.peers(2)
	m := h.n.masters["mymaster"]
	h.serve(500*time.Millisecond, std(defaultInfo))
	h.confirmHold(m, ps)
	h.serve(200*time.Millisecond, std(defaultInfo))
	info := func(r Ref) string {
		if r.Addr == tRep1 {
			return masterInfo(tRep2, tMaster)
		}
		return replicaInfo(tRep1, true, 100, 100, strings.Repeat(string(rune('b'+r.Addr.Port%5)), 40))
	}
	h.step(direct(ps[0].addr.Host, HelloMsg{Addr: ps[0].addr, RunID: ps[0].runid, CurrentEpoch: h.n.CurrentEpoch() + 1,
		Master: "mymaster", MasterAddr: tRep1, ConfigEpoch: m.configEpoch + 1}))
	if m.inst.addr != tRep1 {
		t.Fatalf("master at %v after the switch", m.inst.addr)
	}
	refuse := func(c Command) Input {
		if c.Kind == CmdAskMasterDown && c.Cmds[0][4] == "0" {
			return IsDownReply{To: c.To, Valid: true, Leader: "*"}
		}
		return std(info)(c)
	}
	h.serve(300*time.Millisecond, refuse)
	return h, m, ps
}

// TestGrantToClaimIsUrgent: a calm Node that wants a VIP it does not hold
// yet runs its pass on the grant that makes the majority, not at the next
// tick; a renewal while it holds the VIP stays routine.
func TestGrantToClaimIsUrgent(t *testing.T) {
	h, m, ps := switchedToLocal(t)
	if m.vip.Own || !strings.Contains(m.vip.Reason, "granted") {
		t.Fatalf("VIP %v before any grant: %s", m.vip.Own, m.vip.Reason)
	}
	h.now += time.Millisecond
	h.step(Tick{})
	h.takeCmds()
	if !h.n.calm {
		t.Fatalf("Node not calm while it waits for grants: the test proves nothing")
	}
	tok := h.n.leaseToken(m)
	h.now += time.Millisecond
	if !h.n.Receive(h.now, IsDownReply{To: h.n.cmdRef(ps[0]), Valid: true, Leader: tok}) {
		t.Fatalf("the grant that completes a majority waits for the next tick")
	}
	h.step(Tick{})
	if !m.vip.Own {
		t.Fatalf("VIP not claimed with a majority of grants: %s", m.vip.Reason)
	}
	if h.n.calm && h.n.Receive(h.now, IsDownReply{To: h.n.cmdRef(ps[0]), Valid: true, Leader: h.n.leaseToken(m)}) {
		t.Errorf("a renewal of a held lease is urgent")
	}
}

// promotedByUs puts m in reconf_slaves of a failover we lead that promoted
// tRep1 (role:master seen).
func promotedByUs(h *harness, m *master) {
	r := h.n.findReplica(m, tRep1)
	r.flags |= fPromoted
	m.promoted = r
	m.inst.flags |= fFailoverInProgress
	m.failoverState = stateReconfSlaves
}

// TestPromotedGrantBlocksVotes: the leader's grant of the promoted
// replica's address (TestGrantRules) binds it against votes to depose the
// master record, which still names the old address until the switch.
func TestPromotedGrantBlocksVotes(t *testing.T) {
	h := newHarness(t, testConfig())
	h.healthy(300*time.Millisecond, defaultInfo)
	m := h.n.masters["mymaster"]
	promotedByUs(h, m)
	if _, l, _ := h.n.IsMasterDownByAddr(h.now, tRep1.Host, tRep1.Port, 0, leaseReq); l != leaseReq {
		t.Fatalf("no grant of the promoted address: %q", l)
	}
	h.ready()
	cand := strings.Repeat("c", 40)
	h.verifiedPeer("198.18.0.7", cand)
	ep := h.n.CurrentEpoch() + 1
	if _, l, e := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, ep, cand); l == cand || e == ep {
		t.Errorf("voted %s/%d while bound to the promoted address", l, e)
	}
}

// TestVoterPollsLocalReplica: an agent that voted for a peer's failover
// asks the replicas on its own host for INFO at the fast rate until the
// new configuration reaches it (so the switch carries the promoted
// replica's role:master), and no other replica; before the vote and after
// the switch, the idle rate.
func TestVoterPollsLocalReplica(t *testing.T) {
	cfg := testConfig()
	cfg.LocalIPs = []string{tRep1.Host}
	h := newHarness(t, cfg)
	h.healthy(time.Second, defaultInfo)
	m := h.n.masters["mymaster"]
	var sent []Command
	rec := func(c Command) bool { sent = append(sent, c); return false }
	count := func(d time.Duration) (local, other int) {
		sent = nil
		h.drive(d, defaultInfo, rec)
		return infosTo(sent, tRep1), infosTo(sent, tRep2)
	}
	if l, o := count(300 * time.Millisecond); l > 1 || o > 1 {
		t.Fatalf("idle: %d INFOs to the local replica, %d to the other in 300 ms", l, o)
	}
	cand := strings.Repeat("c", 40)
	p := h.verifiedPeer("198.18.0.7", cand)
	ep := h.n.CurrentEpoch() + 1
	if _, l, _ := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, ep, cand); l != cand {
		t.Fatalf("no vote for %s: %s", cand, l)
	}
	h.ready()
	l, o := count(300 * time.Millisecond)
	if want := int(300 * time.Millisecond / h.n.fastInfoPeriod(m)); l < want-1 {
		t.Errorf("after the vote: %d INFOs to the local replica in 300 ms, want about %d", l, want)
	}
	if o > 1 {
		t.Errorf("after the vote: %d INFOs to a replica on another host", o)
	}
	// The leader promoted the other replica: the switch ends the fast
	// rate.
	h.step(direct(p.addr.Host, HelloMsg{Addr: p.addr, RunID: cand, CurrentEpoch: ep,
		Master: "mymaster", MasterAddr: tRep2, ConfigEpoch: ep}))
	if m.inst.addr != tRep2 {
		t.Fatalf("no switch: master at %v", m.inst.addr)
	}
	h.drive(100*time.Millisecond, defaultInfo, nil)
	if l, _ := count(300 * time.Millisecond); l > 1 {
		t.Errorf("after the switch: %d INFOs to the local replica in 300 ms", l)
	}
}
