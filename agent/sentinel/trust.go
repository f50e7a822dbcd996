package sentinel

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Trust.
//
// Anyone who can PUBLISH to a monitored Redis can send a hello, so a hello
// only proposes a peer. A proposed peer counts for nothing (it is no voter,
// grants nothing, is not a source of configurations and is not persisted)
// until the runtime verified it on our own command link to it: LinkUp for
// a KindSentinel command link says how (PeerProof). A peer that is not
// verified within unverifiedTTL is forgotten (-sentinel-unverified), and at
// most MaxUnverifiedPeers proposals per master are kept at once, so forged
// run ids cannot grow memory or the group.
//
// A hello changes the configuration (a higher config epoch, a new master
// address) or our current epoch only with evidence: it names a verified
// peer and reached us over an authenticated path (a PUBLISH to our API by a
// client that authenticated, or with no requirepass, from the verified
// peer's own address). A hello through a Redis pub/sub channel never does,
// whatever else we know: anyone can replay a verified peer's run id there
// with the epoch of an election we voted in and a replica that reports
// role:master, and neither fact ties that epoch to that address (the
// candidate may have lost; the replica may have been promoted earlier).
// Anything else is refused with a rate-limited +hello-rejected event and
// counted (TrustStats).

// PeerProof says how the runtime verified the peer behind a sentinel
// command link (LinkUp.Proof).
type PeerProof int

// Proof modes.
const (
	// ProofNone: not verified. A LinkUp for a sentinel command link
	// without a proof leaves the peer unverified.
	ProofNone PeerProof = iota
	// ProofSecret: the peer answered VIPSENTINEL PROVE with an HMAC keyed
	// with the secret we authenticate to peers with, over its run id and
	// the address we dialled, before any credential was sent.
	ProofSecret
	// ProofOpen: no secret is configured on either side; the peer answered
	// VIPSENTINEL PROVE with the announced run id over a connection we
	// dialled to the announced address. Unauthenticated.
	ProofOpen
	// ProofListed: a real redis-sentinel at an address the operator
	// listed (known-sentinel lines of the configuration file), whose
	// SENTINEL MYID after AUTH matched the announced run id.
	ProofListed
	// ProofCert: with tls-auth-clients yes the CA is the group's
	// membership authority. Our TLS link to the announced address
	// verified the peer's certificate against it (and the peer ours)
	// before anything else was sent, and the peer gave the announced run
	// id: in answer to VIPSENTINEL PROVE, or, for a redis-sentinel, by
	// SENTINEL MYID. No shared secret is needed.
	ProofCert
)

// String names the mode as logs and INFO show it.
func (p PeerProof) String() string {
	switch p {
	case ProofSecret:
		return "secret"
	case ProofOpen:
		return "open"
	case ProofListed:
		return "listed"
	case ProofCert:
		return "certificate"
	default:
		return "none"
	}
}

// MaxEpochJump is how far above our current epoch a hello's current or
// config epoch, or a vote request's epoch, may be. A larger one is
// rejected: no group runs 65536 elections we did not hear of, and a forged
// epoch near 2^64 would otherwise stop every later election. The
// post-partition jump of holdBump (1024..2047) stays well below it.
const MaxEpochJump = 1 << 16

// A group can run ahead of an agent by more than MaxEpochJump without
// anything hostile: every confirmation after a partition jumps 1024 to 2047
// epochs (holdBump), so some 43 of them while an agent is down (a host off
// for days on a network that flaps, or the simulator at 30 % loss: 86,642
// epochs in 40 s) left the returning agent refusing every hello, on its old
// configuration for good. So a far epoch is adopted when a majority of the
// group vouches for it (catchUpEpoch): each verified peer's trusted hello
// records the current epoch it announced, and once voters/2+1 peers (we,
// the one behind, do not count) announced epochs beyond the bound, we take
// the highest epoch that many of them reached. One hostile or broken peer
// can no more move us than it can elect a leader; maxCatchUpEpoch keeps even
// a majority from saturating epochs.

