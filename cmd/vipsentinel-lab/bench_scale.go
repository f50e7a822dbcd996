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
			all, rss, anon, err := b.idleAll(ctx, stack, n, settle+time.Duration(n)*20*time.Millisecond, window)
			if err != nil {
				b.say("%-8d %-22s error: %v", n, stack, err)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			avg := 0.0
			for _, p := range all {
				avg += p / float64(len(all))
			}
			cpu[stack] = avg
			b.say("%-8d %-22s %10.2f %10.2f %10.1f %10.1f  %s", n, stack, all[0], avg, float64(rss)/1024, float64(anon)/1024, loadAvg())
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
			res, err := b.oneRun(ctx, stack, scenario.KillMaster)
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
