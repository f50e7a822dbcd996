package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// The core's scenario tests: fixed scripts (steps_test.go) that check the
// event sequences, timings and VIP ownership of agent/sentinel's Node as
// the runtime's driver runs it.

// leaderFailoverEvents are the events of a leader's automatic failover, in
// redis-sentinel's order.
var leaderFailoverEvents = []string{"+sdown", "+odown", "+new-epoch", "+try-failover", "+vote-for-leader", "+elected-leader",
	"+failover-state-select-slave", "+selected-slave", "+failover-state-send-slaveof-noone",
	"+failover-state-wait-promotion", "+promoted-slave", "+failover-state-reconf-slaves",
	"+slave-reconf-sent", "+slave-reconf-inprog", "+slave-reconf-done", "+failover-end", "+switch-master"}

// checkLeaderFailover checks that leader's events since t0 hold a whole
// automatic failover (leaderFailoverEvents, other events between them
// allowed).
func checkLeaderFailover(t *testing.T, leader *stepAgent, t0 time.Duration) {
	t.Helper()
	if got := leader.eventTypes(t0); !testenv.IsSubsequence(leaderFailoverEvents, got) {
		t.Errorf("leader %d events:\n got %v\nwant subsequence %v", leader.id, got, leaderFailoverEvents)
	}
}

func TestScenarioKillMaster(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 1})
	c.converge()
	if got := c.owners(); len(got) != 1 || got[0] != 0 {
		t.Fatalf("VIP owners before failure = %v, want [0]", got)
	}
	t0 := c.now()
	c.killRedis(0)
	ok := c.runUntil(t0+20*time.Second, func() bool { return allSwitched(c.agents, t0) })
	if !ok {
		c.logEvents(t0)
		t.Fatal("no +switch-master on every agent")
	}
	leader := c.leaderOf(t0)
	if leader == nil {
		t.Fatal("no leader")
	}
	checkLeaderFailover(t, leader, t0)
	for _, a := range c.agents {
		if a == leader {
			continue
		}
		got := a.eventTypes(t0)
		if !testenv.IsSubsequence([]string{"+sdown", "+vote-for-leader", "+config-update-from", "+switch-master"}, got) {
			t.Errorf("agent %d events: %v", a.id, got)
		}
	}
	newMaster, _ := leader.node.MasterAddr(masterName)
	if newMaster == c.redisAddr(0) {
		t.Fatalf("master not moved")
	}
	// Every agent agrees on the new master and config epoch.
	for _, a := range c.agents {
		addr, _ := a.node.MasterAddr(masterName)
		if addr != newMaster {
			t.Errorf("agent %d thinks master is %v, want %v", a.id, addr, newMaster)
		}
	}
	// The VIP moves to the new master's host, and only there.
	c.runUntil(c.now()+time.Second, func() bool { return len(c.owners()) == 1 })
	if got := c.owners(); len(got) != 1 || c.hostIP(got[0]) != newMaster.Host {
		t.Errorf("VIP owners after failover = %v, new master %v", got, newMaster)
	}
	for _, d := range vipDrops(c, newMaster, t0) {
		t.Error(d)
	}
	promoted := leader.firstEvent("+promoted-slave", t0) - t0
	switched := leader.firstEvent("+switch-master", t0) - t0
	t.Logf("kill -> +promoted-slave %v, -> +switch-master (leader) %v", promoted, switched)
}

// vipDrops lists the times the agent on newMaster's host released the VIP
// after first taking it since t0: it must keep it through its own
// +switch-master (the reset carries the promoted replica's state).
func vipDrops(c *steps, newMaster sentinel.Addr, t0 time.Duration) []string {
	var out []string
	for _, a := range c.agents {
		if c.hostIP(a.id) != newMaster.Host {
			continue
		}
		owned := false
		for _, v := range a.vipLog {
			if v.at < t0 {
				continue
			}
			if owned && !v.own {
				out = append(out, fmt.Sprintf("agent %d released the VIP %v after the failure", a.id, v.at-t0))
			}
			owned = v.own
		}
	}
	return out
}

