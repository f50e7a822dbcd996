package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/campaign"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// partitionCase is `bench -case partition`: the master's host cut off from
// the other hosts (its client still reaches it), vipsentinel and the
// classic stack interleaved, runs times each; it prints the acknowledged
// writes the new master lacks (the writes the cut-off master took before it
// was fenced) with the ratio, and the time the floating IP was on two
// hosts. Then, if lossFor > 0, the idle-loss case runs for lossFor with
// lossPct % of the frames to and from the master's host dropped at random
// (redis-servers guarded by g): every pause the fence sends there is false,
// since nothing failed.
func (b *bench) partitionCase(ctx context.Context, runs int, lossFor time.Duration, lossPct int, g campaign.Guard) error {
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
		firstErr = cmpErr(firstErr, b.idleLoss(ctx, lossFor, lossPct, g, masterHost))
	}
	return firstErr
}
