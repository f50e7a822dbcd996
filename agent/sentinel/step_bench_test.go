package sentinel

import (
	"testing"
	"time"
)

// BenchmarkStepIdle measures one 10 ms tick of an idle, healthy group (a
// master with two replicas, two peer agents), answering what the Node sends
// as a healthy group would: the agent's steady-state cost.
func BenchmarkStepIdle(b *testing.B) {
	cfg := testConfig()
	n, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
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
		b.Fatalf("set-up: %d replicas, %d sentinels", len(m.replicas), len(m.sentinels))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
}
