package sentinel

import (
	"math/rand"
	"strings"
	"testing"
	"time"
)

// leaseReq is a lease request as a master's host sends it.
const leaseReq = leaseTokenPrefix + "peer-0-123"

// TestGrantRules: a peer grants the lease of the master it knows as
// current only while nothing it knows or promised speaks against it.
func TestGrantRules(t *testing.T) {
	cand := strings.Repeat("c", 40)
	cases := []struct {
		name  string
		setup func(h *harness, m *master)
		addr  Addr
		grant bool
	}{
		{"healthy master", nil, tMaster, true},
		{"unknown address", nil, Addr{Host: "198.18.0.99", Port: 6379}, false},
		{"replica address", nil, tRep1, false},
		{"TILT", func(h *harness, m *master) { h.n.tilt = true }, tMaster, false},
		{"master SDOWN", func(h *harness, m *master) { m.inst.flags |= fSDown }, tMaster, false},
		{"master silent for grantSilence", func(h *harness, m *master) {
			m.inst.link.actPing = h.n.now - h.n.grantSilence(m) - time.Millisecond
		}, tMaster, false},
		{"master silent for less", func(h *harness, m *master) {
			m.inst.link.actPing = h.n.now - h.n.grantSilence(m) + time.Millisecond
		}, tMaster, true},
		{"failover in progress", func(h *harness, m *master) { m.failoverState = stateWaitStart }, tMaster, false},
		{"bound to another address", func(h *harness, m *master) {
			m.grant = grantState{addr: tRep1, until: h.n.now + time.Millisecond}
		}, tMaster, false},
		{"expired grant to another address", func(h *harness, m *master) {
			m.grant = grantState{addr: tRep1, until: h.n.now}
		}, tMaster, true},
		{"voted to depose it", func(h *harness, m *master) {
			h.verifiedPeer("198.18.0.7", cand)
			h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, h.n.CurrentEpoch()+1, cand)
		}, tMaster, false},
		{"unprocessed clock jump", func(h *harness, m *master) { h.now += 3 * time.Second }, tMaster, false},
		// The leader of a failover, once it has seen its replica
		// promoted (promotedByUs), grants that replica's address under
		// the same rules, and never the deposed one.
		{"leader: promoted address, reconf_slaves", promotedByUs, tRep1, true},
		{"leader: deposed address, reconf_slaves", promotedByUs, tMaster, false},
		{"leader: promotion not seen yet", func(h *harness, m *master) {
			promotedByUs(h, m)
			m.failoverState = stateWaitPromotion
		}, tRep1, false},
		{"leader: own claim of the old address not released", func(h *harness, m *master) {
			promotedByUs(h, m)
			m.grant = grantState{addr: tMaster, until: h.n.now + time.Millisecond, by: grantSelf}
		}, tRep1, false},
		{"leader: own claim released", func(h *harness, m *master) {
			promotedByUs(h, m)
			m.grant = grantState{addr: tMaster, until: h.n.now, by: grantSelf}
		}, tRep1, true},
		{"leader: promoted replica SDOWN", func(h *harness, m *master) {
			promotedByUs(h, m)
			m.promoted.flags |= fSDown
		}, tRep1, false},
		{"leader: promoted replica silent for grantSilence", func(h *harness, m *master) {
			promotedByUs(h, m)
			m.promoted.link.actPing = h.n.now - h.n.grantSilence(m) - time.Millisecond
		}, tRep1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			h.healthy(300*time.Millisecond, defaultInfo)
			h.states = nil
			m := h.n.masters["mymaster"]
			if tc.setup != nil {
				tc.setup(h, m)
			}
			down, leader, ep := h.n.IsMasterDownByAddr(h.now, tc.addr.Host, tc.addr.Port, 0, leaseReq)
			h.ready()
			granted := leader == leaseReq
			if granted != tc.grant || ep != 0 || granted && down {
				t.Fatalf("reply %v %q %d, want grant %v", down, leader, ep, tc.grant)
			}
			if !granted {
				if leader != "*" {
					t.Errorf("refusal names %q, want *", leader)
				}
				return
			}
			if !h.n.grantCovers(m.grant, tc.addr) || m.grant.until != h.n.now+h.n.grantLen(m) {
				t.Errorf("grant %+v, want %v until now+%v", m.grant, tc.addr, h.n.grantLen(m))
			}
			if len(h.states) == 0 || !(h.states[0].Masters[0].LeaseAddr == tc.addr) {
				t.Errorf("a first grant for %v is not persisted: %+v", tc.addr, h.states)
			}
		})
	}
}

