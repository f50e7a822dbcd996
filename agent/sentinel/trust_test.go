package sentinel

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
)

// proving answers like std, except that a connect to a peer succeeds (with
// a proof) only for the run ids in real: any other endpoint fails the
// proof, as the runtime reports it.
func proving(real map[string]bool) func(Command) Input {
	base := std(defaultInfo)
	return func(c Command) Input {
		if c.Kind == CmdConnect && c.To.Kind == KindSentinel && !real[c.To.RunID] {
			return LinkDown{To: c.To, Link: c.Link, Err: "peer proof failed: wrong mac"}
		}
		return base(c)
	}
}

// forged is a hello anyone can PUBLISH to the monitored master: it reaches
// us through our pub/sub link.
func forged(m *master, h HelloMsg) Hello {
	return Hello{Via: m.inst.link.ref, Payload: FormatHello(h)}
}

// fencedHolder is a fenced VIP holder with two verified peers that grant,
// holding the VIP.
func fencedHolder(t *testing.T, minAgents int) (*harness, *master, []*instance) {
	t.Helper()
	h := newFencedHolder(t)
	h.n.cfg.MinAgents = minAgents
	h.step(Tick{})
	ps := h.peers(2)
	m := h.n.masters["mymaster"]
	real := map[string]bool{ps[0].runid: true, ps[1].runid: true}
	h.serve(500*time.Millisecond, proving(real))
	h.confirmHold(m, ps)
	h.serve(2*time.Second, proving(real))
	if !m.vip.Own {
		t.Fatalf("VIP not held: %s", m.vip.Reason)
	}
	return h, m, ps
}

// Phantom peers announced by hellos never count: the holder keeps its
// VIP and is not fenced (on main, two phantoms made it drop the VIP and
// pause writes).
func TestPhantomPeersDoNotFence(t *testing.T) {
	for _, minAgents := range []int{0, 3} {
		h, m, ps := fencedHolder(t, minAgents)
		real := map[string]bool{ps[0].runid: true, ps[1].runid: true}
		for i := 0; i < 10; i++ {
			id := NewID(rand.New(rand.NewSource(int64(5000 + i))))
			h.step(forged(m, HelloMsg{Addr: Addr{Host: "198.18.1." + strconv.Itoa(i+1), Port: 26379}, RunID: id,
				Master: "mymaster", MasterAddr: tMaster}))
		}
		h.serve(2*time.Second, proving(real))
		if !m.vip.Own || m.fenced {
			t.Errorf("min-agents %d: VIP own %v fenced %v (%s)", minAgents, m.vip.Own, m.fenced, m.vip.Reason)
		}
		if got := h.n.voters(m); got != 3 {
			t.Errorf("min-agents %d: voters %d, want 3", minAgents, got)
		}
		for _, ms := range h.n.snapshot().Masters {
			if len(ms.KnownSentinels) != 2 {
				t.Errorf("min-agents %d: %d known sentinels persisted, want the 2 verified", minAgents, len(ms.KnownSentinels))
			}
		}
		// Not verified within the TTL: forgotten, with an event.
		h.serve(h.n.unverifiedTTL(m)+time.Second, proving(real))
		if len(m.sentinels) != 2 {
			t.Errorf("min-agents %d: %d sentinels after the TTL, want 2", minAgents, len(m.sentinels))
		}
		if _, ok := findEvent(h.events, "-sentinel-unverified"); !ok {
			t.Errorf("min-agents %d: no -sentinel-unverified event", minAgents)
		}
		if h.n.Trust().UnverifiedExpired != 10 {
			t.Errorf("min-agents %d: expired %d, want 10", minAgents, h.n.Trust().UnverifiedExpired)
		}
	}
}

// Ten thousand forged run ids keep at most MaxUnverifiedPeers proposals,
// and the rejections are logged at most once per second.
func TestUnverifiedPeersBounded(t *testing.T) {
	h := newHealthy(t)
	h.takeEvents()
	m := h.n.masters["mymaster"]
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 10000; i++ {
		h.n.Step(h.now, forged(m, HelloMsg{Addr: Addr{Host: "198.18.2." + strconv.Itoa(1+i%250), Port: 1000 + i}, RunID: NewID(r),
			Master: "mymaster", MasterAddr: tMaster}))
	}
	h.ready()
	if len(m.sentinels) > MaxUnverifiedPeers {
		t.Errorf("%d proposed peers kept, bound %d", len(m.sentinels), MaxUnverifiedPeers)
	}
	if got := h.n.Trust().UnverifiedRejected; got != 10000-MaxUnverifiedPeers {
		t.Errorf("rejected %d, want %d", got, 10000-MaxUnverifiedPeers)
	}
	if n := countEvents(h.events, "+hello-rejected"); n != 1 {
		t.Errorf("%d +hello-rejected events in one instant, want 1", n)
	}
}

