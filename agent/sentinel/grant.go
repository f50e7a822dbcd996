package sentinel

import (
	"strconv"
	"strings"
	"time"
)

// VIP leases.
//
// With fencing, the agent on the master's host keeps its VIP only while a
// majority of the agents (itself included) grant it a lease. A grant is a
// promise with two halves, kept by the agent that gives it for grantLen:
//
//   - exclusive: it grants no lease for another address of that master,
//     and claims none itself;
//   - no deposition: it votes for no failover of the granted address.
//
// The holder counts each grant from the moment it sent the request, so a
// grant expires at the holder no later than at the agent that gave it. Two
// majorities share an agent, so two hosts can never both hold a majority of
// grants for different addresses, whatever the network does to hellos and
// configurations in flight (the split brain the fence exists to prevent),
// and no failover can be elected while the holder still counts a majority.
//
// The holder asks on slots of half the ping period and pauses its master
// (without giving the VIP up) when no majority granted within two of those
// rounds (renewWindow): the argument above is about the lease, which is
// unchanged; the pause only shortens the time a cut-off holder's master
// acknowledges writes that a failover will drop.
//
// The request is SENTINEL IS-MASTER-DOWN-BY-ADDR <ip> <port> 0 <token>. A
// real redis-sentinel treats it as a vote request for epoch 0, which it
// never grants, and answers with its state and its current vote, so the
// request is harmless in mixed groups; their plain answers count as before
// (see heard), with the weaker guarantee that implies. A vipsentinel agent
// that grants answers 0, the token and epoch 0; the token carries the send
// time, tagged with this incarnation, so a reply is credited exactly.

// grantState is a lease given for a master address until a time.
type grantState struct {
	addr  Addr
	until Time
	// by is the lease nonce of the one requester this grant was given to
	// (grantSelf for our own claim, grantMixed when several or unknown:
	// restored, or a token we could not read), and reqAt the send time,
	// on that requester's clock, of the latest request it answered. Only
	// a release from that requester sent after reqAt frees the grant
	// early (release.go).
	by    string
	reqAt Time
}

// Grant owners that no release names.
const (
	grantSelf  = "self"
	grantMixed = "*"
)

// grantBlocks reports whether g binds us to an address other than a.
func (n *Node) grantBlocks(g grantState, a Addr) bool {
	return n.now < g.until && !n.sameAddr(g.addr, a)
}

// grantCovers reports whether g binds us to a.
func (n *Node) grantCovers(g grantState, a Addr) bool {
	return n.now < g.until && n.sameAddr(g.addr, a)
}

const leaseTokenPrefix = "vipsentinel-lease-"

// grantLen is how long a grant binds the agent that gives it: the lease plus
// an eighth for clocks that run at different rates.
func (n *Node) grantLen(m *master) time.Duration {
	l := n.lease(m)
	return l + l/8
}

// leaseRequestPeriod is how often the master's host asks each peer: on
// slots of half the ping period while it holds a lease (down-after/20:
// six and two thirds chances per lease, so a lost request or reply costs
// no lease, and every other slot is a PING slot, so the agent wakes no
// more often than that), and as often as minPeriod while it does not (a
// new master's host asks as soon as the peers learn of it).
//
// The requests stand in for the holder's PINGs to the peers it asks
// (requestGrants, pingsStandIn): a reply proves the link as a PONG does,
// so a holder sends one message per slot to each peer instead of a PING
// and a request, and the peers answer one.
func (n *Node) leaseRequestPeriod(m *master, held bool) time.Duration {
	if !held {
		return minPeriod
	}
	return max(minPeriod, n.pingPeriod(m)/2)
}

