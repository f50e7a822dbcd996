package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/scenario"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// idleCase is `bench -case idle`: the idle CPU of every agent of a 3-host
// deployment (1 master + 2 replicas, the master's host holding the VIP),
// vipsentinel then redis-sentinel, each averaged over the same window, and
// per host the ratio. The VIP host is the one that asks for leases, so it
// is printed per host rather than as one figure. The machine's load
// average is printed with each stack: the figures of a loaded machine
// only compare within one run.
func (b *bench) idleCase(ctx context.Context, settle, window time.Duration, rounds int) error {
	b.say("== idle CPU per host (3 hosts, 1 master + 2 replicas, h1 the master and VIP host), averaged over %v after %v, %d rounds interleaved", window, settle, rounds)
	b.say("%-6s %-22s %8s %8s %8s %10s  %s", "round", "stack", "h1 %", "h2 %", "h3 %", "RSS h1", "load average")
	var firstErr error
	sums := map[scenario.Stack][]float64{}
	for r := 1; r <= rounds && ctx.Err() == nil; r++ {
		for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
			cpu, rss, _, _, err := b.idleAll(ctx, stack, 1, settle, window)
			if err != nil {
				b.say("%-6d %-22s error: %v", r, stack, err)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			if sums[stack] == nil {
				sums[stack] = make([]float64, len(cpu))
			}
			cols := make([]string, len(cpu))
			for i, p := range cpu {
				sums[stack][i] += p / float64(rounds)
				cols[i] = fmt.Sprintf("%8.2f", p)
			}
			b.say("%-6d %-22s %s %8.1fMiB  %s", r, stack, strings.Join(cols, " "), float64(rss)/1024, loadAvg())
		}
	}
	v, c := sums[scenario.Vipsentinel], sums[scenario.Classic]
	if len(v) == len(c) && len(v) > 0 {
		cols := make([]string, len(v))
		for i := range v {
			cols[i] = fmt.Sprintf("h%d %.2f%% vs %.2f%% (%s)", i+1, v[i], c[i], ratio(v[i], c[i]))
		}
		b.say("mean vipsentinel vs redis-sentinel, ratio: %s", strings.Join(cols, ", "))
	}
	b.say("")
	return firstErr
}

// idleAll starts stack monitoring masters masters, waits until every agent
// monitors all of them (monitorsAll), lets it settle, and measures the CPU
// of every agent over the same window (percent of one core); it also
// returns h1's RSS and the anonymous part of it (the rest is the
// executable's pages, shared with the page cache), in KiB, and how long
// after the start every agent monitored every master. A deployment that
// does not monitor everything before the window, or stops during it, is
// an error: its figures would be those of less work.
func (b *bench) idleAll(ctx context.Context, stack scenario.Stack, masters int, settle, window time.Duration) (cpu []float64, rssKB, anonKB int, ready time.Duration, err error) {
	label := fmt.Sprintf("%s-%d", stack, masters)
	t0 := time.Now()
	// Start waits for the floating IP with wait.Default unless ctx has a
	// deadline: too short for hundreds of masters on a loaded machine.
	sctx, cancel := context.WithTimeout(ctx, startDeadline(masters))
	o := b.options(stack, masters-1)
	o.OnStartError = func(c *scenario.Cluster, err error) { b.keepEvidence(c, label+"-start", masters, err) }
	c, err := scenario.Start(sctx, o)
	cancel()
	if err != nil {
		return nil, 0, 0, 0, err
	}
	defer c.Close()
	mctx, cancel := context.WithTimeout(ctx, startDeadline(masters))
	err = wait.For(mctx, time.Second, func() error { return monitorsAll(mctx, c, masters) })
	cancel()
	if err != nil {
		err = fmt.Errorf("%v after the start, not every master monitored: %w", time.Since(t0).Round(time.Second), err)
		b.keepEvidence(c, label+"-monitor", masters, err)
		return nil, 0, 0, 0, err
	}
	ready = time.Since(t0)
	select {
	case <-ctx.Done():
		return nil, 0, 0, 0, ctx.Err()
	case <-time.After(settle):
	}
	cpu = make([]float64, len(c.Agents))
	rss := make([]int, len(c.Agents))
	errs := make([]error, len(c.Agents))
	var wg sync.WaitGroup
	for i := range c.Agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idle, err := c.MeasureIdle(ctx, i, window)
			cpu[i], rss[i], errs[i] = idle.CPUPercent, idle.RSSKB, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, 0, 0, err
	}
	if err := monitorsAll(ctx, c, masters); err != nil {
		err = fmt.Errorf("after the idle window, not every master monitored: %w", err)
		b.keepEvidence(c, label+"-window", masters, err)
		return nil, 0, 0, 0, err
	}
	return cpu, rss[0], rssAnonKB(c.Agents[0].Pid()), ready, nil
}

// startDeadline bounds a deployment's start, and then its discovery of
// every master, replica and peer: generous, since discovery takes INFO
// and hello rounds per master and the machine may be loaded.
func startDeadline(masters int) time.Duration {
	return 30*time.Second + time.Duration(masters)*200*time.Millisecond
}
