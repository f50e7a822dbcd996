package campaign

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

const (
	// grace is how long after a fault heals the group may still feel it:
	// TCP retransmission backs off to about a second, and links reconnect.
	grace = time.Second
	// replSlack is how long before a fault a write acknowledged by the
	// master may still not have reached its replicas (replication is
	// asynchronous; on this machine the stream lags by well under a
	// millisecond, so this only absorbs scheduling delays).
	replSlack = 100 * time.Millisecond
	// replBound is how long after the replica a failover promotes stopped
	// receiving its old master may have acknowledged writes that the
	// promotion loses: the master's agent disconnects a replica Redis's
	// guard still counts within sentinel.ReplicationWindow of its stop
	// (one that stopped acknowledging too is dropped by the same rule
	// while its lag is fresh, and by the guard after), plus grace for the
	// lag sampler's period and the loaded cores. Without the guard
	// nothing bounds it.
	replBound = sentinel.ReplicationWindow + grace
)

// Failover is one failover the agents completed (a +switch-master epoch).
type Failover struct {
	Epoch    uint64
	Old, New string    // "ip:port"
	Start    time.Time // the winning +try-failover (the +switch-master if none was logged)
	Switch   time.Time // the first +switch-master of the epoch
	// Causes are the faults on the old master's host that make it not
	// healthy at Start; Spurious is set when the old master and a
	// majority of the hosts were healthy then (Why says how).
	Causes   []Incident
	Spurious bool
	Why      string
	// Lost counts the acknowledged writes lost with this failover: those
	// acknowledged from its first cause's start (less replSlack) until the
	// switch, the fence window; LostFirst and LostLast place them relative
	// to that start.
	Lost                int
	LostFirst, LostLast time.Duration
	// Outside counts lost writes outside every fence window that were
	// acknowledged after the previous switch and before this one: the
	// failover that dropped them. OutFirst and OutLast place them
	// relative to this switch (negative: before it).
	Outside           int
	OutFirst, OutLast time.Duration
	// OutNoReplica counts those of Outside acknowledged while the old
	// master, at the last lag sample before, had no replica within
	// min-replicas-max-lag (the window the guard bounds); OutReplicated
	// those acknowledged while it had one (the guard was satisfied: the
	// replicas that received them were lost or resynced too). The rest
	// had no sample.
	OutNoReplica, OutReplicated int
	// InBound counts those of Outside acknowledged within replBound after
	// the promoted replica last received from the old master (Stopped,
	// from the lag sampler's view of its offset; zero if never seen
	// replicating from it): the window the agents
	// and the guard bound, which a failover may lose. InFirst and InLast
	// place them relative to Stopped: the measured window. The rest of
	// Outside is a violation.
	InBound         int
	Stopped         time.Time
	InFirst, InLast time.Duration
}

// Report is what a campaign found.
type Report struct {
	Seed          uint64
	Duration      time.Duration
	Steps         []Step
	Incidents     []Incident
	Failovers     []Failover
	Spurious      int
	Acked         int // acknowledged writes of both clients
	Lost          int // of those, missing on the final master
	Unexplained   int // lost writes outside every failover's fence window and replication bound: violations
	InBound       int // lost writes outside fence windows, acknowledged within replBound after the promoted replica stopped receiving
	Guard         Guard
	Refused       Refusals     // writes the servers refused (not acknowledged)
	Lag           LagHistogram // the masters' best replica lag, sampled
	Fences        int          // +fence events (the agents paused a master's writes)
	DualVIP       time.Duration
	MaxVIPHolders int
	DualWritable  []time.Duration // episodes of two writable masters clients can reach
	StaleMaster   time.Duration   // longest a writable master nobody pointed at coexisted with another
	Converge      time.Duration   // from the last heal until the group converged
	FinalMaster   string
	MaxRSSKB      int
	Exits         int // agents that exited unexpectedly
	Violations    []string
	Timeline      []Line
	// Events counts every agent process's events by type ("+sdown", ...).
	Events map[string]int
	// PauseCalls counts the CLIENT PAUSE commands the redis-servers ran
	// (a restarted one's since its restart); -1 when one did not say.
	PauseCalls int
}

// Failed reports whether any check failed.
func (rep *Report) Failed() bool { return len(rep.Violations) > 0 }

