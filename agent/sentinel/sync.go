package sentinel

import (
	"fmt"
	"strconv"
	"time"
)

// A forced failover (SENTINEL FAILOVER) of a healthy master promotes a
// replica that, replication being asynchronous, may lack the last writes the
// master acknowledged. Like Redis's own FAILOVER command, the leader first
// pauses writes on the master (CLIENT PAUSE WRITE), reads the master's
// replication offset once the pause is in force, and promotes the replica
// only when its slave_repl_offset has reached that offset. A replica that
// does not catch up in time aborts the failover and the pause is lifted:
// promoting it would drop acknowledged writes.
//
// After the promotion the leader keeps the old master paused until it
// reports role:slave (the leader demotes it itself, at once, rather than
// waiting for the switch), so that no write is accepted by it once a
// replica was promoted; then the pause is lifted (CLIENT UNPAUSE). If the
// leader dies, the pause lapses by itself after pauseDuration.

// Phases of the catch-up of a forced failover, within send_slaveof_noone
// (the Sentinel failover state, which INFO and SENTINEL MASTER show, does
// not change).
const (
	syncOff     = iota // not started
	syncPausing        // CLIENT PAUSE sent to the master, reply awaited
	syncReading        // master paused; its INFO (master_repl_offset) awaited
	syncWaiting        // waiting for the replica's slave_repl_offset
	syncDone           // caught up, or not needed: promote
)

// failoverSync is the catch-up of a forced failover in progress.
type failoverSync struct {
	phase   int
	start   Time   // when the first CLIENT PAUSE was sent
	pauseID uint64 // the current one's command id
	losses  uint64 // the master link's cmdLosses when it was sent
	target  int64  // master_repl_offset read once the pause was in force
}

// maxSyncWait bounds the catch-up whatever the timeouts (Redis's FAILOVER
// has no default bound; ours keeps a forced failover from pausing writes
// for long).
const maxSyncWait = 5 * time.Second

// syncTimeout is how long a forced failover waits for the replica to catch
// up. It stays below down-after/2: a peer's PUBLISH to the paused master
// blocks its command link, and a link blocked for down-after would make the
// master look SDOWN to that peer.
func (n *Node) syncTimeout(m *master) time.Duration {
	return max(minPeriod, min(m.cfg.FailoverTimeout, maxSyncWait, m.cfg.DownAfter/2))
}

// syncReplica runs the catch-up of a forced failover before r is promoted.
// It reports whether the promotion may go ahead now. Only forced failovers
// of a master we can talk to pause it; a master that is down (SDOWN, no
// command link, or not reporting role:master) is failed over as before.
func (n *Node) syncReplica(m *master, r *instance) bool {
	mi := m.inst
	s := &m.sync
	if mi.flags&fForceFailover == 0 || s.phase == syncDone {
		return true
	}
	if mi.flags&fSDown != 0 || (s.phase == syncOff && (mi.link.cc != connUp || mi.roleReported != KindMaster)) {
		// A master that is down keeps nothing we could wait for.
		s.phase = syncDone
		n.debug(m.cfg.Name, "failover-no-pause", "forced failover: master "+mi.addr.String()+
			" is down or unreachable, promoting "+r.addr.String()+" without pausing it")
		return true
	}
	if s.phase == syncOff {
		if why := n.cannotPause(m); why != "" {
			n.unpausedFailover(m, why)
			return true
		}
		s.start = n.now
		if !n.sendSyncPause(m) {
			n.syncAbort(m, "-failover-abort-pause-failed", mi, "", "CLIENT is disabled by rename-command: the master cannot be paused")
			return false
		}
		n.instEventDetail(LevelNotice, "+failover-pause-master", mi, "",
			fmt.Sprintf("writes paused until %s reaches the master's offset (at most %v)", r.addr, n.syncTimeout(m)))
		return false
	}
	if n.now-s.start > n.syncTimeout(m) {
		if s.phase == syncWaiting {
			n.syncAbort(m, "-failover-abort-replica-lagging", r, n.offsets(r, s.target),
				fmt.Sprintf("replica did not reach the master's offset within %v", n.syncTimeout(m)))
		} else {
			n.syncAbort(m, "-failover-abort-pause-failed", mi, "",
				fmt.Sprintf("no CLIENT PAUSE reply or INFO from the master within %v", n.syncTimeout(m)))
		}
		return false
	}
	switch s.phase {
	case syncPausing, syncReading:
		// A reconnection may have lost the pause or the INFO behind it:
		// pause again and read the offset after that.
		if l := mi.link; l.cc == connUp && l.cmdLosses != s.losses {
			if !n.sendSyncPause(m) {
				n.syncAbort(m, "-failover-abort-pause-failed", mi, "", "CLIENT is disabled by rename-command: the master cannot be paused")
			}
		}
	case syncWaiting:
		if n.caughtUp(m, r) {
			s.phase = syncDone
			n.instEventDetail(LevelNotice, "+failover-replica-caught-up", r, n.offsets(r, s.target),
				fmt.Sprintf("after %v", n.now-s.start))
			return true
		}
	}
	return false
}