// TestScenarioFailoverTime measures the virtual time from a master's death
// to the new configuration, with down-after 1 s, RTT 0.5 ms and 10 ms ticks,
// over many seeds (the death falls anywhere in the ping cycle).
func TestScenarioFailoverTime(t *testing.T) {
	for _, mode := range []string{"kill", "blackhole"} {
		var worstPromote, worstSwitch, worstVIP, sumPromote, sumVIP time.Duration
		runs := 20
		for seed := 1; seed <= runs; seed++ {
			c := newSteps(t, stepOpts{seed: uint64(seed)})
			c.converge()
			c.run(time.Duration(seed) * 7 * time.Millisecond) // vary the phase
			t0 := c.now()
			if mode == "kill" {
				c.killRedis(0)
			} else {
				c.isolate(0, true)
			}
			var vipAt time.Duration = -1
			ok := c.runUntil(t0+10*time.Second, func() bool {
				if vipAt < 0 {
					for _, a := range c.agents {
						if a.id != 0 && a.ownsVIP() {
							vipAt = c.now()
						}
					}
				}
				if !allSwitched(c.agents[1:], t0) {
					return false
				}
				return vipAt >= 0
			})
			if !ok {
				c.logEvents(t0)
				t.Fatalf("%s seed %d: failover did not complete", mode, seed)
			}
			c.run(200 * time.Millisecond)
			l := c.leaderOf(t0)
			newMaster, _ := l.node.MasterAddr("mymaster")
			for _, d := range vipDrops(c, newMaster, t0) {
				t.Errorf("%s seed %d: %s", mode, seed, d)
			}
			p := l.firstEvent("+promoted-slave", t0) - t0
			s := l.firstEvent("+switch-master", t0) - t0
			v := vipAt - t0
			worstPromote, worstSwitch, worstVIP = max(worstPromote, p), max(worstSwitch, s), max(worstVIP, v)
			sumPromote += p
			sumVIP += v
		}
		t.Logf("%s: death -> +promoted-slave avg %v worst %v; -> VIP wanted on new host avg %v worst %v; -> +switch-master worst %v",
			mode, sumPromote/time.Duration(runs), worstPromote, sumVIP/time.Duration(runs), worstVIP, worstSwitch)
		if worstVIP > time.Second+150*time.Millisecond {
			t.Errorf("%s: master moved %v after its death, want <= down-after + 150ms", mode, worstVIP)
		}
	}
}

func TestScenarioBlipNoFailover(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 3})
	c.converge()
	t0 := c.now()
	// A partition of the master's host shorter than down-after, by
	// enough that the probes held by it are retransmitted before then
	// (the simulator's TCP backs off 200 ms, 400 ms, ...: a 900 ms cut
	// silences a link for 1.4 s).
	c.isolate(0, true)
	c.run(500 * time.Millisecond)
	c.isolate(0, false)
	c.run(5 * time.Second)
	for _, a := range c.agents {
		if a.hasEvent("+sdown", t0) || a.hasEvent("+try-failover", t0) {
			t.Errorf("agent %d: %v", a.id, a.eventTypes(t0))
		}
	}
}

// TestScenarioDump logs the events of a failover after the master's Redis is
// killed, as a readable timeline, and checks that it is the timeline of one
// failover: every agent saw the master down before it switched, all switched
// away from the old master to the same new one, and exactly one led.
func TestScenarioDump(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	c := newSteps(t, stepOpts{seed: 1})
	c.converge()
	t0 := c.now()
	c.killRedis(0)
	c.run(3 * time.Second)
	switches := map[string]int{}
	leaders := 0
	for _, a := range c.agents {
		sdown, switched := false, false
		for _, e := range a.events {
			if e.at < t0 || e.ev.Level == sentinel.LevelDebug {
				continue
			}
			t.Logf("%7.1fms a%d %s %s", float64(e.at-t0)/1e6, a.id, e.ev.Type, e.ev.Payload)
			switch e.ev.Type {
			case "+sdown":
				sdown = sdown || strings.HasPrefix(e.ev.Payload, "master ")
			case "+switch-master":
				if !sdown {
					t.Errorf("agent %d switched before it saw the master down", a.id)
				}
				if !switched {
					switches[e.ev.Payload]++
				}
				switched = true
			case "+failover-end":
				leaders++
			}
		}
	}
	old := c.redisAddr(0)
	for p, n := range switches {
		if n != len(c.agents) || !strings.HasPrefix(p, masterName+" "+old.Host+" "+strconv.Itoa(old.Port)+" ") {
			t.Errorf("agents switched %v, want all %d to switch from %v to one new master", switches, len(c.agents), old)
			break
		}
	}
	if len(switches) != 1 || leaders != 1 {
		t.Errorf("%d distinct switches and %d failover leaders, want 1 and 1", len(switches), leaders)
	}
}

