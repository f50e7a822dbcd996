package sentinel

import (
	"strconv"
	"time"
)

// heard counts, out of all known agents of m, those that answered us within
// the lease (reach) and those that granted us its VIP lease within it, timed
// from our request (granted; grant.go), ourselves included in both. An
// answer is a PONG or an is-master-down reply. A hello does not count: it
// proves that the peer can reach us, not that we can reach it, and in a
// one-way partition the isolated side keeps receiving hellos while the
// others see it as down. Real redis-sentinel peers cannot grant: their
// answers count as grants.
func (n *Node) heard(m *master) (reach, granted, known int) {
	lease := n.lease(m)
	reach, granted, known = 1, 1, n.voters(m)
	within := func(t Time) bool { return t != never && n.now-t <= lease }
	for _, s := range m.sentinels {
		if !s.verified() {
			continue
		}
		if within(s.link.heardAt) {
			reach++
		}
		if agentRunID(s) && within(s.grantAt) || !agentRunID(s) && within(s.link.heardAt) {
			granted++
		}
	}
	// With min-agents the group size is fixed: a misconfigured extra
	// peer must not make a minority look like a majority.
	return min(reach, known), min(granted, known), known
}

// holdBump starts (or restarts) the confirmation of m's configuration
// after a loss of the majority. Our configuration may be stale, and so may
// hellos that were in flight during the partition. We jump to a new epoch
// 1024 to 2047 above every epoch we know of: a peer adopts it from our
// hellos and answers at once, so a hello carrying exactly that epoch was
// sent after the peer heard from us, and carries its configuration as of
// then (a peer could only be there by itself after a thousand elections we
// did not hear of, and the random part keeps two agents confirming at once
// apart). A hello announcing a higher epoch cannot be placed in time, and
// restarts the confirmation above it.
func (n *Node) holdBump(m *master, above uint64) {
	n.currentEpoch = satAdd(max(n.currentEpoch, above), 1024+uint64(n.rnd.Int63n(1024)))
	m.holdEpoch = n.currentEpoch
	n.dirty = true
	n.newEpochEvent(m)
	n.forceHello(m)
}

// settleHold is called when an epoch we did not know is announced (a hello
// or a vote request). While a fence is held it may be the epoch of a
// failover of our master whose result the answering agents have not heard
// yet: one that voted for the leader answers our confirmation with its old
// configuration, fresh by its epoch but stale, and a majority of such answers
// would hand the VIP back to the old master while the new one holds it with
// a newer config epoch. So the confirmation waits until a vipsentinel leader
// of that epoch has promoted and told everyone, or given up (voteBlock's
// wait for agent leaders), and then asks again.
func (n *Node) settleHold() {
	for _, m := range n.sortedMasters() {
		if m.fenceHold {
			m.settling = true
			m.settleAt = max(m.settleAt, n.now+min(2*m.cfg.FailoverTimeout, max(2*m.cfg.DownAfter, 2*time.Second)))
		}
	}
}

// freshHellos counts the agents (ourselves included) whose hello about m was
// sent after they heard our post-partition epoch: their configuration of m
// is at least as recent as that moment.
func (n *Node) freshHellos(m *master) int {
	count := 1
	for _, s := range m.sentinels {
		if s.verified() && s.helloAt != never && s.helloAt >= m.regainAt && s.helloEpoch == m.holdEpoch {
			count++
		}
	}
	return count
}

