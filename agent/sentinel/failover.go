package sentinel

import (
	"fmt"
	"strings"
)

// SimFailure is the set of SENTINEL SIMULATE-FAILURE crash points.
type SimFailure uint

// Crash points, with Sentinel's flag values (shown in INFO as
// sentinel_simulate_failure_flags).
const (
	SimCrashAfterElection  SimFailure = 1 << 0
	SimCrashAfterPromotion SimFailure = 1 << 1
)

// ParseSimFailure parses the arguments of SENTINEL SIMULATE-FAILURE (not
// HELP, which the caller answers).
func ParseSimFailure(args []string) (SimFailure, error) {
	var f SimFailure
	for _, a := range args {
		switch strings.ToLower(a) {
		case "crash-after-election":
			f |= SimCrashAfterElection
		case "crash-after-promotion":
			f |= SimCrashAfterPromotion
		default:
			return 0, &ReplyError{Msg: "ERR Unknown failure simulation specified"}
		}
	}
	return f, nil
}

// SimulateFailure arms the given crash points (replacing the previous set).
func (n *Node) SimulateFailure(f SimFailure) { n.simFailure = f }

func (n *Node) simCrash(point string) {
	n.crashed = true
	n.crash = true
	n.emit(Event{Type: "simulated-crash", Level: LevelDebug, Epoch: n.currentEpoch,
		Payload: "Simulated failure: " + point, Detail: "the runtime must exit with status 99"})
}

// startFailoverIfNeeded is sentinelStartFailoverIfNeeded with vipsentinel's
// scheduling: a short random jitter after ODOWN instead of Sentinel's up to
// one second of desync, and blocks (after a vote, a failed attempt, or a
// timed-out promotion) instead of a flat 2×failover_timeout.
func (n *Node) startFailoverIfNeeded(m *master) bool {
	ri := m.inst
	if ri.flags&fODown == 0 {
		m.startAt = never
		return false
	}
	if ri.flags&fFailoverInProgress != 0 {
		return false
	}
	if n.maintenanceBlocks(m) {
		m.startAt = never
		return false
	}
	if n.now < m.blockUntil {
		if m.blockLog != m.blockUntil {
			m.blockLog = m.blockUntil
			n.debug(m.cfg.Name, "next-failover-delay",
				fmt.Sprintf("Next failover delay: I will not start a failover before %v from now", m.blockUntil-n.now))
		}
		m.startAt = never
		return false
	}
	if m.startAt == never {
		m.startAt = n.now + Time(n.rnd.Int63n(int64(n.startJitterMax(m))+1))
	}
	if n.now < m.startAt {
		return false
	}
	m.startAt = never
	n.startFailover(m)
	return true
}

// startFailover is sentinelStartFailover: a new epoch and wait_start.
func (n *Node) startFailover(m *master) {
	ri := m.inst
	m.failoverState = stateWaitStart
	m.stateChangeTime = n.now
	ri.flags |= fFailoverInProgress
	// Saturating: at the largest epoch no new election can be won (every
	// vote in it is given), which is safe; MaxEpochJump keeps hostile
	// hellos from getting there.
	n.currentEpoch = satAdd(n.currentEpoch, 1)
	m.failoverEpoch = n.currentEpoch
	n.dirty = true
	n.newEpochEvent(m)
	n.instEvent(LevelWarning, "+try-failover", ri, "")
	m.failoverStartTime = n.now
}

// abortFailover is sentinelAbortFailover (legal up to wait_promotion).
func (n *Node) abortFailover(m *master) {
	m.inst.flags &^= fFailoverInProgress | fForceFailover
	m.sync = failoverSync{}
	m.target = Addr{}
	m.failoverState = stateNone
	m.stateChangeTime = n.now
	if m.promoted != nil {
		m.promoted.flags &^= fPromoted
		m.promoted = nil
	}
}

