package sentinel

import (
	"strings"
	"time"
)

// refreshInfo is sentinelRefreshInstanceInfo: learn from an INFO reply, then
// (outside TILT) act on it.
func (n *Node) refreshInfo(ri *instance, info *Info, raw string) {
	now := n.now
	m := ri.m
	ri.infoRefresh = now
	ri.info = info
	ri.infoRaw = raw
	if ri == m.inst {
		n.onSyncInfo(m, info)
		n.watchReplication(m, info)
	}

	if info.RunID != "" && !strings.EqualFold(info.RunID, ri.runid) {
		if ri.runid != "" {
			n.instEvent(LevelNotice, "+reboot", ri, "")
			if ri.kind == KindMaster && m.cfg.MasterRebootDownAfter != 0 {
				ri.flags |= fMasterReboot
				ri.rebootSince = now
			}
		}
		ri.runid = info.RunID
	}

	if ri.kind == KindMaster {
		for _, rep := range info.Replicas {
			a, err := n.checkAddr(rep.Addr)
			if err != nil || n.sameAddr(a, ri.addr) {
				continue
			}
			if n.findReplica(m, a) == nil {
				r := n.addReplica(m, a)
				n.instEvent(LevelNotice, "+slave", r, "")
				n.dirty = true
			}
		}
	}

	ri.masterLinkDownTime = time.Duration(info.MasterLinkDownSinceSecs) * time.Second

	role := Kind(-1)
	switch strings.ToLower(info.Role) {
	case "master":
		role = KindMaster
	case "slave", "replica":
		role = KindReplica
	}
	if ev := ri.converted; ev != nil && role >= 0 {
		// A demotion in flight across the switch (takeConvertEvent):
		// role:slave says it landed; role:master is converted below,
		// with its own event.
		ri.converted = nil
		if role == KindReplica {
			n.masterEventDetail(ev.Level, ev.Type, m, ev.Payload, ev.Detail)
		}
	}
	if role == KindReplica {
		host := strings.ToLower(info.MasterHost)
		if host != ri.slaveMasterHost || info.MasterPort != ri.slaveMasterPort {
			ri.slaveMasterHost = host
			ri.slaveMasterPort = info.MasterPort
			ri.slaveConfChange = now
		}
		ri.slaveMasterLinkUp = info.MasterLinkUp
		ri.slavePriority = info.SlavePriority
		ri.slaveReplOffset = info.SlaveReplOffset
		ri.replicaAnnounced = info.ReplicaAnnounced
	}
	if role >= 0 && role != ri.roleReported {
		ri.roleReportedTime = now
		ri.roleReported = role
		if role == KindReplica {
			ri.slaveConfChange = now
		}
		typ := "-role-change"
		if role == ri.kind {
			typ = "+role-change"
		}
		n.instEvent(LevelVerbose, typ, ri, " new reported role is "+role.String())
	}

	if n.tilt || role < 0 {
		return
	}

	if ri.kind == KindReplica && role == KindMaster {
		if ri.flags&fPromoted != 0 && m.inst.flags&fFailoverInProgress != 0 && m.failoverState == stateWaitPromotion {
			n.promotionDone(m, ri)
			return
		}
		wait := 4 * n.t.PublishPeriod
		fast := ri.demoteUntil != never && now < ri.demoteUntil
		// The fast demotion stays armed until the instance reports
		// role:slave (below) or the window ends: a SLAVEOF can fail
		// (issue 13: the old master, restarted from its data, answered
		// INFO while loading and refused the SLAVEOF with -LOADING; once
		// loaded it stayed a writable master for 1.9 s, until Sentinel's
		// slow path). A loading instance refuses it, so it is sent once
		// the load ends, and repeated at most once per ping period.
		retry := fast && (info.Loading || ri.demoteSentAt != never && now-ri.demoteSentAt < n.pingPeriod(m))
		if ri.flags&fPromoted == 0 && !retry &&
			(fast || n.masterLooksSane(m) && n.noDownFor(ri, wait) && now-ri.roleReportedTime > wait && n.leaseBacksMaster(m)) {
			if n.sendSlaveOf(ri, m.inst.addr, purposeDemote) {
				detail := "replica claims role:master while the master looks sane"
				if fast {
					detail = "local instance still claims role:master under a newer configuration"
				}
				if !fast || ri.demoteSentAt == never {
					n.instEventDetail(LevelNotice, "+convert-to-slave", ri, "", detail)
				}
				ri.demoteSentAt = now
			}
		}
	}

	if ri.kind == KindReplica && role == KindReplica {
		ri.demoteUntil, ri.demoteSentAt = never, never
		if ri.slaveMasterPort != m.inst.addr.Port || !n.sameHost(ri.slaveMasterHost, m.inst.addr.Host) {
			wait := m.cfg.FailoverTimeout
			if n.masterLooksSane(m) && n.noDownFor(ri, wait) && now-ri.slaveConfChange > wait {
				if n.sendSlaveOf(ri, m.inst.addr, purposeDemote) {
					n.instEvent(LevelNotice, "+fix-slave-config", ri, "")
				}
			}
		}
		if p := m.promoted; p != nil && ri.flags&(fReconfSent|fReconfInprog) != 0 {
			if ri.flags&fReconfSent != 0 && ri.slaveMasterPort == p.addr.Port &&
				n.sameHost(ri.slaveMasterHost, p.addr.Host) {
				ri.flags &^= fReconfSent
				ri.flags |= fReconfInprog
				n.instEvent(LevelNotice, "+slave-reconf-inprog", ri, "")
			}
			if ri.flags&fReconfInprog != 0 && ri.slaveMasterLinkUp {
				ri.flags &^= fReconfInprog
				ri.flags |= fReconfDone
				n.instEvent(LevelNotice, "+slave-reconf-done", ri, "")
			}
		}
	}
}

func (n *Node) findReplica(m *master, a Addr) *instance {
	if r := m.replicas[a.String()]; r != nil {
		return r
	}
	for _, r := range m.replicas {
		if n.sameAddr(r.addr, a) {
			return r
		}
	}
	return nil
}

// masterLooksSane is sentinelMasterLooksSane, and also false while m's
// restored configuration is unconfirmed (bootconfirm.go): an agent that may
// have slept through a failover must not turn the group's new master, or
// its replicas, towards the master it remembers.
func (n *Node) masterLooksSane(m *master) bool {
	ri := m.inst
	return !m.unconfirmed() && ri.roleReported == KindMaster && ri.flags&(fSDown|fODown) == 0 &&
		ri.infoRefresh != never && n.now-ri.infoRefresh < 2*n.t.InfoPeriod
}

// noDownFor is sentinelRedisInstanceNoDownFor.
func (n *Node) noDownFor(ri *instance, d time.Duration) bool {
	last := max(ri.sdownSince, ri.odownSince)
	return last == never || n.now-last > d
}
