package sentinel

import "testing"

// BenchmarkStepIdle measures one 10 ms tick of an idle, healthy group (a
// master with two replicas, two peer agents), answering what the Node sends
// as a healthy group would: the agent's steady-state cost.
func BenchmarkStepIdle(b *testing.B) {
	step, _ := idleGroup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
}

// TestIdleStepDoesNotAllocate: a Step that has nothing to send (no timer
// due) allocates nothing, so an idle agent's cost is only what it sends.
func TestIdleStepDoesNotAllocate(t *testing.T) {
	_, n := idleGroup(t)
	now := n.origin + n.now // the caller's time of the last step
	if a := testing.AllocsPerRun(100, func() {
		n.Step(now, Tick{})
		n.Ready()
	}); a != 0 {
		t.Errorf("idle Step allocates %.1f times", a)
	}
}

// idleGroup returns a Node settled in a healthy group (a master with two
// replicas, two peer agents) and a step func that advances it by one 10 ms
// tick and answers what it sends as that group would.
func idleGroup(tb testing.TB) (func(), *Node) {
	return idleGroupMany(tb, 1)
}

func TestNotLocalReason(t *testing.T) {
	a := Addr{Host: "198.18.0.10", Port: 6379}
	want := "master 198.18.0.10:6379 is not on this host"
	for _, prev := range []string{"", "local instance is the master", want,
		"master 198.18.0.10:6380 is not on this host", "master 198.18.0.1:6379 is not on this host",
		"master [fd00::1]:6379 is not on this host", "master 198.18.0.10 is not on this host"} {
		if got := notLocalReason(prev, a); got != want {
			t.Errorf("notLocalReason(%q) = %q, want %q", prev, got, want)
		}
	}
	v6 := Addr{Host: "fd00::1", Port: 6379}
	if got := notLocalReason("master [fd00::1]:6379 is not on this host", v6); got != "master [fd00::1]:6379 is not on this host" {
		t.Errorf("v6: %q", got)
	}
}
