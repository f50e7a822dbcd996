package sentinel

import (
	"testing"
	"time"
)

// TestLeases: the lease a holder hands over ends when its majority of
// grants, counted from the requests' send times, stops being one; nothing
// is handed over before the VIP is held or once the grants lapsed.
func TestLeases(t *testing.T) {
	h := newFencedHolder(t)
	n := h.n
	h.step(Tick{})
	ps := h.peers(4) // five agents: a majority is us and two peers
	m := n.masters["mymaster"]
	refuse := func(c Command) Input {
		if c.Kind == CmdAskMasterDown && c.Cmds[0][4] == "0" {
			return IsDownReply{To: c.To, Valid: true, Leader: "*"}
		}
		return std(defaultInfo)(c)
	}
	h.serve(500*time.Millisecond, refuse)
	h.confirmHold(m, ps)
	h.serve(100*time.Millisecond, refuse)
	if got := n.Leases(); len(got) != 0 {
		t.Fatalf("leases %+v before any grant", got)
	}
	// Grants sent at t0 (peer 0), t0+30ms (peer 1) and t0+60ms (peer 2):
	// the second freshest (peer 1) bounds the majority.
	lease := n.lease(m)
	var sent []Time
	for i := 0; i < 3; i++ {
		sent = append(sent, n.now)
		tok := n.leaseToken(m)
		h.now += 30 * time.Millisecond
		h.step(IsDownReply{To: n.cmdRef(ps[i]), Valid: true, Leader: tok})
	}
	if !m.vip.Own {
		t.Fatalf("VIP not held with three grants: %s", m.vip.Reason)
	}
	got := n.Leases()
	if len(got) != 1 {
		t.Fatalf("leases %+v, want one", got)
	}
	if l := got[0]; l.Master != "mymaster" || !n.sameAddr(l.Addr, tMaster) || l.Until != sent[1]+lease+n.origin || l.Length != lease || l.Epoch != m.configEpoch {
		t.Errorf("lease %+v, want mymaster %v until %v", l, tMaster, sent[1]+lease+n.origin)
	}
	// Every grant binds its giver for at least that long.
	if until := got[0].Until - n.origin; until > sent[1]+n.grantLen(m) {
		t.Errorf("lease until %v outlives the grants (%v)", until, sent[1]+n.grantLen(m))
	}
	// Once the second freshest grant lapses, no lease is left to hand over.
	h.now = sent[1] + lease + time.Millisecond
	h.step(Tick{})
	if got := n.Leases(); len(got) != 0 {
		t.Errorf("leases %+v after the majority of grants lapsed (own %v: %s)", got, m.vip.Own, m.vip.Reason)
	}
}

// TestLeasesUnfenced: a VIP held without fencing has no lease to hand over.
func TestLeasesUnfenced(t *testing.T) {
	h := newFencedHolder(t)
	h.n.masters["mymaster"].cfg.Fence = false
	h.step(Tick{})
	h.peers(2)
	h.serve(time.Second, std(defaultInfo))
	m := h.n.masters["mymaster"]
	if !m.vip.Own {
		t.Fatalf("unfenced VIP not held: %s", m.vip.Reason)
	}
	if got := h.n.Leases(); len(got) != 0 {
		t.Errorf("leases %+v without fencing", got)
	}
}

// TestInheritLease: a successor that inherited its predecessor's lease
// wants the VIP as soon as its master reports role:master, without the
// confirmation a start needs, while it asks for grants of its own; when
// the inherited lease ends without them it gives the VIP up and pauses
// the master it held it for.
func TestInheritLease(t *testing.T) {
	h := newFencedHolder(t)
	n := h.n
	until := h.now + 500*time.Millisecond
	if n.InheritLease(h.now, "nosuch", tMaster, until) {
		t.Error("inherited a lease for an unknown master")
	}
	if !n.InheritLease(h.now, "mymaster", tMaster, until) {
		t.Fatal("lease not inherited")
	}
	h.step(Tick{})
	ps := h.peers(2)
	m := n.masters["mymaster"]
	asked := 0
	refuse := func(c Command) Input {
		if c.Kind == CmdAskMasterDown && c.Cmds[0][4] == "0" {
			asked++
			return IsDownReply{To: c.To, Valid: true, Leader: "*"}
		}
		return std(defaultInfo)(c)
	}
	h.serve(100*time.Millisecond, refuse)
	if !m.vip.Own || m.fenceHold != holdOff {
		t.Fatalf("own %v, hold %s on the inherited lease: %s", m.vip.Own, m.fenceHold, m.vip.Reason)
	}
	if asked == 0 {
		t.Error("no grant asked for while holding the inherited lease")
	}
	h.serve(until-h.now+10*time.Millisecond, refuse)
	if m.vip.Own {
		t.Errorf("VIP still wanted after the inherited lease ended without grants: %s", m.vip.Reason)
	}
	if !m.fenced {
		t.Error("the master the VIP was held for is not paused once the lease ended")
	}
	_ = ps
}

// TestInheritLeaseOtherAddress: a lease inherited for an address that is
// no longer the master's counts for nothing.
func TestInheritLeaseOtherAddress(t *testing.T) {
	h := newFencedHolder(t)
	n := h.n
	n.InheritLease(h.now, "mymaster", tRep1, h.now+time.Second)
	h.step(Tick{})
	h.peers(2)
	h.serve(200*time.Millisecond, std(defaultInfo))
	if m := n.masters["mymaster"]; m.vip.Own {
		t.Errorf("VIP wanted on a lease inherited for %v: %s", tRep1, m.vip.Reason)
	}
}
