package sentinel

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// releases returns the lease releases among cmds, by peer address.
func releases(cmds []Command) map[string]string {
	out := map[string]string{}
	for _, c := range cmds {
		if c.Kind != CmdOther || len(c.Cmds) == 0 {
			continue
		}
		if a := c.Cmds[0]; c.To.Kind == KindSentinel && len(a) == 3 && a[0] == "PUBLISH" &&
			strings.HasPrefix(a[2], releasePrefix) {
			out[c.To.Addr.Host] = a[2]
		}
	}
	return out
}

// switchedHolder returns a fenced holder of tMaster with two granting
// peers, after a verified peer's hello moved the master to tRep1.
func switchedHolder(t *testing.T) (*harness, *master, []*instance) {
	h, m, ps := holdingVIP(t, time.Second)
	h.takeEvents()
	h.takeCmds()
	ownGen := m.vip.Gen
	h.step(direct(ps[0].addr.Host, HelloMsg{Addr: ps[0].addr, RunID: ps[0].runid, CurrentEpoch: h.n.CurrentEpoch() + 1,
		Master: "mymaster", MasterAddr: tRep1, ConfigEpoch: m.configEpoch + 1}))
	if m.vip.Own || m.vip.Gen == ownGen {
		t.Fatalf("VIP intent %+v after the switch (gen while owned %d)", m.vip, ownGen)
	}
	return h, m, ps
}

// TestReleaseWaitsForConfirmation: the old holder releases its lease only
// when the VIP manager confirms the intent that dropped the VIP, never on
// a stale confirmation; it then stops counting the grants it had, frees
// its own claim, and tells each peer agent once.
func TestReleaseWaitsForConfirmation(t *testing.T) {
	h, m, ps := switchedHolder(t)
	if r := releases(h.takeCmds()); len(r) != 0 {
		t.Fatalf("released before the VIP manager confirmed: %v", r)
	}
	if !h.n.grantBlocks(m.grant, tRep1) {
		t.Fatalf("own claim %+v freed before the confirmation", m.grant)
	}
	h.step(VIPGone{Master: "mymaster", Gen: m.vip.Gen - 1}) // an older intent's removal
	h.step(VIPGone{Master: "other", Gen: m.vip.Gen})
	if r := releases(h.takeCmds()); len(r) != 0 {
		t.Fatalf("released on a stale confirmation: %v", r)
	}
	h.takeEvents()
	h.step(VIPGone{Master: "mymaster", Gen: m.vip.Gen})
	cmds := h.takeCmds()
	r := releases(cmds)
	if len(r) != len(ps) {
		t.Fatalf("releases %v, want one to each of %d peers", r, len(ps))
	}
	for _, p := range ps {
		tok := strings.Split(r[p.addr.Host], ",")
		if len(tok) != 7 || tok[1] != h.n.myid || tok[2] != "mymaster" || tok[3] != tMaster.Host || tok[4] != "6379" || tok[5] != h.n.leaseNonce {
			t.Errorf("release to %s: %q", p.addr.Host, r[p.addr.Host])
		}
		if p.grantAt != never {
			t.Errorf("grant of %s still counted", p.name)
		}
	}
	if h.n.grantBlocks(m.grant, tRep1) {
		t.Errorf("own claim %+v still binds after the release", m.grant)
	}
	if !hasEvent(h.takeEvents(), "+lease-release") {
		t.Errorf("no +lease-release event")
	}
	// Idempotent: a second confirmation releases nothing more.
	h.step(VIPGone{Master: "mymaster", Gen: m.vip.Gen})
	if r := releases(h.takeCmds()); len(r) != 0 {
		t.Errorf("released again: %v", r)
	}
}

// TestReleaseDiscountsEarlierRequests: after a release, a grant replying
// to a request sent before it is not counted (the peer may have freed it).
func TestReleaseDiscountsEarlierRequests(t *testing.T) {
	h, m, _ := switchedHolder(t)
	old := h.n.leaseToken(m)
	h.now += time.Millisecond
	h.step(VIPGone{Master: "mymaster", Gen: m.vip.Gen})
	if _, ok := h.n.grantedAt(m, old); ok {
		t.Errorf("a grant to a request sent before the release counts")
	}
	h.now += time.Millisecond
	h.step(Tick{})
	if _, ok := h.n.grantedAt(m, h.n.leaseToken(m)); !ok {
		t.Errorf("a grant to a request sent after the release does not count")
	}
}

