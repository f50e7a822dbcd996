package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// portLoss is the loss to set on every server host's switch port so that a
// frame between two server hosts, which crosses two lossy ports (the
// switch's rule drops on the input port and on the output port), is lost
// with about the given probability in percent: 1-(1-p)² = link.
func portLoss(link int) int {
	return int(math.Round(100 * (1 - math.Sqrt(1-float64(link)/100))))
}

// loss measures a kill -9 of the master's Redis with every server host's
// switch port dropping frames at random (lab.SetLoss: nftables numgen
// random on the lab bridge), at 10 % and 30 % loss between hosts,
// vipsentinel and the classic redis-sentinel stack in the same run. Two
// timings: "steady", the loss set before the client starts writing (the
// deployment must keep serving through the floating IP on the lossy
// network first), and "at kill", the loss set as the master is killed
// (the failover alone under loss).
func (b *bench) loss(ctx context.Context, runs int, when string) error {
	b.say("== kill -9 of the master under packet loss (issue 18), %d runs per stack and case; load average at start: %s", runs, loadAvg())
	b.say("%-22s %-20s %10s %10s %12s %12s %8s", "stack", "loss", "switch p50", "switch max", "outage p50", "outage max", "errors")
	type key struct {
		stack  scenario.Stack
		link   int
		atKill bool
	}
	switches, outages := map[key][]time.Duration{}, map[key][]time.Duration{}
	var firstErr error
	var keys []key
	modes := map[string][]bool{"steady": {false}, "kill": {true}, "both": {false, true}}[when]
	if modes == nil {
		return fmt.Errorf("loss: -loss-when %q: want steady, kill or both", when)
	}
	for _, atKill := range modes {
		for _, link := range []int{10, 30} {
			for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
				k := key{stack, link, atKill}
				keys = append(keys, k)
				when := "steady"
				if atKill {
					when = "at kill"
				}
				errs := 0
				for r := 0; r < runs && ctx.Err() == nil; r++ {
					res, err := b.lossRun(ctx, stack, portLoss(link), atKill)
					if err != nil {
						errs++
						fmt.Fprintf(os.Stderr, "bench: %s / loss %d%% %s run %d: %v\n", stack, link, when, r+1, err)
						firstErr = cmpErr(firstErr, err)
						continue
					}
					switches[k] = append(switches[k], res.Switch)
					outages[k] = append(outages[k], res.Outage)
				}
				b.say("%-22s %-20s %10s %10s %12s %12s %8d", stack, fmt.Sprintf("%d%% %s (port %d%%)", link, when, portLoss(link)),
					ms(median(switches[k])), ms(maxOf(switches[k])), ms(median(outages[k])), ms(maxOf(outages[k])), errs)
			}
		}
	}
	b.say("")
	for _, v := range keys {
		if v.stack != scenario.Vipsentinel || !slices.Contains(modes, v.atKill) {
			continue
		}
		c := v
		c.stack = scenario.Classic
		when := "steady"
		if v.atKill {
			when = "at kill"
		}
		b.say("ratio vipsentinel/classic, %d%% loss %s: all agents switched p50 %s, max %s; write outage p50 %s, max %s",
			v.link, when, lossRatio(median(switches[v]), median(switches[c])),
			lossRatio(maxOf(switches[v]), maxOf(switches[c])),
			lossRatio(median(outages[v]), median(outages[c])),
			lossRatio(maxOf(outages[v]), maxOf(outages[c])))
	}
	b.say("load average at end: %s\n", loadAvg())
	return firstErr
}

// lossRun starts a fresh deployment and kills its master with the given
// loss on every server host's port: set once the deployment has settled,
// before the client writes (steady), or at the floating IP sampler's first
// report, which comes after the client's first writes, just before the
// kill (atKill).
func (b *bench) lossRun(ctx context.Context, stack scenario.Stack, port int, atKill bool) (*scenario.Result, error) {
	c, err := scenario.Start(ctx, scenario.Options{
		Stack: stack, DownAfter: b.downAfter, Binary: b.self, Name: "lossbench",
		TLS: b.tls && stack == scenario.Vipsentinel,
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	setLoss := func() error {
		for _, h := range c.Hosts {
			if err := c.Lab.SetLoss(h, port); err != nil {
				return err
			}
		}
		return nil
	}
	if !atKill {
		if err := setLoss(); err != nil {
			return nil, err
		}
		return c.RunFailover(ctx, scenario.KillMaster, nil)
	}
	var once sync.Once
	var lossErr error
	res, err := c.RunFailover(ctx, scenario.KillMaster, func(l scenario.Line) {
		// Agents' events may come first; the sampler's first report
		// comes after the client's first writes, just before the kill.
		if strings.HasPrefix(l.What, "floating IP held by") || strings.HasPrefix(l.What, "FAULT:") {
			once.Do(func() { lossErr = setLoss() })
		}
	})
	if err == nil && lossErr != nil {
		err = lossErr
	}
	return res, err
}

// lossRatio is ratio for two figures of which either may be missing (-1:
// no run of that stack completed).
func lossRatio(a, b time.Duration) string {
	if a < 0 || b < 0 {
		return "n/a (no completed run)"
	}
	return ratio(float64(a), float64(b))
}
