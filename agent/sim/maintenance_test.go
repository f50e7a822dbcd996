package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// The scenario half of the maintenance and switchover tests (the unit
// half is in agent/sentinel/maintenance_test.go).

// switched reports whether every live agent emitted +switch-master since t0.
func (c *steps) switched(t0 time.Duration) bool {
	for _, a := range c.agents {
		if a.running && !a.hasEvent("+switch-master", t0) {
			return false
		}
	}
	return true
}

// TestMaintenanceSuppressesFailover pauses some of the agents, kills the
// master, and checks that nothing fails it over while a majority is paused,
// and that the failover happens once the pause is resumed.
func TestMaintenanceSuppressesFailover(t *testing.T) {
	tests := []struct {
		name   string
		paused []int // agents told of the pause
	}{
		{"every agent paused", []int{0, 1, 2}},
		// Agent 2 missed the pause (it was down, say): it sees ODOWN and
		// tries, but the paused majority gives it no vote.
		{"an agent missed the pause", []int{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newSteps(t, stepOpts{seed: 7})
			c.converge()
			for _, i := range tc.paused {
				a := c.agents[i]
				c.call(a, func(now sentinel.Time) {
					if err := a.node.Pause(now, masterName, 0, 0); err != nil {
						t.Fatal(err)
					}
				})
				if mt, _ := a.node.Maintenance(masterName); !mt.On || !a.hasEvent("+maintenance", 0) {
					t.Fatalf("agent %d: maintenance %+v, events %v", i, mt, a.eventTypes(0))
				}
			}
			c.run(100 * time.Millisecond) // the disk write
			for _, i := range tc.paused {
				if d := c.agents[i].disk; d == nil || !d.Masters[0].Maintenance.On {
					t.Fatalf("agent %d: pause not persisted", i)
				}
			}
			t0 := c.now()
			c.killRedis(0)
			c.run(20 * time.Second)
			for _, a := range c.agents {
				if a.hasEvent("+switch-master", t0) || a.hasEvent("+promoted-slave", t0) {
					t.Fatalf("agent %d failed the paused master over: %v", a.id, a.eventTypes(t0))
				}
				if !a.hasEvent("+odown", t0) && !a.hasEvent("+sdown", t0) {
					t.Errorf("agent %d: the death went unnoticed: %v", a.id, a.eventTypes(t0))
				}
			}
			for _, i := range tc.paused {
				a := c.agents[i]
				if a.hasEvent("+vote-for-leader", t0) && !a.hasEvent("+try-failover", t0) {
					t.Errorf("paused agent %d voted: %v", i, a.eventTypes(t0))
				}
			}
			t1 := c.now()
			for _, i := range tc.paused {
				a := c.agents[i]
				c.call(a, func(now sentinel.Time) {
					if err := a.node.Resume(now, ""); err != nil {
						t.Fatal(err)
					}
				})
				if !a.hasEvent("-maintenance", t1) {
					t.Errorf("agent %d: no -maintenance", i)
				}
			}
			if !c.runUntil(t1+30*time.Second, func() bool { return c.switched(t1) }) {
				t.Fatalf("no failover after resume: %v", c.agents[1].eventTypes(t1))
			}
		})
	}
}

// TestFailoverTo moves the master to the replica an operator names, not to
// the one Sentinel's order prefers, and refuses a replica that does not
// qualify with the rule that excludes it.
func TestFailoverTo(t *testing.T) {
	c := newSteps(t, stepOpts{agents: 4, seed: 21})
	c.converge()
	a := c.agents[3]
	cs, _ := a.node.ReplicaCandidates(a.local(), masterName)
	if len(cs) != 3 {
		t.Fatalf("candidates %+v, want 3", cs)
	}
	// The target is the replica Sentinel's order likes least; another one
	// is made unpromotable.
	target, lowered := cs[2].Addr, cs[1].Addr
	h := slices.IndexFunc(c.w.redis, func(r *redis) bool { return r.addr == lowered })
	refusals := []struct {
		to   sentinel.Addr
		want string
	}{
		{sentinel.Addr{Host: "198.18.0.99", Port: 6379}, "ERR 198.18.0.99:6379 is not a known replica of " + masterName + " (known: "},
		{c.redisAddr(0), "ERR " + c.redisAddr(0).String() + " is not a known replica"},
	}
	for _, r := range refusals {
		if err := a.node.FailoverTo(a.local(), masterName, r.to); err == nil || !strings.HasPrefix(err.Error(), r.want) {
			t.Errorf("FailoverTo %s: %v, want %q", r.to, err, r.want)
		}
	}
	c.w.redis[h].priority = 0
	c.run(11 * time.Second) // an INFO (every 10 s) shows the new priority
	if err := a.node.FailoverTo(a.local(), masterName, lowered); err == nil || err.Error() != "NOGOODSLAVE "+lowered.String()+" cannot be promoted: replica-priority is 0" {
		t.Errorf("priority 0: %v", err)
	}
	if err := a.node.FailoverTo(a.local(), "nosuch", target); err != sentinel.ErrNoSuchMaster {
		t.Errorf("unknown master: %v", err)
	}
	c.call(a, func(sentinel.Time) {})
	if a.hasEvent("+try-failover", 0) {
		t.Fatal("a refused switchover started a failover")
	}

	t0 := c.now()
	c.w.check.failoverRequested(a.agent)
	c.call(a, func(now sentinel.Time) {
		if err := a.node.FailoverTo(now, masterName, target); err != nil {
			t.Fatal(err)
		}
		if err := a.node.FailoverTo(now, masterName, target); err == nil || !strings.HasPrefix(err.Error(), "INPROG") {
			t.Errorf("second switchover: %v", err)
		}
	})
	if !c.runUntil(t0+10*time.Second, func() bool { return c.switched(t0) }) {
		t.Fatalf("switchover did not complete: %v", a.eventTypes(t0))
	}
	for _, x := range c.agents {
		if got, _ := x.node.MasterAddr(masterName); got != target {
			t.Errorf("agent %d: master %s, want %s", x.id, got, target)
		}
	}
	if !testenv.IsSubsequence([]string{"+failover-pause-master", "+failover-replica-caught-up", "+promoted-slave", "+switch-master"}, a.eventTypes(t0)) {
		t.Errorf("not the safe switchover: %v", a.eventTypes(t0))
	}
	c.run(2 * time.Second)
	if got := c.owners(); len(got) != 1 || c.hostIP(got[0]) != target.Host {
		t.Errorf("VIP owners %v", got)
	}
}
