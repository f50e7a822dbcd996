package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// partitionCase is `bench -case partition`: the master's host cut off from
// the other hosts (its client still reaches it), vipsentinel and the
// classic stack interleaved, runs times each; it prints the acknowledged
// writes the new master lacks (the writes the cut-off master took before it
// was fenced) with the ratio, and the time the floating IP was on two
// hosts. Then, if lossFor > 0, a vipsentinel deployment idles for lossFor
// with lossPct % of the frames to and from the master's host dropped at random,
// and the pauses the fence sent to its Redis are counted: every one is
// false, since nothing failed.
func (b *bench) partitionCase(ctx context.Context, runs int, lossFor time.Duration, lossPct int) error {
	b.say("== master host cut off from the other hosts (client still reaches it), writes every %v", scenario.WriteInterval)
	b.say("%-4s %-22s %12s %10s %10s %6s", "run", "stack", "lost/acked", "dual-IP", "outage", "load")
	var firstErr error
	stats := map[scenario.Stack]*caseStats{}
	for r := 1; r <= runs && ctx.Err() == nil; r++ {
		for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
			st := stats[stack]
			if st == nil {
				st = &caseStats{}
				stats[stack] = st
			}
			res, err := b.oneRun(ctx, stack, scenario.IsolateMaster)
			if err != nil {
				st.errs++
				b.say("%-4d %-22s error: %v", r, stack, err)
				fmt.Fprintf(os.Stderr, "bench: partition %s run %d: %v\n", stack, r, err)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			st.lost = append(st.lost, res.Lost)
			st.acked = append(st.acked, res.Acked)
			st.dual = append(st.dual, res.Dual)
			st.outages = append(st.outages, res.Outage)
			b.say("%-4d %-22s %12s %10s %10s %6s", r, stack, fmt.Sprintf("%d/%d", res.Lost, res.Acked), ms(res.Dual), ms(res.Outage), strings.Fields(loadAvg())[0])
		}
	}
	v, c := stats[scenario.Vipsentinel], stats[scenario.Classic]
	if v != nil && c != nil {
		for _, s := range []struct {
			name string
			st   *caseStats
		}{{"vipsentinel", v}, {"classic", c}} {
			b.say("%-22s lost %d of %d acknowledged, dual-IP max %s, errors %d", s.name, sum(s.st.lost), sum(s.st.acked), ms(maxOf(s.st.dual)), s.st.errs)
		}
		b.say("ratio vipsentinel/classic, acknowledged writes lost: %s", ratio(float64(sum(v.lost)), float64(sum(c.lost))))
	}
	b.say("")
	if lossFor > 0 && ctx.Err() == nil {
		firstErr = cmpErr(firstErr, b.falsePauses(ctx, lossFor, lossPct))
	}
	return firstErr
}

// falsePauses idles a vipsentinel deployment for d with pct percent random
// loss on the master's host and counts the CLIENT PAUSE commands its Redis
// ran and the fence's events.
func (b *bench) falsePauses(ctx context.Context, d time.Duration, pct int) error {
	b.say("== false pauses: vipsentinel idle %v, %d%% of frames to and from the master's host h1 dropped at random", d, pct)
	c, err := b.start(ctx, scenario.Vipsentinel, 0)
	if err != nil {
		b.say("error: %v", err)
		return err
	}
	defer c.Close()
	evctx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	events, err := c.Events(evctx)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range events {
			switch e.Type {
			case "+fence", "+lease-pause", "+sdown", "+odown", "+try-failover", "+switch-master", "+quorum-lost":
				counts[e.Type]++
			}
		}
	}()
	before, err := c.PauseCalls(ctx)
	if err != nil {
		return err
	}
	if err := c.Lab.SetLoss(c.Hosts[0], pct); err != nil {
		return err
	}
	load0 := loadAvg()
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	load1 := loadAvg()
	if err := c.Lab.SetLoss(c.Hosts[0], 0); err != nil {
		return err
	}
	after, err := c.PauseCalls(ctx)
	stopEvents()
	<-done
	if err != nil {
		return err
	}
	b.say("CLIENT PAUSE calls %d, +lease-pause %d, +fence %d, +quorum-lost %d, +sdown %d, +odown %d, +try-failover %d, +switch-master %d (load average %s at the start, %s at the end)",
		after-before, counts["+lease-pause"], counts["+fence"], counts["+quorum-lost"], counts["+sdown"], counts["+odown"], counts["+try-failover"], counts["+switch-master"], load0, load1)
	b.say("")
	return nil
}