// TestScenarioFenceIsolatedMaster isolates the master's host: its agent
// must drop the VIP and pause writes before the majority promotes a
// replica; when the partition heals, the old master is demoted at once and
// the pause lifted.
func TestScenarioFenceIsolatedMaster(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 5, fence: true})
	c.converge()
	t0 := c.now()
	c.isolate(0, true)
	a0 := c.agents[0]
	ok := c.runUntil(t0+5*time.Second, func() bool {
		return c.agents[1].hasEvent("+switch-master", t0) && c.agents[2].hasEvent("+switch-master", t0)
	})
	if !ok {
		t.Fatal("no failover on the majority side")
	}
	fenceAt := a0.firstEvent("+fence", t0)
	lostAt := a0.firstEvent("+quorum-lost", t0)
	var dropAt time.Duration = -1
	for _, v := range a0.vipLog {
		if v.at >= t0 && !v.own {
			dropAt = v.at
			break
		}
	}
	promoted := c.leaderOf(t0).firstEvent("+promoted-slave", t0)
	t.Logf("isolation -> quorum lost %v, VIP dropped %v, +fence %v; majority promoted at %v",
		lostAt-t0, dropAt-t0, fenceAt-t0, promoted-t0)
	if fenceAt < 0 || dropAt < 0 || dropAt >= promoted || fenceAt >= promoted {
		t.Fatalf("old master not fenced before promotion: fence %v drop %v promoted %v", fenceAt, dropAt, promoted)
	}
	st := a0.node.Status(a0.local())
	if len(st) != 1 || !st[0].Fenced || st[0].VIPWanted || !st[0].Local || st[0].AgentsReachable != 1 || st[0].AgentsKnown != 3 ||
		st[0].KnownReplicas != 2 || st[0].KnownSentinels != 2 {
		t.Errorf("status of the isolated master's agent: %+v", st)
	}
	r0 := c.w.redis[0]
	cmds0 := func() []string { return c.cmds[0] }
	if !slices.ContainsFunc(cmds0(), func(s string) bool { return strings.HasPrefix(s, "CLIENT PAUSE") }) {
		t.Fatalf("no CLIENT PAUSE sent to the old master: %v", cmds0())
	}
	// Both sides want the VIP at no point.
	newMaster, _ := c.agents[1].node.MasterAddr(masterName)
	t1 := c.now()
	c.isolate(0, false)
	ok = c.runUntil(t1+5*time.Second, func() bool {
		return r0.role == roleReplica && a0.hasEvent("-fence", t1) && slices.Contains(cmds0(), "CLIENT UNPAUSE")
	})
	if !ok {
		t.Fatalf("old master not demoted after heal: role %s cmds %v events %v", r0.role, cmds0(), a0.eventTypes(t1))
	}
	if r0.master != newMaster {
		t.Fatalf("old master replicates from %v, want %v", r0.master, newMaster)
	}
	conv := a0.firstEvent("+convert-to-slave", t1)
	t.Logf("heal -> +convert-to-slave after %v; commands to old master: %v", conv-t1, cmds0())
	if conv < 0 || conv-t1 > time.Second {
		t.Errorf("demotion took %v, want at once (not Sentinel's 8 s)", conv-t1)
	}
	if i, j := slices.IndexFunc(cmds0(), func(s string) bool { return strings.HasPrefix(s, "SLAVEOF") }),
		slices.IndexFunc(cmds0(), func(s string) bool { return s == "CLIENT UNPAUSE" }); i < 0 || j < 0 || j < i {
		t.Errorf("want SLAVEOF then CLIENT UNPAUSE, got %v", cmds0())
	}
	if got := c.owners(); len(got) != 1 || c.hostIP(got[0]) != newMaster.Host {
		for _, a := range c.agents {
			t.Logf("a%d %+v", a.id, a.node.Status(a.local()))
		}
		t.Errorf("VIP owners after heal %v", got)
	}
	if len(c.dual) > 0 {
		t.Errorf("VIP wanted by two agents: %v", c.dual)
	}
}

func TestScenarioDeterministic(t *testing.T) {
	run := func() string {
		c := newSteps(t, stepOpts{seed: 21})
		c.converge()
		c.killRedis(0)
		c.run(3 * time.Second)
		var b strings.Builder
		for _, a := range c.agents {
			for _, e := range a.events {
				b.WriteString(e.at.String() + " " + e.ev.Type + " " + e.ev.Payload + "\n")
			}
		}
		return b.String()
	}
	if a, b := run(), run(); a != b {
		t.Fatal("same seed, different event streams")
	}
}

