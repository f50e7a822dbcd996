package metrics

import (
	"context"
	"strconv"
	"time"

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
	// Host and Port are the master's current address (the promoted
	// replica's once a failover reached reconf_slaves).
	Host string
	Port int
	// LocalRole is the role the local Redis last reported when Local
	// ("master" once it took the role); LocalReplica is set when a replica
	// of the master runs on this host with its link to the master up.
	LocalRole    string
	LocalReplica bool
	// Replicas are the replicas the master's latest INFO lists, with their
	// lag; nil when the master's INFO is not known.
	Replicas []Replica
	// Peers are the other agents known for the master.
	Peers []Peer
}

// Replica is one replica of a master, as the master's latest INFO shows it.
type Replica struct {
	Addr     string // host:port as the master sees it
	State    string // the master's view: online, wait_bgsave, send_bulk, ...
	LagBytes int64  // master_repl_offset minus the replica's acknowledged offset, 0 at least
}

// Peer is another agent known for a master.
type Peer struct {
	Addr     string // host:port it announces
	HelloAge time.Duration
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
			Host:            s.Addr.Host,
			Port:            s.Addr.Port,
			LocalRole:       s.LocalRole,
			LocalReplica:    s.LocalReplica,
			Replicas:        replicasFromInfo(n.InfoCache(now, []string{s.Name})),
			Peers:           peers(n, now, s.Name),
		}
		c.Masters = append(c.Masters, m)
	}
	return c
}

// replicasFromInfo reads the lag of each replica from the master's cached
// INFO: one INFO gives both offsets, so the difference is not skewed by two
// refreshes taken at different times, as the replicas' own INFO would be.
func replicasFromInfo(cache []sentinel.InfoCacheEntry) []Replica {
	if len(cache) != 1 || len(cache[0].Items) == 0 || !cache[0].Items[0].Has {
		return nil
	}
	info, err := sentinel.ParseInfo(cache[0].Items[0].Info)
	if err != nil {
		return nil
	}
	out := make([]Replica, 0, len(info.Replicas))
	for _, r := range info.Replicas {
		lag := info.MasterReplOffset - r.Offset
		if lag < 0 {
			lag = 0
		}
		out = append(out, Replica{Addr: r.Addr.String(), State: r.State, LagBytes: lag})
	}
	return out
}

// peers reads the other agents of a master from SENTINEL SENTINELS' view.
func peers(n *sentinel.Node, now sentinel.Time, name string) []Peer {
	maps, err := n.Sentinels(now, name)
	if err != nil {
		return nil
	}
	out := make([]Peer, 0, len(maps))
	for _, kv := range maps {
		var a sentinel.Addr
		var age time.Duration
		for _, f := range kv {
			switch f.Key {
			case "ip":
				a.Host = f.Value
			case "port":
				a.Port, _ = strconv.Atoi(f.Value)
			case "last-hello-message":
				if ms, err := strconv.ParseInt(f.Value, 10, 64); err == nil {
					age = time.Duration(ms) * time.Millisecond
				}
			}
		}
		out = append(out, Peer{Addr: a.String(), HelloAge: age})
	}
	return out
}