func countEvents(evs []Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// A hello changes the configuration only from a verified sender over an
// authenticated path: through pub/sub, not even when it names a replica we
// know reporting role:master after an election we voted in
// (TestPubSubHelloIsNoEvidence).
func TestHelloEvidence(t *testing.T) {
	peer := strings.Repeat("a", 40)
	const peerIP = "198.18.0.2"
	cases := []struct {
		name        string
		requirepass string
		verified    bool
		via         string // "pubsub", "api"
		authed      bool
		from        string // API client's IP
		target      Addr
		promoted    bool // target reports role:master
		adopt       bool
		current     uint64 // our epoch before the hello (7 is the hello's)
	}{
		{"pub/sub, verified sender", "", true, "pubsub", false, "", tRep1, false, false, 0},
		{"pub/sub, unverified sender", "", false, "pubsub", false, "", tRep1, false, false, 0},
		{"pub/sub, attacker's own address", "", true, "pubsub", false, "", Addr{Host: "198.18.9.9", Port: 6379}, false, false, 0},
		{"pub/sub, verified sender, promoted replica, election known", "", true, "pubsub", false, "", tRep1, true, false, 7},
		{"pub/sub, verified sender, promoted replica, no election known", "", true, "pubsub", false, "", tRep1, true, false, 6},
		{"pub/sub, unverified sender, promoted replica", "", false, "pubsub", false, "", tRep1, true, false, 7},
		{"api authenticated, verified", "secret", true, "api", true, "198.18.7.7", tRep1, false, true, 0},
		{"api authenticated, unverified", "secret", false, "api", true, peerIP, tRep1, false, false, 0},
		{"api unauthenticated with requirepass", "secret", true, "api", false, peerIP, tRep1, false, false, 0},
		{"open mode, from the peer's address", "", true, "api", false, peerIP, tRep1, false, true, 0},
		{"open mode, from another address", "", true, "api", false, "198.18.7.7", tRep1, false, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.RequirePass = tc.requirepass
			h := newHarness(t, cfg)
			info := defaultInfo
			if tc.promoted {
				info = func(r Ref) string {
					if r.Kind == KindReplica && r.Addr == tRep1 {
						return masterInfo()
					}
					return defaultInfo(r)
				}
			}
			h.healthy(time.Second, info)
			m := h.n.masters["mymaster"]
			s := h.n.addSentinel(m, Addr{Host: peerIP, Port: 26379}, peer)
			s.proposedAt = h.n.now
			if tc.verified {
				s.verifiedAddr = s.addr
			}
			h.n.currentEpoch = tc.current
			if tc.current == 7 {
				m.leader, m.leaderEpoch = peer, 7 // we voted for it in 7
			}
			h.takeEvents()
			msg := HelloMsg{Addr: Addr{Host: peerIP, Port: 26379}, RunID: peer, CurrentEpoch: 7,
				Master: "mymaster", MasterAddr: tc.target, ConfigEpoch: 7}
			in := forged(m, msg)
			if tc.via == "api" {
				in = Hello{Via: Ref{Kind: KindSentinel, Addr: Addr{Host: tc.from, Port: 40001}}, Payload: FormatHello(msg), Authenticated: tc.authed}
			}
			h.step(in)
			got, _ := h.n.MasterAddr("mymaster")
			adopted := m.configEpoch == 7
			if adopted != tc.adopt || adopted && got != tc.target || !adopted && got != tMaster {
				t.Fatalf("config epoch %d, master %v; want adopted %v", m.configEpoch, got, tc.adopt)
			}
			if !tc.adopt {
				if h.n.CurrentEpoch() != tc.current {
					t.Errorf("current epoch %d adopted without evidence", h.n.CurrentEpoch())
				}
				if h.n.Trust().HellosRejected == 0 {
					t.Error("rejection not counted")
				}
			}
		})
	}
}