// renewWindow is how recently a majority of agents must have answered the
// holder's lease requests (granting or not) for its master to keep taking
// writes: two renewal rounds and half of a third, or half a round more than
// the longest silence a peer answering our requests kept recently
// (stallMemory), whichever is longer, and never less than a round before
// the lease ends. A holder cut off from the peers pauses its master that
// long after its last answered request (+lease-pause), instead of at the
// end of the lease: the writes it acknowledges meanwhile are what a
// failover loses. It is a pause only: the VIP stays until the lease ends,
// and the pause is lifted as soon as answers arrive again.
//
// Why it widens: on a clean network a lost request or reply is recovered
// by TCP when the next request is acknowledged, one round later, so two
// rounds and a half never pause. Under packet loss a lost segment stalls
// its connection for a retransmission timeout instead (200 ms at least on
// Linux, four renewal rounds at down-after 1 s), and everything queued
// behind it waits: with 5 % of a host's frames dropped, each peer's link
// stalls about twice a second and both of a three-agent group's links at
// once about as often as the fixed window fired (482 false pauses in 10
// minutes). A cut silences every link for good, while such a stall ends
// with the retransmission, as the ones before it did: pausing only after a
// silence longer than any single link kept recently tells them apart, and
// costs a cut during lossy periods the writes of the wider window only.
func (n *Node) renewWindow(m *master) time.Duration {
	r := n.leaseRequestPeriod(m, true)
	base := 2*r + r/2
	w := max(base, m.stalls.get(n.now, stallMemory)+r/2)
	return min(w, max(base, n.lease(m)-r))
}

// stallMemory is how long a peer's silence widens renewWindow: long
// enough to span the bursts of a lossy link (several stalls a second at
// 5 % loss), short enough that a link that became clean again soon gets
// the short window back.
const stallMemory = 30 * time.Second

// noteAnswerGap records, for renewWindow, the silence a peer kept between
// two answers to our lease requests. A silence longer than the lease is
// not jitter: the peer was away (down, restarting, cut), and its link
// gets no say in the window.
func (n *Node) noteAnswerGap(m *master, gap time.Duration) {
	if gap <= n.lease(m) {
		m.stalls.note(n.now, gap, stallMemory)
	}
}

// restoreGrant runs when m is restored from persisted state. Grants the
// previous run gave are not remembered, but they were all for the address
// it persisted before giving the first of them: for grantLen, we are bound
// as if we had just granted that address.
func (n *Node) restoreGrant(m *master, a Addr) {
	m.leaseAddr = a
	if !a.IsZero() {
		m.grant = grantState{addr: a, until: n.now + n.grantLen(m), by: grantMixed}
	}
}

// give records a grant for a to the requester whose lease nonce is by, for
// a request it sent at reqAt (its clock), or to ourselves (by grantSelf).
// A new address is persisted before the grant leaves the Node (see
// restoreGrant).
func (n *Node) give(m *master, a Addr, by string, reqAt Time) {
	if !n.sameAddr(m.leaseAddr, a) {
		m.leaseAddr = a
		n.dirty = true
	}
	prev := m.grant
	m.grant = grantState{addr: a, until: max(prev.until, n.now+n.grantLen(m)), by: by, reqAt: reqAt}
	if n.grantCovers(prev, a) && prev.by != by {
		// Still binding for someone else too: no single release frees it.
		m.grant.by = grantMixed
	} else if n.grantCovers(prev, a) {
		m.grant.reqAt = max(prev.reqAt, reqAt)
	}
}

// unsure reports whether a TILT-worthy gap since the last tick has not been
// processed yet: a forward clock jump may have cut grants short.
func (n *Node) unsure() bool {
	return n.haveTick && n.now-n.lastTick > n.t.TiltTrigger
}

// rearmGrants runs when TILT is entered: a grant that was running at the
// last tick is extended by a full grantLen, since the clock that timed it
// can no longer be trusted.
func (n *Node) rearmGrants() {
	for _, m := range n.sortedMasters() {
		if m.grant.until > n.lastTick {
			m.grant.until = max(m.grant.until, n.now+n.grantLen(m))
		}
	}
}

func (n *Node) leaseToken(m *master) string {
	if n.leaseNonce == "" {
		n.leaseNonce = strconv.FormatInt(n.rnd.Int63n(1<<62), 36)
	}
	return leaseTokenPrefix + n.leaseNonce + "-" + strconv.FormatUint(m.configEpoch, 10) + "-" + strconv.FormatInt(int64(n.now), 10)
}

// isLeaseRequest tells a lease request from a vote request.
func isLeaseRequest(epoch uint64, runid string) bool {
	return epoch == 0 && strings.HasPrefix(runid, leaseTokenPrefix)
}

