package sentinel

import (
	"slices"
	"testing"
	"time"
)

// TestMustLeasePause: a holder that asks pauses its master when no
// majority granted within renewWindow while the lease still runs, and
// never otherwise (the fence covers the rest; a stall is not a lapse).
func TestMustLeasePause(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    fenceView
		want bool
	}{
		{"holder, answered", armedView(), false},
		{"holder, answers stopped for two rounds", with(func(v *fenceView) { v.recent = false }), true},
		{"holder, just after a stall of our own", with(func(v *fenceView) { v.recent, v.steady = false, false }), false},
		{"never held", with(func(v *fenceView) { v.recent, v.held = false, false }), false},
		{"holder, lease lapsed (the fence's business)", with(func(v *fenceView) { v.recent, v.leased = false, false }), false},
		{"holder, not asking: master slow", with(func(v *fenceView) { v.recent, v.prompt = false, false }), false},
		{"holder, TILT", with(func(v *fenceView) { v.recent, v.tilt = false, true }), false},
		{"holder, role:slave", with(func(v *fenceView) { v.recent, v.master = false, false }), false},
		{"holder, group incomplete (one agent not up yet)", with(func(v *fenceView) { v.recent, v.reach = false, v.known-1 }), false},
	} {
		if got := mustLeasePause(tc.v); got != tc.want {
			t.Errorf("%s: lease pause %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestLeaseRequestsPing: while a holder asks its peers for grants, the
// requests are its only traffic to them (no PING), on slots of half the
// ping period; their replies keep the peers' links answered as PONGs do.
func TestLeaseRequestsPing(t *testing.T) {
	h, m, ps := holdingVIP(t, time.Second)
	n := h.n
	period := n.leaseRequestPeriod(m, true)
	if want := n.pingPeriod(m) / 2; period != want {
		t.Fatalf("request period %v, want %v", period, want)
	}
	pings, reqs := 0, 0
	isPeer := func(c Command) bool { return c.To.Kind == KindSentinel }
	for end := h.now + 2*time.Second; h.now < end; {
		h.now += 10 * time.Millisecond
		h.step(Tick{})
		for _, c := range h.takeCmds() {
			switch {
			case c.Kind == CmdPing && isPeer(c):
				pings++
			case c.Kind == CmdAskMasterDown && isPeer(c):
				reqs++
			}
			if in := std(defaultInfo)(c); in != nil {
				h.step(in)
			}
		}
	}
	if pings != 0 {
		t.Errorf("%d PINGs to the peers in 2 s while asking them for grants", pings)
	}
	if want := int(2*time.Second/period) * len(ps); reqs < want*9/10 || reqs > want+len(ps) {
		t.Errorf("%d lease requests in 2 s, want about %d", reqs, want)
	}
	for _, p := range ps {
		if p.link.actPing != never || n.now-p.link.lastAvail > period+20*time.Millisecond {
			t.Errorf("peer %s: oldest unanswered ping %v, last answer %v ago", p.name, p.link.actPing, n.now-p.link.lastAvail)
		}
		if p.flags&fSDown != 0 {
			t.Errorf("peer %s SDOWN", p.name)
		}
	}
}

// TestLeasePause: a holder whose peers stop answering pauses its master
// after renewWindow without dropping the VIP, lifts the pause when the
// grants come back, and falls to the fence if they do not come back
// within the lease.
func TestLeasePause(t *testing.T) {
	h, m, _ := holdingVIP(t, time.Second)
	n := h.n
	h.takeEvents()
	cut := func(c Command) Input {
		if c.To.Kind == KindSentinel {
			return nil // the peers never answer
		}
		return std(defaultInfo)(c)
	}
	paused := func(cmds []Command, verb string) bool {
		return hasCmd(cmds, func(c Command) bool {
			return c.Kind == CmdOther && len(c.Cmds[0]) >= 2 && c.Cmds[0][0] == "CLIENT" && c.Cmds[0][1] == verb
		})
	}
	// Cut: serve in ticks, noting when the pause goes out.
	cutAt := h.now
	var pausedAt Time = never
	for h.now-cutAt < n.lease(m)-20*time.Millisecond && pausedAt == never {
		h.now += 10 * time.Millisecond
		h.step(Tick{})
		cmds := h.takeCmds()
		if paused(cmds, "PAUSE") {
			pausedAt = h.now
		}
		for _, c := range cmds {
			if in := cut(c); in != nil {
				h.step(in)
			}
		}
	}
	if pausedAt == never {
		t.Fatalf("no pause within the lease after the peers stopped answering")
	}
	if d := pausedAt - cutAt; d > n.renewWindow(m)+20*time.Millisecond {
		t.Errorf("paused %v after the cut, want within renewWindow %v", d, n.renewWindow(m))
	}
	if !m.vip.Own || m.fenced {
		t.Errorf("lease pause dropped the VIP (own %v) or fenced (%v)", m.vip.Own, m.fenced)
	}
	if !slices.Contains(types(h.takeEvents()), "+lease-pause") {
		t.Error("no +lease-pause event")
	}
	// The peers answer again: the pause is lifted.
	h.serve(100*time.Millisecond, std(defaultInfo))
	if m.lapsing || !m.vip.Own {
		t.Fatalf("grants are back but lapsing %v, own %v", m.lapsing, m.vip.Own)
	}
	evs := types(h.takeEvents())
	if !slices.Contains(evs, "-lease-pause") || slices.Contains(evs, "+fence") {
		t.Errorf("events %v, want -lease-pause and no fence", evs)
	}
	// Cut for good: the fence takes over at the end of the lease.
	h.serve(2*n.lease(m), cut)
	if !m.fenced || m.vip.Own {
		t.Errorf("a lease after the cut: fenced %v, own %v", m.fenced, m.vip.Own)
	}
}

// TestLeasePauseLearnsStalls: under packet loss a peer's link stalls for
// a TCP retransmission timeout now and then, and both peers' at once
// often enough. The first such stall pauses the holder's master as a cut
// would; once a stall was seen, renewWindow covers the next ones, which
// pause nothing, while a real cut is still paused before the lease ends,
// and the window returns to its short self when the link stays clean.
func TestLeasePauseLearnsStalls(t *testing.T) {
	h, m, _ := holdingVIP(t, time.Second)
	n := h.n
	base := n.renewWindow(m)
	if r := n.leaseRequestPeriod(m, true); base != 2*r+r/2 {
		t.Fatalf("window on a clean link %v, want %v", base, 2*r+r/2)
	}
	const stall = 200 * time.Millisecond // Linux's minimum retransmission timeout
	cut := func(c Command) Input {
		if c.To.Kind == KindSentinel {
			return nil
		}
		return std(defaultInfo)(c)
	}
	stallBoth := func() []string {
		h.takeEvents()
		h.serve(stall, cut)
		h.serve(300*time.Millisecond, std(defaultInfo))
		return types(h.takeEvents())
	}
	if evs := stallBoth(); !slices.Contains(evs, "+lease-pause") {
		t.Fatalf("first stall of both links: events %v, want a +lease-pause (nothing learned yet)", evs)
	}
	if w := n.renewWindow(m); w <= stall || w >= n.lease(m) {
		t.Fatalf("window after a %v stall: %v, want between the stall and the lease %v", stall, w, n.lease(m))
	}
	for i := range 5 {
		if evs := stallBoth(); slices.Contains(evs, "+lease-pause") || slices.Contains(evs, "+fence") || !m.vip.Own {
			t.Fatalf("stall %d after the first: events %v, VIP %v", i+2, evs, m.vip.Own)
		}
	}
	// A cut is still paused, later than on a clean link but before the
	// lease ends, and the fence follows at the lease.
	h.takeEvents()
	cutAt := h.now
	var pausedAt Time = never
	for h.now-cutAt < n.lease(m) && pausedAt == never {
		h.serve(10*time.Millisecond, cut)
		if slices.Contains(types(h.takeEvents()), "+lease-pause") {
			pausedAt = h.now
		}
	}
	if pausedAt == never || pausedAt-cutAt > n.renewWindow(m)+20*time.Millisecond {
		t.Fatalf("cut after stalls: paused %v after the cut, want within %v (lease %v)", pausedAt-cutAt, n.renewWindow(m), n.lease(m))
	}
	h.serve(n.lease(m), cut)
	if !m.fenced || m.vip.Own {
		t.Errorf("a lease after the cut: fenced %v, own %v", m.fenced, m.vip.Own)
	}
	// Clean again for two memories: the short window is back.
	h.serve(2*stallMemory+time.Second, std(defaultInfo))
	if w := n.renewWindow(m); w != base {
		t.Errorf("window after %v of clean answers: %v, want %v", 2*stallMemory, w, base)
	}
}
