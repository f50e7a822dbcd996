package sentinel

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Candidate is one replica as seen by the promotion logic: its ordering keys
// and, when it cannot be promoted, why.
type Candidate struct {
	Addr     Addr
	RunID    string
	Priority int
	Offset   int64
	// Rejected is empty for an eligible replica, otherwise the rule that
	// excludes it: Sentinel's sentinelSelectSlave rules, then ours on the
	// replica's sync with the master (unsyncedReason).
	Rejected string
	// Unsynced is set when the only rule that excludes the replica is that
	// it has not finished a sync with the master. Such a replica is
	// promoted, as a last resort, only when no replica is eligible and the
	// master's AllowUnsyncedPromotion is set.
	Unsynced bool
	// Unheard is set when the only rules that exclude the replica are
	// about how recently we heard from it (SDOWN, link down, no recent
	// PING reply or INFO) and it did answer a PING (a round trip, not a
	// link just created) within the window Sentinel allows a replica's
	// master link to be down: it may be up, with writes the eligible
	// replicas lack (see awaitedReplicas).
	Unheard bool
}

// candidates evaluates every replica of m: eligible ones first, in promotion
// order, then the rejected ones by address.
func (n *Node) candidates(m *master) []Candidate {
	now := n.now
	mi := m.inst
	maxDown := 10 * m.cfg.DownAfter
	if mi.flags&fSDown != 0 {
		maxDown += now - mi.sdownSince
	}
	infoValidity := 3 * n.t.InfoPeriod
	if mi.flags&fSDown != 0 {
		infoValidity = 5 * n.t.PingPeriod
	}
	var ok, unsynced, bad []Candidate
	for _, r := range m.sortedReplicas() {
		c := Candidate{Addr: r.addr, RunID: r.runid, Priority: r.slavePriority, Offset: r.slaveReplOffset}
		unheard := true
		switch {
		case r.flags&fSDown != 0:
			c.Rejected = "s_down"
		case r.flags&fODown != 0:
			c.Rejected = "o_down"
		case r.link.disconnected():
			c.Rejected = "disconnected"
		case now-r.link.lastAvail > 5*n.t.PingPeriod:
			c.Rejected = fmt.Sprintf("no valid PING reply for %v (limit %v)", now-r.link.lastAvail, 5*n.t.PingPeriod)
		case r.slavePriority == 0:
			unheard = false
			c.Rejected = "replica-priority is 0"
		case r.infoRefresh == never:
			c.Rejected = "no INFO received yet"
		case now-r.infoRefresh > infoValidity:
			c.Rejected = fmt.Sprintf("INFO is %v old (limit %v)", now-r.infoRefresh, infoValidity)
		case r.masterLinkDownTime > maxDown:
			unheard = false
			c.Rejected = fmt.Sprintf("link to master down for %v (limit %v)", r.masterLinkDownTime, maxDown)
		case r.info != nil && r.info.Loading:
			unheard = false
			c.Rejected = "loading its dataset (loading:1)"
		default:
			unheard = false
			c.Rejected = n.unsyncedReason(r, m)
			c.Unsynced = c.Rejected != ""
		}
		c.Unheard = unheard && c.Rejected != "" && r.link.heardAt != never && now-r.link.heardAt <= maxDown &&
			n.unsyncedReason(r, m) == ""
		switch {
		case c.Rejected == "":
			ok = append(ok, c)
		case c.Unsynced:
			unsynced = append(unsynced, c)
		default:
			bad = append(bad, c)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool { return betterCandidate(ok[i], ok[j]) })
	sort.SliceStable(unsynced, func(i, j int) bool { return betterCandidate(unsynced[i], unsynced[j]) })
	return append(append(ok, unsynced...), bad...)
}

// unsyncedReason says why replica r, by its latest INFO, holds no complete
// copy of m's dataset, or "" when, as far as INFO tells, it does.
// redis-sentinel does not ask: it promotes a replica still receiving its
// first full sync, and the group's dataset is replaced by an empty or
// partial one (issue 13: a cluster booted host by host failed its healthy
// master over to a replica with 0 of its 200,000 keys). Redis 7.0 reports
// a replica that has not finished its sync as master_sync_in_progress:1
// while the RDB is transferred and loaded, and before that (connecting,
// handshake) as master_link_status:down with master_link_down_since_seconds:-1
// (never connected since it became a replica of that master) and
// slave_repl_offset 0 or 1. A replica restarted with its data and not yet
// reconnected reports its previous offset, so it is not rejected. A
// replica of another instance holds that instance's data, whose offset
// cannot be compared with the master's.
//
// A replica that reports role:master is a promotion that timed out, whose
// data continues the master's stream, or an instance that never followed
// the master at all: the previous master, back with its data while its
// own agent was in TILT and could not demote it, holds none of the writes
// the master acknowledged since the failover (the one-hour campaign: an
// agent just restarted promoted such an old master, "eligible, offset 0",
// and the 5,080 writes its master had acknowledged were lost). Only the
// first is eligible: the master's last INFO listed it as an online replica.
func (n *Node) unsyncedReason(r *instance, m *master) string {
	info := r.info
	if info == nil {
		return ""
	}
	if r.roleReported == KindMaster {
		if n.listedByMaster(m, r) {
			return ""
		}
		return "reports role:master and the master's last INFO did not list it as a replica: its data may lack the master's"
	}
	if r.roleReported != KindReplica {
		return ""
	}
	from := Addr{Host: r.slaveMasterHost, Port: r.slaveMasterPort}
	switch {
	case from.Host != "" && !n.sameAddr(from, m.inst.addr) && (from.Port != m.inst.addr.Port || n.knownIPs(from.Host, m.inst.addr.Host)):
		return fmt.Sprintf("replicating from %s, not from the master %s", from, m.inst.addr)
	case info.MasterSyncInProgress:
		return "sync from the master in progress (master_sync_in_progress:1)"
	case !info.MasterLinkUp && info.MasterLinkDownSinceSecs < 0 && r.slaveReplOffset <= 1:
		return fmt.Sprintf("never synced with the master (link down since it became a replica, slave_repl_offset:%d)", r.slaveReplOffset)
	}
	return ""
}

// listedByMaster reports whether m's latest INFO (in this run) listed r as
// an online replica.
func (n *Node) listedByMaster(m *master, r *instance) bool {
	if m.inst.info == nil {
		return false
	}
	for _, rep := range m.inst.info.Replicas {
		if rep.State == "online" && n.sameAddr(rep.Addr, r.addr) {
			return true
		}
	}
	return false
}

// betterCandidate is compareSlavesForPromotion: lower priority, then higher
// replication offset, then the smaller run id (case-insensitive), an unknown
// run id last.
func betterCandidate(a, b Candidate) bool {
	if a.Priority != b.Priority {
		return a.Priority < b.Priority
	}
	if a.Offset != b.Offset {
		return a.Offset > b.Offset
	}
	switch {
	case a.RunID == "" && b.RunID == "":
		return false
	case a.RunID == "":
		return false
	case b.RunID == "":
		return true
	}
	return strings.ToLower(a.RunID) < strings.ToLower(b.RunID)
}

// selectReplica is sentinelSelectSlave. detail explains every replica's fate.
func (n *Node) selectReplica(m *master) (*instance, string, []Candidate) {
	cs := n.candidates(m)
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString("; ")
		}
		if c.Rejected == "" {
			fmt.Fprintf(&b, "%s eligible (priority %d, offset %d)", c.Addr, c.Priority, c.Offset)
		} else {
			fmt.Fprintf(&b, "%s rejected: %s", c.Addr, c.Rejected)
		}
	}
	switch {
	case len(cs) == 0:
		b.WriteString("no known replicas")
		return nil, b.String(), cs
	case cs[0].Rejected == "":
	case cs[0].Unsynced && m.cfg.AllowUnsyncedPromotion:
		fmt.Fprintf(&b, "; no synced replica: promoting %s anyway (allow-unsynced-promotion yes)", cs[0].Addr)
	case cs[0].Unsynced:
		b.WriteString("; no synced replica, and allow-unsynced-promotion is no")
		return nil, b.String(), cs
	default:
		return nil, b.String(), cs
	}
	return m.replicas[cs[0].Addr.String()], b.String(), cs
}

