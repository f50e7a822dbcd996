package sentinel

import (
	"testing"
	"time"
)

// pingCounts serves the harness for d, answering as a healthy group except
// that the master does not answer when masterDead, and counts the PINGs
// sent per instance kind, and under Kind -1 the ticks they went out in.
func pingCounts(h *harness, d time.Duration, masterDead bool) map[Kind]int {
	counts := map[Kind]int{}
	ticks := map[Time]bool{}
	ok := std(defaultInfo)
	defer func() { counts[-1] = len(ticks) }()
	h.serve(d, func(c Command) Input {
		if c.Kind == CmdPing {
			counts[c.To.Kind]++
			ticks[h.now] = true
		}
		if masterDead && c.To.Kind == KindMaster && c.Kind != CmdClose {
			return nil
		}
		return ok(c)
	})
	return counts
}

// A healthy group's replicas are pinged every 3/10 down-after, the master every
// down-after/10; once the master is SDOWN the replicas are back at the
// master's period.
func TestReplicaPingPeriod(t *testing.T) {
	h := newHarness(t, testConfig()) // down-after 1 s
	h.peers(2)
	h.serve(2*time.Second, std(defaultInfo))
	m := h.n.masters["mymaster"]
	if len(m.replicas) != 2 {
		t.Fatalf("set-up: %d replicas", len(m.replicas))
	}
	got := pingCounts(h, 3*time.Second, false)
	if got[KindMaster] < 28 || got[KindMaster] > 31 {
		t.Errorf("master pinged %d times in 3 s, want every 100 ms", got[KindMaster])
	}
	if got[KindReplica] < 2*9 || got[KindReplica] > 2*11 {
		t.Errorf("2 replicas pinged %d times in 3 s, want every 300 ms", got[KindReplica])
	}
	if got[-1] > 31 {
		t.Errorf("PINGs went out in %d different ticks in 3 s, want all in the master's 30", got[-1])
	}
	if got[KindSentinel] < 2*28 {
		t.Errorf("2 peers pinged %d times in 3 s, want every 100 ms (the fence lease)", got[KindSentinel])
	}

	pingCounts(h, 1200*time.Millisecond, true)
	if m.inst.flags&fSDown == 0 {
		t.Fatal("master not SDOWN after 1.2 s of silence")
	}
	got = pingCounts(h, time.Second, true)
	if got[KindReplica] < 2*9 {
		t.Errorf("master SDOWN: 2 replicas pinged %d times in 1 s, want every 100 ms", got[KindReplica])
	}
}

// Routine replies of a calm Node are left to the next tick's pass; others,
// and any reply once the Node is not calm, ask for the pass at once.
func TestReceiveUrgency(t *testing.T) {
	h := newHarness(t, testConfig())
	h.peers(2)
	h.serve(2*time.Second, std(defaultInfo))
	h.takeCmds()
	m := h.n.masters["mymaster"]
	if !h.n.calm {
		t.Fatal("a healthy group is not calm")
	}
	ref := m.inst.link.ref
	if h.n.Receive(h.now, PingReply{To: ref, Status: "PONG"}) {
		t.Error("a PONG of a calm group is urgent")
	}
	if !h.n.Receive(h.now, LinkDown{To: ref, Link: LinkCmd, Err: "reset"}) {
		t.Error("a link down is not urgent")
	}
	// Silence until SDOWN: the Node is no longer calm.
	pingCounts(h, 1500*time.Millisecond, true)
	if h.n.calm {
		t.Fatal("calm with the master SDOWN")
	}
	r := m.sortedReplicas()[0]
	if !h.n.Receive(h.now, PingReply{To: r.link.ref, Status: "PONG"}) {
		t.Error("a PONG is not urgent while the master is SDOWN")
	}
}
