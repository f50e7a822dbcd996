package sentinel

import (
	"testing"
	"time"
)

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
	n, err := New(testConfig(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	h := &harness{n: n, now: 100 * time.Second}
	h.peers(2)
	infos := map[Addr]Input{}
	reply := func(c Command) Input {
		if c.Kind == CmdInfo {
			// Parsed once: the benchmark measures the Node, not ParseInfo.
			if in, ok := infos[c.To.Addr]; ok {
				return in
			}
			text := defaultInfo(c.To)
			pi, _ := ParseInfo(text)
			in := InfoReply{To: c.To, Info: pi, Raw: text}
			infos[c.To.Addr] = in
			return in
		}
		return std(defaultInfo)(c)
	}
	step := func() {
		h.now += 10 * time.Millisecond
		n.Step(h.now, Tick{})
		q := n.Ready().Commands
		for len(q) > 0 {
			c := q[0]
			q = q[1:]
			if in := reply(c); in != nil {
				n.Step(h.now, in)
				q = append(q, n.Ready().Commands...)
			}
		}
	}
	for range 500 { // discovery and links settle
		step()
	}
	if m := n.masters["mymaster"]; len(m.replicas) != 2 || len(m.sentinels) != 2 {
		tb.Fatalf("set-up: %d replicas, %d sentinels", len(m.replicas), len(m.sentinels))
	}
	return step, n
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