// Hostile epochs: a hello or vote request more than MaxEpochJump ahead is
// refused, whatever its path; epoch arithmetic saturates.
func TestHostileEpochs(t *testing.T) {
	peer := strings.Repeat("a", 40)
	for _, e := range []uint64{MaxEpochJump + 1, 1 << 40, math.MaxUint64} {
		h := newHealthy(t)
		h.verifiedPeer("198.18.0.2", peer)
		h.step(direct("198.18.0.2", HelloMsg{Addr: Addr{Host: "198.18.0.2", Port: 26379}, RunID: peer, CurrentEpoch: e,
			Master: "mymaster", MasterAddr: tMaster, ConfigEpoch: e}))
		if h.n.CurrentEpoch() != 0 || h.n.masters["mymaster"].configEpoch != 0 {
			t.Errorf("hello epoch %d adopted: current %d", e, h.n.CurrentEpoch())
		}
		if _, l, le := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, e, peer); l != "*" || le != 0 || h.n.CurrentEpoch() != 0 {
			t.Errorf("vote request epoch %d: vote %s/%d, current %d", e, l, le, h.n.CurrentEpoch())
		}
		if h.n.Trust().VotesRejected != 1 || h.n.Trust().HellosRejected != 1 {
			t.Errorf("epoch %d: rejections %+v", e, h.n.Trust())
		}
	}
	// Within the bound, from a verified peer over an authenticated path:
	// adopted.
	h := newHealthy(t)
	h.verifiedPeer("198.18.0.2", peer)
	h.step(direct("198.18.0.2", HelloMsg{Addr: Addr{Host: "198.18.0.2", Port: 26379}, RunID: peer, CurrentEpoch: MaxEpochJump,
		Master: "mymaster", MasterAddr: tMaster}))
	if h.n.CurrentEpoch() != MaxEpochJump {
		t.Errorf("epoch within the bound not adopted: %d", h.n.CurrentEpoch())
	}
	// A vote request naming a candidate that is not a verified peer buys
	// neither a vote nor an epoch.
	if _, l, _ := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, MaxEpochJump+5, strings.Repeat("b", 40)); l != "*" || h.n.CurrentEpoch() != MaxEpochJump {
		t.Errorf("vote for an unverified candidate: %s, current %d", l, h.n.CurrentEpoch())
	}
	// holdBump near the top saturates instead of wrapping.
	m := h.n.masters["mymaster"]
	h.n.currentEpoch = math.MaxUint64 - 10
	h.n.holdBump(m, h.n.currentEpoch)
	if h.n.CurrentEpoch() != math.MaxUint64 {
		t.Errorf("holdBump wrapped: %d", h.n.CurrentEpoch())
	}
	h.n.startFailover(m)
	if h.n.CurrentEpoch() != math.MaxUint64 {
		t.Errorf("failover epoch wrapped: %d", h.n.CurrentEpoch())
	}
}

// min-agents is the group size for every majority: a ceiling as well as a
// floor.
func TestMinAgentsIsTheGroupSize(t *testing.T) {
	for _, tc := range []struct {
		minAgents, verified, unverified, want int
	}{
		{0, 2, 0, 3},
		{0, 2, 5, 3},
		{5, 2, 0, 5},
		{3, 6, 0, 3},
		{3, 2, 40, 3},
	} {
		h := newHarness(t, testConfig())
		h.n.cfg.MinAgents = tc.minAgents
		m := h.n.masters["mymaster"]
		for i := 0; i < tc.verified; i++ {
			h.verifiedPeer("198.18.3."+strconv.Itoa(i+1), NewID(rand.New(rand.NewSource(int64(i)))))
		}
		for i := 0; i < tc.unverified; i++ {
			h.n.addSentinel(m, Addr{Host: "198.18.4." + strconv.Itoa(i+1), Port: 26379}, NewID(rand.New(rand.NewSource(int64(100+i)))))
		}
		if got := h.n.voters(m); got != tc.want {
			t.Errorf("%+v: voters %d", tc, got)
		}
		if _, _, _, known := h.n.heard(m); known != tc.want {
			t.Errorf("%+v: heard's group %d", tc, known)
		}
	}
}

// A peer is verified by the proof its LinkUp carries, not by hellos.
func TestLinkUpProofVerifies(t *testing.T) {
	h := newHealthy(t)
	m := h.n.masters["mymaster"]
	id := strings.Repeat("d", 40)
	h.step(forged(m, HelloMsg{Addr: Addr{Host: "198.18.0.2", Port: 26379}, RunID: id, Master: "mymaster", MasterAddr: tMaster}))
	h.step(Tick{})
	for _, c := range h.takeCmds() {
		if c.Kind == CmdConnect && c.To.Kind == KindSentinel {
			h.step(LinkUp{To: c.To, Link: c.Link}) // no proof
		}
	}
	if s := m.sentinels[id]; s == nil || s.verified() || h.n.voters(m) != 1 {
		t.Fatalf("a LinkUp without proof verified the peer")
	}
	h.step(LinkDown{To: m.sentinels[id].link.ref, Link: LinkCmd, Err: "x"})
	h.now += time.Second
	h.verify()
	if s := m.sentinels[id]; s == nil || !s.verified() || s.proof != ProofSecret || h.n.voters(m) != 2 {
		t.Fatalf("proven LinkUp did not verify the peer")
	}
}