// updateVIPs decides, for every master, whether this agent wants its VIP,
// whether it must fence the local master, and emits the quorum and fence
// events. It runs after every input.
//
// The VIP is wanted only while (a) the latest configuration places the
// master on this host, (b) that instance's latest INFO says role:master, its
// command link is up and it answered a PING within the lease, (c) we are not
// in TILT, and (d) with fencing, a majority of the known agents answered
// within the lease. (d) is what makes an isolated old master's host let go
// of the VIP (and pause writes) before the other side, which needs
// down-after to even see the master as down, can promote a replica.
func (n *Node) updateVIPs() {
	now := n.now
	for _, m := range n.sortedMasters() {
		inst := n.currentInst(m)
		l := inst.link
		local := n.isLocal(inst.addr)
		reach, granted, known := n.heard(m)
		ok := reach >= known/2+1
		leaseOK := ok
		if local && m.cfg.Fence {
			leaseOK = granted >= known/2+1
		}
		if ok != m.quorumOK {
			m.quorumOK = ok
			typ := "+quorum-lost"
			if ok {
				typ = "+quorum-regained"
				m.regainAt = now
				if m.fenceHold {
					n.holdBump(m, n.currentEpoch)
				}
			}
			n.instEvent(LevelWarning, typ, m.inst, " #agents "+strconv.Itoa(reach)+"/"+strconv.Itoa(known))
		}
		m.reachable, m.knownAgent = reach, known
		if m.fenceHold && m.settling && now >= m.settleAt {
			// Whatever the new epoch's election produced has reached
			// the agents by now: ask them again.
			m.settling = false
			if ok {
				n.holdBump(m, n.currentEpoch)
			}
		}
		if m.fenceHold && ok && !m.settling && n.freshHellos(m) >= known/2+1 {
			m.fenceHold = false
		}

		m.vipLocal = local
		isMaster := inst.info != nil && inst.roleReported == KindMaster
		linkOK := l.cc == connUp
		pingOK := l.heardAt != never && now-l.heardAt <= n.lease(m)
		if m.cfg.Fence && local && isMaster && linkOK && !n.tilt && l.heardAt != never && now-l.heardAt <= 2*n.pingPeriod(m) {
			// Only while the local master answers promptly: grants hold
			// the others' votes back, and must lapse well before they
			// can see a dead master as down.
			n.requestGrants(m, inst.addr, leaseOK)
		}
		mayClaim := !m.cfg.Fence || n.mayClaim(m, inst.addr)
		var own bool
		var reason string
		switch {
		case !local:
			reason = notLocalReason(m.vip.Reason, inst.addr)
		case !isMaster:
			reason = "local instance does not report role:master"
		case !linkOK:
			reason = "no command link to the local instance"
		case !pingOK:
			reason = "local instance did not answer PING within the lease"
		case n.tilt:
			reason = "TILT mode"
		case m.cfg.Fence && !ok:
			reason = "fenced: no majority of agents heard within the lease"
		case m.cfg.Fence && m.fenceHold:
			reason = "fenced: waiting for the agents' configurations"
		case m.cfg.Fence && !leaseOK:
			reason = "fenced: no majority of agents granted the lease"
		case !mayClaim:
			reason = "fenced: bound by a lease or vote this agent gave"
		default:
			own = true
			reason = "local instance is the master"
			if m.cfg.Fence {
				n.give(m, inst.addr)
			}
		}
		m.vip = VIPIntent{Master: m.cfg.Name, Own: own, Epoch: m.configEpoch, Reason: reason}

		if !local {
			m.held = Addr{}
		} else if own && known > 1 {
			// A claim made before any peer was known (a fresh group's
			// start) held no lease: the peers' arrival does not pause
			// the master while their first grants come in.
			m.held = inst.addr
		}
		// A lease that lapses fences the master that held it; a master
		// that has not held one yet (just promoted, waiting for its first
		// grants) is not paused for that.
		lapsed := sameAddr(m.held, inst.addr) && (!leaseOK || !mayClaim)
		fence := m.cfg.Fence && local && isMaster && linkOK && (!ok || m.fenceHold || lapsed)
		if fence && !ok {
			m.fenceHold = true
		}
		if !fence {
			m.fenceHold = false
			m.settling = false
		}
		if fence != m.fenced {
			m.fenced = fence
			typ := "-fence"
			if fence {
				typ = "+fence"
			}
			n.instEventDetail(LevelWarning, typ, inst, "", "agents heard "+strconv.Itoa(reach)+"/"+strconv.Itoa(known))
		}
		n.managePause(m, inst, fence)
		n.manageHold(m)
	}
}