// TestScenarioManualFailover runs SENTINEL FAILOVER on a healthy group.
func TestScenarioManualFailover(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 13})
	c.converge()
	a := c.agents[2]
	t0 := c.now()
	c.w.check.failoverRequested(a.agent)
	c.call(a, func(now time.Duration) {
		if err := a.node.Failover(now, masterName); err != nil {
			cs, _ := a.node.ReplicaCandidates(now, masterName)
			t.Fatal(err, cs)
		}
	})
	ok := c.runUntil(t0+5*time.Second, func() bool { return allSwitched(c.agents, t0) })
	if !ok {
		t.Fatalf("manual failover did not complete: %v", a.eventTypes(t0))
	}
	if a.hasEvent("+sdown", t0) || !testenv.IsSubsequence([]string{"+new-epoch", "+try-failover", "+elected-leader", "+promoted-slave", "+switch-master"}, a.eventTypes(t0)) {
		t.Errorf("events %v", a.eventTypes(t0))
	}
	// The old master is alive: it is converted to a replica of the new one.
	r0 := c.w.redis[0]
	newMaster, _ := a.node.MasterAddr(masterName)
	ok = c.runUntil(c.now()+15*time.Second, func() bool { return r0.role == roleReplica && r0.master == newMaster })
	if !ok {
		t.Fatalf("old master not converted: role %s master %v", r0.role, r0.master)
	}
	c.run(time.Second)
	if got := c.owners(); len(got) != 1 || c.hostIP(got[0]) != newMaster.Host {
		t.Errorf("VIP owners %v", got)
	}
}

// TestScenarioHostRebootReturningOldMaster takes the master's whole host
// down (agent and Redis); the others fail over; the host comes back with
// its Redis still configured as a master and its agent's stale state. The
// agent must never want the VIP and must demote its Redis at once.
func TestScenarioHostRebootReturningOldMaster(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 17, fence: true})
	c.converge()
	a0 := c.agents[0]
	t0 := c.now()
	c.w.crashHost(0, time.Hour)
	ok := c.runUntil(t0+5*time.Second, func() bool {
		return c.agents[1].hasEvent("+switch-master", t0) && c.agents[2].hasEvent("+switch-master", t0)
	})
	if !ok {
		t.Fatal("no failover")
	}
	newMaster, _ := c.agents[1].node.MasterAddr(masterName)
	c.run(2 * time.Second)
	c.dual = nil
	t1 := c.now()
	r0 := c.w.redis[0]
	c.w.bootHost(0, false) // Redis comes back as a master with the old data
	a0.tick()
	ok = c.runUntil(t1+5*time.Second, func() bool { return r0.role == roleReplica })
	if !ok {
		t.Fatalf("returning old master not demoted: %v", a0.eventTypes(t1))
	}
	demoted := c.now() - t1
	c.run(time.Second)
	if len(c.dual) > 0 {
		t.Errorf("VIP wanted by two agents: %v", c.dual)
	}
	for _, v := range a0.vipLog {
		if v.at >= t1 && v.own {
			t.Errorf("restarted agent took the VIP at %v", v.at-t1)
		}
	}
	if r0.master != newMaster {
		t.Errorf("old master follows %v, want %v", r0.master, newMaster)
	}
	t.Logf("host back -> old master demoted after %v (commands %v)", demoted, c.cmds[0])
}

// TestScenarioMasterAgentRestart restarts the master host's agent while
// everything is healthy: the VIP and the writes come back within a few
// round trips, not after a publish period.
func TestScenarioMasterAgentRestart(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 19, fence: true})
	c.converge()
	c.run(3 * time.Second)
	a0 := c.agents[0]
	a0.crash("test")
	c.run(100 * time.Millisecond)
	t1 := c.now()
	c.startAgent(a0)
	ok := c.runUntil(t1+5*time.Second, func() bool {
		st, _ := a0.status()
		return a0.ownsVIP() && !st.Fenced
	})
	if !ok {
		st, _ := a0.status()
		t.Fatalf("VIP not back: %+v %v", st, a0.eventTypes(t1))
	}
	back := c.now() - t1
	t.Logf("agent restart -> VIP wanted again after %v (events %v)", back, a0.eventTypes(t1))
	if back > 100*time.Millisecond {
		t.Errorf("VIP back after %v", back)
	}
	if a0.hasEvent("+try-failover", t1) || c.agents[1].hasEvent("+sdown", t1) {
		t.Error("restart caused a failover attempt")
	}
}

