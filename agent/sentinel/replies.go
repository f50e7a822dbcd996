package sentinel

import (
	"fmt"
	"strings"
)

// lookup finds the instance a Ref names, or nil.
func (n *Node) lookup(ref Ref) *instance {
	m := n.masters[ref.Master]
	if m == nil {
		return nil
	}
	switch ref.Kind {
	case KindMaster:
		if n.sameAddr(m.inst.addr, ref.Addr) {
			return m.inst
		}
	case KindReplica:
		for _, r := range m.replicas {
			if n.sameAddr(r.addr, ref.Addr) {
				return r
			}
		}
	case KindSentinel:
		if s := m.sentinels[strings.ToLower(ref.RunID)]; s != nil && n.sameAddr(s.addr, ref.Addr) {
			return s
		}
	}
	return nil
}

// lookupLink finds the link a Ref names. Peer links are shared by masters,
// so they are found by address whatever master the Ref names.
func (n *Node) lookupLink(ref Ref) *link {
	if ref.Kind == KindSentinel {
		l := n.peerLinks[ref.Addr.String()]
		if l != nil && (ref.RunID == "" || strings.EqualFold(l.ref.RunID, ref.RunID)) {
			return l
		}
		return nil
	}
	if ri := n.lookup(ref); ri != nil {
		return ri.link
	}
	return nil
}

// linkInstance returns an instance using l, preferring the one ref names.
func (n *Node) linkInstance(l *link, ref Ref) *instance {
	if ri := n.lookup(ref); ri != nil && ri.link == l {
		return ri
	}
	var found *instance
	n.forEachInstance(func(ri *instance) {
		if found == nil && ri.link == l {
			found = ri
		}
	})
	return found
}

func decPending(l *link) {
	if l.pending > 0 {
		l.pending--
	}
}

func (n *Node) onLinkUp(v LinkUp) {
	l := n.lookupLink(v.To)
	if l == nil {
		n.debug(v.To.Master, "stale-input", fmt.Sprintf("link-up for unknown %v", v.To))
		return
	}
	st := &l.cc
	if v.Link == LinkPubSub {
		st = &l.pc
	}
	if *st != connConnecting {
		n.debug(v.To.Master, "stale-input", fmt.Sprintf("link-up for %v link %d that is not connecting", v.To, v.Link))
		return
	}
	*st = connUp
	if v.Link == LinkPubSub {
		l.pcSince = n.now
		l.pcActive = n.now
		return
	}
	l.ccSince = n.now
	l.pending = 0
	l.authFailed = false
	l.dialFails = 0
	if v.To.Kind == KindSentinel && v.Proof != ProofNone {
		n.verifyLink(l, v.Proof)
	}
	if v.LocalIP != "" {
		if h, err := n.checkHost(v.LocalIP); err == nil {
			l.localIP = h
		}
	}
	// Sentinel sends a PING as part of the link set-up.
	if ri := n.linkInstance(l, v.To); ri != nil {
		n.sendPing(ri)
		if ri.kind != KindSentinel {
			// A Redis closes its clients' connections when it is
			// promoted or reconfigured (the transaction's CLIENT KILL
			// TYPE normal, ours and Sentinel's) or restarted: its role
			// may have changed, so ask now rather than at the next INFO
			// period (10 s for a replica). On the host of a replica
			// promoted by a peer this is how the switch finds its
			// role:master (carryOf) and wants the VIP at once. One INFO
			// per reconnection, sent now: the periodic commands wait
			// for the pub/sub connection too, which the same CLIENT
			// KILL closed and which reconnects a dial period later.
			n.sendInfo(ri)
		}
	}
}

func (n *Node) onLinkDown(v LinkDown) {
	l := n.lookupLink(v.To)
	if l == nil {
		n.debug(v.To.Master, "stale-input", fmt.Sprintf("link-down for unknown %v", v.To))
		return
	}
	st := &l.cc
	typ := "-cmd-link-reconnection"
	if v.Link == LinkPubSub {
		st = &l.pc
		typ = "-pubsub-link-reconnection"
	}
	if *st == connDown {
		return
	}
	if v.Link == LinkCmd && *st == connConnecting {
		l.dialFails++
	}
	*st = connDown
	if v.Link == LinkCmd {
		n.linkCmdLost(l)
	}
	ri := n.linkInstance(l, v.To)
	if v.AuthFailed {
		// The server answered: it is alive, only unusable to us. That
		// must not make it SDOWN, or a wrong auth-pass would fail over a
		// healthy group.
		l.lastAvail = n.now
		l.lastPong = n.now
		l.actPing = never
		if !l.authFailed && ri != nil {
			l.authFailed = true
			n.instEventDetail(LevelWarning, "+auth-error", ri, "", v.Err)
		}
		return
	}
	if ri != nil {
		n.emit(Event{Type: typ, Level: LevelDebug, Master: ri.m.cfg.Name, Epoch: ri.m.configEpoch,
			Payload: n.describe(ri) + " " + v.Err})
	}
}