// managePause keeps a fenced local master paused for writes, renewing the
// pause before it expires, and lifts it once fencing ends (after a pending
// demotion, so that writes never resume on a stale master).
func (n *Node) managePause(m *master, inst *instance, need bool) {
	now := n.now
	pd := n.pauseDuration(m)
	if need {
		if !m.pause.active || !sameAddr(m.pause.addr, inst.addr) || now-m.pause.sentAt >= pd/3 {
			if n.sendOther(inst, purposePause, "CLIENT", "PAUSE", strconv.FormatInt(pd.Milliseconds(), 10), "WRITE") {
				m.pause = pauseState{active: true, addr: inst.addr, sentAt: now}
			}
		}
		return
	}
	if !m.pause.active {
		return
	}
	if m.pause.sentAt != never && now-m.pause.sentAt >= pd {
		m.pause.active = false // expired by itself
		return
	}
	var target *instance
	if sameAddr(m.inst.addr, m.pause.addr) {
		target = m.inst
	} else {
		target = n.findReplica(m, m.pause.addr)
	}
	if target == nil {
		m.pause.active = false
		return
	}
	if target.demoteUntil != never && now < target.demoteUntil {
		return // demote first, then let writes (now refused as READONLY) through
	}
	if m.hold.active && sameAddr(m.hold.addr, m.pause.addr) {
		m.pause.active = false // a forced failover keeps it paused and will lift it
		return
	}
	if target.link.disconnected() {
		return
	}
	if n.sendOther(target, purposeUnpause, "CLIENT", "UNPAUSE") {
		m.pause.active = false
	}
}

// desiredVIPs is the VIP intent of every master that has a VIP.
func (n *Node) desiredVIPs() []VIPIntent {
	var out []VIPIntent
	for _, m := range n.sortedMasters() {
		if m.cfg.HasVIP {
			out = append(out, m.vip)
		}
	}
	return out
}

// MasterStatus is vipsentinel's own view of one master, for `vipsentinel
// status` and INFO.
type MasterStatus struct {
	Name          string
	Addr          Addr // current master address (the promoted replica once reconf_slaves)
	ConfigEpoch   uint64
	FailoverState string
	SDown, ODown  bool
	HasVIP        bool
	VIPWanted     bool
	VIPReason     string
	Fence         bool // fencing enabled for this master
	Fenced        bool // fencing active: local master paused for writes
	// AgentsReachable counts the agents (this one included) heard from
	// within the lease; AgentsKnown all agents ever seen plus this one.
	AgentsReachable, AgentsKnown int
	// KnownReplicas and KnownSentinels count every replica and peer agent
	// known for this master, as SENTINEL MASTER's num-slaves and
	// num-other-sentinels do (replicas with replica-announced 0 included).
	KnownReplicas, KnownSentinels int
	Local                         bool   // the current master address is on this host
	LocalRole                     string // role the local instance last reported, if Local
}

// Status returns the status of every master, sorted by name.
func (n *Node) Status(now Time) []MasterStatus {
	var out []MasterStatus
	for _, m := range n.sortedMasters() {
		inst := n.currentInst(m)
		st := MasterStatus{
			Name:            m.cfg.Name,
			Addr:            inst.addr,
			ConfigEpoch:     m.configEpoch,
			FailoverState:   stateName(m.failoverState),
			SDown:           m.inst.flags&fSDown != 0,
			ODown:           m.inst.flags&fODown != 0,
			HasVIP:          m.cfg.HasVIP,
			VIPWanted:       m.vip.Own,
			VIPReason:       m.vip.Reason,
			Fence:           m.cfg.Fence,
			Fenced:          m.fenced,
			AgentsReachable: m.reachable,
			AgentsKnown:     m.knownAgent,
			KnownReplicas:   len(m.replicas),
			KnownSentinels:  len(m.sentinels),
			Local:           m.vipLocal,
		}
		if st.Local && inst.info != nil {
			st.LocalRole = inst.roleReported.String()
		}
		out = append(out, st)
	}
	return out
}