// A peer verified on its (shared) link for one master is verified for
// every master that learns of it later.
func TestSharedLinkVerifiesEveryMaster(t *testing.T) {
	cfg := testConfig()
	cfg.Masters = append(cfg.Masters, MasterConfig{Name: "second", Addr: Addr{Host: "198.18.0.20", Port: 6379}, Quorum: 2})
	h := newHarness(t, cfg)
	h.serve(100*time.Millisecond, std(defaultInfo))
	id := strings.Repeat("d", 40)
	hello := func(master string, maddr Addr) {
		h.step(Hello{Via: h.n.masters[master].inst.link.ref, Payload: FormatHello(HelloMsg{Addr: Addr{Host: "198.18.0.2", Port: 26379}, RunID: id, Master: master, MasterAddr: maddr})})
	}
	hello("mymaster", tMaster)
	h.verify()
	if !h.n.masters["mymaster"].sentinels[id].verified() {
		t.Fatal("not verified for the first master")
	}
	hello("second", Addr{Host: "198.18.0.20", Port: 6379})
	s := h.n.masters["second"].sentinels[id]
	if s == nil || !s.verified() || h.n.voters(h.n.masters["second"]) != 2 {
		t.Fatalf("peer on a verified shared link not verified for the second master")
	}
}

// TestEpochCatchUp: a group that ran more than MaxEpochJump epochs while we
// were away (holdBump's jumps after many partitions) is followed once a
// majority of the group vouches for its epoch with trusted hellos; fewer
// vouchers, untrusted paths and absurd epochs move nothing.
func TestEpochCatchUp(t *testing.T) {
	const far = 3 * MaxEpochJump
	pa, pb := strings.Repeat("a", 40), strings.Repeat("b", 40)
	hello := func(host, runid string, epoch uint64) HelloMsg {
		return HelloMsg{Addr: Addr{Host: host, Port: 26379}, RunID: runid, CurrentEpoch: epoch,
			Master: "mymaster", MasterAddr: tRep1, ConfigEpoch: epoch - 5}
	}
	viaMaster := func(h HelloMsg) Hello {
		return Hello{Via: Ref{Kind: KindMaster, Addr: tMaster}, Payload: FormatHello(h)}
	}
	tests := []struct {
		name      string
		hellos    []Hello
		wantEpoch uint64
		wantAddr  Addr
	}{
		{"one of two peers", []Hello{direct("198.18.0.2", hello("198.18.0.2", pa, far))}, 0, tMaster},
		{"both peers", []Hello{
			direct("198.18.0.2", hello("198.18.0.2", pa, far)),
			direct("198.18.0.3", hello("198.18.0.3", pb, far+7)),
		}, far + 7, tRep1}, // caught up with far, then the second hello is within the bound
		{"both peers, the second one behind the first", []Hello{
			direct("198.18.0.2", hello("198.18.0.2", pa, far+7)),
			direct("198.18.0.3", hello("198.18.0.3", pb, far)),
		}, far, tRep1},
		{"second through pub/sub", []Hello{
			direct("198.18.0.2", hello("198.18.0.2", pa, far)),
			viaMaster(hello("198.18.0.3", pb, far)),
		}, 0, tMaster},
		{"absurd epochs", []Hello{
			direct("198.18.0.2", hello("198.18.0.2", pa, math.MaxUint64)),
			direct("198.18.0.3", hello("198.18.0.3", pb, math.MaxUint64)),
		}, 0, tMaster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHealthy(t)
			h.verifiedPeer("198.18.0.2", pa)
			h.verifiedPeer("198.18.0.3", pb)
			for _, v := range tt.hellos {
				h.step(v)
			}
			if h.n.CurrentEpoch() != tt.wantEpoch {
				t.Errorf("current epoch %d, want %d", h.n.CurrentEpoch(), tt.wantEpoch)
			}
			if got, _ := h.n.MasterAddr("mymaster"); got != tt.wantAddr {
				t.Errorf("master %v, want %v", got, tt.wantAddr)
			}
		})
	}
}
