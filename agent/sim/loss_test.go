package sim

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/tcprto"
)

var (
	flagLossSeeds = flag.Int("sim.lossseeds", 0, "seeds per loss rate in TestLossFailover (default 30; 10 with -short or -race)")
	flagLossFloor = flag.Duration("sim.lossfloor", 0, "with -sim.losstrace, the agents' retransmission timeout floor (0: Linux's 200 ms)")
)

// lossOptions is a master kill on a network that loses a fixed share of
// every transmission on every link (TCP retransmits it, as the streams
// model, the agents' own sockets after floor: 0 for Linux's 200 ms), and no
// other fault, for as long as the failover takes.
func lossOptions(seed uint64, loss float64, floor time.Duration) Options {
	agents := []int{3, 5}[seed%2]
	o := calm(seed, agents)
	o.DownAfter = time.Second // the lab's setting
	o.FailoverTimeout = 10 * time.Second
	o.Loss, o.UniformLoss = loss, true
	o.AgentRTOMin = floor
	o.KillMaster = true
	o.Safety = 40 * time.Second
	return o
}

// lossFigures are the failover times measured at one loss rate.
type lossFigures struct {
	loss             float64
	floor            time.Duration
	promoted, vip    []time.Duration // kill -> SLAVEOF NO ONE; kill -> VIP only on the new master
	failed, notMoved []uint64
	errs             map[uint64]error
}

func quantile(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1)+0.5)]
}

func (f lossFigures) String() string {
	q := func(s []time.Duration) string {
		return fmt.Sprintf("p50 %v p99 %v max %v", quantile(s, 0.5).Round(time.Millisecond),
			quantile(s, 0.99).Round(time.Millisecond), quantile(s, 1).Round(time.Millisecond))
	}
	return fmt.Sprintf("loss %2.0f%%, agents' RTO floor %v: n=%d promoted %s | VIP moved %s | violations %d, no promotion %d",
		100*f.loss, cmp.Or(f.floor, 200*time.Millisecond), len(f.promoted), q(f.promoted), q(f.vip), len(f.failed), len(f.notMoved))
}

func runLoss(loss float64, floor time.Duration, base uint64, n int) lossFigures {
	results := runSeeds(n, func(i int) Options { return lossOptions(base+uint64(i), loss, floor) })
	f := lossFigures{loss: loss, floor: floor, errs: map[uint64]error{}}
	for _, r := range results {
		switch {
		case r.Err != nil:
			f.failed = append(f.failed, r.Seed)
			f.errs[r.Seed] = r.Err
		case r.Promoted == 0:
			f.notMoved = append(f.notMoved, r.Seed)
		default:
			f.promoted = append(f.promoted, r.Promoted)
			f.vip = append(f.vip, r.VIPMoved)
		}
	}
	return f
}

// TestLossFailover measures how long a failover takes when every link
// loses 10 % or 30 % of its packets (issue 18): the master is killed
// (host or Redis process) with down-after 1 s, 3 or 5 agents. It prints
// the distributions and fails on a violated invariant, and at 10 % on a
// failover that never happens or one slower than a generous bound.
//
// At 30 % a failover can also be undone: a down-after of 1 s on a link that
// holds a packet back for 1.4 s after three losses in a row (2.7 % of the
// packets) sees the new master down as well, and failovers repeat. Each
// fence confirmation after them jumps the epoch by 1024 to 2047 (holdBump):
// 86,642 epochs in 40 s left the killed master's agent, restarted from its
// state, more than MaxEpochJump behind and refusing every hello, until the
// agents caught up with the epoch a majority vouches for (catchUpEpoch;
// 16 liveness failures in 300 seeds before, 0 after).
//
// Each rate runs with the agents' sockets at Linux's 200 ms retransmission
// floor and at tcprto.Min (Linux 6.15+). 300 seeds, kill to promotion,
// p50 / p99 / max: at 10 %, 1.226 / 2.473 / 2.791 s against 1.082 / 1.641 /
// 1.685 s; at 30 %, 2.331 / 19.1 / 39.3 s (27 not promoted within the run)
// against 1.221 / 33.2 / 38.4 s (17). What the floor cannot reach is
// Redis's own replies, which still wait 200 ms, then 400 and 800 ms, after
// three losses in a row.
//
//	go test ./agent/sim/ -run 'TestLossFailover$' -v -sim.lossseeds 500
func TestLossFailover(t *testing.T) {
	n := *flagLossSeeds
	if n == 0 {
		n = 30
		if testing.Short() || raceOn {
			n = 10
		}
	}
	for _, c := range []struct {
		loss  float64
		floor time.Duration
	}{{0.10, 0}, {0.30, 0}, {0.10, tcprto.Min}, {0.30, tcprto.Min}} {
		loss := c.loss
		f := runLoss(loss, c.floor, 1, n)
		t.Log(f)
		for _, s := range f.failed {
			err := f.errs[s]
			msg := fmt.Sprintf("seed %d at %.0f%% loss: %v\nreproduce: go test ./agent/sim/ -run TestLossFailoverTrace -sim.seed %d -sim.losstrace %.2f -sim.lossfloor %v -v", s, 100*loss, err, s, loss, c.floor)
			t.Error(msg)
		}
		if loss > 0.2 {
			continue
		}
		if len(f.notMoved) > 0 {
			t.Errorf("loss %.0f%%: no promotion in seeds %v", 100*loss, f.notMoved)
		}
		do := lossOptions(1, loss, c.floor).DownAfter
		if p99 := quantile(f.promoted, 0.99); p99 > do+5*time.Second {
			t.Errorf("loss %.0f%%: p99 promotion %v, want well under down-after + 5 s", 100*loss, p99)
		}
	}
}

var flagLossTrace = flag.Float64("sim.losstrace", 0, "with -sim.seed, trace that seed of TestLossFailoverTrace at this loss rate")

// TestLossFailoverTrace prints the full trace of one loss seed:
//
//	go test ./agent/sim/ -run TestLossFailoverTrace -sim.seed 7 -sim.losstrace 0.3 -v
func TestLossFailoverTrace(t *testing.T) {
	if *flagLossTrace == 0 || *flagSeed == 0 {
		t.Skip("needs -sim.seed and -sim.losstrace")
	}
	o := lossOptions(*flagSeed, *flagLossTrace, *flagLossFloor)
	o.Trace = os.Stdout
	res := Run(o)
	logResult(t, res)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
}