func (n *Node) onPingReply(v PingReply) {
	l := n.lookupLink(v.To)
	if l == nil {
		n.debug(v.To.Master, "stale-input", fmt.Sprintf("ping reply for unknown %v", v.To))
		return
	}
	decPending(l)
	status := strings.ToUpper(strings.TrimSpace(v.Status))
	if i := strings.IndexByte(status, ' '); i >= 0 {
		status = status[:i]
	}
	ri := n.linkInstance(l, v.To)
	switch {
	case status == "PONG" || status == "LOADING" || status == "MASTERDOWN":
		l.lastAvail = n.now
		l.actPing = never
		l.heardAt = n.now
		if status == "PONG" && ri != nil && ri.flags&fMasterReboot != 0 {
			ri.flags &^= fMasterReboot
		}
	case status == "NOAUTH" || status == "WRONGPASS" || status == "NOPERM":
		l.lastAvail = n.now
		l.actPing = never
		if !l.authFailed && ri != nil {
			l.authFailed = true
			n.instEventDetail(LevelWarning, "+auth-error", ri, "", v.Status)
		}
	case status == "BUSY":
		if ri != nil && ri.kind != KindSentinel && ri.flags&fSDown != 0 && ri.flags&fScriptKillSent == 0 {
			n.sendOther(ri, purposeScriptKill, "SCRIPT", "KILL")
			ri.flags |= fScriptKillSent
		}
	}
	l.lastPong = n.now
}

func (n *Node) onInfoReply(v InfoReply) {
	ri := n.lookup(v.To)
	if ri == nil || ri.kind == KindSentinel {
		n.debug(v.To.Master, "stale-input", fmt.Sprintf("INFO reply for unknown %v", v.To))
		return
	}
	decPending(ri.link)
	ri.infoSentAt = never
	if v.Info == nil {
		n.debug(ri.m.cfg.Name, "bad-info", "INFO reply without parsed content from "+ri.name)
		return
	}
	n.refreshInfo(ri, v.Info, v.Raw)
}

func (n *Node) onPublishReply(v PublishReply) {
	ri := n.lookup(v.To)
	if ri == nil {
		if l := n.lookupLink(v.To); l != nil {
			decPending(l)
		}
		return
	}
	decPending(ri.link)
	ri.pubSentAt = never
	if v.OK {
		ri.lastPub = n.now
	}
}

func (n *Node) onIsDownReply(v IsDownReply) {
	ri := n.lookup(v.To)
	if ri == nil || ri.kind != KindSentinel {
		if l := n.lookupLink(v.To); l != nil {
			decPending(l)
		}
		n.debug(v.To.Master, "stale-input", fmt.Sprintf("is-master-down reply for unknown %v", v.To))
		return
	}
	decPending(ri.link)
	ri.askSentAt = never
	if !v.Valid {
		n.debug(ri.m.cfg.Name, "bad-reply", "ignored malformed is-master-down-by-addr reply from "+ri.name)
		return
	}
	ri.lastDownReply = n.now
	if ri.link.leaseAt != never && ri.link.heardAt != never {
		n.noteAnswerGap(ri.m, n.now-ri.link.heardAt)
	}
	ri.link.heardAt = n.now
	if ri.link.leaseAt != never {
		// Our lease requests stand in for PINGs on this link, and any
		// valid reply answers them (grant.go, pingsStandIn).
		ri.link.lastAvail, ri.link.lastPong, ri.link.actPing = n.now, n.now, never
	}
	if at, ok := n.grantedAt(ri.m, v.Leader); ok && v.LeaderEpoch == 0 {
		if !ri.m.vip.Own && (ri.grantAt == never || n.now-ri.grantAt > n.lease(ri.m)) {
			// One more agent counts as granting while we do not hold
			// the VIP: it may make the majority (receive.go).
			n.newGrant = true
		}
		if ri.grantAt == never || at > ri.grantAt {
			ri.grantAt = at
		}
		ri.flags &^= fMasterDown
		return
	}
	if v.Down {
		ri.flags |= fMasterDown
	} else {
		ri.flags &^= fMasterDown
	}
	if v.Leader != "*" && v.Leader != "" {
		leader := strings.ToLower(v.Leader)
		if leader != ri.leader || v.LeaderEpoch != ri.leaderEpoch {
			n.debug(ri.m.cfg.Name, "voted-for", fmt.Sprintf("%s voted for %s %d", ri.name, leader, v.LeaderEpoch))
		}
		ri.leader = leader
		ri.leaderEpoch = v.LeaderEpoch
	}
}

func (n *Node) onCommandDone(v CommandDone) {
	p, ok := n.pending[v.ID]
	if !ok {
		n.debug(v.To.Master, "stale-input", fmt.Sprintf("completion of unknown command %d", v.ID))
		return
	}
	delete(n.pending, v.ID)
	decPending(p.lnk)
	ri := n.lookup(p.ref)
	if v.Err != "" {
		n.debug(p.ref.Master, "command-error", fmt.Sprintf("command %d to %v: %s", v.ID, p.ref, v.Err))
	}
	switch p.purpose {
	case purposePromote, purposeReconf, purposeDemote:
		if ri != nil {
			ri.forceInfo = true
		}
		if m := n.masters[p.ref.Master]; m != nil && p.done != nil && v.Err == "" {
			n.masterEventDetail(p.done.Level, p.done.Type, m, p.done.Payload, p.done.Detail)
		}
	case purposePause:
		if m := n.masters[p.ref.Master]; m != nil && v.Err != "" && m.pause.active {
			m.pause.sentAt = never // retry at once
		}
	case purposeHold:
		if m := n.masters[p.ref.Master]; m != nil {
			n.onSyncPauseDone(m, v)
		}
	case purposeReplList:
		if m := n.masters[p.ref.Master]; m != nil {
			n.onReplList(m, v)
		}
	}
}