// failoverStateMachine runs m's failover, moving through as many states as
// the current information allows (Sentinel moves one state per timer run).
func (n *Node) failoverStateMachine(m *master) {
	for range 8 {
		if m.inst.flags&fFailoverInProgress == 0 || n.crashed {
			return
		}
		prev := m.failoverState
		switch m.failoverState {
		case stateWaitStart:
			n.failoverWaitStart(m)
		case stateSelectSlave:
			n.failoverSelectSlave(m)
		case stateSendSlaveofNoone:
			n.failoverSendSlaveofNoone(m)
		case stateWaitPromotion:
			if n.now-m.stateChangeTime > m.cfg.FailoverTimeout {
				n.instEvent(LevelWarning, "-failover-abort-slave-timeout", m.inst, "")
				n.abortFailover(m)
				// SLAVEOF NO ONE was sent: a replica may have been
				// promoted, so keep Sentinel's 2×failover_timeout.
				n.blockFor(m, 2*m.cfg.FailoverTimeout, "promotion timed out")
			}
		case stateReconfSlaves:
			n.reconfNextSlave(m)
			n.detectEnd(m)
		}
		if m.failoverState == prev {
			return
		}
	}
}

func (n *Node) failoverWaitStart(m *master) {
	ri := m.inst
	leader := n.getLeader(m, m.failoverEpoch)
	if leader != n.myid && ri.flags&fForceFailover == 0 {
		lost, winner := n.electionLost(m, m.failoverEpoch)
		timeout := n.electionTimedOut(m)
		if !lost && !timeout {
			return
		}
		detail := "election timed out"
		if lost {
			detail = "election lost"
			if winner != "" {
				detail += " to " + winner
			}
		}
		n.instEventDetail(LevelWarning, "-failover-abort-not-elected", ri, "", detail)
		n.abortFailover(m)
		m.attempts++
		lower, higher := n.splitRivals(m)
		switch {
		case winner != "" && winner != n.myid:
			n.blockFor(m, n.voteBlock(m, winner), "leader "+winner+" elected")
		case lower:
			n.blockFor(m, n.yieldBackoff(m), "split vote: yielding to a candidate with a lower run id")
		case higher:
			// The others yield: retry after the start jitter only.
			n.blockFor(m, 0, "split vote: retrying at once, the other candidates have higher run ids")
		default:
			n.blockFor(m, n.backoff(m), "not elected")
		}
		return
	}
	n.instEvent(LevelWarning, "+elected-leader", ri, "")
	if n.simFailure&SimCrashAfterElection != 0 {
		n.simCrash("crash-after-election")
		return
	}
	m.failoverState = stateSelectSlave
	m.stateChangeTime = n.now
	m.selectWaitLogged = false
	n.instEvent(LevelWarning, "+failover-state-select-slave", ri, "")
}

func (n *Node) failoverSelectSlave(m *master) {
	r, detail, cs := n.selectReplica(m)
	if !m.target.IsZero() {
		// The operator named the replica (vipsentinel failover --to):
		// it qualifies now or the switchover aborts; nothing is waited for.
		r, detail = n.selectTarget(m)
	} else if r != nil {
		if aw := n.awaitedReplicas(cs, r); len(aw) > 0 {
			var names []string
			for _, c := range aw {
				names = append(names, c.Addr.String())
			}
			waited := n.now - m.stateChangeTime
			if waited < n.selectWait(m) {
				if !m.selectWaitLogged {
					m.selectWaitLogged = true
					n.debug(m.cfg.Name, "failover-wait-replicas", fmt.Sprintf(
						"not promoting %s yet: waiting up to %v for %s, unheard of lately, which may hold writes it lacks",
						r.addr, n.selectWait(m), strings.Join(names, ", ")))
				}
				return
			}
			detail += fmt.Sprintf("; waited %v for %s", waited, strings.Join(names, ", "))
		} else if waited := n.now - m.stateChangeTime; waited > 0 {
			detail += fmt.Sprintf("; waited %v for the replicas to answer", waited)
		}
	}
	if r == nil {
		n.instEventDetail(LevelWarning, "-failover-abort-no-good-slave", m.inst, "", detail)
		n.abortFailover(m)
		m.attempts++
		n.blockFor(m, n.backoff(m), "no good replica")
		return
	}
	n.instEventDetail(LevelWarning, "+selected-slave", r, "", detail)
	r.flags |= fPromoted
	m.promoted = r
	m.failoverState = stateSendSlaveofNoone
	m.stateChangeTime = n.now
	n.instEvent(LevelNotice, "+failover-state-send-slaveof-noone", r, "")
}

