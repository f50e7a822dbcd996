package sim

import (
	"slices"
	"testing"
	"time"
)

// switchover runs SENTINEL FAILOVER, sent to the master's host's agent, in
// a fenced group with a client writing every millisecond, and returns how
// long after the command the VIP was on the new master's host alone, the
// longest time the client's writes were blocked, and the group's events.
// onPromotion, if not nil, runs when the replica is promoted.
func switchover(t *testing.T, seed uint64, so stepOpts, onPromotion func(c *steps)) (vipAt time.Duration, c *steps, t0 time.Duration) {
	t.Helper()
	so.seed, so.fence, so.writes = seed, true, true
	c = newSteps(t, so)
	c.converge()
	c.startWriter(0, time.Millisecond)
	c.run(500 * time.Millisecond)
	a := c.agents[0]
	t0 = c.now()
	c.w.check.failoverRequested(a.agent)
	c.call(a, func(now time.Duration) {
		if err := a.node.Failover(now, masterName); err != nil {
			t.Fatal(err)
		}
	})
	if onPromotion != nil {
		if !c.runUntil(t0+5*time.Second, func() bool { return len(c.promotions) == 1 }) {
			t.Fatalf("no promotion: events %v", a.eventTypes(t0))
		}
		onPromotion(c)
	}
	moved := func() bool {
		h := c.w.vip.hosts()
		return len(c.promotions) == 1 && len(h) == 1 && h[0] == c.promotions[0].host
	}
	if !c.runUntil(t0+5*time.Second, moved) {
		t.Fatalf("VIP not on the new master's host: holders %v, promotions %v, events %v", c.w.vip.hosts(), c.promotions, a.eventTypes(t0))
	}
	vipAt = c.now() - t0
	c.run(2 * time.Second)
	if c.w.vip.episodes != 0 || c.w.vip.maxOverlap != 0 {
		t.Errorf("two VIP holders: %d episodes, longest %v", c.w.vip.episodes, c.w.vip.maxOverlap)
	}
	if l := c.lost(0, c.promotions[0]); len(l) > 0 {
		t.Errorf("%d acknowledged writes lost", len(l))
	}
	return vipAt, c, t0
}

// TestSwitchoverReleaseMovesVIP: once the old holder's VIP manager confirms
// the VIP is gone, it releases its lease and the peers free their grants,
// so the VIP reaches the new master's host well before the grants of the
// old address would have lapsed; never on two hosts. Without the
// confirmation (TestSwitchoverNoConfirmNoRelease) the VIP waits for them.
func TestSwitchoverReleaseMovesVIP(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * time.Millisecond, 30 * time.Millisecond} {
		var fast, slow []time.Duration
		for seed := uint64(71); seed < 76; seed++ {
			at, c, t0 := switchover(t, seed, stepOpts{vipDelay: delay}, nil)
			fast = append(fast, at)
			old := c.agents[0]
			if !old.hasEvent("+lease-release", t0) {
				t.Errorf("delay %v seed %d: no +lease-release: %v", delay, seed, old.eventTypes(t0))
			}
			freed := 0
			for _, x := range c.agents[1:] {
				if x.hasEvent("+lease-freed", t0) {
					freed++
				}
			}
			if freed == 0 {
				t.Errorf("delay %v seed %d: no peer freed its grant", delay, seed)
			}
			at, _, _ = switchover(t, seed, stepOpts{vipDelay: delay, vipNoConfirm: true}, nil)
			slow = append(slow, at)
		}
		slices.Sort(fast)
		slices.Sort(slow)
		t.Logf("VIP manager delay %v: VIP on the new host after %v with the release, %v without", delay, fast, slow)
		// Without the release the VIP waits for the grants of the old
		// address (lease + lease/8 = 375 ms at down-after 1 s); with it,
		// the promotion, a hello round and the manager's delay.
		if fast[len(fast)-1]+200*time.Millisecond > slow[0] {
			t.Errorf("delay %v: with the release %v, without %v: not faster", delay, fast, slow)
		}
	}
}

// TestSwitchoverNoConfirmNoRelease: a VIP manager that never confirms the
// removal gets no release: the old holder releases nothing, no peer frees
// a grant early, and the VIP still moves, once the grants have lapsed.
func TestSwitchoverNoConfirmNoRelease(t *testing.T) {
	at, c, t0 := switchover(t, 81, stepOpts{vipDelay: 5 * time.Millisecond, vipNoConfirm: true}, nil)
	for _, x := range c.agents {
		if x.hasEvent("+lease-release", t0) || x.hasEvent("+lease-freed", t0) {
			t.Errorf("agent %d released without a confirmation: %v", x.id, x.eventTypes(t0))
		}
	}
	// SENTINEL FAILOVER asks no votes: the old holder asks for grants
	// of the old address until the promotion moves the master off its
	// host, the last at most a renewal round (50 ms) before it, and each
	// grant binds its giver for lease + lease/8 (375 ms at down-after
	// 1 s).
	if earliest := 375*time.Millisecond - 50*time.Millisecond; at < earliest {
		t.Errorf("VIP moved %v after the command, before the old grants could lapse (%v)", at, earliest)
	}
	t.Logf("VIP on the new host %v after the command", at)
}

// TestSwitchoverLeaderGrantsPromoted: the leader grants the promoted
// replica's address once it has seen the promotion (and released its own
// claim of the old one), so the new master's host has a majority with the
// leader's grant and its own. Here the third host is cut off at the
// promotion for longer than the switchover takes: its agent grants
// nothing, and its replica cannot be reconfigured, so the leader's
// failover (during which it refused every grant, before) stays in
// reconf_slaves. Never on two hosts (switchover checks).
func TestSwitchoverLeaderGrantsPromoted(t *testing.T) {
	const cut = 300 * time.Millisecond
	var ats []time.Duration
	for seed := uint64(71); seed < 76; seed++ {
		at, c, t0 := switchover(t, seed, stepOpts{vipDelay: 5 * time.Millisecond}, func(c *steps) {
			for _, x := range c.agents {
				if h := x.id; h != 0 && h != c.promotions[0].host {
					c.isolate(h, true)
					c.w.at(c.now()+cut, func() { c.isolate(h, false) })
				}
			}
		})
		ats = append(ats, at)
		if promoted := c.promotions[0].at - t0; at >= promoted+cut {
			t.Errorf("seed %d: VIP on the new host %v after the command, promoted after %v: it waited for the cut-off host", seed, at, promoted)
		}
	}
	t.Logf("third host cut off at the promotion for %v: VIP on the new host after %v", cut, ats)
}