// TestScenarioBootHostByHost is issue 13's boot: three hosts with
// min-agents 3 and fencing, the master's agent starts alone and its peers
// join one by one seconds later. An agent that never held the lease has
// nothing to fence: the master must never be paused (a paused master
// blocks the peers' hello PUBLISH, and with it their PINGs, which is how a
// healthy master was failed over to an unsynced replica), no +fence is
// emitted, nothing goes SDOWN, and the VIP is taken once a majority of
// min-agents granted it.
func TestScenarioBootHostByHost(t *testing.T) {
	for _, seed := range []uint64{23, 24, 25} {
		c := newSteps(t, stepOpts{seed: seed, fence: true, minAgents: 3, waiting: []int{1, 2}})
		a0 := c.agents[0]
		c.run(3 * time.Second)
		if a0.ownsVIP() {
			t.Fatalf("seed %d: VIP wanted alone, without a majority of min-agents 3", seed)
		}
		t1 := c.now()
		c.startAgent(c.agents[1])
		if !c.runUntil(t1+time.Second, a0.ownsVIP) {
			st, _ := a0.status()
			t.Fatalf("seed %d: VIP not taken once the second agent granted it: %+v", seed, st)
		}
		t.Logf("seed %d: VIP taken %v after the second agent started", seed, c.now()-t1)
		c.run(3 * time.Second)
		c.startAgent(c.agents[2])
		c.run(5 * time.Second)
		if !a0.ownsVIP() {
			st, _ := a0.status()
			t.Errorf("seed %d: VIP lost: %+v", seed, st)
		}
		for _, a := range c.agents {
			for _, typ := range []string{"+fence", "+sdown", "+odown", "+try-failover", "+switch-master"} {
				if a.hasEvent(typ, 0) {
					t.Errorf("seed %d: agent %d emitted %s during the boot: %v", seed, a.id, typ, a.eventTypes(0))
				}
			}
		}
		for h, cmds := range c.cmds {
			if i := slices.IndexFunc(cmds, func(s string) bool { return strings.HasPrefix(s, "CLIENT PAUSE") }); i >= 0 {
				t.Errorf("seed %d: %v was paused during the boot: %v", seed, c.redisAddr(h), cmds)
			}
		}
	}
}

func TestScenarioWrongAuthNeverFailsOver(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 7, redisPass: "secret", authPass: "wrong"})
	c.run(10 * time.Second)
	for _, a := range c.agents {
		if a.hasEvent("+sdown", 0) || a.hasEvent("+try-failover", 0) || !a.hasEvent("+auth-error", 0) {
			t.Errorf("agent %d: %v", a.id, a.eventTypes(0))
		}
		if a.ownsVIP() {
			t.Errorf("agent %d wants the VIP of a master it cannot authenticate to", a.id)
		}
	}
	// With the right password the group works.
	c = newSteps(t, stepOpts{seed: 7, redisPass: "secret", authPass: "secret"})
	c.converge()
}