// cannotPause says why m's master cannot be paused for a forced failover,
// "" if it can as far as we know: CLIENT disabled by rename-command, or a
// Redis older than 6.2, which has no CLIENT PAUSE WRITE.
func (n *Node) cannotPause(m *master) string {
	if name, renamed := m.cfg.RenamedCommands["client"]; renamed && name == "" {
		return "CLIENT is disabled by rename-command"
	}
	if info := m.inst.info; info != nil && !info.pausesWrites() {
		return "Redis " + info.Version + " has no CLIENT PAUSE WRITE (6.2 or later is needed)"
	}
	return ""
}

// unpausedFailover lets a forced failover whose master cannot be paused go
// on as Sentinel's does, promoting without waiting for the replica to
// catch up, rather than abort after SENTINEL FAILOVER was answered +OK. The
// warning says that writes acknowledged meanwhile may be lost.
func (n *Node) unpausedFailover(m *master, why string) {
	m.sync.phase = syncDone
	n.instEventDetail(LevelWarning, "+failover-no-pause", m.inst, "",
		why+": promoting without pausing the master, as Sentinel does; writes it acknowledges meanwhile may be lost")
}

// offsets renders " <slave_repl_offset> <target>" for event payloads.
func (n *Node) offsets(r *instance, target int64) string {
	return " " + strconv.FormatInt(r.slaveReplOffset, 10) + " " + strconv.FormatInt(target, 10)
}

// caughtUp reports whether r, replicating from m's master, has every write
// the master held once paused. Offsets of a replica of another master are
// not comparable.
func (n *Node) caughtUp(m *master, r *instance) bool {
	return r.info != nil && r.roleReported == KindReplica &&
		n.sameAddr(Addr{Host: r.slaveMasterHost, Port: r.slaveMasterPort}, m.inst.addr) &&
		r.slaveReplOffset >= m.sync.target
}

// sendSyncPause sends the CLIENT PAUSE of a forced failover and holds the
// pause (renewed by manageHold) on the master.
func (n *Node) sendSyncPause(m *master) bool {
	mi := m.inst
	id, ok := n.sendPause(mi)
	if !ok {
		return false
	}
	s := &m.sync
	s.phase = syncPausing
	s.pauseID = id
	s.losses = mi.link.cmdLosses
	m.hold = pauseState{active: true, addr: mi.addr, sentAt: n.now}
	return true
}

// sendPause sends CLIENT PAUSE <pauseDuration> WRITE to ri.
func (n *Node) sendPause(ri *instance) (uint64, bool) {
	pd := n.pauseDuration(ri.m)
	return n.sendOtherID(ri, purposeHold, "CLIENT", "PAUSE", strconv.FormatInt(pd.Milliseconds(), 10), "WRITE")
}

// syncAbort ends a forced failover whose replica could not be synchronised.
// The pause is lifted by manageHold in the same step: the old master stays
// the master.
func (n *Node) syncAbort(m *master, typ string, about *instance, rest, detail string) {
	n.instEventDetail(LevelWarning, typ, about, rest, detail)
	n.abortFailover(m)
}

