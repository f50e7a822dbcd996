package sentinel

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// armedView is the view of a healthy local master with fencing on, whose
// lease we hold: every condition for the VIP holds.
func armedView() fenceView {
	return fenceView{fence: true, local: true, master: true, linkUp: true, answered: true, prompt: true,
		majority: true, leased: true, recent: true, steady: true, held: true, peers: true, reach: 3, known: 3}
}

// with returns armedView changed by fn.
func with(fn func(v *fenceView)) fenceView {
	v := armedView()
	fn(&v)
	return v
}

// TestHoldNext: losing the majority while armed starts a confirmation, a
// settle under way stays, and disarming ends any of them.
func TestHoldNext(t *testing.T) {
	noMajority := with(func(v *fenceView) { v.majority = false })
	for _, tc := range []struct {
		name string
		from holdState
		v    fenceView
		want holdState
	}{
		{"armed, majority: off stays off", holdOff, armedView(), holdOff},
		{"armed, majority: wait stays (confirmHold ends it)", holdWait, armedView(), holdWait},
		{"majority lost: off -> wait", holdOff, noMajority, holdWait},
		{"majority lost: wait stays", holdWait, noMajority, holdWait},
		{"majority lost: settle stays", holdSettle, noMajority, holdSettle},
		{"majority lost, never held: off -> wait (the VIP waits, no pause)", holdOff,
			with(func(v *fenceView) { v.majority, v.held = false, false }), holdWait},
		{"fencing off: wait -> off", holdWait, with(func(v *fenceView) { v.fence = false }), holdOff},
		{"master moved: settle -> off", holdSettle, with(func(v *fenceView) { v.local = false }), holdOff},
		{"role:slave: wait -> off", holdWait, with(func(v *fenceView) { v.master = false }), holdOff},
		{"link down, majority lost: off stays off", holdOff,
			with(func(v *fenceView) { v.linkUp, v.majority = false, false }), holdOff},
	} {
		if got := holdNext(tc.from, tc.v); got != tc.want {
			t.Errorf("%s: %v -> %v, want %v", tc.name, tc.from, got, tc.want)
		}
	}
}