// awaitedReplicas lists the replicas worth waiting for before best is
// promoted: those we have not heard from lately (Unheard), with a priority
// that could beat best's. We cannot know their offset: a replica cut off
// from us may have kept replicating while best had lost its link to the
// master, and promoting best then drops every write the master
// acknowledged in between (issue 13: a replica cut one way for 4 s was
// promoted, by its own agent back from the same cut, over one that was
// reachable again 80 ms later and held 2 s of writes more). Sentinel
// promotes at once; the leader waits selectWait for them instead.
func (n *Node) awaitedReplicas(cs []Candidate, best *instance) []Candidate {
	var out []Candidate
	for _, c := range cs {
		if c.Unheard && c.Priority <= best.slavePriority && !n.sameAddr(c.Addr, best.addr) {
			out = append(out, c)
		}
	}
	return out
}

// selectWait bounds how long SELECT_SLAVE waits for awaited replicas: a
// replica that is up answers the reconnect, PING and INFO the pass sends
// every ping period within a few of them. Half of down-after keeps the
// worst case well inside the time peers that voted for us refrain from
// their own attempts (voteBlock), and a plain master death, where every
// replica answers, never waits.
func (n *Node) selectWait(m *master) time.Duration {
	return max(minPeriod, m.cfg.DownAfter/2)
}

// ReplicaCandidates returns, for SENTINEL-style diagnostics, how each replica
// of the named master would fare in a promotion right now.
func (n *Node) ReplicaCandidates(now Time, name string) ([]Candidate, bool) {
	m := n.masters[name]
	if m == nil {
		return nil, false
	}
	saved := n.now
	n.now = n.at(now)
	defer func() { n.now = saved }()
	return n.candidates(m), true
}