// onSyncPauseDone handles the reply to the CLIENT PAUSE of a forced failover.
func (n *Node) onSyncPauseDone(m *master, v CommandDone) {
	s := &m.sync
	if s.phase != syncPausing || v.ID != s.pauseID || m.inst.flags&fForceFailover == 0 {
		if v.Err != "" && m.hold.active {
			m.hold.sentAt = never // a renewal failed: retry at once
		}
		return
	}
	if v.Err != "" {
		m.hold.active = false // never took effect
		n.unpausedFailover(m, "CLIENT PAUSE refused: "+v.Err)
		return
	}
	// The pause is in force: an INFO the master answers from now on shows
	// every write it acknowledged. One sent before this reply was executed
	// before the pause on this ordered link and answered already.
	s.phase = syncReading
	m.inst.forceInfo = true
}

// onSyncInfo takes the master's offset, once paused, from its INFO.
func (n *Node) onSyncInfo(m *master, info *Info) {
	s := &m.sync
	r := m.promoted
	if s.phase != syncReading || r == nil {
		return
	}
	s.target = info.MasterReplOffset
	s.phase = syncWaiting
	r.forceInfo = true
	n.instEventDetail(LevelNotice, "+failover-wait-replica-offset", r, n.offsets(r, s.target),
		"master paused at master_repl_offset "+strconv.FormatInt(s.target, 10))
}

// heldInst returns the instance m.hold pauses, or nil.
func (n *Node) heldInst(m *master) *instance {
	if n.sameAddr(m.inst.addr, m.hold.addr) {
		return m.inst
	}
	return n.findReplica(m, m.hold.addr)
}

// manageHold keeps the pause of a forced failover on the old master while
// the failover runs and, after the promotion, until the old master reports
// role:slave; then it lifts it. An aborted failover lifts it at once.
func (n *Node) manageHold(m *master) {
	h := &m.hold
	if !h.active {
		return
	}
	now := n.now
	pd := n.pauseDuration(m)
	if h.sentAt != never && now-h.sentAt >= pd {
		h.active = false
		n.debug(m.cfg.Name, "failover-pause-expired", "the pause of "+h.addr.String()+" lapsed before it could be renewed")
		return
	}
	target := n.heldInst(m)
	if target == nil {
		h.active = false // forgotten (SENTINEL RESET): the pause lapses by itself
		return
	}
	// The catch-up is over at its timeout even when the failover state
	// machine does not run (TILT): the failover can no longer promote.
	s := &m.sync
	syncing := m.inst.flags&fFailoverInProgress != 0 && n.sameAddr(m.inst.addr, h.addr) &&
		(s.phase == syncDone || s.phase != syncOff && now-s.start <= n.syncTimeout(m))
	moved := !n.sameAddr(n.currentAddr(m), h.addr)
	demoted := target.info != nil && target.roleReported == KindReplica
	if !demoted && (syncing || moved) {
		if target.link.cc == connUp && (h.sentAt == never || now-h.sentAt >= pd/3) {
			if _, ok := n.sendPause(target); ok {
				h.sentAt = now
			}
		}
		return
	}
	if m.pause.active && n.sameAddr(m.pause.addr, h.addr) {
		h.active = false // the fence keeps it paused and will lift it
		return
	}
	if target.link.cc != connUp {
		return // when reconnected, or it lapses
	}
	if n.sendOther(target, purposeUnpause, "CLIENT", "UNPAUSE") {
		h.active = false
		why := "old master demoted"
		if !demoted {
			why = "failover aborted or timed out"
		}
		n.instEventDetail(LevelNotice, "-failover-pause-master", target, "", why)
	}
}

// writesPaused reports whether we keep the Redis at a paused for writes:
// PUBLISH, a write for CLIENT PAUSE WRITE, would block our command link.
func (n *Node) writesPaused(m *master, a Addr) bool {
	return (m.pause.active && n.sameAddr(m.pause.addr, a)) || (m.hold.active && n.sameAddr(m.hold.addr, a))
}
