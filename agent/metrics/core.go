package metrics

import (
	"context"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Core is a point-in-time view of the Sentinel core, taken on the goroutine
// that owns the sentinel.Node (see CoreFromNode).
type Core struct {
	CurrentEpoch uint64
	Tilt         bool
	Masters      []Master
	// Trust counts what the core refused from the network (forged or
	// unproven hellos, vote requests, unverified peers).
	Trust sentinel.TrustStats
}

// Master is the part of one monitored master's state that is exported.
type Master struct {
	Name          string
	ConfigEpoch   uint64
	FailoverState string // Sentinel's name: "none" when no failover runs
	SDown, ODown  bool
	// KnownReplicas and KnownSentinels count the replicas and the other
	// agents (this one excluded) known for the master.
	KnownReplicas, KnownSentinels int
	// AgentsReachable counts the agents, this one included, heard within
	// the fencing lease; AgentsKnown all agents ever seen plus this one.
	AgentsReachable, AgentsKnown int
	HasVIP                       bool // a vip directive exists for the master
	VIPWanted                    bool // the core wants this agent to hold the VIP
	Fenced                       bool // the local master is paused for writes
	Local                        bool // the current master address is on this host
	Paused                       bool // in maintenance (sentinel.Maintenance)
}

// CoreSource hands out Core snapshots. It is called once per scrape, from
// the HTTP server's goroutine, with a context bounded by Options.CoreTimeout;
// it must give up when ctx ends (the core's loop may be stuck, which is
// exactly when the other metrics matter).
type CoreSource interface {
	CoreSnapshot(ctx context.Context) (Core, error)
}

// CoreFunc adapts a function to CoreSource.
type CoreFunc func(ctx context.Context) (Core, error)

// CoreSnapshot calls f.
func (f CoreFunc) CoreSnapshot(ctx context.Context) (Core, error) { return f(ctx) }

// CoreFromNode builds a Core from the read-only views of n. Like every
// method of a sentinel.Node it must run on the goroutine that owns n. A nil
// n gives an empty Core.
func CoreFromNode(now sentinel.Time, n *sentinel.Node) Core {
	if n == nil {
		return Core{}
	}
	c := Core{CurrentEpoch: n.CurrentEpoch(), Tilt: n.Tilt(), Trust: n.Trust()}
	for _, s := range n.Status(now) {
		m := Master{
			Name:            s.Name,
			ConfigEpoch:     s.ConfigEpoch,
			FailoverState:   s.FailoverState,
			SDown:           s.SDown,
			ODown:           s.ODown,
			AgentsReachable: s.AgentsReachable,
			AgentsKnown:     s.AgentsKnown,
			HasVIP:          s.HasVIP,
			VIPWanted:       s.VIPWanted,
			Fenced:          s.Fenced,
			Local:           s.Local,
			Paused:          s.Maintenance.On,
			KnownReplicas:   s.KnownReplicas,
			KnownSentinels:  s.KnownSentinels,
		}
		c.Masters = append(c.Masters, m)
	}
	return c
}
