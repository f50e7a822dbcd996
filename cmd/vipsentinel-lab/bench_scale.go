package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// scaleCase measures the idle CPU and memory of the agents with 1, 50,
// 200 and 500 monitored masters (each with the lab's two replicas), for
// vipsentinel and for redis-sentinel with the same configuration, and
// prints how the cost grows side by side with the ratio. It then checks
// that the idle savings cost nothing in failure detection: the time
// from a kill -9 of the one master to the first +sdown and +odown, both
// stacks in turn.
func (b *bench) scaleCase(ctx context.Context, counts []int, settle, window time.Duration, detectRuns int) error {
	b.say("== idle cost by monitored masters (3 hosts, each master with 2 replicas), CPU averaged over %v after %v + 20 ms per master", window, settle)
	b.say("%-8s %-22s %10s %10s %10s %10s  %s", "masters", "stack", "CPU h1 %", "CPU avg %", "RSS h1 MiB", "anon MiB", "load average")
	var firstErr error
	for _, n := range counts {
		cpu := map[scenario.Stack]float64{}
		for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
			h1, avg, rss, anon, err := b.scaleIdle(ctx, stack, n, settle+time.Duration(n)*20*time.Millisecond, window)
			if err != nil {
				b.say("%-8d %-22s error: %v", n, stack, err)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			cpu[stack] = avg
			b.say("%-8d %-22s %10.2f %10.2f %10.1f %10.1f  %s", n, stack, h1, avg, rss, anon, loadAvg())
		}
		if v, ok := cpu[scenario.Vipsentinel]; ok {
			if c, ok := cpu[scenario.Classic]; ok {
				b.say("%-8d ratio vipsentinel/redis-sentinel (CPU avg): %s", n, ratio(v, c))
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	b.say("")
	if detectRuns <= 0 {
		return firstErr
	}
	b.say("== detection, 1 master: kill -9 of the master to the first +sdown / +odown on any agent (down-after %v)", b.downAfter)
	b.say("%-4s %-22s %10s %10s %10s  %s", "run", "stack", "+sdown", "+odown", "outage", "load average")
	for r := 1; r <= detectRuns && ctx.Err() == nil; r++ {
		for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
			res, err := b.detect(ctx, stack)
			if err != nil {
				b.say("%-4d %-22s error: %v", r, stack, err)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			b.say("%-4d %-22s %10s %10s %10s  %s", r, stack, ms(firstEvent(res, "+sdown")), ms(firstEvent(res, "+odown")), ms(res.Outage), loadAvg())
		}
	}
	b.say("")
	return firstErr
}

// scaleIdle starts stack monitoring masters masters, lets it settle and
// returns the CPU use of the first host's agent and the mean of all the
// agents over window (percent of one core), and the first agent's RSS and
// the anonymous part of it (the rest is the executable's pages, shared
// with the page cache).
func (b *bench) scaleIdle(ctx context.Context, stack scenario.Stack, masters int, settle, window time.Duration) (h1, avg, rssMiB, anonMiB float64, err error) {
	// Start waits for the floating IP with wait.Default unless ctx has a
	// deadline: too short for hundreds of masters on a loaded machine.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second+time.Duration(masters)*100*time.Millisecond)
	c, err := b.start(sctx, stack, masters-1)
	cancel()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer c.Close()
	select {
	case <-ctx.Done():
		return 0, 0, 0, 0, ctx.Err()
	case <-time.After(settle):
	}
	type sample struct {
		cpu time.Duration
		rss int
	}
	read := func() ([]sample, error) {
		s := make([]sample, len(c.Agents))
		for i, a := range c.Agents {
			cpu, rss, err := scenario.ProcUsage(a.Pid())
			if err != nil {
				return nil, fmt.Errorf("agent %d: %w", i+1, err)
			}
			s[i] = sample{cpu, rss}
		}
		return s, nil
	}
	before, err := read()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return 0, 0, 0, 0, ctx.Err()
	case <-time.After(window):
	}
	after, err := read()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	elapsed := float64(time.Since(t0))
	var total float64
	for i := range after {
		p := 100 * float64(after[i].cpu-before[i].cpu) / elapsed
		if i == 0 {
			h1 = p
		}
		total += p
	}
	return h1, total / float64(len(after)), float64(after[0].rss) / 1024, float64(rssAnonKB(c.Agents[0].Pid())) / 1024, nil
}

// detect runs one kill -9 failover of stack monitoring one master.
func (b *bench) detect(ctx context.Context, stack scenario.Stack) (*scenario.Result, error) {
	c, err := b.start(ctx, stack, 0)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, err := c.RunFailover(ctx, scenario.KillMaster, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: detection run, %s: %v\n", stack, err)
	}
	return res, err
}

// firstEvent is when the first timeline line after the fault that starts
// with event (about the lab's own master) happened, or -1.
func firstEvent(res *scenario.Result, event string) time.Duration {
	for _, l := range res.Timeline {
		if l.At >= 0 && strings.HasPrefix(l.What, event+" ") && strings.Contains(l.What, scenario.MasterName) {
			return l.At
		}
	}
	return -1
}

// parseCounts parses a comma-separated list of positive numbers.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// rssAnonKB is the anonymous resident memory of process pid (RssAnon in
// /proc/pid/status), or -1.
func rssAnonKB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}