// maxNonceLen bounds the nonce read from a peer's token or release: ours
// are at most 12 base-36 digits.
const maxNonceLen = 16

// leaseTokenFields is what a lease token carries.
type leaseTokenFields struct {
	nonce string // the requester's incarnation
	epoch uint64 // its config epoch of the master
	at    Time   // send time, on its clock
}

// parseLeaseToken reads a lease token (ours or a peer's: bounded, never
// trusted beyond what it names).
func parseLeaseToken(token string) (leaseTokenFields, bool) {
	rest, ok := strings.CutPrefix(token, leaseTokenPrefix)
	if !ok {
		return leaseTokenFields{}, false
	}
	nonce, rest, ok := strings.Cut(rest, "-")
	if !ok || nonce == "" || len(nonce) > maxNonceLen {
		return leaseTokenFields{}, false
	}
	ep, at, ok := strings.Cut(rest, "-")
	if !ok {
		return leaseTokenFields{}, false
	}
	e, err1 := strconv.ParseUint(ep, 10, 64)
	t, err2 := strconv.ParseInt(at, 10, 64)
	if err1 != nil || err2 != nil {
		return leaseTokenFields{}, false
	}
	return leaseTokenFields{nonce: nonce, epoch: e, at: Time(t)}, true
}

// grantedAt returns the send time carried by one of our own tokens for m's
// current configuration, sent after our last release of m's lease (a peer
// may have freed a grant given to an earlier request: release.go).
func (n *Node) grantedAt(m *master, token string) (Time, bool) {
	f, ok := parseLeaseToken(token)
	if !ok || n.leaseNonce == "" || f.nonce != n.leaseNonce || f.epoch != m.configEpoch || f.at > n.now {
		return 0, false
	}
	if m.released && f.at <= m.releasedAt {
		return 0, false
	}
	return f.at, true
}

// agentRunID reports whether s is a vipsentinel agent, caching the answer.
func agentRunID(s *instance) bool {
	if s.agentOf != s.runid {
		s.agentOf, s.agent = s.runid, IsAgentID(s.runid)
	}
	return s.agent
}

// answerLease answers a lease request for m's current address (m nil when
// the address is not a master we know as current).
//
// During a failover the master being deposed gets no grant. The one
// exception is the leader's: once it has seen the promoted replica report
// role:master (reconf_slaves on) the new configuration is born (its epoch
// is final, and no state after that aborts it: Sentinel's
// GET-MASTER-ADDR-BY-NAME already answers with that replica), and the
// leader grants that address to the new master's host under the same
// rules as anyone (promotedGrant). It hears of the promotion first, while
// the other agents wait for its hellos; the old holder's host, often the
// leader since SENTINEL FAILOVER goes to the agent the clients use, used
// to refuse until its reconfiguration of the replicas ended, so the new
// master's host waited for the third agent's grant.
//
// Why a grant stays exclusive: the rules below are the ones every grant
// passes, applied to that address. grantBlocks refuses while any grant of
// ours binds us to another address of the master: the old holder's own
// claim of the old address (a claim is a grant to ourselves) is freed only
// by its release (release.go), which waits for the VIP manager to confirm
// that the VIP is off this host; a grant we gave anyone else for the old
// address, or one restored from our state, is never freed by our own
// release and must lapse. guard refuses an address we voted to depose.
// The grant then binds us to the promoted address for grantLen (give),
// against any other grant or claim, and against votes to depose it
// (mayVote checks the address we know as current, not only the master
// record's). So every agent is still bound to at most one address at a
// time, a holder still counts a grant only from its request, and two
// majorities share an agent: two hosts never hold a majority of grants for
// different addresses.
func (n *Node) answerLease(m *master, token string) (down bool, leader string, epoch uint64) {
	if m == nil {
		return false, "*", 0
	}
	a, inst := n.currentAddr(m), n.currentInst(m)
	down = !n.tilt && inst.flags&fSDown != 0
	switch {
	case n.tilt, n.unsure(), down,
		m.failoverState != stateNone && !n.promotedGrant(m),
		n.grantBlocks(m.grant, a),
		n.grantCovers(m.guard, a),
		n.silence(inst) > n.grantSilence(m):
		return down, "*", 0
	}
	by, at := grantMixed, Time(0)
	if f, ok := parseLeaseToken(token); ok {
		by, at = f.nonce, f.at
	}
	n.give(m, a, by, at)
	return false, token, 0
}