// TestMustFence: only a master whose lease we held in this run is paused,
// and only while armed and no longer entitled to the lease.
func TestMustFence(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    fenceView
		hold holdState
		want bool
	}{
		{"holder, all well", armedView(), holdOff, false},
		{"holder, majority lost", with(func(v *fenceView) { v.majority = false }), holdOff, true},
		{"holder, confirming", armedView(), holdWait, true},
		{"holder, settling", armedView(), holdSettle, true},
		{"holder, grants lapsed", with(func(v *fenceView) { v.leased = false }), holdOff, true},
		{"holder, bound by our own grant or vote", with(func(v *fenceView) { v.bound = true }), holdOff, true},
		{"never held, majority lost (start alone)", with(func(v *fenceView) { v.majority, v.held = false, false }), holdWait, false},
		{"never held, confirming (restart)", with(func(v *fenceView) { v.held = false }), holdWait, false},
		{"never held, no grants yet", with(func(v *fenceView) { v.leased, v.held = false, false }), holdOff, false},
		{"holder, fencing off", with(func(v *fenceView) { v.fence, v.majority = false, false }), holdOff, false},
		{"holder, master on another host", with(func(v *fenceView) { v.local, v.majority = false, false }), holdOff, false},
		{"holder, role:slave", with(func(v *fenceView) { v.master, v.majority = false, false }), holdOff, false},
		{"holder, link down", with(func(v *fenceView) { v.linkUp, v.majority = false, false }), holdOff, false},
	} {
		if got := mustFence(tc.v, tc.hold); got != tc.want {
			t.Errorf("%s: fence %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestVIPDecision: the VIP is wanted only when every condition holds; the
// first that fails is the reason.
func TestVIPDecision(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      fenceView
		hold   holdState
		reason string // a part of the reason; "" for own
	}{
		{"all well", armedView(), holdOff, ""},
		{"never held: the same", with(func(v *fenceView) { v.held = false }), holdOff, ""},
		{"not local", with(func(v *fenceView) { v.local, v.notLocal = false, "master x is not on this host" }), holdOff, "not on this host"},
		{"replica", with(func(v *fenceView) { v.master = false }), holdOff, "role:master"},
		{"link down", with(func(v *fenceView) { v.linkUp = false }), holdOff, "no command link"},
		{"silent", with(func(v *fenceView) { v.answered = false }), holdOff, "PING"},
		{"TILT", with(func(v *fenceView) { v.tilt = true }), holdOff, "TILT"},
		{"majority lost", with(func(v *fenceView) { v.majority = false }), holdWait, "no majority of agents heard"},
		{"confirming", armedView(), holdWait, "configurations"},
		{"settling", armedView(), holdSettle, "configurations"},
		{"no grants", with(func(v *fenceView) { v.leased = false }), holdOff, "granted"},
		{"bound", with(func(v *fenceView) { v.bound = true }), holdOff, "bound"},
		{"no fencing: majority and hold do not matter", with(func(v *fenceView) { v.fence, v.majority, v.leased = false, false, false }), holdWait, ""},
	} {
		own, reason := vipDecision(tc.v, tc.hold)
		if own != (tc.reason == "") || !strings.Contains(reason, tc.reason) || reason == "" {
			t.Errorf("%s: own %v reason %q, want %q", tc.name, own, reason, tc.reason)
		}
	}
}

// TestHeldNext: a claim with peers known makes us the holder of that
// address; the master moving away forgets it.
func TestHeldNext(t *testing.T) {
	other := Addr{Host: "198.18.0.20", Port: 6379}
	for _, tc := range []struct {
		name string
		prev Addr
		v    fenceView
		own  bool
		want Addr
	}{
		{"claim with peers known", Addr{}, armedView(), true, tMaster},
		{"claim alone (fresh group) holds no lease", Addr{}, with(func(v *fenceView) { v.peers = false }), true, Addr{}},
		{"no claim: nothing held", Addr{}, armedView(), false, Addr{}},
		{"no claim: kept while local", tMaster, armedView(), false, tMaster},
		{"claim of a new local address", other, armedView(), true, tMaster},
		{"master moved away", tMaster, with(func(v *fenceView) { v.local = false }), false, Addr{}},
	} {
		if got := heldNext(tc.prev, tc.v, tc.own, tMaster); got != tc.want {
			t.Errorf("%s: held %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestAsks: grants are asked for while armed, outside TILT, and only while
// the local master answers promptly.
func TestAsks(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    fenceView
		want bool
	}{
		{"armed, prompt", armedView(), true},
		{"never held: asks the same", with(func(v *fenceView) { v.held, v.leased = false, false }), true},
		{"TILT", with(func(v *fenceView) { v.tilt = true }), false},
		{"slow master", with(func(v *fenceView) { v.prompt = false }), false},
		{"not armed", with(func(v *fenceView) { v.linkUp = false }), false},
		{"fencing off", with(func(v *fenceView) { v.fence = false }), false},
	} {
		if got := tc.v.asks(); got != tc.want {
			t.Errorf("%s: asks %v, want %v", tc.name, got, tc.want)
		}
	}
}

// fenceNode returns a fenced holder's Node with two peer agents, stepped
// once, its events taken.
func fenceNode(t *testing.T) (*harness, *master, []*instance) {
	h := newFencedHolder(t)
	h.step(Tick{})
	ps := h.peers(2)
	h.takeEvents()
	return h, h.n.masters["mymaster"], ps
}

// TestQuorumEdge: the edges of quorumOK emit their events; a regain
// during a confirmation restarts it at a new hold epoch.
func TestQuorumEdge(t *testing.T) {
	for _, tc := range []struct {
		name     string
		was, now bool
		hold     holdState
		event    string
		bump     bool
	}{
		{"lost", true, false, holdOff, "+quorum-lost", false},
		{"lost while confirming", true, false, holdWait, "+quorum-lost", false},
		{"regained", false, true, holdOff, "+quorum-regained", false},
		{"regained while confirming: new hold epoch", false, true, holdWait, "+quorum-regained", true},
		{"regained while settling: new hold epoch", false, true, holdSettle, "+quorum-regained", true},
		{"still heard", true, true, holdWait, "", false},
		{"still lost", false, false, holdWait, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, m, _ := fenceNode(t)
			m.quorumOK, m.fenceHold, m.regainAt = tc.was, tc.hold, never
			ep, hold := h.n.currentEpoch, m.holdEpoch
			h.n.quorumEdge(m, with(func(v *fenceView) { v.majority = tc.now }))
			h.ready()
			var got string
			for _, e := range h.takeEvents() {
				if strings.HasPrefix(e.Type, "+quorum") {
					got = e.Type
				}
			}
			if got != tc.event || m.quorumOK != tc.now {
				t.Errorf("event %q quorumOK %v, want %q %v", got, m.quorumOK, tc.event, tc.now)
			}
			if tc.now && !tc.was && m.regainAt != h.n.now {
				t.Errorf("regainAt %v, want now", m.regainAt)
			}
			if bumped := m.holdEpoch != hold; bumped != tc.bump || tc.bump && m.holdEpoch < ep+1024 {
				t.Errorf("hold epoch %d -> %d (current was %d), want bump %v", hold, m.holdEpoch, ep, tc.bump)
			}
			if m.fenceHold != tc.hold {
				t.Errorf("hold %v changed to %v", tc.hold, m.fenceHold)
			}
		})
	}
}

// TestSettle: an unknown epoch turns a confirmation into a settle
// (settleHold), and settleAt turns it back into a confirmation at a new
// hold epoch if the majority is heard (settleEnd).
func TestSettle(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from     holdState
		announce bool          // an unknown epoch is announced (settleHold)
		after    time.Duration // then settleEnd runs this long after
		majority bool
		want     holdState
		bump     bool
	}{
		{"off: nothing to settle", holdOff, true, 0, true, holdOff, false},
		{"wait -> settle", holdWait, true, 0, true, holdSettle, false},
		{"settle before settleAt stays", holdSettle, true, time.Second, true, holdSettle, false},
		{"settle -> wait at settleAt, asked again", holdSettle, true, 2 * time.Second, true, holdWait, true},
		{"settle -> wait at settleAt, no majority: no bump", holdSettle, true, 2 * time.Second, false, holdWait, false},
		{"wait is not ended by settleEnd", holdWait, false, 5 * time.Second, true, holdWait, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, m, _ := fenceNode(t)
			m.fenceHold = tc.from
			start := h.n.now
			if tc.announce {
				h.n.settleHold()
			}
			// down-after 1 s, failover-timeout 10 s: settle for 2 s.
			if tc.from != holdOff && tc.announce && m.settleAt != start+2*time.Second {
				t.Fatalf("settleAt %v, want now+2s", m.settleAt-start)
			}
			hold := m.holdEpoch
			h.n.now = start + tc.after
			h.n.settleEnd(m, with(func(v *fenceView) { v.majority = tc.majority }))
			if m.fenceHold != tc.want || (m.holdEpoch != hold) != tc.bump {
				t.Errorf("hold %v epoch changed %v, want %v %v", m.fenceHold, m.holdEpoch != hold, tc.want, tc.bump)
			}
		})
	}
}

// TestConfirmHold: holdWait ends when a majority (us included) sent a
// hello carrying the hold epoch since the regain, with the majority heard.
func TestConfirmHold(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from     holdState
		fresh    int  // peers whose hello carries the hold epoch
		stale    bool // ...but was sent before the regain
		majority bool
		want     holdState
	}{
		{"one fresh peer of two: confirmed", holdWait, 1, false, true, holdOff},
		{"no fresh peer", holdWait, 0, false, true, holdWait},
		{"hellos from before the regain", holdWait, 2, true, true, holdWait},
		{"majority not heard", holdWait, 2, false, false, holdWait},
		{"settling: waits for settleEnd", holdSettle, 2, false, true, holdSettle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, m, ps := fenceNode(t)
			m.fenceHold = tc.from
			h.n.holdBump(m, h.n.currentEpoch)
			h.takeEvents()
			m.regainAt = h.n.now
			for i, p := range ps {
				p.helloAt, p.helloEpoch = h.n.now, m.holdEpoch-1
				if i < tc.fresh {
					p.helloEpoch = m.holdEpoch
				}
				if tc.stale {
					p.helloAt = h.n.now - time.Millisecond
				}
			}
			h.n.confirmHold(m, with(func(v *fenceView) { v.majority = tc.majority }))
			if m.fenceHold != tc.want {
				t.Errorf("hold %v, want %v", m.fenceHold, tc.want)
			}
		})
	}
}

// TestFenceRestartNoPause: an agent restarted on the master's host with
// its peers persisted confirms its configuration before it wants the VIP,
// but never pauses the master: it has held no lease in this run.
func TestFenceRestartNoPause(t *testing.T) {
	h, m, ps := fenceNode(t)
	var client [][]string
	reply := func(c Command) Input {
		if c.Kind == CmdOther && strings.EqualFold(c.Cmds[0][0], "CLIENT") {
			client = append(client, c.Cmds[0])
		}
		return std(defaultInfo)(c)
	}
	h.serve(300*time.Millisecond, reply)
	if m.fenceHold == holdOff || m.vip.Own || m.fenced {
		t.Fatalf("start: hold %v own %v fenced %v (%s)", m.fenceHold, m.vip.Own, m.fenced, m.vip.Reason)
	}
	h.confirmHold(m, ps)
	h.serve(300*time.Millisecond, reply)
	if !m.vip.Own || !(m.held == tMaster) {
		t.Fatalf("VIP not taken after the confirmation: %s", m.vip.Reason)
	}
	if len(client) > 0 || slices.ContainsFunc(h.events, func(e Event) bool { return e.Type == "+fence" }) {
		t.Errorf("fenced before any lease was held: %v", client)
	}
}
