package sentinel

import (
	"strings"
	"testing"
	"time"
)

// switched reports whether every live agent emitted +switch-master since t0.
func (c *cluster) switched(t0 Time) bool {
	for _, a := range c.agents {
		if a.alive && !a.hasEvent("+switch-master", t0) {
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
			c := newCluster(t, clusterOpts{seed: 7})
			c.converge()
			for _, i := range tc.paused {
				a := c.agents[i]
				if err := a.node.Pause(c.now, "mymaster", 0, 0); err != nil {
					t.Fatal(err)
				}
				c.flush(a)
				if mt, _ := a.node.Maintenance("mymaster"); !mt.On || !a.hasEvent("+maintenance", 0) {
					t.Fatalf("agent %d: maintenance %+v, events %v", i, mt, a.eventTypes(0))
				}
				if a.state == nil || !a.state.Masters[0].Maintenance.On {
					t.Fatalf("agent %d: pause not persisted", i)
				}
			}
			t0 := c.now
			c.killRedis(redisAddr(0))
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
			t1 := c.now
			for _, i := range tc.paused {
				a := c.agents[i]
				if err := a.node.Resume(c.now, ""); err != nil {
					t.Fatal(err)
				}
				c.flush(a)
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

// TestMaintenanceExpiry checks a timed pause: it survives a restart (the
// state carries it) and ends on the first Tick whose wall clock reaches
// its end, never on a Tick without a wall clock.
func TestMaintenanceExpiry(t *testing.T) {
	h := newHarness(t, testConfig())
	const wall = int64(1_800_000_000_000)
	for _, bad := range []int64{wall, wall - 1, wall + MaxMaintenance.Milliseconds() + 1} {
		if err := h.n.Pause(h.now, "mymaster", bad, wall); err == nil {
			t.Errorf("Pause until %d at %d accepted", bad, wall)
		}
	}
	if err := h.n.Pause(h.now, "nosuch", 0, wall); err != ErrNoSuchMaster {
		t.Errorf("unknown master: %v", err)
	}
	until := wall + time.Hour.Milliseconds()
	if err := h.n.Pause(h.now, "", until, wall); err != nil {
		t.Fatal(err)
	}
	rd := h.n.Ready()
	if rd.State == nil || rd.State.Masters[0].Maintenance != (Maintenance{On: true, Until: until}) {
		t.Fatalf("state %+v", rd.State)
	}
	ev, ok := findEvent(rd.Events, "+maintenance")
	if !ok || !strings.HasSuffix(ev.Payload, "until 2027-01-15T09:00:00Z") {
		t.Fatalf("+maintenance event %+v", ev)
	}

	// A restart keeps the pause.
	n2, err := New(testConfig(), rd.State)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := n2.Maintenance("mymaster"); !mt.On || mt.Until != until {
		t.Fatalf("after restart: %+v", mt)
	}
	n2.Step(h.now, Tick{})
	n2.Step(h.now+time.Second, Tick{Wall: until - 1})
	if mt, _ := n2.Maintenance("mymaster"); !mt.On {
		t.Fatal("ended early")
	}
	n2.Ready()
	n2.Step(h.now+2*time.Second, Tick{Wall: until})
	rd = n2.Ready()
	if mt, _ := n2.Maintenance("mymaster"); mt.On {
		t.Fatal("did not end")
	}
	if ev, ok := findEvent(rd.Events, "-maintenance"); !ok || !strings.HasSuffix(ev.Payload, " expired") {
		t.Fatalf("-maintenance event %+v in %v", ev, rd.Events)
	}
	if rd.State == nil || rd.State.Masters[0].Maintenance.On {
		t.Fatalf("end not persisted: %+v", rd.State)
	}
}

// TestFailoverTo moves the master to the replica an operator names, not to
// the one Sentinel's order prefers, and refuses a replica that does not
// qualify with the rule that excludes it.
func TestFailoverTo(t *testing.T) {
	c := newCluster(t, clusterOpts{agents: 4, seed: 21})
	c.converge()
	a := c.agents[3]
	if cs, _ := a.node.ReplicaCandidates(c.now, "mymaster"); len(cs) != 3 || !sameAddr(cs[0].Addr, redisAddr(1)) {
		t.Fatalf("candidates %+v: the test wants replica 1 preferred", cs)
	}
	refusals := []struct {
		to   Addr
		want string
	}{
		{Addr{Host: "198.18.0.99", Port: 6379}, "ERR 198.18.0.99:6379 is not a known replica of mymaster (known: "},
		{redisAddr(0), "ERR 198.18.0.1:6379 is not a known replica"},
	}
	for _, r := range refusals {
		if err := a.node.FailoverTo(c.now, "mymaster", r.to); err == nil || !strings.HasPrefix(err.Error(), r.want) {
			t.Errorf("FailoverTo %s: %v, want %q", r.to, err, r.want)
		}
	}
	c.redis[redisAddr(2).String()].priority = 0
	c.run(11 * time.Second) // an INFO (every 10 s) shows the new priority
	if err := a.node.FailoverTo(c.now, "mymaster", redisAddr(2)); err == nil || err.Error() != "NOGOODSLAVE 198.18.0.3:6379 cannot be promoted: replica-priority is 0" {
		t.Errorf("priority 0: %v", err)
	}
	if err := a.node.FailoverTo(c.now, "nosuch", redisAddr(2)); err != ErrNoSuchMaster {
		t.Errorf("unknown master: %v", err)
	}
	c.flush(a)
	if a.hasEvent("+try-failover", 0) {
		t.Fatal("a refused switchover started a failover")
	}

	target := redisAddr(3)
	t0 := c.now
	if err := a.node.FailoverTo(c.now, "mymaster", target); err != nil {
		t.Fatal(err)
	}
	if err := a.node.FailoverTo(c.now, "mymaster", target); err == nil || !strings.HasPrefix(err.Error(), "INPROG") {
		t.Errorf("second switchover: %v", err)
	}
	c.flush(a)
	if !c.runUntil(t0+10*time.Second, func() bool { return c.switched(t0) }) {
		t.Fatalf("switchover did not complete: %v", a.eventTypes(t0))
	}
	for _, x := range c.agents {
		if got, _ := x.node.MasterAddr("mymaster"); !sameAddr(got, target) {
			t.Errorf("agent %d: master %s, want %s", x.id, got, target)
		}
	}
	if !isSubsequence([]string{"+failover-pause-master", "+failover-replica-caught-up", "+promoted-slave", "+switch-master"}, a.eventTypes(t0)) {
		t.Errorf("not the safe switchover: %v", a.eventTypes(t0))
	}
	c.run(2 * time.Second)
	if got := c.owners(); len(got) != 1 || hostIP(got[0]) != target.Host {
		t.Errorf("VIP owners %v", got)
	}
}
