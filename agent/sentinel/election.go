package sentinel

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// IsMasterDownByAddr answers SENTINEL IS-MASTER-DOWN-BY-ADDR from a peer.
// down is true when we are not in TILT and see the master at ip:port as
// SDOWN. When runid is not "*" the peer asks for our vote in reqEpoch; the
// reply is our vote for that master, which may be older (leader "*" and
// epoch 0 when we never voted). Epoch 0 with a lease token is a VIP lease
// request from the master's host instead (grant.go).
//
// A vote changes persisted state: the caller must call Ready and persist its
// State before writing the reply (Sentinel flushes its config before
// replying for the same reason).
func (n *Node) IsMasterDownByAddr(now Time, ip string, port int, reqEpoch uint64, runid string) (down bool, leader string, leaderEpoch uint64) {
	if n.crashed {
		return false, "*", 0
	}
	n.setNow(now)
	lease := isLeaseRequest(reqEpoch, runid)
	var m *master
	if h, err := n.checkHost(ip); err == nil {
		for _, mm := range n.sortedMasters() {
			// A vote is about the master record, named by its address as
			// Sentinel does; a lease about the address we know as the
			// master's current one (the promoted replica's once a
			// failover we lead has promoted it: grant.go).
			a := mm.inst.addr
			if lease {
				a = n.currentAddr(mm)
			}
			if n.sameAddr(a, Addr{Host: h, Port: port}) {
				m = mm
				break
			}
		}
	}
	if lease {
		// A grant never changes our own VIP decision: it is refused
		// when it would conflict with it.
		return n.answerLease(m, runid)
	}
	leader = "*"
	if m == nil {
		return false, leader, 0
	}
	down = !n.tilt && m.inst.flags&fSDown != 0
	if runid != "*" {
		lrunid := strings.ToLower(runid)
		switch {
		case !redisrule.IsRunID(runid):
			n.debug(m.cfg.Name, "bad-vote-request", fmt.Sprintf("invalid run id %.64q", runid))
		case n.epochTooFar(reqEpoch):
			n.trust.VotesRejected++
			n.rejectEvent(m, "+vote-rejected", fmt.Sprintf("%s epoch %d more than %d above our epoch %d", lrunid, reqEpoch, MaxEpochJump, n.currentEpoch))
			leader, leaderEpoch = voteOf(m)
		case lrunid != n.myid && (m.sentinels[lrunid] == nil || !m.sentinels[lrunid].verified()):
			// Only a verified peer can be a candidate: a vote (and the
			// epoch it adopts) for anyone else is what a forged request
			// would buy. The reply carries our current vote.
			n.trust.VotesRejected++
			n.rejectEvent(m, "+vote-rejected", lrunid+" is not a verified peer")
			leader, leaderEpoch = voteOf(m)
		default:
			l, e := n.voteLeader(m, reqEpoch, lrunid)
			if l != "" {
				leader, leaderEpoch = l, e
			}
		}
	}
	n.updateVIPs()
	return down, leader, leaderEpoch
}

// voteOf is our current vote for m, as a vote reply carries it.
func voteOf(m *master) (string, uint64) {
	if m.leader == "" {
		return "*", 0
	}
	return m.leader, m.leaderEpoch
}

// voteLeader is sentinelVoteLeader: adopt a newer epoch, and vote for runid
// if we have not voted for this master in reqEpoch or later. One vote per
// master per epoch is what makes the leader of an epoch unique, so the vote
// is persisted (dirty) before anything that depends on it leaves the Node.
func (n *Node) voteLeader(m *master, reqEpoch uint64, runid string) (string, uint64) {
	if reqEpoch > n.currentEpoch {
		n.currentEpoch = reqEpoch
		n.dirty = true
		n.newEpochEvent(m)
		n.settleHold()
	}
	// A paused master gets no vote: with a majority paused, an agent that
	// missed the pause cannot be elected to fail it over (maintenance.go).
	if m.leaderEpoch < reqEpoch && n.currentEpoch <= reqEpoch && n.mayVote(m) && !m.maint.On {
		m.leader = runid
		m.leaderEpoch = n.currentEpoch
		n.dirty = true
		n.masterEvent(LevelWarning, "+vote-for-leader", m, runid+" "+strconv.FormatUint(m.leaderEpoch, 10))
		if runid != n.myid {
			d := n.voteBlock(m, runid)
			n.blockFor(m, d, "voted for "+runid)
			// Until the new configuration is known, or the leader can no
			// longer switch to it, back no VIP claim for the master we
			// voted to depose (grant.go).
			m.guard = grantState{addr: m.inst.addr, until: max(n.now+d, m.guard.until)}
		}
	}
	return m.leader, m.leaderEpoch
}

// blockFor forbids starting a failover of m for d, never shortening an
// existing block, and cancels a jittered start that was pending.
func (n *Node) blockFor(m *master, d Time, why string) {
	until := n.now + d
	if until > m.blockUntil {
		m.blockUntil = until
		n.debug(m.cfg.Name, "failover-blocked", fmt.Sprintf("%s: no failover attempt for %v", why, d))
	}
	m.startAt = never
}

// tally counts the votes for the election of m in epoch, as peers reported
// them, in sorted run-id order.
func (n *Node) tally(m *master, epoch uint64) (counts map[string]int, order []string) {
	counts = map[string]int{}
	for _, s := range m.sortedSentinels() {
		if s.verified() && s.leader != "" && s.leaderEpoch == epoch {
			if counts[s.leader] == 0 {
				order = append(order, s.leader)
			}
			counts[s.leader]++
		}
	}
	return counts, order
}