func (n *Node) failoverSendSlaveofNoone(m *master) {
	r := m.promoted
	if r.link.disconnected() {
		if s := m.sync.phase; s != syncOff && s != syncDone {
			n.syncReplica(m, r) // the catch-up's bound holds without the replica too
			if m.inst.flags&fFailoverInProgress == 0 {
				return
			}
		}
		if n.now-m.stateChangeTime > m.cfg.FailoverTimeout {
			n.instEvent(LevelWarning, "-failover-abort-slave-timeout", m.inst, "")
			n.abortFailover(m)
			m.attempts++
			n.blockFor(m, n.backoff(m), "promoted replica unreachable")
		}
		return
	}
	if !n.syncReplica(m, r) {
		return
	}
	if !n.sendSlaveOf(r, Addr{}, purposePromote) {
		return
	}
	n.instEvent(LevelNotice, "+failover-state-wait-promotion", r, "")
	m.failoverState = stateWaitPromotion
	m.stateChangeTime = n.now
}

// promotionDone is the INFO-driven end of wait_promotion: the new
// configuration is born, with the failover epoch as its config epoch.
func (n *Node) promotionDone(m *master, r *instance) {
	m.configEpoch = m.failoverEpoch
	m.failoverState = stateReconfSlaves
	m.stateChangeTime = n.now
	m.attempts = 0
	n.dirty = true
	n.instEvent(LevelWarning, "+promoted-slave", r, "")
	if n.simFailure&SimCrashAfterPromotion != 0 {
		n.simCrash("crash-after-promotion")
		return
	}
	n.instEvent(LevelWarning, "+failover-state-reconf-slaves", m.inst, "")
	n.reconfScript(m, "leader", m.inst.addr, r.addr)
	if mi := m.inst; m.hold.active && n.sameAddr(m.hold.addr, mi.addr) {
		// The old master we paused for a forced failover follows the new
		// one now, so that its pause can be lifted without a write
		// reaching it (the switch may be a failover-timeout away).
		//
		// +convert-to-slave waits for the transaction's success: when
		// nothing else delays the switch, the reset in this same pass
		// closes the link the transaction went out on, and the new
		// replica instance then demotes it (with its own event) as
		// Sentinel would.
		if id, ok := n.sendSlaveOfID(mi, r.addr, purposeDemote); ok {
			p := n.pending[id]
			p.done = &Event{Type: "+convert-to-slave", Level: LevelNotice, Master: m.cfg.Name,
				Payload: n.describeReplica(mi.addr, m, r.addr), Detail: "old master, paused for a forced failover, follows the promoted replica"}
			n.pending[id] = p
		}
	} else if mi.link.cc == connUp && mi.roleReported == KindMaster {
		// An old master we still have a connection to (declared down
		// through loss or a one-way cut, or back just now) would stay a
		// writable master until its own agent hears of the switch, or
		// Sentinel's convert-to-slave 8 s later; clients still following
		// it write into data the group discards (issue 13: 610 ms of two
		// writable masters in the campaign). The new configuration is
		// born, so demote it now; a dead one never gets the command.
		if n.sendSlaveOf(mi, r.addr, purposeDemote) {
			n.debug(m.cfg.Name, "old-master-demote", fmt.Sprintf(
				"old master %s still connected: SLAVEOF %s sent at the promotion", mi.addr, r.addr))
		}
	}
	n.forceHello(m)
}