// maxCatchUpEpoch is the highest epoch catchUpEpoch adopts: at 2047 epochs
// per partition, no group gets there in a hundred thousand years of
// partitions a second.
const maxCatchUpEpoch = 1 << 48

// catchUpEpoch records the far epoch of a trusted hello from a verified peer
// and, once a majority of the group vouches for epochs beyond MaxEpochJump,
// adopts the highest epoch that majority reached. It reports whether h is
// then within the bound, to be processed as any hello.
func (n *Node) catchUpEpoch(m *master, v Hello, h HelloMsg, runid string) bool {
	si := m.sentinels[runid]
	if si == nil || !si.verified() || !n.trustedHello(v, si) {
		return false
	}
	si.farEpoch = h.CurrentEpoch
	need := n.voters(m)/2 + 1
	var far []uint64
	for _, s := range m.sortedSentinels() {
		if s.verified() && n.epochTooFar(s.farEpoch) && s.farEpoch <= maxCatchUpEpoch {
			far = append(far, s.farEpoch)
		}
	}
	if len(far) < need {
		return false
	}
	slices.Sort(far)
	// need peers announced at least this epoch.
	n.adoptEpoch(far[len(far)-need], strconv.Itoa(len(far))+" agents announced epochs more than "+
		strconv.Itoa(MaxEpochJump)+" above ours: caught up with the highest epoch a majority of the group reached")
	for _, s := range m.sentinels {
		s.farEpoch = 0
	}
	return !n.epochTooFar(h.CurrentEpoch) && !n.epochTooFar(h.ConfigEpoch)
}

// MaxUnverifiedPeers bounds the proposed, not yet verified peers of one
// master. Beyond it new proposals are rejected (+hello-rejected) until the
// verified ones are promoted or the others expire.
const MaxUnverifiedPeers = 64

// minUnverifiedTTL is the least time a proposed peer has to be verified.
const minUnverifiedTTL = 2 * time.Second

// rejectLogPeriod is the least time between two +hello-rejected events.
const rejectLogPeriod = time.Second

// TrustStats counts what the trust rules refused, for metrics.
type TrustStats struct {
	HellosRejected     uint64 // hellos that changed nothing for lack of evidence, or were refused
	VotesRejected      uint64 // vote requests refused (epoch too far ahead, unverified candidate)
	UnverifiedExpired  uint64 // proposed peers forgotten without verification
	PeersVerified      uint64 // peers verified since start
	UnverifiedRejected uint64 // proposals refused because MaxUnverifiedPeers were pending
}

// Trust returns the counters of the trust rules.
func (n *Node) Trust() TrustStats { return n.trust }

// satAdd is a+b, saturating at the largest epoch.
func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// epochTooFar reports whether e is more than MaxEpochJump above our epoch.
func (n *Node) epochTooFar(e uint64) bool {
	return e > satAdd(n.currentEpoch, MaxEpochJump)
}

// verified reports whether s is a verified peer: proven over a direct link
// (at its current address or, after an address switch, at its previous
// one), or restored from our own state.
func (s *instance) verified() bool { return !s.verifiedAddr.IsZero() }

// provenHere reports whether s was verified at the address we know it by.
func (n *Node) provenHere(s *instance) bool {
	return s.verified() && n.sameAddr(s.verifiedAddr, s.addr)
}

// unverifiedTTL is how long a proposed peer of m has to be verified.
func (n *Node) unverifiedTTL(m *master) time.Duration {
	return max(2*m.cfg.DownAfter, minUnverifiedTTL)
}

// verifiedPeers is the number of verified peers of m.
func (n *Node) verifiedPeers(m *master) int {
	c := 0
	for _, s := range m.sentinels {
		if s.verified() {
			c++
		}
	}
	return c
}

// rejectHello counts a refused hello (or proposal) and reports it, at most
// once per rejectLogPeriod.
func (n *Node) rejectHello(m *master, runid, why string) {
	n.trust.HellosRejected++
	n.rejectEvent(m, "+hello-rejected", runid+" "+why)
}

