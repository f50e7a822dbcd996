package sentinel

import "time"

// heard counts, out of all known agents of m, those that answered us within
// the lease (reach), those that granted us its VIP lease within it, timed
// from our request (granted; grant.go), and those that answered us within
// renewWindow (recent), ourselves included in all four counts. An
// answer is a PONG or an is-master-down reply. A hello does not count: it
// proves that the peer can reach us, not that we can reach it, and in a
// one-way partition the isolated side keeps receiving hellos while the
// others see it as down. Real redis-sentinel peers cannot grant: their
// answers count as grants.
func (n *Node) heard(m *master) (reach, granted, recent, known int) {
	lease, renew := n.lease(m), n.renewWindow(m)
	reach, granted, recent, known = 1, 1, 1, n.voters(m)
	within := func(t Time, d time.Duration) bool { return t != never && n.now-t <= d }
	for _, s := range m.sentinels {
		if !s.verified() {
			continue
		}
		if within(s.link.heardAt, lease) {
			reach++
		}
		if within(s.link.heardAt, renew) {
			recent++
		}
		g := s.link.heardAt
		if agentRunID(s) {
			g = s.grantAt
		}
		if within(g, lease) {
			granted++
		}
	}
	// With min-agents the group size is fixed: a misconfigured extra
	// peer must not make a minority look like a majority.
	return min(reach, known), min(granted, known), min(recent, known), known
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
	// LocalReplica is set when a replica of this master runs on this host
	// and reports its link to the master up (for load balancers' role
	// checks: package metrics serves it as /replica).
	LocalReplica bool
	Maintenance  Maintenance
	// MasterOffset is master_repl_offset from the master's latest INFO,
	// 0 if none: with each replica's offset, its lag.
	MasterOffset int64
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
			Maintenance:     m.maint,
		}
		if inst.info != nil {
			st.MasterOffset = inst.info.MasterReplOffset
		}
		if st.Local && inst.info != nil {
			st.LocalRole = inst.roleReported.String()
		}
		for _, r := range m.replicas {
			if r.slaveMasterLinkUp && r.flags&fSDown == 0 && n.isLocal(r.addr) {
				st.LocalReplica = true
			}
		}
		out = append(out, st)
	}
	return out
}