// Summary is the report's figures in a few lines.
func (rep *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %v: %d faults applied (%d steps), %d failovers, %d spurious\n",
		rep.Seed, rep.Duration, len(rep.Incidents), len(rep.Steps), len(rep.Failovers), rep.Spurious)
	perKind := map[Kind]int{}
	for _, in := range rep.Incidents {
		perKind[in.Step.Kind]++
	}
	b.WriteString("faults:")
	for k := Kind(0); k < numKinds; k++ {
		if perKind[k] > 0 {
			fmt.Fprintf(&b, " %s %d", k, perKind[k])
		}
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "redis-servers: %s\n", rep.Guard)
	fmt.Fprintf(&b, "writes: %d acknowledged, %d lost (outside any fence window: %d within the replication bound %v after the promoted replica stopped receiving, %d beyond it)\n",
		rep.Acked, rep.Lost, rep.InBound, replBound, rep.Unexplained)
	fmt.Fprintf(&b, "%s\n%s\nagents' +fence (write pauses): %d\n", rep.Refused, rep.Lag, rep.Fences)
	fmt.Fprintf(&b, "CLIENT PAUSE calls %d; agents' +lease-pause %d, +quorum-lost %d, +sdown %d, +odown %d, +try-failover %d, +switch-master %d\n",
		rep.PauseCalls, rep.Events["+lease-pause"], rep.Events["+quorum-lost"], rep.Events["+sdown"], rep.Events["+odown"],
		rep.Events["+try-failover"], rep.Events["+switch-master"])
	for _, f := range rep.Failovers {
		cause := "none"
		if len(f.Causes) > 0 {
			var cs []string
			for _, c := range f.Causes {
				cs = append(cs, fmt.Sprintf("%s on h%d", c.Kind, c.Host+1))
			}
			cause = strings.Join(cs, ", ")
		}
		fmt.Fprintf(&b, "  failover epoch %d %s -> %s: cause %s; %d writes lost in the fence window", f.Epoch, f.Old, f.New, cause, f.Lost)
		if f.Lost > 0 {
			fmt.Fprintf(&b, " (acked %v..%v after the fault)", f.LostFirst.Round(time.Millisecond), f.LostLast.Round(time.Millisecond))
		}
		if f.Outside > 0 {
			fmt.Fprintf(&b, "; %d OUTSIDE it (acked %v..%v from the switch; %d while the old master had no replica within the lag bound, %d while it had one)",
				f.Outside, f.OutFirst.Round(time.Millisecond), f.OutLast.Round(time.Millisecond), f.OutNoReplica, f.OutReplicated)
			if f.Stopped.IsZero() {
				fmt.Fprintf(&b, ", %s never seen receiving from %s", f.New, f.Old)
			} else {
				fmt.Fprintf(&b, ", %s last received from %s %v before the switch", f.New, f.Old, f.Switch.Sub(f.Stopped).Round(time.Millisecond))
			}
			if f.InBound > 0 {
				fmt.Fprintf(&b, ", %d within the replication bound (acked %v..%v after that)",
					f.InBound, f.InFirst.Round(time.Millisecond), f.InLast.Round(time.Millisecond))
			}
			if n := f.Outside - f.InBound; n > 0 {
				fmt.Fprintf(&b, ", %d BEYOND the replication bound", n)
			}
		}
		if f.Spurious {
			fmt.Fprintf(&b, " SPURIOUS: %s", f.Why)
		}
		b.WriteByte('\n')
	}
	longest := time.Duration(0)
	if len(rep.DualWritable) > 0 {
		longest = slices.Max(rep.DualWritable)
	}
	fmt.Fprintf(&b, "floating IP on two hosts: %v (max holders %d); two writable masters: %d episodes, longest %v; stale master longest %v\n",
		rep.DualVIP, rep.MaxVIPHolders, len(rep.DualWritable), longest.Round(time.Millisecond), rep.StaleMaster.Round(time.Millisecond))
	fmt.Fprintf(&b, "converged %v after the last heal on %s; agent RSS max %d KiB; unexpected agent exits %d\n",
		rep.Converge.Round(time.Millisecond), rep.FinalMaster, rep.MaxRSSKB, rep.Exits)
	if len(rep.Violations) == 0 {
		b.WriteString("no violations\n")
	}
	for _, v := range rep.Violations {
		fmt.Fprintf(&b, "VIOLATION %s\n", v)
	}
	return b.String()
}