// TestNoReleaseWhileMasterLocal: a VIP dropped while the master stays on
// this host (fenced, TILT, ...) releases nothing: the lease rules stay as
// they are for it.
func TestNoReleaseWhileMasterLocal(t *testing.T) {
	h, m, _ := holdingVIP(t, time.Second)
	h.n.tilt = true
	h.now += 10 * time.Millisecond
	h.step(Tick{})
	if m.vip.Own {
		t.Fatalf("VIP still wanted in TILT")
	}
	h.takeCmds()
	h.step(VIPGone{Master: "mymaster", Gen: m.vip.Gen})
	if r := releases(h.takeCmds()); len(r) != 0 {
		t.Errorf("released a lease whose master is still local: %v", r)
	}
}

// TestReleaseFreesGrant: a peer frees the grant it gave, only on a
// release from a verified peer over an authenticated path, naming the
// requester the grant was given to alone, sent after every request it
// answered.
func TestReleaseFreesGrant(t *testing.T) {
	holder := strings.Repeat("a", 40)
	const host = "198.18.0.7"
	const nonce = "n0nce"
	msg := func(runid, addr, nonce string, at int) string {
		return "vipsentinel-release," + runid + ",mymaster," + addr + ",6379," + nonce + "," + strconv.Itoa(at)
	}
	token := func(nonce string, at int) string {
		return leaseTokenPrefix + nonce + "-0-" + strconv.Itoa(at)
	}
	fromPeer := func(payload string) Hello {
		return Hello{Via: Ref{Kind: KindSentinel, Addr: Addr{Host: host, Port: 50000}}, Payload: payload, Authenticated: true}
	}
	cases := []struct {
		name  string
		setup func(h *harness)
		in    Hello
		freed bool
	}{
		{"release of the grant", nil, fromPeer(msg(holder, tMaster.Host, nonce, 200)), true},
		{"release sent with the last request", nil, fromPeer(msg(holder, tMaster.Host, nonce, 100)), true},
		{"release older than a request it answered", nil, fromPeer(msg(holder, tMaster.Host, nonce, 99)), false},
		{"another requester's nonce", nil, fromPeer(msg(holder, tMaster.Host, "other", 200)), false},
		{"another address", nil, fromPeer(msg(holder, tRep1.Host, nonce, 200)), false},
		{"unknown peer", nil, fromPeer(msg(strings.Repeat("b", 40), tMaster.Host, nonce, 200)), false},
		{"not authenticated, from another host", nil, Hello{Via: Ref{Kind: KindSentinel, Addr: Addr{Host: "198.18.0.99", Port: 50000}},
			Payload: msg(holder, tMaster.Host, nonce, 200)}, false},
		{"through a Redis pub/sub link", nil, Hello{Via: Ref{Master: "mymaster", Kind: KindMaster, Addr: tMaster},
			Payload: msg(holder, tMaster.Host, nonce, 200)}, false},
		{"malformed", nil, fromPeer("vipsentinel-release," + holder + ",mymaster," + tMaster.Host + ",6379," + nonce), false},
		{"oversized nonce", nil, fromPeer(msg(holder, tMaster.Host, strings.Repeat("n", maxNonceLen+1), 200)), false},
		{"grant also given to another requester", func(h *harness) {
			h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, 0, token("other", 100))
		}, fromPeer(msg(holder, tMaster.Host, nonce, 200)), false},
		{"grant restored from the state", func(h *harness) {
			m := h.n.masters["mymaster"]
			h.n.restoreGrant(m, tMaster)
		}, fromPeer(msg(holder, tMaster.Host, nonce, 200)), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			h.healthy(300*time.Millisecond, defaultInfo)
			h.verifiedPeer(host, holder)
			m := h.n.masters["mymaster"]
			if _, l, _ := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, 0, token(nonce, 100)); l != token(nonce, 100) {
				t.Fatalf("no grant: %q", l)
			}
			if tc.setup != nil {
				tc.setup(h)
			}
			h.ready()
			h.takeEvents()
			h.now += time.Millisecond
			h.step(tc.in)
			freed := !h.n.grantCovers(m.grant, tMaster)
			if freed != tc.freed {
				t.Fatalf("grant %+v freed %v, want %v", m.grant, freed, tc.freed)
			}
			if got := hasEvent(h.takeEvents(), "+lease-freed"); got != tc.freed {
				t.Errorf("+lease-freed %v, want %v", got, tc.freed)
			}
			if !freed {
				return
			}
			// Idempotent, and the next request is granted as usual.
			h.step(tc.in)
			if hasEvent(h.takeEvents(), "+lease-freed") {
				t.Errorf("freed twice")
			}
			if _, l, _ := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, 0, token(nonce, 300)); l != token(nonce, 300) {
				t.Errorf("no grant after the release: %q", l)
			}
		})
	}
}

func hasEvent(evs []Event, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}
