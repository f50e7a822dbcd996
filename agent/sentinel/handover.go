package sentinel

import (
	"cmp"
	"slices"
)

// Lease is a VIP lease this agent holds: a majority of the agents, this one
// included, granted it Addr, the master's address on this host, and the
// grants keep that majority bound (no other address granted, no failover of
// Addr voted) until Until at the earliest, as measured by this Node's
// clock.
type Lease struct {
	Master string
	Addr   Addr
	Epoch  uint64 // the master's config epoch
	Until  Time
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
			out = append(out, Lease{Master: m.cfg.Name, Addr: inst.addr, Epoch: m.configEpoch, Until: until})
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
