package sim

import (
	"fmt"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// stableFor is how long the converged state must hold to end the run.
const stableFor = 2 * time.Second

// startLiveness heals everything: partitions and packet loss, hosts, Redis
// processes, agents, stalls. From now on the cluster must converge within opts.Liveness.
func (w *world) startLiveness() {
	w.healedAt = w.now
	w.trace("== liveness phase: heal everything")
	w.heal()
	for h := range w.agents {
		if !w.hosts[h].up {
			w.bootHost(h, false)
		}
	}
	for _, r := range w.redis {
		if !r.up {
			r.start(false)
		}
	}
	for _, a := range w.agents {
		if !a.running {
			w.startAgent(a)
		} else if a.stalled() {
			a.stalledUntil = w.now
			w.check.agentUp(a)
			a.pump()
		}
	}
	w.check.topology()
	w.stableFrom = -1
	w.convergeTick()
}

func (w *world) convergeTick() {
	if w.done || w.err != nil {
		return
	}
	if why := w.convergence(); why != "" {
		w.stableFrom = -1
	} else if w.stableFrom < 0 {
		w.stableFrom = w.now
		w.convergeAt = w.now
	} else if w.now-w.stableFrom >= stableFor {
		w.trace("== converged after %v", w.convergeAt-w.healedAt)
		w.done = true
		return
	}
	w.at(w.now+100*time.Millisecond, w.convergeTick)
}

// convergence says why the cluster has not converged, "" when it has: every
// agent agrees on one master address and config epoch, that instance is the
// only Redis master and every other instance replicates from it with its
// link up, and only the master's host holds the VIP.
func (w *world) convergence() string {
	var addr sentinel.Addr
	var epoch uint64
	for i, a := range w.agents {
		if !a.running || a.stalled() {
			return fmt.Sprintf("%s not running", a.name)
		}
		st := a.disk
		if st == nil || len(st.Masters) == 0 {
			return fmt.Sprintf("%s has persisted nothing", a.name)
		}
		m := st.Masters[0]
		if i == 0 {
			addr, epoch = m.CurrentAddr, m.ConfigEpoch
		} else if m.CurrentAddr != addr || m.ConfigEpoch != epoch {
			return fmt.Sprintf("a0 says %s@%d, %s says %s@%d", addr, epoch, a.name, m.CurrentAddr, m.ConfigEpoch)
		}
	}
	mr := w.redisAt(addr)
	if mr == nil {
		return fmt.Sprintf("agents agree on unknown master %s", addr)
	}
	for _, r := range w.redis {
		switch {
		case !r.up:
			return fmt.Sprintf("%s down", r.name())
		case r == mr && r.role != roleMaster:
			return fmt.Sprintf("%s is the agreed master but has role %s", r.name(), r.role)
		case r != mr && r.role != roleReplica:
			return fmt.Sprintf("%s is a second master", r.name())
		case r != mr && r.master != mr.addr:
			return fmt.Sprintf("%s replicates from %s, not %s", r.name(), r.master, mr.addr)
		case r != mr && !r.linkUp:
			return fmt.Sprintf("%s link to master down", r.name())
		}
	}
	if len(w.vip.holders) != 1 || w.vip.holders[0].host != mr.host {
		return fmt.Sprintf("VIP holders %v, master on h%d", w.vip.hosts(), mr.host)
	}
	return ""
}

// promoted records a promotion for the failover measurement.
func (w *world) promoted(r *redis) {
	w.failovers++
	if w.killedAt > 0 && w.promAt == 0 && w.healedAt == 0 {
		w.promAt = w.now
		w.promAddr = r.addr
	}
}

// switched records an agent's +switch-master.
func (w *world) switched(a *agent, to sentinel.Addr) {
	if w.promAt == 0 || w.allAt != 0 || to != w.promAddr {
		return
	}
	for i := range w.agents {
		if i == w.killHost && !w.hosts[i].up {
			continue // the killed host is off for the whole safety phase
		}
		if w.check.ag[i].switched != w.promAddr {
			return
		}
	}
	w.allAt = w.now
}

// vipUpdate records when the VIP sits on the new master's host alone.
func (w *world) vipUpdate() {
	if w.promAt == 0 || w.vipAt != 0 {
		return
	}
	if len(w.vip.holders) == 1 && w.redis[w.vip.holders[0].host].addr == w.promAddr {
		w.vipAt = w.now
	}
}

func (w *world) result(res *Result) *Result {
	res.Err = nil
	if w.err != nil {
		res.Err = w.err
	}
	res.Events = w.events
	res.End = w.now
	res.KilledAt = w.killedAt
	if w.killedAt > 0 {
		if w.promAt > 0 {
			res.Promoted = w.promAt - w.killedAt
		}
		if w.vipAt > 0 {
			res.VIPMoved = w.vipAt - w.killedAt
		}
		if w.allAt > 0 {
			res.AllSwitch = w.allAt - w.killedAt
		}
	}
	res.Failovers = w.failovers
	res.Forged = w.forged
	if w.done {
		res.Converged = w.convergeAt - w.healedAt
	}
	res.MaxOverlap = w.vip.maxOverlap
	res.Overlap = w.vip.overlapTotal
	res.StaleHold = w.check.maxStaleHold
	res.StaleClaim = w.check.staleAcquires
	res.VIPGap = w.vip.maxEmpty
	res.UnsyncedRefused = w.check.unsyncedRefused
	res.WritesSent = w.writes
	res.WritesAcked = uint64(len(w.acked))
	if w.done {
		final := w.redisAt(w.agents[0].disk.Masters[0].CurrentAddr)
		have := make([]bool, w.nextWrite+1)
		for _, id := range final.log {
			have[id] = true
		}
		for _, id := range w.acked {
			if !have[id] {
				res.WritesLost++
			}
		}
	}
	res.Tail = w.tail
	return res
}

// ack records a write the client saw acknowledged.
func (w *world) ack(id uint64) {
	w.acked = append(w.acked, id)
}
