package sim

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	flagSeeds  = flag.Int("sim.seeds", 0, "number of seeds to run (default 2000; 50 under -race, 200 with -short)")
	flagSeed   = flag.Uint64("sim.seed", 0, "run only this seed, with its full trace on stdout")
	flagBase   = flag.Uint64("sim.base", 1, "first seed of the sweep")
	flagAgents = flag.Int("sim.agents", 0, "force the number of agents (default: 3, 5 or 7 per seed)")
	flagTail   = flag.Int("sim.tail", 80, "trace lines printed for a failing seed")
	flagList   = flag.Bool("sim.list", false, "log one line per seed")
)

func seedCount() int {
	switch {
	case *flagSeeds > 0:
		return *flagSeeds
	case raceOn:
		return 50
	case testing.Short():
		return 200
	}
	return 2000
}

// TestSeeds is the VOPR: it runs a sweep of seeds, each with its own swarm of
// faults, and fails with the seed, the invariant and the trace tail of the
// first failures. -sim.seed S reruns one seed with its whole trace.
func TestSeeds(t *testing.T) {
	if *flagSeed != 0 {
		o := Swarm(*flagSeed, *flagAgents)
		o.Trace = os.Stdout
		res := Run(o)
		logResult(t, res)
		if res.Err != nil {
			t.Fatalf("seed %d: %v", *flagSeed, res.Err)
		}
		return
	}
	n := seedCount()
	// The simulator allocates a lot of short-lived garbage; trading memory
	// for fewer collections makes the sweep markedly faster.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	start := time.Now()
	results := runSeeds(n, func(i int) Options { return Swarm(*flagBase+uint64(i), *flagAgents) })
	elapsed := time.Since(start)

	failed := 0
	for _, r := range results {
		if *flagList {
			logResult(t, r)
		}
		if r.Err == nil {
			continue
		}
		failed++
		if failed > 5 {
			continue
		}
		// Rerun with the trace on: the same seed must fail the same way.
		o := r.Options
		o.TraceTail = *flagTail
		again := Run(o)
		msg := fmt.Sprintf("seed %d failed: %v\nswarm: %s\nreproduce: go test ./agent/sim/ -run 'TestSeeds$' -sim.seed %d", r.Seed, r.Err, o.String(), r.Seed)
		if *flagAgents != 0 {
			msg += fmt.Sprintf(" -sim.agents %d", *flagAgents)
		}
		if again.Err == nil || again.Err.Error() != r.Err.Error() {
			msg += fmt.Sprintf("\nNONDETERMINISM: the rerun gave %v", again.Err)
		}
		msg += "\ntrace tail:\n" + strings.Join(again.Tail, "\n")
		t.Error(msg)
	}
	if failed > 0 {
		t.Log(classify(results))
	}
	s := summarize(results)
	t.Logf("%d seeds (%d..%d) in %v, %d failed", n, *flagBase, *flagBase+uint64(n)-1, elapsed.Round(time.Millisecond), failed)
	t.Log(s)
}

