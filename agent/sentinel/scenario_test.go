package sentinel

import (
	"strings"
	"testing"
	"time"
)

// leaderOf returns the agent that logged +elected-leader since t.
func (c *cluster) leaderOf(since Time) *agent {
	for _, a := range c.agents {
		if a.hasEvent("+elected-leader", since) {
			return a
		}
	}
	return nil
}

func TestScenarioKillMaster(t *testing.T) {
	c := newCluster(t, clusterOpts{seed: 1})
	c.converge()
	if got := c.owners(); len(got) != 1 || got[0] != 0 {
		t.Fatalf("VIP owners before failure = %v, want [0]", got)
	}
	t0 := c.now
	c.killRedis(redisAddr(0))
	ok := c.runUntil(t0+20*time.Second, func() bool {
		for _, a := range c.agents {
			if !a.hasEvent("+switch-master", t0) {
				return false
			}
		}
		return true
	})
	if !ok {
		for _, a := range c.agents {
			t.Logf("agent %d: %v", a.id, a.eventTypes(t0))
		}
		t.Fatal("no +switch-master on every agent")
	}
	leader := c.leaderOf(t0)
	if leader == nil {
		t.Fatal("no leader")
	}
	want := []string{"+sdown", "+odown", "+new-epoch", "+try-failover", "+vote-for-leader", "+elected-leader",
		"+failover-state-select-slave", "+selected-slave", "+failover-state-send-slaveof-noone",
		"+failover-state-wait-promotion", "+promoted-slave", "+failover-state-reconf-slaves",
		"+slave-reconf-sent", "+slave-reconf-inprog", "+slave-reconf-done", "+failover-end", "+switch-master"}
	if got := leader.eventTypes(t0); !isSubsequence(want, got) {
		t.Errorf("leader %d events:\n got %v\nwant subsequence %v", leader.id, got, want)
	}
	for _, a := range c.agents {
		if a == leader {
			continue
		}
		got := a.eventTypes(t0)
		if !isSubsequence([]string{"+sdown", "+vote-for-leader", "+config-update-from", "+switch-master"}, got) {
			t.Errorf("agent %d events: %v", a.id, got)
		}
	}
	newMaster, _ := leader.node.MasterAddr("mymaster")
	if sameAddr(newMaster, redisAddr(0)) {
		t.Fatalf("master not moved")
	}
	// Every agent agrees on the new master and config epoch.
	for _, a := range c.agents {
		addr, _ := a.node.MasterAddr("mymaster")
		if !sameAddr(addr, newMaster) {
			t.Errorf("agent %d thinks master is %v, want %v", a.id, addr, newMaster)
		}
	}
	// The VIP moves to the new master's host, and only there.
	c.runUntil(c.now+time.Second, func() bool { return len(c.owners()) == 1 })
	if got := c.owners(); len(got) != 1 || hostIP(got[0]) != newMaster.Host {
		t.Errorf("VIP owners after failover = %v, new master %v", got, newMaster)
	}
	promoted := leader.firstEvent("+promoted-slave", t0) - t0
	switched := leader.firstEvent("+switch-master", t0) - t0
	t.Logf("kill -> +promoted-slave %v, -> +switch-master (leader) %v", promoted, switched)
}

// TestScenarioFailoverTime measures the virtual time from a master's death
// to the new configuration, with down-after 1 s, RTT 0.5 ms and 10 ms ticks,
// over many seeds (the death falls anywhere in the ping cycle).
func TestScenarioFailoverTime(t *testing.T) {
	for _, mode := range []string{"kill", "blackhole"} {
		var worstPromote, worstSwitch, worstVIP, sumPromote, sumVIP time.Duration
		runs := 20
		for seed := int64(1); seed <= int64(runs); seed++ {
			c := newCluster(t, clusterOpts{seed: seed})
			c.converge()
			c.run(time.Duration(seed) * 7 * time.Millisecond) // vary the phase
			t0 := c.now
			if mode == "kill" {
				c.killRedis(redisAddr(0))
			} else {
				c.isolate(hostIP(0), true)
			}
			var vipAt Time = -1
			ok := c.runUntil(t0+10*time.Second, func() bool {
				if vipAt < 0 {
					for _, a := range c.agents {
						if a.id != 0 && a.ownsVIP() {
							vipAt = c.now
						}
					}
				}
				for _, a := range c.agents[1:] {
					if !a.hasEvent("+switch-master", t0) {
						return false
					}
				}
				return vipAt >= 0
			})
			if !ok {
				for _, a := range c.agents {
					t.Logf("agent %d: %v", a.id, a.eventTypes(t0))
				}
				t.Fatalf("%s seed %d: failover did not complete", mode, seed)
			}
			l := c.leaderOf(t0)
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
	c := newCluster(t, clusterOpts{seed: 3})
	c.converge()
	t0 := c.now
	// A partition of the master's host shorter than down-after.
	c.isolate(hostIP(0), true)
	c.run(900 * time.Millisecond)
	c.isolate(hostIP(0), false)
	c.run(5 * time.Second)
	for _, a := range c.agents {
		if a.hasEvent("+sdown", t0) || a.hasEvent("+try-failover", t0) {
			t.Errorf("agent %d: %v", a.id, a.eventTypes(t0))
		}
	}
}

func TestScenarioDump(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	c := newCluster(t, clusterOpts{seed: 1})
	c.converge()
	t0 := c.now
	c.killRedis(redisAddr(0))
	c.run(3 * time.Second)
	var b strings.Builder
	for _, a := range c.agents {
		for _, e := range a.events {
			if e.at >= t0 && e.ev.Level != LevelDebug {
				b.WriteString(strings.Repeat(" ", 0))
				t.Logf("%7.1fms a%d %s %s", float64(e.at-t0)/1e6, a.id, e.ev.Type, e.ev.Payload)
			}
		}
	}
}