// reconfNextSlave is sentinelFailoverReconfNextSlave. The reconf-sent
// timeout is checked on every replica, not only those the loop reaches, so
// that one stuck replica does not hold the others back.
func (n *Node) reconfNextSlave(m *master) {
	p := m.promoted
	reps := m.sortedReplicas()
	inProgress := 0
	for _, r := range reps {
		if r.flags&fReconfSent != 0 && n.now-r.reconfSentTime > n.t.SlaveReconfTimeout {
			n.instEvent(LevelNotice, "-slave-reconf-sent-timeout", r, "")
			r.flags &^= fReconfSent
			r.flags |= fReconfDone
		}
		if r.flags&(fReconfSent|fReconfInprog) != 0 {
			inProgress++
		}
	}
	for _, r := range reps {
		if inProgress >= m.cfg.ParallelSyncs {
			break
		}
		if r.flags&(fPromoted|fReconfDone|fReconfSent|fReconfInprog) != 0 || r.link.disconnected() {
			continue
		}
		if n.sendSlaveOf(r, p.addr, purposeReconf) {
			r.flags |= fReconfSent
			r.reconfSentTime = n.now
			n.instEvent(LevelNotice, "+slave-reconf-sent", r, "")
			inProgress++
		}
	}
}

// detectEnd is sentinelFailoverDetectEnd.
func (n *Node) detectEnd(m *master) {
	p := m.promoted
	if p == nil || p.flags&fSDown != 0 {
		return
	}
	notReconfigured := 0
	for _, r := range m.replicas {
		if r.flags&(fPromoted|fReconfDone) == 0 && r.flags&fSDown == 0 {
			notReconfigured++
		}
	}
	timeout := false
	if n.now-m.stateChangeTime > m.cfg.FailoverTimeout {
		notReconfigured = 0
		timeout = true
		n.instEvent(LevelWarning, "+failover-end-for-timeout", m.inst, "")
	}
	if notReconfigured == 0 {
		n.instEvent(LevelWarning, "+failover-end", m.inst, "")
		m.failoverState = stateUpdateConfig
		m.stateChangeTime = n.now
	}
	if timeout {
		for _, r := range m.sortedReplicas() {
			if r.flags&(fPromoted|fReconfDone|fReconfSent) != 0 || r.link.disconnected() {
				continue
			}
			if n.sendSlaveOf(r, p.addr, purposeReconf) {
				n.instEvent(LevelNotice, "+slave-reconf-sent-be", r, "")
			}
		}
	}
}

// switchToPromoted is sentinelFailoverSwitchToPromotedSlave (update_config).
func (n *Node) switchToPromoted(m *master) {
	ref := m.promoted
	if ref == nil {
		ref = m.inst
	}
	n.masterEvent(LevelWarning, "+switch-master", m, n.switchPayload(m.cfg.Name, m.inst.addr, ref.addr))
	n.resetMasterAndChangeAddress(m, ref.addr)
}

// resetMaster is sentinelResetMaster: forget replicas (and sentinels unless
// keepSentinels), links, flags and the failover, and start over with a fresh
// master instance at addr. Votes and epochs are kept.
func (n *Node) resetMaster(m *master, addr Addr, keepSentinels, event bool) {
	for _, r := range m.sortedReplicas() {
		n.releaseInstanceLinks(r)
	}
	m.replicas = map[string]*instance{}
	if !keepSentinels {
		for _, s := range m.sortedSentinels() {
			n.releaseSentinel(s)
		}
	}
	n.releaseInstanceLinks(m.inst)
	m.inst = n.newInstance(KindMaster, m.cfg.Name, addr, m)
	m.inst.link = newLink(n.now, Ref{Master: m.cfg.Name, Kind: KindMaster, Addr: addr}, true)
	m.failoverState = stateNone
	m.stateChangeTime = never
	m.failoverStartTime = never
	m.promoted = nil
	m.sync = failoverSync{}
	m.target = Addr{}
	m.startAt = never
	m.blockUntil = never
	m.attempts = 0
	if event {
		n.instEvent(LevelWarning, "+reset-master", m.inst, "")
	}
}

// carried is what a switch keeps of the promoted replica for the new master
// instance: its INFO (role:master) and its last round trip. Without them the
// agent on the new master's host dropped the VIP at its own +switch-master
// ("does not report role:master") and took it back ~15 ms later, once the
// new link had answered PING and INFO. Only a promoted replica whose link
// was up and that reported role:master is carried; the fence and VIP rules
// still need an answer within the lease, and the new link counts as up
// until its first connection is lost (linkCmdLost).
type carried struct {
	info             *Info
	infoRaw, runid   string
	infoRefresh      Time
	roleReportedTime Time
	heardAt          Time
	localIP          string // our side's address toward it: hellos announce it
}