// needed is the number of votes a leader needs: a majority of the voters,
// and at least the quorum.
func (n *Node) needed(m *master) int {
	return max(n.voters(m)/2+1, m.cfg.Quorum)
}

// voters is the number of agents a majority of m is counted over:
// Config.MinAgents when set (a ceiling as well as a floor, so that no
// number of announced peers can inflate the group), otherwise every
// verified peer ever seen plus us. Unverified peers never count.
func (n *Node) voters(m *master) int {
	if n.cfg.MinAgents > 0 {
		return n.cfg.MinAgents
	}
	return n.verifiedPeers(m) + 1
}

// getLeader is sentinelGetLeader: the run id elected for m in epoch, or "".
// Our own vote goes to the candidate with most votes, or to us.
func (n *Node) getLeader(m *master, epoch uint64) string {
	counts, order := n.tally(m, epoch)
	winner, best := "", 0
	for _, id := range order {
		if counts[id] > best {
			winner, best = id, counts[id]
		}
	}
	cand := winner
	if cand == "" {
		cand = n.myid
	}
	my, myEpoch := n.voteLeader(m, epoch, cand)
	if my != "" && myEpoch == epoch {
		counts[my]++
		if counts[my] > best {
			winner, best = my, counts[my]
		}
	}
	if winner != "" && best < n.needed(m) {
		return ""
	}
	return winner
}

// electionLost reports whether we can no longer win the election of m in
// epoch: we voted for someone in a later epoch, another candidate already
// has enough votes, or even every undecided peer voting for us would not be
// enough. It returns the winner when one is known.
func (n *Node) electionLost(m *master, epoch uint64) (lost bool, winner string) {
	if m.leaderEpoch > epoch {
		return true, m.leader
	}
	need := n.needed(m)
	counts, _ := n.tally(m, epoch)
	if m.leaderEpoch == epoch && m.leader != "" {
		counts[m.leader]++
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if id != n.myid && counts[id] >= need {
			return true, id
		}
	}
	undecided := 0
	for _, s := range m.sentinels {
		if s.verified() && (s.leader == "" || s.leaderEpoch < epoch) {
			undecided++
		}
	}
	if counts[n.myid]+undecided < need {
		return true, ""
	}
	return false, ""
}

// electionTimedOut reports whether our election for m has waited long
// enough without being won. The short window (electionWindow) is enough
// when every answer comes back within a round trip; an answer that a lossy
// link delays comes back one TCP retransmission later (200 ms at least,
// then doubling), and giving up at the window only to ask again in a new
// epoch after a backoff is what stalled failovers for tens of seconds
// under loss (issue 18). So past the window we keep waiting while a peer
// that could still give us its vote is alive and connected (its vote in
// this epoch not yet known, the peer not SDOWN: it answered within
// down-after), and never longer than Sentinel's election timeout,
// min(election timeout, failover-timeout). A dead or cut-off peer turns
// SDOWN within down-after and stops holding the election open; a split
// vote is detected by electionLost, not by this timeout.
func (n *Node) electionTimedOut(m *master) bool {
	waited := n.now - m.failoverStartTime
	if waited > min(n.t.ElectionTimeout, m.cfg.FailoverTimeout) {
		return true
	}
	if waited <= n.electionWindow(m) {
		return false
	}
	return !n.votesInFlight(m, m.failoverEpoch)
}

// votesInFlight reports whether a verified, reachable peer has not yet
// told us its vote in epoch.
func (n *Node) votesInFlight(m *master, epoch uint64) bool {
	for _, s := range m.sortedSentinels() {
		if !s.verified() || s.link.disconnected() || s.flags&fSDown != 0 {
			continue
		}
		if s.leader == "" || s.leaderEpoch < epoch {
			return true
		}
	}
	return false
}

// splitRivals reports, for the election of m we are giving up, whether it
// was split with other candidates (verified peers that voted for themselves
// in our failover epoch) whose run ids sort before ours (lower) and after
// ours (higher).
//
// Two candidates that retry after the same randomized backoff start again
// within a retransmission of each other on a lossy link, vote for
// themselves again, and split again (issue 18: with a dead third agent, two
// survivors split three or four times). So a candidate with a rival of a
// lower run id yields for one round (yieldBackoff), so that the other's
// next request finds its vote free. The candidate whose rivals all have
// higher run ids knows they yield, and retries after the start jitter
// alone: the backoff (a window plus up to a window more) would only delay
// the one retry that wins, and under 10 % loss it was most of the slowest
// failovers. A rival that has not learnt of the split yet retries on its
// own backoff, which our new epoch's vote request beats, or splits once
// more and then knows; each retry uses a fresh epoch, so votes stay one
// per epoch.
func (n *Node) splitRivals(m *master) (lower, higher bool) {
	for _, s := range m.sortedSentinels() {
		if s.verified() && s.runid != "" && s.runid != n.myid &&
			s.leader == s.runid && s.leaderEpoch == m.failoverEpoch {
			if s.runid < n.myid {
				lower = true
			} else {
				higher = true
			}
		}
	}
	return lower, higher
}

// yieldBackoff is the backoff of a candidate that yields after a split
// vote: after the whole range the other candidate's backoff can take, plus
// a window for its vote request to arrive.
func (n *Node) yieldBackoff(m *master) Time {
	base := n.electionWindow(m) << min(max(m.attempts-1, 0), 6)
	return min(2*base+n.backoff(m)/2+n.electionWindow(m), 2*m.cfg.FailoverTimeout)
}