func (n *Node) rejectEvent(m *master, typ, payload string) {
	if n.rejectLogAt != never && n.now-n.rejectLogAt < rejectLogPeriod {
		n.rejectQuiet++
		return
	}
	detail := ""
	if n.rejectQuiet > 0 {
		detail = strconv.FormatUint(n.rejectQuiet, 10) + " similar rejections not logged"
	}
	n.rejectLogAt, n.rejectQuiet = n.now, 0
	n.emit(Event{Type: typ, Level: LevelNotice, Master: m.cfg.Name, Epoch: m.configEpoch, Payload: m.cfg.Name + " " + payload, Detail: detail})
}

// proposePeer handles the peer a hello announces: it returns the record
// for (addr, runid), creating a proposed (unverified) one when needed, or
// nil when the proposal is refused. A verified peer is never displaced by
// a hello (one claiming its run id at another address, or another run id
// claiming its address) unless it has been unreachable for down-after.
func (n *Node) proposePeer(m *master, addr Addr, runid string) *instance {
	si := m.sentinels[runid]
	if si != nil && n.sameAddr(si.addr, addr) {
		return si
	}
	var moved *instance
	if si != nil {
		// Back to the address it was verified at: always; elsewhere only
		// once the peer has been gone for down-after (a live peer, or
		// one just reconnecting, is not moved by anyone's hello).
		if si.verified() && !n.sameAddr(addr, si.verifiedAddr) && !n.gone(si) {
			n.rejectHello(m, runid, fmt.Sprintf("claims the address %s of verified peer at %s", addr, si.addr))
			return nil
		}
		moved = si
	}
	// Every other record at addr, not only the first: a peer moved back to
	// the address it was verified at can find a proposal there, and two
	// records at one address share the transport's one connection there
	// while the core gives each a link of its own (seed 5595: a phantom
	// displaced the real peer's link, whose replies were then dropped as
	// the phantom's, and the two real agents never verified each other
	// again). None may stay once the address changes hands.
	occupants := n.occupants(m, addr, runid)
	for _, other := range occupants {
		if other.verified() && !n.gone(other) {
			n.rejectHello(m, runid, fmt.Sprintf("address %s belongs to verified peer %s", addr, other.runid))
			return nil
		}
	}
	if moved == nil && len(m.sentinels)-n.verifiedPeers(m) >= MaxUnverifiedPeers {
		n.trust.UnverifiedRejected++
		n.rejectHello(m, runid, "too many unverified peers")
		return nil
	}
	for _, other := range occupants {
		n.instEvent(LevelNotice, "+sentinel-invalid-addr", other, "")
		stale := other.runid
		for _, mm := range n.sortedMasters() {
			if s := mm.sentinels[stale]; s != nil {
				n.releaseSentinel(s)
			}
		}
	}
	if moved != nil {
		n.releaseSentinel(moved)
		n.instEvent(LevelNotice, "+sentinel-address-switch", m.inst,
			fmt.Sprintf(" ip %s port %d for %s", addr.Host, addr.Port, runid))
	}
	si = n.addSentinel(m, addr, runid)
	si.proposedAt = n.now
	if moved == nil {
		// The link is shared by every master that knows the peer: a
		// peer already proven on it for another master is proven for
		// this one too (no new LinkUp will come).
		n.forEachInstance(func(s *instance) {
			if s != si && s.kind == KindSentinel && s.link == si.link && s.runid == runid && n.provenHere(s) && !si.verified() {
				si.verifiedAddr, si.proof = s.verifiedAddr, s.proof
				n.dirty = true
				n.instEventDetail(LevelNotice, "+sentinel", si, "", "verified: "+s.proof.String())
			}
		})
		if si.verified() {
			return si
		}
	}
	if moved != nil {
		// Still the agent it was (a voter), but not proven at the new
		// address until its link there is.
		si.verifiedAddr = moved.verifiedAddr
		n.updateSentinelAddressInAllMasters(si)
		n.dirty = true
	} else {
		n.debug(m.cfg.Name, "sentinel-proposed", n.describe(si))
	}
	return si
}

