package sentinel

import (
	"fmt"
	"sort"
	"strings"
)

// Candidate is one replica as seen by the promotion logic: its ordering keys
// and, when it cannot be promoted, why.
type Candidate struct {
	Addr     Addr
	RunID    string
	Priority int
	Offset   int64
	// Rejected is empty for an eligible replica, otherwise the rule that
	// excludes it (Sentinel's sentinelSelectSlave rules).
	Rejected string
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
	var ok, bad []Candidate
	for _, r := range m.sortedReplicas() {
		c := Candidate{Addr: r.addr, RunID: r.runid, Priority: r.slavePriority, Offset: r.slaveReplOffset}
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
			c.Rejected = "replica-priority is 0"
		case r.infoRefresh == never:
			c.Rejected = "no INFO received yet"
		case now-r.infoRefresh > infoValidity:
			c.Rejected = fmt.Sprintf("INFO is %v old (limit %v)", now-r.infoRefresh, infoValidity)
		case r.masterLinkDownTime > maxDown:
			c.Rejected = fmt.Sprintf("link to master down for %v (limit %v)", r.masterLinkDownTime, maxDown)
		}
		if c.Rejected == "" {
			ok = append(ok, c)
		} else {
			bad = append(bad, c)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool { return betterCandidate(ok[i], ok[j]) })
	return append(ok, bad...)
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
func (n *Node) selectReplica(m *master) (*instance, string) {
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
	if len(cs) == 0 {
		b.WriteString("no known replicas")
	}
	if len(cs) == 0 || cs[0].Rejected != "" {
		return nil, b.String()
	}
	return m.replicas[cs[0].Addr.String()], b.String()
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