// carryOf snapshots prom for carryTo, before the reset closes its link.
func carryOf(prom *instance) *carried {
	if prom == nil || prom.info == nil || prom.roleReported != KindMaster ||
		prom.link.cc != connUp || prom.link.heardAt == never {
		return nil
	}
	return &carried{info: prom.info, infoRaw: prom.infoRaw, runid: prom.runid,
		infoRefresh: prom.infoRefresh, roleReportedTime: prom.roleReportedTime, heardAt: prom.link.heardAt,
		localIP: prom.link.localIP}
}

// carryTo gives the master instance a reset just created what c kept.
func (c *carried) carryTo(mi *instance) {
	if c == nil {
		return
	}
	mi.info, mi.infoRaw, mi.infoRefresh, mi.runid = c.info, c.infoRaw, c.infoRefresh, c.runid
	mi.roleReported, mi.roleReportedTime = KindMaster, c.roleReportedTime
	mi.link.heardAt = c.heardAt
	mi.link.localIP = c.localIP
	mi.link.carried = true
}

// takeConvertEvent takes the +convert-to-slave waiting for the success of
// a demotion of a (m's old master) still in flight, if any: the reset
// closes the link its completion would come back on.
func (n *Node) takeConvertEvent(m *master, a Addr) *Event {
	// The lowest id, so that the walk of the map decides nothing (there
	// is one such demotion per failover).
	var found uint64
	for id, p := range n.pending {
		if p.done != nil && p.purpose == purposeDemote && p.ref.Master == m.cfg.Name && n.sameAddr(p.ref.Addr, a) &&
			(found == 0 || id < found) {
			found = id
		}
	}
	if found == 0 {
		return nil
	}
	p := n.pending[found]
	ev := p.done
	p.done = nil
	n.pending[found] = p
	return ev
}

// resetMasterAndChangeAddress is sentinelResetMasterAndChangeAddress: the
// new master at addr, every other known address (the old master included)
// as its replicas. A local instance that last claimed role:master under the
// old configuration is marked for immediate demotion: the configuration
// that names another master is newer than whatever made it master.
func (n *Node) resetMasterAndChangeAddress(m *master, addr Addr) {
	type rep struct {
		a         Addr
		demote    bool
		converted *Event
	}
	var reps []rep
	// So is an old master we keep paused after a forced failover. A local
	// instance not heard from yet is too (bootconfirm.go): a host that
	// rebooted learns the newer configuration while its Redis still
	// loads, and that Redis then reports role:master from its own config
	// file; without the mark it would stay writable for Sentinel's slow
	// convert-to-slave path (4 publish periods).
	claims := func(ri *instance) bool {
		local := n.isLocal(ri.addr) && (ri.info == nil || ri.roleReported == KindMaster)
		return local || m.hold.active && n.sameAddr(m.hold.addr, ri.addr) && ri.info != nil && ri.roleReported == KindMaster
	}
	for _, r := range m.sortedReplicas() {
		if !n.sameAddr(r.addr, addr) {
			reps = append(reps, rep{r.addr, claims(r), nil})
		}
	}
	if !n.sameAddr(m.inst.addr, addr) {
		reps = append(reps, rep{m.inst.addr, claims(m.inst), n.takeConvertEvent(m, m.inst.addr)})
	}
	keep := carryOf(n.findReplica(m, addr))
	n.resetMaster(m, addr, true, false)
	keep.carryTo(m.inst)
	for _, r := range reps {
		ri := n.addReplica(m, r.a)
		if r.demote {
			ri.demoteUntil, ri.demoteSentAt = n.now+m.cfg.FailoverTimeout, never
		}
		ri.converted = r.converted
		n.instEvent(LevelNotice, "+slave", ri, "")
	}
	n.dirty = true
}