// TestGrantBlocksVotes: while a grant binds us we vote for no failover of
// the granted address (we still adopt the epoch), and vote again once it
// has lapsed. Grants for an address already persisted are not written
// again.
func TestGrantBlocksVotes(t *testing.T) {
	cand := strings.Repeat("c", 40)
	h := newHarness(t, testConfig())
	h.healthy(300*time.Millisecond, defaultInfo)
	h.verifiedPeer("198.18.0.7", cand)
	m := h.n.masters["mymaster"]
	if _, l, _ := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, 0, leaseReq); l != leaseReq {
		t.Fatalf("no grant: %q", l)
	}
	h.ready()
	h.states = nil
	h.now += h.n.grantLen(m) / 2
	if _, l, _ := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, 0, leaseReq); l != leaseReq {
		t.Fatalf("no renewal: %q", l)
	}
	h.ready()
	if len(h.states) != 0 {
		t.Errorf("renewal for the same address persisted again")
	}
	ep := h.n.CurrentEpoch() + 1
	_, l, e := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, ep, cand)
	if l == cand || e == ep {
		t.Fatalf("voted %s/%d while bound by a grant", l, e)
	}
	if h.n.CurrentEpoch() != ep {
		t.Errorf("epoch %d not adopted (current %d)", ep, h.n.CurrentEpoch())
	}
	h.now += h.n.grantLen(m)
	h.step(Tick{})
	if _, l, e := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, ep+1, cand); l != cand || e != ep+1 {
		t.Errorf("no vote after the grant lapsed: %s/%d", l, e)
	}
}

// TestGrantSurvivesRestart: the last granted address is persisted, and a
// restarted agent is bound by it for a grant's length: no grant for
// another address, no vote against it.
func TestGrantSurvivesRestart(t *testing.T) {
	cand := strings.Repeat("c", 40)
	st := &HardState{MyID: NewID(rand.New(rand.NewSource(9))), CurrentEpoch: 4, Masters: []MasterState{{
		Config: testConfig().Masters[0], CurrentAddr: tRep1, ConfigEpoch: 4, LeaseAddr: tMaster}}}
	cfg := testConfig()
	n, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, n: n, now: 100 * time.Second}
	h.step(Tick{})
	h.healthy(100*time.Millisecond, func(r Ref) string {
		if r.Addr == tRep1 {
			return masterInfo(tRep2)
		}
		return defaultInfo(r)
	})
	m := n.masters["mymaster"]
	if _, l, _ := n.IsMasterDownByAddr(h.now, tRep1.Host, tRep1.Port, 0, leaseReq); l == leaseReq {
		t.Fatal("granted another address while the previous run may still bind us")
	}
	h.now += n.grantLen(m)
	h.step(Tick{})
	if _, l, _ := n.IsMasterDownByAddr(h.now, tRep1.Host, tRep1.Port, 0, leaseReq); l != leaseReq {
		t.Errorf("no grant once the previous run's grants lapsed: %q", l)
	}
	// A vote against the restored address is refused at first.
	n2, _ := New(cfg, &HardState{MyID: st.MyID, CurrentEpoch: 4, Masters: []MasterState{{
		Config: testConfig().Masters[0], CurrentAddr: tMaster, ConfigEpoch: 4, LeaseAddr: tMaster}}})
	h2 := &harness{t: t, n: n2, now: 100 * time.Second}
	h2.step(Tick{})
	if _, l, _ := n2.IsMasterDownByAddr(h2.now, tMaster.Host, tMaster.Port, 5, cand); l == cand {
		t.Error("voted against the address the previous run granted")
	}
}