// Run deploys three hosts as the README recommends (passwords, min-agents
// 3, fence yes, one floating IP) with persistent redis-servers, starts a
// client writing unique keys through the floating IP and one writing where
// the agents' Sentinel API says the master is, plays cfg.Seed's fault
// schedule while checking continuously, heals everything, waits for the
// group to converge and checks the data. An error means the campaign could
// not run; what it found is in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	const hosts = 3
	rep := &Report{Seed: cfg.Seed, Duration: cfg.Duration, Steps: cfg.Steps, Guard: cfg.Guard, Events: map[string]int{}}
	if rep.Steps == nil {
		rep.Steps = Schedule(cfg.Seed, cfg.Duration, hosts, cfg.DownAfter)
	}
	o := scenario.Recommended(cfg.Name, cfg.Binary)
	o.Hosts, o.MinAgents, o.DownAfter, o.FailoverTimeout, o.Persist = hosts, hosts, cfg.DownAfter, cfg.FailoverTimeout, true
	o.RedisExtra = append(o.RedisExtra, cfg.Guard.redisLines()...)
	c, err := scenario.Start(ctx, o)
	if err != nil {
		return rep, err
	}
	defer c.Close()
	r := &run{cfg: cfg, c: c, expected: map[*lab.Proc]bool{},
		procs: make([][]*lab.Proc, hosts), views: make([]string, hosts), epochs: make([]int64, hosts)}
	for h, host := range c.Hosts {
		r.procs[h] = []*lab.Proc{c.Agents[h]}
		r.agentCl = append(r.agentCl, c.Client.RedisClient(&redis.Options{
			Addr: net.JoinHostPort(host.IP4.String(), strconv.Itoa(scenario.AgentPort)), Password: c.Opts.AgentPassword,
			Protocol: 2, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
		}))
	}
	r.start = time.Now()
	r.note("nemesis", fmt.Sprintf("seed %d, %d steps over %v", cfg.Seed, len(rep.Steps), cfg.Duration))
	for _, s := range rep.Steps {
		r.note("nemesis", fmt.Sprintf("plan +%v %s", s.At, s))
	}
	mon := r.startMonitors()
	vipW := c.StartWriter()
	folW := c.StartFollower("s:", r.followMaster)
	stopAll := func() ([]scenario.Ack, []scenario.Ack) {
		a, f := vipW.Stop(), folW.Stop()
		rep.DualVIP, rep.MaxVIPHolders, _ = mon.stop()
		return a, f
	}

	nem := &nemesis{r: r}
	nem.play(ctx, rep.Steps)
	if err := nem.healAll(); err != nil {
		stopAll()
		return rep, fmt.Errorf("campaign: heal everything: %w", err)
	}
	healed := time.Now()
	r.note("nemesis", "every fault healed")

	cctx, cancel := context.WithTimeout(ctx, cfg.Converge)
	defer cancel()
	// Each new reason the group is not settled yet goes into the
	// timeline, so that a slow convergence explains itself (run 2 of the
	// one-hour campaign took 17.5 s and left no trace of why).
	lastWhy := ""
	err = wait.For(cctx, 50*time.Millisecond, func() error {
		var err error
		rep.FinalMaster, err = c.Converged(cctx)
		if err != nil && err.Error() != lastWhy && cctx.Err() == nil {
			lastWhy = err.Error()
			r.note("check", "not converged: "+lastWhy)
		}
		return err
	})
	rep.Converge = time.Since(healed)
	if err != nil {
		r.violate(fmt.Sprintf("no convergence within %v of the last heal: %v", cfg.Converge, err))
		rep.FinalMaster = ""
	} else {
		r.note("check", fmt.Sprintf("converged on %s after %v", rep.FinalMaster, rep.Converge.Round(time.Millisecond)))
		// Both clients write to the converged group before they stop.
		mark := vipW.Acked() + folW.Acked()
		wait.For(ctx, 10*time.Millisecond, func() error {
			if vipW.Acked()+folW.Acked() < mark+20 {
				return fmt.Errorf("no writes since convergence")
			}
			return nil
		})
	}
	vipAcks, folAcks := stopAll()
	if rep.PauseCalls, err = c.PauseCalls(ctx); err != nil {
		r.note("check", fmt.Sprintf("CLIENT PAUSE count: %v", err))
		rep.PauseCalls = -1
	}
	rep.Refused = refusals(vipW.Since(r.start), vipW.Refused(), vipAcks, folW.Refused())
	for _, e := range rep.Refused.Episodes {
		r.note("check", fmt.Sprintf("NOREPLICAS episode at %.3fs for %v", e.At.Seconds(), e.Len.Round(time.Millisecond)))
	}
	rep.Lag = mon.lagHistogram()
	r.mu.Lock()
	rep.Incidents = slices.Clone(r.incidents)
	rep.MaxRSSKB, rep.Exits = r.maxRSS, r.exits
	r.mu.Unlock()

	r.analyseFailovers(rep)
	if rep.FinalMaster == "" {
		rep.FinalMaster = r.majorityMasterAddr()
	}
	if rep.FinalMaster != "" {
		if err := r.analyseWrites(ctx, rep, mon, vipW, vipAcks, folW, folAcks); err != nil {
			r.violate(fmt.Sprintf("read back the writes: %v", err))
		}
	}
	rep.DualWritable, rep.StaleMaster = mon.dualWritable, mon.staleMax
	r.mu.Lock()
	rep.Violations = slices.Clone(r.violation)
	rep.Timeline = slices.Clone(r.timeline)
	r.mu.Unlock()
	for h := range c.Hosts {
		for _, p := range r.procs[h] {
			for _, e := range scenario.AgentLogEvents(p) {
				if timelineEvent(e.Type) {
					rep.Timeline = append(rep.Timeline, Line{At: e.At.Sub(r.start), Who: e.Host, What: e.String()})
				}
			}
		}
	}
	slices.SortStableFunc(rep.Timeline, func(a, b Line) int { return cmp.Compare(a.At, b.At) })
	return rep, nil
}