// grantSilence is how long a peer may have gone without an answer from the
// master and still grant its lease: three quarters of the lease. Its last
// grant then lapses at most 3/4 + 9/8 of the lease (0.625×down-after)
// after the master's last answer, before it could see the master as down:
// grants never delay a failover. Not less: a PING lost on a lossy link is
// recovered by TCP when the next PING (a ping period later) is
// acknowledged, and a peer that refused for every such loss left the
// holder without grants, and its master fenced, under a few percent of
// loss (half a lease: 51 fences in 3 minutes at 5 % loss on the master's
// host in the lab).
func (n *Node) grantSilence(m *master) time.Duration { return n.lease(m) * 3 / 4 }

// silence is how long ri has left us without an answer: what SDOWN
// compares with down-after (and grantSilence).
func (n *Node) silence(ri *instance) Time {
	l := ri.link
	switch {
	case l.actPing != never:
		return n.now - l.actPing
	case l.disconnected():
		return n.now - l.lastAvail
	}
	return 0
}

// promotedGrant reports whether m's failover, which we lead, has promoted
// its replica (role:master seen): the address a lease request names is
// then the promoted one (currentAddr), which we may grant (answerLease).
func (n *Node) promotedGrant(m *master) bool {
	return m.promoted != nil && m.failoverState >= stateReconfSlaves
}

// mayVote reports whether we may vote to depose m's current master: not
// while a grant for it binds us. During a failover we lead the master
// record still names the old address while the one we know as current,
// and may have granted, is the promoted replica's (answerLease): both
// count.
func (n *Node) mayVote(m *master) bool {
	return !n.unsure() && !n.grantCovers(m.grant, m.inst.addr) && !n.grantCovers(m.grant, n.currentAddr(m))
}

// mayClaim reports whether our own grants allow us to claim m's VIP for
// a: no grant for another address binds us and we did not vote to depose a
// recently.
func (n *Node) mayClaim(m *master, a Addr) bool {
	return !n.grantBlocks(m.grant, a) && !n.grantCovers(m.guard, a)
}

// requestGrants asks every peer agent of m for a grant for a (the current
// master address, which is the promoted replica's once we reconfigure the
// others), once per slot of leaseRequestPeriod of the Node's clock, so that
// every peer is asked in the same pass and the Node wakes once per slot
// for all of them. A request counts as a PING of the peer's link
// (pingsStandIn).
func (n *Node) requestGrants(m *master, a Addr, held bool) {
	now := n.now
	period := n.leaseRequestPeriod(m, held)
	var token string
	for _, s := range m.sortedSentinels() {
		if !s.verified() || !agentRunID(s) || s.link.cc != connUp || s.link.pending >= maxPending {
			continue
		}
		if s.leaseReqAt != never && (now/period == s.leaseReqAt/period || now-s.leaseReqAt < period/2) {
			continue
		}
		if token == "" {
			token = n.leaseToken(m)
		}
		c := []string{"SENTINEL", "is-master-down-by-addr", n.announceHost(a.Host), strconv.Itoa(a.Port), "0", token}
		n.send(s, CmdAskMasterDown, [][]string{c})
		s.leaseReqAt = now
		l := s.link
		l.leaseAt, l.leaseEvery = now, period
		l.lastPing = now
		if l.actPing == never {
			l.actPing = now
		}
	}
}

// pingsStandIn reports whether lease requests stand in for the PINGs of
// peer link l: one went out within its period (and a tick), so the next
// one is due in this pass or the next. Commands on a link are answered in
// order, so a reply to a request proves the link as a PONG would
// (onIsDownReply), and the request carries the PING's bookkeeping
// (requestGrants): SDOWN of the peer, and the majority the fence counts,
// are decided exactly as with PINGs.
func (n *Node) pingsStandIn(l *link) bool {
	return l.leaseAt != never && n.now-l.leaseAt <= l.leaseEvery+n.t.Tick
}
