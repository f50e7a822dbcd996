package sentinel

import (
	"fmt"
	"strconv"
)

// pass is sentinelTimer's work, run after every input so that a reply that
// changes a decision acts at once instead of at the next timer run: every
// master, then its replicas and sentinels, then the masters whose failover
// reached update_config, then the VIP and fencing decisions.
func (n *Node) pass() {
	if n.tilt && n.now-n.tiltStart >= n.t.TiltPeriod {
		n.tilt = false
		n.emit(Event{Type: "-tilt", Level: LevelWarning, Epoch: n.currentEpoch, Payload: "#tilt mode exited"})
	}
	for _, m := range n.sortedMasters() {
		if n.crashed {
			return
		}
		n.expireUnverified(m)
		n.handleInstance(m.inst)
		for _, r := range m.sortedReplicas() {
			n.handleInstance(r)
		}
		for _, s := range m.sortedSentinels() {
			n.handleInstance(s)
		}
	}
	for _, m := range n.sortedMasters() {
		if m.failoverState == stateUpdateConfig {
			n.switchToPromoted(m)
		}
	}
	n.updateVIPs()
	n.updateCalm()
}

// handleInstance is sentinelHandleRedisInstance.
func (n *Node) handleInstance(ri *instance) {
	n.reconnect(ri)
	n.sendPeriodic(ri)
	if n.tilt || n.crashed {
		return
	}
	n.checkSDown(ri)
	if ri.kind == KindMaster {
		m := ri.m
		n.checkODown(m)
		if n.startFailoverIfNeeded(m) {
			n.askOthers(m, true)
		}
		n.failoverStateMachine(m)
		n.askOthers(m, false)
	}
}

// checkSDown is sentinelCheckSubjectivelyDown, including the forced close of
// stale links.
func (n *Node) checkSDown(ri *instance) {
	l := ri.link
	now := n.now
	m := ri.m
	da := m.cfg.DownAfter
	elapsed := n.silence(ri)
	if l.cc == connUp && now-l.ccSince > n.t.MinLinkReconnectPeriod &&
		l.actPing != never && now-l.actPing > da/2 && now-l.lastPong > da/2 {
		n.closeConn(l, LinkCmd)
	}
	if l.pubsub && l.pc == connUp && now-l.pcSince > n.t.MinLinkReconnectPeriod &&
		now-l.pcActive > 3*n.t.PublishPeriod {
		n.closeConn(l, LinkPubSub)
	}
	down := elapsed > da ||
		(ri.kind == KindMaster && ri.roleReported == KindReplica && now-ri.roleReportedTime > da+2*n.t.InfoPeriod) ||
		(ri.flags&fMasterReboot != 0 && now-ri.rebootSince > m.cfg.MasterRebootDownAfter)
	if down {
		if ri.flags&fSDown == 0 {
			if now < n.stallEnd {
				return
			}
			n.instEventDetail(LevelWarning, "+sdown", ri, "", n.sdownReason(ri, elapsed))
			ri.sdownSince = now
			ri.flags |= fSDown
			if ri.kind == KindMaster {
				// Fresh replica INFO for the selection, and our peers'
				// opinions, are wanted now rather than at their periods.
				for _, r := range m.replicas {
					r.forceInfo = true
				}
				n.askOthers(m, true)
			}
		}
	} else if ri.flags&fSDown != 0 {
		n.instEvent(LevelWarning, "-sdown", ri, "")
		ri.flags &^= fSDown | fScriptKillSent
	}
}

func (n *Node) sdownReason(ri *instance, elapsed Time) string {
	switch {
	case elapsed > ri.m.cfg.DownAfter:
		return fmt.Sprintf("no valid reply for %v (down-after %v)", elapsed, ri.m.cfg.DownAfter)
	case ri.flags&fMasterReboot != 0:
		return "rebooted master not answering PONG within master-reboot-down-after-period"
	default:
		return "master reports role:slave"
	}
}

// checkODown is sentinelCheckObjectivelyDown.
func (n *Node) checkODown(m *master) {
	ri := m.inst
	votes := 0
	odown := false
	if ri.flags&fSDown != 0 {
		votes = 1
		for _, s := range m.sentinels {
			if s.verified() && s.flags&fMasterDown != 0 {
				votes++
			}
		}
		odown = votes >= m.cfg.Quorum
	}
	if odown {
		if ri.flags&fODown == 0 {
			n.instEvent(LevelWarning, "+odown", ri, " #quorum "+strconv.Itoa(votes)+"/"+strconv.Itoa(m.cfg.Quorum))
			ri.flags |= fODown
			ri.odownSince = n.now
		}
	} else if ri.flags&fODown != 0 {
		n.instEvent(LevelWarning, "-odown", ri, "")
		ri.flags &^= fODown
	}
}

// askOthers is sentinelAskMasterStateToOtherSentinels.
func (n *Node) askOthers(m *master, forced bool) {
	now := n.now
	ap := n.askPeriod(m)
	for _, s := range m.sortedSentinels() {
		if now-s.lastDownReply > n.opinionTTL(m) {
			s.flags &^= fMasterDown
			s.leader = ""
		}
		if m.inst.flags&fSDown == 0 || s.link.disconnected() || !s.verified() {
			continue
		}
		if !forced {
			if now-s.lastDownReply < ap {
				continue
			}
			if s.askSentAt != never && now-s.askSentAt < ap {
				continue
			}
		}
		runid := "*"
		if m.failoverState > stateNone {
			runid = n.myid
		}
		c := n.mapCmd(s, "SENTINEL", "is-master-down-by-addr", n.announceHost(m.inst.addr.Host),
			strconv.Itoa(m.inst.addr.Port), strconv.FormatUint(n.currentEpoch, 10), runid)
		n.send(s, CmdAskMasterDown, [][]string{c})
		s.askSentAt = now
	}
}