// TestScenarioLeaderCrashAfterElection crashes the elected leader (SENTINEL
// SIMULATE-FAILURE crash-after-election): the voters, blocked only briefly
// because the leader is an agent, elect another leader in a new epoch.
func TestScenarioLeaderCrashAfterElection(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 11})
	c.converge()
	for _, a := range c.agents {
		a.node.SimulateFailure(sentinel.SimCrashAfterElection)
	}
	t0 := c.now()
	c.killRedis(0)
	var crashed *stepAgent
	c.runUntil(t0+5*time.Second, func() bool {
		for _, a := range c.agents {
			if !a.running {
				crashed = a
			}
		}
		return crashed != nil
	})
	if crashed == nil {
		t.Fatal("no leader crashed")
	}
	for _, a := range c.agents {
		if a.running {
			a.node.SimulateFailure(0)
		}
	}
	tc := c.now()
	ok := c.runUntil(tc+10*time.Second, func() bool {
		for _, a := range c.agents {
			if a.running && !a.hasEvent("+switch-master", t0) {
				return false
			}
		}
		return true
	})
	if !ok {
		c.logEvents(t0)
		t.Fatal("no failover after the leader crashed")
	}
	var leader *stepAgent
	for _, a := range c.agents {
		if a.running && a.hasEvent("+elected-leader", tc) {
			leader = a
		}
	}
	if leader == nil || leader.node.CurrentEpoch() < 2 {
		t.Fatalf("second election: leader %v", leader)
	}
	t.Logf("leader a%d crashed at %v; a%d promoted at %v (epoch %d)", crashed.id, tc-t0, leader.id,
		leader.firstEvent("+promoted-slave", tc)-t0, leader.node.CurrentEpoch())
	// The crashed agent comes back with its persisted state and follows.
	c.startAgent(crashed)
	want, _ := leader.node.MasterAddr(masterName)
	ok = c.runUntil(c.now()+5*time.Second, func() bool {
		a, _ := crashed.node.MasterAddr(masterName)
		return a == want
	})
	if !ok {
		t.Fatalf("restarted agent did not learn the new master")
	}
	if crashed.node.CurrentEpoch() < leader.node.CurrentEpoch() {
		t.Errorf("restarted agent epoch %d", crashed.node.CurrentEpoch())
	}
}

// syncEvents are the events of a forced failover's write pause and catch-up.
var syncEvents = []string{"+failover-pause-master", "+failover-wait-replica-offset", "+failover-replica-caught-up",
	"-failover-abort-replica-lagging", "-failover-abort-pause-failed", "-failover-pause-master"}

// TestScenarioForcedFailoverKeepsWrites: a client writes to the master
// every millisecond right up to SENTINEL FAILOVER, with replicas applying
// writes late; the promoted replica must hold every acknowledged write, and
// the old master must accept none after the promotion.
func TestScenarioForcedFailoverKeepsWrites(t *testing.T) {
	tests := []struct {
		name   string
		issuer int // agent receiving SENTINEL FAILOVER
		lag    time.Duration
		fence  bool
	}{
		{"on the master's host, lag 20ms", 0, 20 * time.Millisecond, false},
		{"on a replica's host, lag 200ms, fencing", 2, 200 * time.Millisecond, true},
		{"on a replica's host, lag 1ms", 1, time.Millisecond, false},
		{"no lag", 2, 0, true},
		{"on a replica's host, lag 1ms, fencing", 1, time.Millisecond, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSteps(t, stepOpts{seed: 31 + uint64(i), fence: tt.fence, writes: true, replLag: tt.lag})
			c.converge()
			r0 := c.w.redis[0]
			c.startWriter(0, time.Millisecond)
			c.run(500 * time.Millisecond)
			a := c.agents[tt.issuer]
			t0 := c.now()
			c.w.check.failoverRequested(a.agent)
			c.call(a, func(now time.Duration) {
				if err := a.node.Failover(now, masterName); err != nil {
					t.Fatal(err)
				}
			})
			ok := c.runUntil(t0+10*time.Second, func() bool {
				if !allSwitched(c.agents, t0) {
					return false
				}
				return r0.role == roleReplica && !r0.paused() && a.hasEvent("-failover-pause-master", t0)
			})
			if !ok {
				t.Fatalf("forced failover did not complete: events %v, old master %s paused till %v, cmds %v",
					a.eventTypes(t0), r0.role, r0.pausedUntil-c.now(), c.cmds[0])
			}
			if len(c.promotions) != 1 {
				t.Fatalf("promotions %+v", c.promotions)
			}
			p := c.promotions[0]
			if l := c.lost(0, p); len(l) > 0 {
				t.Errorf("%d acknowledged writes missing on the new master %v (offset %d), first %+v",
					len(l), p.addr, p.off, l[0])
			}
			// Writes were acknowledged right up to the failover, and
			// without the pause some of them would have been lost.
			last, _ := c.lastAck(0, t0+time.Millisecond)
			if last.at < t0-time.Millisecond {
				t.Errorf("last write acknowledged %v before the failover", t0-last.at)
			}
			behind := last.off - c.offsetBefore(0, t0-tt.lag)
			if tt.lag >= 20*time.Millisecond && behind <= 0 {
				t.Errorf("replicas were not behind at the failover: the test proves nothing")
			}
			want := []string{"+try-failover", "+elected-leader", "+selected-slave", "+failover-state-send-slaveof-noone",
				"+failover-pause-master", "+failover-wait-replica-offset", "+failover-replica-caught-up",
				"+failover-state-wait-promotion", "+promoted-slave", "-failover-pause-master", "+switch-master"}
			if got := a.eventTypes(t0); !testenv.IsSubsequence(want, got) {
				t.Errorf("events:\n got %v\nwant subsequence %v", got, want)
			}
			// Paused, demoted, then unpaused: writes never resumed on a master.
			cmds := c.cmds[0]
			pause := slices.IndexFunc(cmds, func(s string) bool { return strings.HasPrefix(s, "CLIENT PAUSE") })
			demote := slices.IndexFunc(cmds, func(s string) bool { return strings.HasPrefix(s, "SLAVEOF "+p.addr.Host) })
			unpause := slices.Index(cmds, "CLIENT UNPAUSE")
			if pause < 0 || demote < pause || unpause < demote {
				t.Errorf("commands to the old master %v: want CLIENT PAUSE, SLAVEOF, CLIENT UNPAUSE", cmds)
			}
			if r0.master != p.addr {
				t.Errorf("old master follows %v, want %v", r0.master, p.addr)
			}
			c.run(2 * time.Second)
			if got := c.owners(); len(got) != 1 || c.hostIP(got[0]) != p.addr.Host {
				t.Errorf("VIP owners %v, new master %v", got, p.addr)
			}
			// Without fencing, a leader on the promoted replica's host
			// wants the VIP at the promotion, about one RTT before the old
			// master's agent hears of it (the old master is paused then,
			// so no write is lost). With fencing the VIP moves only under
			// a lease the old holder's grants no longer bind: never two.
			if len(c.dual) > 0 && (tt.fence || tt.issuer != p.host) {
				t.Errorf("VIP wanted by two agents: %v", c.dual)
			}
			for _, x := range c.agents {
				if x.hasEvent("+sdown", t0) && x.firstEvent("+sdown", t0) < p.at {
					t.Errorf("agent %d saw the paused master down", x.id)
				}
			}
			t.Logf("replicas %d writes behind at the failover; writes blocked for %v; promoted %v after the command; new master offset %d, last write acknowledged %d; leader on the promoted host %v",
				behind, c.stalled, p.at-t0, p.off, last.off, tt.issuer == p.host)
		})
	}
}

