package sentinel

import "time"

// DefaultTiming returns Sentinel's timer constants (sentinel.c) plus the
// runtime tick vipsentinel uses. Every zero field of Config.Timing is
// replaced by the value returned here.
func DefaultTiming() Timing {
	return Timing{
		Tick:                   10 * time.Millisecond,
		PingPeriod:             time.Second,
		InfoPeriod:             10 * time.Second,
		AskPeriod:              time.Second,
		PublishPeriod:          2 * time.Second,
		DefaultDownAfter:       30 * time.Second,
		DefaultFailoverTimeout: 3 * time.Minute,
		TiltTrigger:            2 * time.Second,
		TiltPeriod:             30 * time.Second,
		SlaveReconfTimeout:     10 * time.Second,
		MinLinkReconnectPeriod: 15 * time.Second,
		ElectionTimeout:        10 * time.Second,
		ScriptMaxRuntime:       time.Minute,
		ScriptRetryDelay:       30 * time.Second,
	}
}

// withDefaults fills the zero fields of t from DefaultTiming.
func (t Timing) withDefaults() Timing {
	d := DefaultTiming()
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&t.Tick, d.Tick)
	fill(&t.PingPeriod, d.PingPeriod)
	fill(&t.InfoPeriod, d.InfoPeriod)
	fill(&t.AskPeriod, d.AskPeriod)
	fill(&t.PublishPeriod, d.PublishPeriod)
	fill(&t.DefaultDownAfter, d.DefaultDownAfter)
	fill(&t.DefaultFailoverTimeout, d.DefaultFailoverTimeout)
	fill(&t.TiltTrigger, d.TiltTrigger)
	fill(&t.TiltPeriod, d.TiltPeriod)
	fill(&t.SlaveReconfTimeout, d.SlaveReconfTimeout)
	fill(&t.MinLinkReconnectPeriod, d.MinLinkReconnectPeriod)
	fill(&t.ElectionTimeout, d.ElectionTimeout)
	fill(&t.ScriptMaxRuntime, d.ScriptMaxRuntime)
	fill(&t.ScriptRetryDelay, d.ScriptRetryDelay)
	return t
}

// Derived periods. They are the heart of the fast-failover design; doc.go and
// design.md explain the numbers.

const (
	minPeriod     = 10 * time.Millisecond
	maxJitter     = 20 * time.Millisecond
	minElection   = 100 * time.Millisecond
	replicaFastIP = time.Second // Sentinel's INFO period for replicas of a master in trouble
	maxPending    = 100         // SENTINEL_MAX_PENDING_COMMANDS
)

// pingPeriod is how often instances of m are pinged: Sentinel pings at
// min(ping_period, down_after); we ping ten times per down-after so that the
// first unanswered PING is sent at most down_after/10 after a death.
func (n *Node) pingPeriod(m *master) time.Duration {
	return min(n.t.PingPeriod, max(minPeriod, m.cfg.DownAfter/10))
}

// linkPingPeriod is how often ri itself is pinged. The master's period
// bounds failover detection, so the master gets pingPeriod. A healthy
// group's replicas are pinged at three times that (down-after*3/10, at most
// Sentinel's ping period; a multiple, so that their PINGs go out with the
// master's): their liveness matters for the replica selection, which limits
// it at 5 ping-periods of Sentinel's, and a replica dead for down-after is
// still SDOWN within down-after*13/10. While the master is SDOWN or failing
// over, and for a replica being promoted or reconfigured, replicas go back
// to the master's period. Peer agents keep the master's period: a peer link
// is shared by every master, so these pings do not grow with the number of
// masters.
func (n *Node) linkPingPeriod(ri *instance) time.Duration {
	m := ri.m
	pp := n.pingPeriod(m)
	switch ri.kind {
	case KindReplica:
		if m.inst.flags&(fSDown|fODown|fFailoverInProgress) != 0 || m.failoverState != stateNone ||
			ri.flags&(fPromoted|fReconfSent|fReconfInprog) != 0 {
			return pp
		}
		return max(pp, min(n.t.PingPeriod, 3*pp))
	}
	return pp
}

// askPeriod is how often peers are asked about m while we see it SDOWN.
func (n *Node) askPeriod(m *master) time.Duration {
	return min(n.t.AskPeriod, max(minPeriod, m.cfg.DownAfter/20))
}

// opinionTTL is how long a peer's last is-master-down answer (its SDOWN
// opinion and its vote) counts. Sentinel keeps it for five ask periods
// (5 s); five of our ask periods are a quarter of down-after, shorter than
// two TCP retransmissions (Linux's minimum RTO is 200 ms, doubling), so on
// a lossy link the answers in hand expired before the next one got
// through: ODOWN flapped and votes already won were forgotten. We keep
// an answer for down-after, at most Sentinel's 5 s.
func (n *Node) opinionTTL(m *master) time.Duration {
	return max(5*n.askPeriod(m), min(5*n.t.AskPeriod, m.cfg.DownAfter))
}

// fastInfoPeriod is the INFO period of a replica being promoted or
// reconfigured by us.
func (n *Node) fastInfoPeriod(m *master) time.Duration {
	return max(minPeriod, m.cfg.DownAfter/20)
}

// startJitterMax bounds the random delay between ODOWN and the start of a
// failover attempt (Sentinel: up to 1 s of desync).
func (n *Node) startJitterMax(m *master) time.Duration {
	return min(maxJitter, m.cfg.DownAfter/20)
}

