package sentinel

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestScenarioBootHostByHost is issue 13's boot: three hosts with
// min-agents 3 and fencing, the master's agent starts alone and its peers
// join one by one seconds later. An agent that never held the lease has
// nothing to fence: the master must never be paused (a paused master
// blocks the peers' hello PUBLISH, and with it their PINGs, which is how a
// healthy master was failed over to an unsynced replica), no +fence is
// emitted, nothing goes SDOWN, and the VIP is taken once a majority of
// min-agents granted it.
func TestScenarioBootHostByHost(t *testing.T) {
	for _, seed := range []int64{23, 24, 25} {
		c := newCluster(t, clusterOpts{seed: seed, fence: true, minAgents: 3, waiting: []int{1, 2}})
		a0 := c.agents[0]
		c.run(3 * time.Second)
		if a0.ownsVIP() {
			t.Fatalf("seed %d: VIP wanted alone, without a majority of min-agents 3", seed)
		}
		t1 := c.now
		c.startAgent(c.agents[1])
		if !c.runUntil(t1+time.Second, a0.ownsVIP) {
			t.Fatalf("seed %d: VIP not taken once the second agent granted it: %+v", seed, a0.vips)
		}
		c.t.Logf("seed %d: VIP taken %v after the second agent started", seed, c.now-t1)
		c.run(3 * time.Second)
		c.startAgent(c.agents[2])
		c.run(5 * time.Second)
		if !a0.ownsVIP() {
			t.Errorf("seed %d: VIP lost: %+v", seed, a0.vips)
		}
		for _, a := range c.agents {
			for _, typ := range []string{"+fence", "+sdown", "+odown", "+try-failover", "+switch-master"} {
				if a.hasEvent(typ, 0) {
					t.Errorf("seed %d: agent %d emitted %s during the boot: %v", seed, a.id, typ, a.eventTypes(0))
				}
			}
		}
		for _, r := range c.redis {
			if i := slices.IndexFunc(r.cmds, func(s string) bool { return strings.HasPrefix(s, "CLIENT PAUSE") }); i >= 0 {
				t.Errorf("seed %d: %v was paused during the boot: %v", seed, r.addr, r.cmds)
			}
		}
	}
}