// TestScenarioForcedFailoverReplicaLagging: a replica that does not catch up
// within the bound aborts the forced failover; the master is unpaused and
// keeps its role, the VIP stays. Once the lag is gone a new attempt works.
func TestScenarioForcedFailoverReplicaLagging(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 41, fence: true, writes: true, replLag: 2 * time.Second})
	c.converge()
	old := c.redisAddr(0)
	r0 := c.w.redis[0]
	c.startWriter(0, time.Millisecond)
	c.run(3 * time.Second)
	a := c.agents[1]
	t0 := c.now()
	c.w.check.failoverRequested(a.agent)
	c.call(a, func(now time.Duration) {
		if err := a.node.Failover(now, masterName); err != nil {
			t.Fatal(err)
		}
	})
	ok := c.runUntil(t0+3*time.Second, func() bool { return a.hasEvent("-failover-pause-master", t0) })
	if !ok {
		t.Fatalf("no abort: %v", a.eventTypes(t0))
	}
	abort := a.firstEvent("-failover-abort-replica-lagging", t0)
	want := []string{"+failover-state-send-slaveof-noone", "+failover-pause-master", "+failover-wait-replica-offset",
		"-failover-abort-replica-lagging", "-failover-pause-master"}
	if got := a.eventTypes(t0); !testenv.IsSubsequence(want, got) || a.hasEvent("+failover-state-wait-promotion", t0) {
		t.Fatalf("events %v", got)
	}
	timeout := syncTimeout(t, a, t0)
	if d := abort - t0; d < timeout || d > timeout+50*time.Millisecond {
		t.Errorf("aborted %v after the command, want just after %v", d, timeout)
	}
	for _, e := range a.events {
		if e.ev.Type == "-failover-abort-replica-lagging" {
			f := strings.Fields(e.ev.Payload)
			if len(f) != 10 || f[0] != "slave" || f[4] != "@" {
				t.Errorf("payload %q: want %%@ of the replica, its offset and the target", e.ev.Payload)
				continue
			}
			if off, _ := strconv.Atoi(f[8]); off >= atoi(f[9]) {
				t.Errorf("payload %q: the replica was not behind", e.ev.Payload)
			}
		}
	}
	c.run(time.Second)
	if len(c.promotions) != 0 || r0.role != roleMaster || r0.paused() {
		t.Errorf("after the abort: promotions %v, old master %s paused till %v", c.promotions, r0.role, r0.pausedUntil)
	}
	if !slices.Contains(c.cmds[0], "CLIENT UNPAUSE") {
		t.Errorf("pause not lifted: %v", c.cmds[0])
	}
	if last, _ := c.lastAck(0, c.now()); last.at < c.now()-2*time.Millisecond {
		t.Errorf("writes did not resume: last acknowledged %v ago", c.now()-last.at)
	}
	if c.stalled > timeout+20*time.Millisecond {
		t.Errorf("writes blocked for %v", c.stalled)
	}
	for _, x := range c.agents {
		if m, _ := x.node.MasterAddr(masterName); m != old || x.hasEvent("+sdown", t0) {
			t.Errorf("agent %d: master %v events %v", x.id, m, x.eventTypes(t0))
		}
	}
	if got := c.owners(); len(got) != 1 || got[0] != 0 {
		t.Errorf("VIP owners %v", got)
	}
	t.Logf("aborted after %v; writes blocked for %v", abort-t0, c.stalled)

	// The replicas catch up: a new attempt succeeds without losing a write.
	c.w.opts.ReplLag = 5 * time.Millisecond
	c.run(time.Second)
	t1 := c.now()
	c.w.check.failoverRequested(a.agent)
	c.call(a, func(now time.Duration) {
		if err := a.node.Failover(now, masterName); err != nil {
			t.Fatal(err)
		}
	})
	ok = c.runUntil(t1+5*time.Second, func() bool { return len(c.promotions) == 1 && r0.role == roleReplica && !r0.paused() })
	if !ok {
		t.Fatalf("second attempt: %v", a.eventTypes(t1))
	}
	if l := c.lost(0, c.promotions[0]); len(l) > 0 {
		t.Errorf("%d writes lost", len(l))
	}
}

