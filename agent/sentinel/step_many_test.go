package sentinel

import (
	"fmt"
	"math/rand"
	"strconv"
	"testing"
	"time"
)

// BenchmarkStepIdleMany is BenchmarkStepIdle with 200 masters (each with
// two replicas and the same two peer agents), as the bench's idle
// measurement monitors: one 10 ms tick and the replies to what it sends,
// each with a pass (Step). %cpu is the core's share of one CPU in real time.
func BenchmarkStepIdleMany(b *testing.B) {
	step, n := idleGroupMany(b, 200)
	benchIdle(b, n, step)
}

// BenchmarkReceiveIdleMany is BenchmarkStepIdleMany driven as the runtime
// does: a Tick when Quiet says (one 100 ms PING period per op here), the
// replies through Receive, a pass only when one is urgent.
func BenchmarkReceiveIdleMany(b *testing.B) {
	_, n := idleGroupMany(b, 200)
	benchIdle(b, n, quietStep(n))
}

// benchIdle runs step, which advances n, once per op and reports %cpu: the
// benchmark's real time over the core time that passed in n, as a percent
// of one CPU.
func benchIdle(b *testing.B, n *Node, step func()) {
	start := n.now
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(b.Elapsed())/(n.now-start).Seconds()/1e7, "%cpu")
}

// quietStep returns a step that advances n to the next tick Quiet asks for
// and answers what it sends, as a healthy group would, through Receive.
func quietStep(n *Node) func() {
	now := n.origin + n.now
	reply := std(defaultInfo)
	return func() {
		now += n.Quiet()
		n.Step(now, Tick{})
		q := n.Ready().Commands
		for len(q) > 0 {
			var urgent bool
			for _, c := range q {
				if in := reply(c); in != nil {
					urgent = n.Receive(now, in) || urgent
				}
			}
			if urgent {
				n.Step(now, Tick{})
			}
			q = n.Ready().Commands
		}
	}
}

func idleGroupMany(tb testing.TB, masters int) (func(), *Node) {
	cfg := testConfig()
	for i := 1; i < masters; i++ {
		mc := cfg.Masters[0]
		mc.Name = fmt.Sprintf("extra%d", i)
		cfg.Masters = append(cfg.Masters, mc)
	}
	n, err := New(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	h := &harness{n: n, now: 100 * time.Second}
	for _, m := range n.masters {
		for i := 0; i < 2; i++ {
			n.addSentinel(m, Addr{Host: "198.18.0." + strconv.Itoa(2+i), Port: 26379}, NewID(rand.New(rand.NewSource(int64(1000+i)))))
		}
	}
	infos := map[Addr]Input{}
	reply := func(c Command) Input {
		if c.Kind == CmdInfo {
			if in, ok := infos[c.To.Addr]; ok {
				in := in.(InfoReply)
				in.To = c.To
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
	for range 500 {
		step()
	}
	for _, m := range n.masters {
		if len(m.replicas) != 2 || len(m.sentinels) != 2 {
			tb.Fatalf("set-up: %d replicas, %d sentinels", len(m.replicas), len(m.sentinels))
		}
	}
	return step, n
}