// runSeeds runs the options of 0..n-1 on every processor and returns the
// results in that order.
func runSeeds(n int, opts func(i int) Options) []*Result {
	results := make([]*Result, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = Run(opts(i))
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return results
}

func logResult(t *testing.T, r *Result) {
	t.Logf("seed=%d agents=%d fence=%v calm=%v down-after=%v events=%d end=%.1fs promoted=%v vip=%v all=%v failovers=%d converged=%v overlap=%v stale-hold=%v writes=%d acked=%d lost=%d",
		r.Seed, r.Options.Agents, r.Options.Fence, r.Options.Calm(), r.Options.DownAfter, r.Events, r.End.Seconds(), r.Promoted, r.VIPMoved, r.AllSwitch, r.Failovers, r.Converged,
		r.MaxOverlap, r.StaleHold, r.WritesSent, r.WritesAcked, r.WritesLost)
}

type dist []time.Duration

func (d dist) String() string {
	if len(d) == 0 {
		return "n=0"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("n=%d median=%v p90=%v max=%v", len(s), q(0.5).Round(time.Millisecond), q(0.9).Round(time.Millisecond), s[len(s)-1].Round(time.Millisecond))
}

// summarize renders the figures the sweep measured.
func summarize(rs []*Result) string {
	var prom, vip, all, promCalm, vipCalm, allCalm, beyond, beyondCalm, conv dist
	var maxOverlap, maxOverlapFence, maxStale, maxStaleFence time.Duration
	var gaps dist
	var overlapRuns, fenceOverlapRuns int
	var acked, lost uint64
	var lostRuns, refused, refusedRuns int
	for _, r := range rs {
		if r == nil || r.Err != nil {
			continue
		}
		calm := r.Options.Calm()
		if r.Promoted > 0 {
			prom = append(prom, r.Promoted)
			beyond = append(beyond, r.Promoted-r.Options.DownAfter)
			if calm {
				promCalm = append(promCalm, r.Promoted)
				beyondCalm = append(beyondCalm, r.Promoted-r.Options.DownAfter)
			}
		}
		if r.VIPMoved > 0 {
			vip = append(vip, r.VIPMoved)
			if calm {
				vipCalm = append(vipCalm, r.VIPMoved)
			}
		}
		if r.AllSwitch > 0 {
			all = append(all, r.AllSwitch)
			if calm {
				allCalm = append(allCalm, r.AllSwitch)
			}
		}
		conv = append(conv, r.Converged)
		if r.MaxOverlap > 0 {
			overlapRuns++
			if r.Options.Fence {
				fenceOverlapRuns++
				maxOverlapFence = max(maxOverlapFence, r.MaxOverlap)
			}
		}
		maxOverlap = max(maxOverlap, r.MaxOverlap)
		if r.Options.Calm() && !r.Options.KillMaster {
			gaps = append(gaps, r.VIPGap)
		}
		maxStale = max(maxStale, r.StaleHold)
		if r.Options.Fence {
			maxStaleFence = max(maxStaleFence, r.StaleHold)
		}
		acked += r.WritesAcked
		lost += r.WritesLost
		if r.WritesLost > 0 {
			lostRuns++
		}
		refused += r.UnsyncedRefused
		if r.UnsyncedRefused > 0 {
			refusedRuns++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "failover (master killed at t0), all seeds:\n")
	fmt.Fprintf(&b, "  t0 -> replica promoted:        %v\n", prom)
	fmt.Fprintf(&b, "  promoted, minus down-after:    %v\n", beyond)
	fmt.Fprintf(&b, "  t0 -> VIP on new master only:  %v\n", vip)
	fmt.Fprintf(&b, "  t0 -> all agents switched:     %v\n", all)
	fmt.Fprintf(&b, "failover, calm seeds (no fault but the kill):\n")
	fmt.Fprintf(&b, "  t0 -> replica promoted:        %v\n", promCalm)
	fmt.Fprintf(&b, "  promoted, minus down-after:    %v\n", beyondCalm)
	fmt.Fprintf(&b, "  t0 -> VIP on new master only:  %v\n", vipCalm)
	fmt.Fprintf(&b, "  t0 -> all agents switched:     %v\n", allCalm)
	fmt.Fprintf(&b, "liveness: heal -> converged:     %v\n", conv)
	fmt.Fprintf(&b, "VIP overlap: max %v (fence yes: %v); seeds with overlap %d (%d with fence yes)\n",
		maxOverlap.Round(time.Millisecond), maxOverlapFence.Round(time.Millisecond), overlapRuns, fenceOverlapRuns)
	fmt.Fprintf(&b, "longest a stale holder kept the VIP while its agent could act: %v (fence yes: %v; window down-after/3 + slack)\n",
		maxStale.Round(time.Millisecond), maxStaleFence.Round(time.Millisecond))
	fmt.Fprintf(&b, "VIP absent, calm seeds without a kill: %v\n", gaps)
	fmt.Fprintf(&b, "replica selections that refused an unsynced replica: %d in %d seeds\n", refused, refusedRuns)
	fmt.Fprintf(&b, "writes: %d acknowledged, %d lost (%.3f%%) in %d seeds", acked, lost, 100*float64(lost)/float64(max(acked, 1)), lostRuns)
	return b.String()
}

// classify groups the failing seeds by the kind of violation, so that one
// frequent bug does not hide the others.
func classify(rs []*Result) string {
	kinds := map[string][]uint64{}
	var order []string
	for _, r := range rs {
		if r == nil || r.Err == nil {
			continue
		}
		k := r.Err.Error()
		if v, ok := r.Err.(*Violation); ok {
			k = v.What
		}
		if i := strings.IndexAny(k, ":0123456789"); i > 0 {
			k = k[:i]
		}
		if _, ok := kinds[k]; !ok {
			order = append(order, k)
		}
		kinds[k] = append(kinds[k], r.Seed)
	}
	var b strings.Builder
	b.WriteString("failures by kind:")
	for _, k := range order {
		s := kinds[k]
		fmt.Fprintf(&b, "\n  %4d x %q seeds %v", len(s), k, s[:min(len(s), 12)])
	}
	return b.String()
}
