package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// apiRuns is how many interleaved rate measurements -case api makes.
const apiRuns = 5

// apiCase measures the SENTINEL GET-MASTER-ADDR-BY-NAME rate with 50
// clients (redis-benchmark -c 50) against vipsentinel and redis-sentinel
// in runs rounds. Both deployments run side by side for the whole case
// and each round measures both, in alternating order, so that a change in
// the machine's load (it is shared) falls on both sides of a ratio.
func (b *bench) apiCase(ctx context.Context, runs, requests int) error {
	b.say("== API rate: SENTINEL GET-MASTER-ADDR-BY-NAME, redis-benchmark -c 50 -n %d, %d interleaved runs", requests, runs)
	stacks := []scenario.Stack{scenario.Vipsentinel, scenario.Classic}
	clusters := make(map[scenario.Stack]*scenario.Cluster)
	defer func() {
		for _, c := range clusters {
			c.Close()
		}
	}()
	for _, stack := range stacks {
		c, err := b.start(ctx, stack, 0)
		if err != nil {
			b.say("%-22s error: %v", stack, err)
			return err
		}
		clusters[stack] = c
	}
	b.say("%-4s %14s %14s %8s  %s", "run", "vipsentinel/s", "sentinel/s", "ratio", "load average")
	var firstErr error
	var ratios []float64
	for r := range runs {
		if ctx.Err() != nil {
			break
		}
		order := stacks
		if r%2 == 1 {
			order = []scenario.Stack{scenario.Classic, scenario.Vipsentinel}
		}
		rps := map[scenario.Stack]float64{}
		failed := false
		for _, stack := range order {
			v, err := clusters[stack].APIRate(ctx, 1, 50, requests)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: api run %d, %s: %v\n", r+1, stack, err)
				firstErr = cmpErr(firstErr, err)
				failed = true
				break
			}
			rps[stack] = v
		}
		if failed {
			b.say("%-4d error", r+1)
			continue
		}
		q := rps[scenario.Vipsentinel] / rps[scenario.Classic]
		ratios = append(ratios, q)
		b.say("%-4d %14.0f %14.0f %8.2f  %s", r+1, rps[scenario.Vipsentinel], rps[scenario.Classic], q, loadAvg())
	}
	if len(ratios) > 0 {
		b.say("ratio vipsentinel/redis-sentinel: min %.2f, max %.2f over %d runs", slices.Min(ratios), slices.Max(ratios), len(ratios))
	}
	b.say("")
	return firstErr
}

// loadAvg is the machine's load average (1, 5 and 15 minutes), printed
// with each figure: the benchmarks share the machine, and a figure
// measured under a load of 10 is not one measured idle.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