func (r *run) majorityMasterAddr() string {
	h := r.majorityView()
	if h < 0 {
		return ""
	}
	return net.JoinHostPort(r.c.Hosts[h].IP4.String(), "6379")
}

// timelineEvent selects the agent events a campaign timeline shows.
func timelineEvent(t string) bool {
	switch t {
	case "+odown", "+try-failover", "+elected-leader", "+promoted-slave", "+switch-master", "+failover-end",
		"+convert-to-slave", "+vip-acquired", "+vip-released", "+fence", "-fence", "+tilt", "-tilt",
		"+replica-not-receiving", "-failover-abort-no-good-slave", "-failover-abort-replica-lagging", "-failover-abort-not-elected",
		"-failover-abort-slave-timeout", "+failover-end-for-timeout",
		// +selected-slave's detail names every candidate's fate; the
		// reconfiguration events show when each replica followed.
		"+selected-slave", "+slave-reconf-sent", "+slave-reconf-done", "+fix-slave-config":
		return true
	}
	return false
}

// analyseFailovers collects the failovers from every agent process's log
// and decides for each whether it was justified. The old master is healthy
// at t when no fault that can silence its redis-server (kill, power-off,
// any cut, flapping or loss on its host) was in force during
// [t - down-after - grace, t]; another host is healthy when no fault on its
// links (or power) was in force then (see Kind.affectsLinks). A failover
// started at t is spurious when the old master and a majority of the hosts
// were healthy at t.
func (r *run) analyseFailovers(rep *Report) {
	type sw struct {
		at       time.Time
		old, new string
	}
	switches := map[uint64]sw{}
	var tries []time.Time
	for h := range r.c.Hosts {
		for _, p := range r.procs[h] {
			for _, e := range scenario.AgentLogEvents(p) {
				rep.Events[e.Type]++
				switch e.Type {
				case "+switch-master":
					f := strings.Fields(e.Payload) // <name> <old ip> <old port> <new ip> <new port>
					if len(f) != 5 {
						continue
					}
					if s, ok := switches[e.Epoch]; !ok || e.At.Before(s.at) {
						switches[e.Epoch] = sw{at: e.At, old: net.JoinHostPort(f[1], f[2]), new: net.JoinHostPort(f[3], f[4])}
					}
				case "+try-failover":
					tries = append(tries, e.At)
				case "+fence":
					rep.Fences++
				}
			}
		}
	}
	slices.SortFunc(tries, func(a, b time.Time) int { return a.Compare(b) })
	epochs := make([]uint64, 0, len(switches))
	for e := range switches {
		epochs = append(epochs, e)
	}
	slices.Sort(epochs)
	quorum := len(r.c.Hosts)/2 + 1
	D := r.cfg.DownAfter
	prevSwitch := r.start
	for _, ep := range epochs {
		s := switches[ep]
		f := Failover{Epoch: ep, Old: s.old, New: s.new, Switch: s.at, Start: s.at}
		for _, t := range tries {
			if !t.After(s.at) && t.After(prevSwitch) {
				f.Start = t // the latest attempt before the switch won
			}
		}
		prevSwitch = s.at
		from := f.Start.Add(-D - grace)
		oh := r.hostOf(s.old)
		for _, in := range incidentsOn(rep.Incidents, oh, Kind.affectsRedis) {
			if overlaps(in, from, f.Start, grace) {
				f.Causes = append(f.Causes, in)
			}
		}
		var healthy []string
		for h, host := range r.c.Hosts {
			sick := false
			for _, in := range incidentsOn(rep.Incidents, h, Kind.affectsLinks) {
				sick = sick || overlaps(in, from, f.Start, grace)
			}
			if !sick {
				healthy = append(healthy, host.Name)
			}
		}
		if len(f.Causes) == 0 && len(healthy) >= quorum {
			f.Spurious = true
			f.Why = fmt.Sprintf("no fault on the old master's host, and no fault on the links of %v, from %.3fs to %.3fs",
				healthy, from.Sub(r.start).Seconds(), f.Start.Sub(r.start).Seconds())
			r.violate(fmt.Sprintf("spurious failover (epoch %d, %s -> %s at %.3fs): %s", ep, s.old, s.new, s.at.Sub(r.start).Seconds(), f.Why))
			rep.Spurious++
		}
		rep.Failovers = append(rep.Failovers, f)
	}
}