// electionWindow is how long we wait for votes before aborting as not
// elected. Votes are answered within one RTT, so a window of a quarter of
// down-after is generous; Sentinel waits min(election_timeout, failover_timeout).
func (n *Node) electionWindow(m *master) time.Duration {
	return min(n.t.ElectionTimeout, m.cfg.FailoverTimeout, max(minElection, m.cfg.DownAfter/4))
}

// lease is how recently a majority of agents must have granted it for a
// fenced master's host to keep its VIP, and how recently the local Redis
// must have answered a PING.
func (n *Node) lease(m *master) time.Duration { return FenceLease(m.cfg.DownAfter) }

// FenceLease is the VIP lease of a fenced master with the given down-after:
// a third of it. The writes an isolated master acknowledges before it is
// fenced are lost at the failover, and they are the writes of one lease;
// a third leaves the lease six grant requests (one per half ping period)
// and stops the grants well before a dead master can be seen as down
// (grant.go). A holder cut off from the peers pauses its master after two
// renewal rounds without grants (renewWindow), a quarter of down-after
// sooner than the lease.
func FenceLease(downAfter time.Duration) time.Duration { return downAfter / 3 }

// pauseDuration is the length of each CLIENT PAUSE sent to a fenced master.
func (n *Node) pauseDuration(m *master) time.Duration {
	return max(100*time.Millisecond, m.cfg.DownAfter)
}

// backoff is the randomized delay before retrying after a failed election
// or a failed replica selection: Raft-like, doubling with each consecutive
// failure, never more than Sentinel's 2×failover_timeout.
func (n *Node) backoff(m *master) time.Duration {
	base := n.electionWindow(m)
	shift := min(max(m.attempts-1, 0), 6)
	d := base << shift
	d += time.Duration(n.rnd.Int63n(int64(d) + 1))
	return min(d, 2*m.cfg.FailoverTimeout)
}

// voteBlock is how long we refrain from starting our own failover of m after
// voting for (or seeing the election of) runid. A real redis-sentinel waits
// 2×failover_timeout before trying again and so must we when it is the
// leader, or we would interrupt its failover; a vipsentinel leader finishes
// promotion in a few round trips, so its voters only wait long enough for the
// new configuration to reach them.
func (n *Node) voteBlock(m *master, runid string) time.Duration {
	full := 2 * m.cfg.FailoverTimeout
	if !IsAgentID(runid) {
		return full + time.Duration(n.rnd.Int63n(int64(time.Second)))
	}
	return min(full, max(2*m.cfg.DownAfter, 2*time.Second))
}

// infoPeriod is the INFO refresh period of a master or replica.
func (n *Node) infoPeriod(ri *instance) time.Duration {
	m := ri.m
	if ri.kind != KindSentinel && m.hold.active && n.sameAddr(m.hold.addr, ri.addr) {
		return n.fastInfoPeriod(m) // paused for a forced failover: watch for the demotion
	}
	if ri.kind != KindReplica {
		if ri == m.inst && n.watchable(m, ri.info) {
			return min(ReplWatchPeriod, n.t.InfoPeriod) // replwatch.go
		}
		return n.t.InfoPeriod
	}
	if ri.demoteUntil != never && n.now < ri.demoteUntil {
		// A local instance to demote at once: watch for the end of its
		// load and for the demotion itself.
		return n.fastInfoPeriod(m)
	}
	if ri.flags&fPromoted != 0 && m.failoverState == stateSendSlaveofNoone && m.sync.phase == syncWaiting {
		// The master is paused for writes until this replica has caught
		// up (sync.go): every tick of the wait is write pause, so ask at
		// every tick (an INFO is due once its period is exceeded: half a
		// tick, not one, or only every other tick would ask), one INFO
		// in flight at a time. Bounded by syncTimeout (at most
		// down-after/2), once per forced failover.
		return n.t.Tick / 2
	}
	if ri.flags&(fReconfSent|fReconfInprog) != 0 ||
		(ri.flags&fPromoted != 0 && m.failoverState == stateWaitPromotion) ||
		n.isLocal(ri.addr) && n.awaitingSwitch(m) {
		return n.fastInfoPeriod(m)
	}
	if m.inst.flags&(fSDown|fODown|fFailoverInProgress) != 0 || ri.masterLinkDownTime != 0 {
		return min(replicaFastIP, n.t.InfoPeriod)
	}
	return n.t.InfoPeriod
}

// awaitingSwitch reports whether we voted for a peer's failover of m and
// its configuration has not reached us yet (the vote is newer than m's
// configuration), for as long as that vote keeps us from backing m's
// current master (m.guard, voteBlock). Meanwhile the replicas on this host
// get their INFO at the fast rate (infoPeriod): one of them may be the
// replica being promoted, and the switch carries its latest INFO to the
// new master instance (carryOf), so with role:master already seen this
// host wants the VIP at its +switch-master instead of after a new link's
// first INFO. Only while a failover we backed runs, so idle traffic is
// unchanged; only local replicas, since no other replica's role decides
// anything here before the switch.
func (n *Node) awaitingSwitch(m *master) bool {
	return m.leader != "" && m.leader != n.myid && m.leaderEpoch > m.configEpoch &&
		n.now < m.guard.until && n.sameAddr(m.guard.addr, m.inst.addr)
}