// syncTimeout is the bound of the forced failover's wait for the replica
// that a announced (+failover-pause-master "... (at most <d>)") since t0.
func syncTimeout(t *testing.T, a *stepAgent, since time.Duration) time.Duration {
	t.Helper()
	for _, e := range a.events {
		if e.at >= since && e.ev.Type == "+failover-pause-master" {
			i := strings.LastIndex(e.ev.Detail, "(at most ")
			if i >= 0 {
				if d, err := time.ParseDuration(strings.TrimSuffix(e.ev.Detail[i+len("(at most "):], ")")); err == nil {
					return d
				}
			}
			t.Fatalf("+failover-pause-master detail %q names no bound", e.ev.Detail)
		}
	}
	t.Fatal("no +failover-pause-master")
	return 0
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestScenarioAutomaticFailoverUnchanged: a failover after the master's
// death neither pauses anything nor emits the forced failover's events, and
// (the master being gone) the write model shows the writes that the
// replicas had not received yet as lost, which is what the checks above
// would catch.
func TestScenarioAutomaticFailoverUnchanged(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 1, writes: true, replLag: 20 * time.Millisecond})
	c.converge()
	c.startWriter(0, time.Millisecond)
	c.run(500 * time.Millisecond)
	t0 := c.now()
	c.killRedis(0)
	ok := c.runUntil(t0+10*time.Second, func() bool { return allSwitched(c.agents[1:], t0) })
	if !ok {
		t.Fatal("no failover")
	}
	leader := c.leaderOf(t0)
	checkLeaderFailover(t, leader, t0)
	for _, a := range c.agents {
		for _, e := range a.events {
			if slices.Contains(syncEvents, e.ev.Type) {
				t.Errorf("agent %d: %s in an automatic failover", a.id, e.ev.Type)
			}
		}
	}
	for h, cmds := range c.cmds {
		for _, cmd := range cmds {
			if strings.HasPrefix(cmd, "CLIENT") {
				t.Errorf("%v got %q", c.redisAddr(h), cmd)
			}
		}
	}
	if len(c.promotions) != 1 || len(c.lost(0, c.promotions[0])) == 0 {
		t.Errorf("the write model shows no loss when a master with lagging replicas dies: %+v", c.promotions)
	} else {
		t.Logf("master killed: %d acknowledged writes lost with it (replication lag %v)", len(c.lost(0, c.promotions[0])), c.w.opts.ReplLag)
	}
}