// TestLeaseHolder: the master's host claims its VIP only with a majority of
// grants, times each from its request, ignores tokens that are not its own
// for the current configuration, and asks faster while it holds none. Only
// a lease that lapses fences the local master.
func TestLeaseHolder(t *testing.T) {
	h := newFencedHolder(t)
	n := h.n
	h.step(Tick{})
	ps := h.peers(2)
	m := n.masters["mymaster"]
	var reqs []Command
	refuse := func(c Command) Input {
		if c.Kind == CmdAskMasterDown && c.Cmds[0][4] == "0" {
			reqs = append(reqs, c)
			return IsDownReply{To: c.To, Valid: true, Leader: "*"}
		}
		return std(defaultInfo)(c)
	}
	h.serve(500*time.Millisecond, refuse)
	// The peers confirm our configuration (the start-up fence hold).
	h.confirmHold(m, ps)
	reqs = nil
	h.serve(500*time.Millisecond, refuse)
	if m.fenceHold != holdOff {
		t.Fatalf("hold not confirmed: %s", m.vip.Reason)
	}
	if m.vip.Own {
		t.Fatalf("VIP claimed without grants: %s", m.vip.Reason)
	}
	if !strings.Contains(m.vip.Reason, "lease") {
		t.Errorf("reason %q does not name the lease", m.vip.Reason)
	}
	if m.fenced {
		t.Error("a master that never held the lease is paused while it waits for grants")
	}
	// Refused: asked again at minPeriod, not the holder's period.
	if per := len(reqs) / len(ps); per < 30 {
		t.Errorf("%d requests per peer in 500ms without a lease, want about 50", per)
	}
	// Foreign and stale tokens are not credited.
	tok := reqs[len(reqs)-1].Cmds[0][5]
	for _, bad := range []string{
		strings.Replace(tok, n.leaseNonce, "x"+n.leaseNonce, 1),
		leaseTokenPrefix + n.leaseNonce + "-7-1",
		tok[:len(tok)-1] + "x",
	} {
		h.step(IsDownReply{To: n.cmdRef(ps[0]), Valid: true, Leader: bad})
		if ps[0].grantAt != never {
			t.Fatalf("credited %q", bad)
		}
	}
	// One grant makes a majority of three: the VIP is claimed, and the
	// grant counts from the request's send time.
	sent := n.now
	tok = n.leaseToken(m)
	h.now += 200 * time.Millisecond
	h.step(IsDownReply{To: n.cmdRef(ps[0]), Valid: true, Leader: tok})
	if ps[0].grantAt != sent || !m.vip.Own {
		t.Fatalf("grant at %v (sent %v), own %v: %s", ps[0].grantAt, sent, m.vip.Own, m.vip.Reason)
	}
	if !n.grantCovers(m.grant, tMaster) {
		t.Errorf("claiming without binding ourselves: %+v", m.grant)
	}
	h.now += sent + n.lease(m) + time.Millisecond - n.now
	h.step(Tick{})
	if m.vip.Own || !m.fenced {
		t.Errorf("still own %v fenced %v a lease after the request", m.vip.Own, m.fenced)
	}
}

// TestQuietHolder: a calm agent holding a VIP sleeps between its lease
// requests instead of ticking every 10 ms, and wakes in time for the next.
func TestQuietHolder(t *testing.T) {
	h, m, _ := holdingVIP(t, 2*time.Second)
	n := h.n
	// Driven as the runtime does: sleep what Quiet allows, then Tick.
	period := n.leaseRequestPeriod(m, true)
	wakes, reqs := 0, 0
	for end := h.now + 2*time.Second; h.now < end; {
		d := n.Quiet()
		if d > period {
			t.Fatalf("Quiet %v beyond the request period %v", d, period)
		}
		h.now += d
		h.step(Tick{})
		wakes++
		for _, c := range h.takeCmds() {
			if c.Kind == CmdAskMasterDown && c.Cmds[0][4] == "0" {
				reqs++
			}
			if in := std(defaultInfo)(c); in != nil {
				h.step(in)
			}
		}
		if !m.vip.Own {
			t.Fatalf("VIP dropped while sleeping: %s", m.vip.Reason)
		}
	}
	if wakes > 60 {
		t.Errorf("%d wake-ups in 2 s, want a few per request period", wakes)
	}
	if want := int(2 * time.Second / period * 2); reqs < want*3/4 {
		t.Errorf("%d lease requests to 2 peers in 2 s, want about %d", reqs, want)
	}
	t.Logf("%d wake-ups, %d lease requests in 2 s", wakes, reqs)
}

// newFencedHolder returns a harness whose Node runs on the master's host,
// with a VIP and fencing, not yet stepped.
func newFencedHolder(t *testing.T) *harness {
	t.Helper()
	cfg := testConfig()
	cfg.LocalIPs = []string{tMaster.Host}
	cfg.Masters[0].HasVIP = true
	cfg.Masters[0].Fence = true
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, n: n, now: 100 * time.Second}
}

// holdingVIP returns a fenced holder with two peers that grant, its
// start-up hold confirmed and then served for settle, holding the VIP.
func holdingVIP(t *testing.T, settle time.Duration) (*harness, *master, []*instance) {
	t.Helper()
	h := newFencedHolder(t)
	h.step(Tick{})
	ps := h.peers(2)
	m := h.n.masters["mymaster"]
	h.serve(500*time.Millisecond, std(defaultInfo))
	h.confirmHold(m, ps)
	h.serve(settle, std(defaultInfo))
	if !m.vip.Own {
		t.Fatalf("VIP not held: %s", m.vip.Reason)
	}
	return h, m, ps
}

// confirmHold has every peer in ps confirm our configuration of m with a
// hello carrying our hold epoch (the start-up fence hold).
func (h *harness) confirmHold(m *master, ps []*instance) {
	for _, p := range ps {
		h.step(direct(p.addr.Host, HelloMsg{Addr: p.addr, RunID: p.runid,
			CurrentEpoch: m.holdEpoch, Master: "mymaster", MasterAddr: tMaster}))
	}
}
