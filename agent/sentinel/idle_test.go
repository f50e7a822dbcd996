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

// quietDriver runs h's Node as the runtime does: a Tick when Quiet says,
// each reply at once through Receive (and a pass when it is urgent). It
// returns the number of ticks and the events seen in d. Commands to the
// master get no reply while dead(now) is true.
func quietDriver(h *harness, d time.Duration, dead func(Time) bool) (ticks int, events []Event) {
	ok := std(defaultInfo)
	end := h.now + d
	for h.now < end {
		h.now += h.n.Quiet()
		h.n.Step(h.now, Tick{})
		ticks++
		rd := h.n.Ready()
		events = append(events, rd.Events...)
		q := rd.Commands
		for len(q) > 0 {
			c := q[0]
			q = q[1:]
			if c.To.Kind == KindMaster && dead(h.now) && c.Kind != CmdClose {
				continue
			}
			if in := ok(c); in != nil {
				if h.n.Receive(h.now, in) {
					h.n.Step(h.now, Tick{})
				}
				rd := h.n.Ready()
				events = append(events, rd.Events...)
				q = append(q, rd.Commands...)
			}
		}
	}
	return ticks, events
}

// A calm agent ticks once per PING period instead of every Tick, without
// arming the stall guard, and still sees a silent master SDOWN as soon as
// with a Tick every 10 ms.
func TestQuietTicks(t *testing.T) {
	h := newHarness(t, testConfig()) // down-after 1 s, master not local
	h.peers(2)
	h.serve(2*time.Second, std(defaultInfo))
	h.takeCmds()
	h.takeEvents()
	if q := h.n.Quiet(); q <= h.n.t.Tick || q > 100*time.Millisecond {
		t.Fatalf("Quiet() = %v in a calm group, want more than a tick, at most the 100 ms PING period", q)
	}
	ticks, events := quietDriver(h, 5*time.Second, func(Time) bool { return false })
	t.Logf("%d ticks in 5 calm seconds", ticks)
	if ticks > 75 {
		t.Errorf("%d ticks in 5 calm seconds, want about one per PING period (50; 500 with a Tick every 10 ms)", ticks)
	}
	for _, ev := range events {
		if ev.Type == "stall" || ev.Type == "+sdown" || ev.Type == "+quorum-lost" {
			t.Errorf("calm group: event %s %s", ev.Type, ev.Detail)
		}
	}

	// The master goes silent (a black hole): SDOWN comes at most a PING
	// period and a tick after down-after.
	t0 := h.now
	quietDriver(h, 2*time.Second, func(now Time) bool { return now >= t0 })
	m := h.n.masters["mymaster"]
	if m.inst.flags&fSDown == 0 {
		t.Fatal("no SDOWN for the silent master")
	}
	if got := m.inst.sdownSince - t0; got > time.Second+100*time.Millisecond+h.n.t.Tick {
		t.Errorf("SDOWN %v after the master went silent, want at most down-after + PING period + tick", got)
	}
}
