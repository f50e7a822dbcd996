package sentinel

import (
	"cmp"
	"slices"
	"time"
)

// Lease is a VIP lease this agent holds: a majority of the agents, this one
// included, granted it Addr, the master's address on this host, and the
// grants keep that majority bound (no other address granted, no failover of
// Addr voted) until Until at the earliest, on the caller's clock (the now
// given to Step).
type Lease struct {
	Master string
	Addr   Addr
	Epoch  uint64 // the master's config epoch
	Until  Time
	// Length is the lease's full length: Until is at most this far from
	// the moment the lease was last renewed.
	Length time.Duration
}

// Leases returns the leases this agent holds now: the masters whose VIP it
// wants with fencing on, each with the moment its majority of grants lapses.
// A successor process on this host may keep those VIPs until then (a
// handover, see design.md "Restarts without an outage"): the peers that
// granted stay bound until then whatever this process does.
//
// Masters without fencing hold their VIP without a lease (timing only) and
// are not listed, nor are grants of real redis-sentinel peers, which answer
// a lease request without binding themselves.
func (n *Node) Leases() []Lease {
	var out []Lease
	for _, m := range n.sortedMasters() {
		if !m.cfg.HasVIP || !m.cfg.Fence || !m.vip.Own {
			continue
		}
		inst := n.currentInst(m)
		if !n.isLocal(inst.addr) {
			continue
		}
		if until, ok := n.leaseUntil(m); ok {
			out = append(out, Lease{Master: m.cfg.Name, Addr: inst.addr, Epoch: m.configEpoch, Until: until + n.origin, Length: n.lease(m)})
		}
	}
	return out
}

// leaseUntil is when the grants of m's current lease stop counting a
// majority (heard's count, agents only): the grant of the peer ranked
// majority-1 by freshness, plus the lease, since we count ourselves.
func (n *Node) leaseUntil(m *master) (Time, bool) {
	lease := n.lease(m)
	need := n.voters(m)/2 + 1 - 1 // peers needed besides ourselves
	if need <= 0 {
		// A group of one: nobody else is bound by anything. Such a claim
		// holds no lease (heldNext) and is not handed over.
		return 0, false
	}
	var ends []Time
	for _, s := range m.sentinels {
		if !s.verified() || !agentRunID(s) || s.grantAt == never {
			continue
		}
		if end := s.grantAt + lease; end > n.now {
			ends = append(ends, end)
		}
	}
	if len(ends) < need {
		return 0, false
	}
	slices.SortFunc(ends, func(a, b Time) int { return cmp.Compare(b, a) }) // freshest first
	return ends[need-1], true
}

// InheritLease gives the Node a lease its previous process on this host
// held and handed over (Leases), for master's address addr until until
// (the caller's clock, as now, the caller's current time). Until then it counts as a majority heard and a
// majority of grants for addr: the agents that granted it are bound to
// addr until then whatever happens to the process that asked, so nothing a
// confirmation of our configuration could reveal (a failover, another
// address granted) can have happened. The successor thus keeps the VIP
// without the confirmation a start otherwise needs, while it asks for its
// own grants; once those lapse the rules of a start apply. Call it before
// the first Step. It reports false (and does nothing) for an unknown
// master or one that is not fenced.
func (n *Node) InheritLease(now Time, master string, addr Addr, until Time) bool {
	m := n.masters[master]
	if m == nil || !m.cfg.Fence {
		return false
	}
	n.setNow(now) // fixes the clock's origin if no Step did yet
	m.inherited = grantState{addr: addr, until: until - n.origin}
	return true
}