// occupants returns m's records at addr other than runid's, in run id
// order.
func (n *Node) occupants(m *master, addr Addr, runid string) []*instance {
	var out []*instance
	for _, s := range m.sortedSentinels() {
		if s.runid != runid && n.sameAddr(s.addr, addr) {
			out = append(out, s)
		}
	}
	return out
}

// gone reports whether the verified peer s has been unreachable for more
// than down-after: only then may a hello displace it.
func (n *Node) gone(s *instance) bool {
	return s.link.disconnected() && n.now-s.link.lastAvail > s.m.cfg.DownAfter
}

// verifyLink marks the peers behind l verified at its address (LinkUp with
// a proof).
func (n *Node) verifyLink(l *link, proof PeerProof) {
	n.forEachInstance(func(s *instance) {
		if s.kind != KindSentinel || s.link != l || s.runid != l.ref.RunID || n.provenHere(s) {
			return
		}
		first := !s.verified()
		s.verifiedAddr = s.addr
		s.proof = proof
		n.trust.PeersVerified++
		n.dirty = true
		if first {
			if l.heardAt == never {
				// A peer just verified counts as answering for one
				// lease, the time our first PING needs to confirm it,
				// so that its arrival does not make the majority look
				// lost.
				l.heardAt = n.now
			}
			n.instEventDetail(LevelNotice, "+sentinel", s, "", "verified: "+proof.String())
		}
		if s.pubSentAt == never {
			// Our hellos only now reach it with evidence (trustedHello):
			// tell it our epoch and configuration at once rather than at
			// the next publish period, as a confirmation waits for them.
			n.sendHello(s)
		}
	})
}

// expireUnverified forgets m's proposed peers that were not verified in
// time.
func (n *Node) expireUnverified(m *master) {
	ttl := n.unverifiedTTL(m)
	for _, s := range m.sortedSentinels() {
		if s.verified() || n.now-s.proposedAt <= ttl {
			continue
		}
		n.trust.UnverifiedExpired++
		n.rejectEvent(m, "-sentinel-unverified", s.runid+" "+s.addr.String()+" not verified within "+ttl.String())
		n.releaseSentinel(s)
	}
}

// trustedHello reports whether hello v, announcing peer si, came from si
// over an authenticated path: PUBLISHed to our API by a client that
// authenticated, or, with no requirepass (open mode), from si's own
// address. Hellos received on a pub/sub link can come from anyone.
func (n *Node) trustedHello(v Hello, si *instance) bool {
	if !n.provenHere(si) || v.Via.Kind != KindSentinel {
		return false
	}
	if v.Authenticated {
		return true
	}
	if n.cfg.RequirePass != "" {
		return false
	}
	h, err := n.checkHost(v.Via.Addr.Host)
	return err == nil && n.sameAddr(Addr{Host: h}, Addr{Host: si.addr.Host})
}

// maxDialBackoff caps the back-off between connects to an unverified peer.
const maxDialBackoff = 2 * time.Second

// dialPeriod is the least time between two connects of ri's link: a ping
// period (Sentinel's pace), doubling with every failed connect while ri is
// an unverified peer, up to min(maxDialBackoff, its unverifiedTTL/2), and
// back to a ping period once a connect succeeds. Anyone can announce a
// phantom peer, at an address where nothing answers or where something
// fails the proof; redialling each at the ping pace (every 100 to 150 ms)
// until it expires spent connects and file descriptors on them. A verified
// peer, a master or a replica keeps Sentinel's pace: their reconnection
// is what a failover or a fence waits for.
func (n *Node) dialPeriod(ri *instance) time.Duration {
	pp := n.pingPeriod(ri.m)
	l := ri.link
	if ri.kind != KindSentinel || ri.verified() || l.dialFails == 0 {
		return pp
	}
	limit := min(maxDialBackoff, n.unverifiedTTL(ri.m)/2)
	d := pp
	for i := 0; i < l.dialFails && d < limit; i++ {
		d *= 2
	}
	return min(d, max(limit, pp))
}