// analyseWrites reads every acknowledged write back from the final master
// and attributes each missing one to the failover whose fence window it
// was acknowledged in: from the start of a fault that caused the failover
// (less replSlack) to the switch. Writes lost anywhere else are violations.
func (r *run) analyseWrites(ctx context.Context, rep *Report, mon *monitors, vipW *scenario.Writer, vipAcks []scenario.Ack, folW *scenario.Writer, folAcks []scenario.Ack) error {
	rep.Acked = len(vipAcks) + len(folAcks)
	var unexplained []string
	for _, set := range []struct {
		w    *scenario.Writer
		acks []scenario.Ack
	}{{vipW, vipAcks}, {folW, folAcks}} {
		missing, err := r.c.MissingWrites(ctx, rep.FinalMaster, set.acks)
		if err != nil {
			return err
		}
		rep.Lost += len(missing)
		offset := set.w.Since(r.start) // writer clock at the campaign's start
		for _, a := range missing {
			at := r.start.Add(a.At - offset)
			explained := false
			for i := range rep.Failovers {
				f := &rep.Failovers[i]
				for _, cause := range f.Causes {
					from := cause.Start.Add(-replSlack)
					if !at.Before(from) && !at.After(f.Switch) {
						if f.Lost == 0 || at.Sub(cause.Start) < f.LostFirst {
							f.LostFirst = at.Sub(cause.Start)
						}
						f.LostLast = max(f.LostLast, at.Sub(cause.Start))
						f.Lost++
						explained = true
						break
					}
				}
				if explained {
					break
				}
			}
			if !explained {
				// Charge it to the failover that dropped it: the first
				// switch after its acknowledgement.
				inBound := false
				for i := range rep.Failovers {
					f := &rep.Failovers[i]
					if f.Switch.Before(at) {
						continue
					}
					d := at.Sub(f.Switch)
					if f.Outside == 0 || d < f.OutFirst {
						f.OutFirst = d
					}
					if f.Outside == 0 || d > f.OutLast {
						f.OutLast = d
					}
					f.Outside++
					switch good, ok := mon.goodAt(r.hostOf(f.Old), at); {
					case ok && good == 0:
						f.OutNoReplica++
					case ok:
						f.OutReplicated++
					}
					// Within the replication bound: the promoted replica
					// had stopped receiving from the old master before the
					// write (less a lag sample and replSlack) and never
					// received again before the switch, and the write came
					// at most replBound after. A replica that received
					// after the write yet lacks it lost it otherwise.
					oldIP, _, _ := net.SplitHostPort(f.Old)
					stopped, ok := mon.stoppedReceiving(r.hostOf(f.New), oldIP, f.Switch)
					if ok {
						f.Stopped = stopped
					}
					if ok && !r.cfg.Guard.Off && !at.Before(stopped.Add(-lagSample-replSlack)) && at.Sub(stopped) <= replBound {
						inBound = true
						d := at.Sub(stopped)
						if f.InBound == 0 || d < f.InFirst {
							f.InFirst = d
						}
						if f.InBound == 0 || d > f.InLast {
							f.InLast = d
						}
						f.InBound++
					}
					break
				}
				if inBound {
					rep.InBound++
					continue
				}
				rep.Unexplained++
				if len(unexplained) < 10 {
					unexplained = append(unexplained, fmt.Sprintf("%s acked at %.3fs", a.Key, at.Sub(r.start).Seconds()))
				}
			}
		}
	}
	if rep.Unexplained > 0 {
		r.violate(fmt.Sprintf("%d acknowledged writes lost outside any fence window and beyond the replication bound %v (first: %s)", rep.Unexplained, replBound, strings.Join(unexplained, ", ")))
	}
	return nil
}
