package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/campaign"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// quietRedis drops go-redis's own log lines (a failed dial per injected
// fault): the timelines say what happened.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// boot runs the host-by-host boot scenario (issue 13) runs times and
// prints, per run, what the boot did to the master and the data.
func (b *bench) boot(ctx context.Context, runs int, delay time.Duration) error {
	redis.SetLogger(quietRedis{})
	b.say("== host-by-host boot: 3 hosts, redis-server then agent on each, %v apart; master with 200000 keys; README config", delay)
	b.say("%-4s %10s %9s %12s %8s %8s %10s %14s %10s  %s", "run", "failovers", "attempts", "config-epoch", "pauses", "fences", "keys lost", "writes lost", "settled", "error")
	var firstErr error
	bad := 0
	for r := 1; r <= runs && ctx.Err() == nil; r++ {
		res, err := scenario.RunBoot(ctx, scenario.Recommended("benchboot", b.self), scenario.BootOptions{Delay: delay})
		msg := ""
		if err != nil {
			msg = strings.ReplaceAll(err.Error(), "\n", "; ")
			firstErr = cmpErr(firstErr, err)
		}
		if res == nil {
			b.say("%-4d error: %s", r, msg)
			bad++
			continue
		}
		if err != nil || res.Failovers > 0 || res.Attempts > 0 || res.Pauses > 0 || res.Fences > 0 || res.KeysLost > 0 || res.WritesLost > 0 {
			bad++
		}
		b.say("%-4d %10d %9d %12d %8d %8d %10d %14s %10s  %s", r, res.Failovers, res.Attempts, res.ConfigEpoch, res.Pauses, res.Fences,
			res.KeysLost, fmt.Sprintf("%d/%d", res.WritesLost, res.Acked), ms(res.Settled), msg)
	}
	b.say("runs with a failover or attempt, a pause, a fence, a lost key or write, or no settling: %d of %d\n", bad, runs)
	return firstErr
}

// guardOf is the redis-servers' guard for -min-replicas-max-lag lag.
func guardOf(lag int) campaign.Guard {
	if lag <= 0 {
		return campaign.Guard{Off: true}
	}
	return campaign.Guard{ToWrite: 1, MaxLag: lag}
}

// everyHost and masterHost are the hosts idleLoss drops frames on.
var (
	everyHost  = []campaign.Target{{Master: true}, {Replica: 0}, {Replica: 1}}
	masterHost = []campaign.Target{{Master: true}}
)

// idleLoss runs the campaign's deployment with no fault but pct % random
// packet loss on the ports of the hosts on for dur (a frame between two
// lossy hosts crosses two lossy ports), and prints its figures, with the
// load average at the start and the end: any failover, +fence, CLIENT
// PAUSE or NOREPLICAS episode there is a false one, since nothing failed.
func (b *bench) idleLoss(ctx context.Context, dur time.Duration, pct int, g campaign.Guard, on []campaign.Target) error {
	where := "every host's frames"
	if len(on) == 1 {
		where = "the frames to and from the master's host"
	}
	b.say("== idle under loss: %d%% of %s dropped for %v; %s; load average %s", pct, where, dur, g, loadAvg())
	var steps []campaign.Step
	for _, t := range on {
		steps = append(steps, campaign.Step{At: 2 * time.Second, Kind: campaign.Loss, Target: t, Hold: dur, Percent: pct})
	}
	err := b.campaign(ctx, 0, dur, g, steps)
	b.say("load average at the end: %s\n", loadAvg())
	return err
}

// campaign runs one randomized fault campaign for dur (or steps, if
// given) and prints its live timeline and its figures.
func (b *bench) campaign(ctx context.Context, seed uint64, dur time.Duration, g campaign.Guard, steps []campaign.Step) error {
	redis.SetLogger(quietRedis{})
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if steps == nil {
		b.say("== fault campaign: seed %d, faults for %v, %s (replay: vipsentinel bench -case campaign -seed %d -for %v -min-replicas-max-lag %d)", seed, dur, g, seed, dur, g.MaxLag)
	}
	name := "campbench"
	if steps != nil {
		name = "campidle"
	}
	rep, err := campaign.Run(ctx, campaign.Config{Seed: seed, Duration: dur, Binary: b.self, Name: name, Guard: g, Steps: steps,
		Progress: func(l campaign.Line) { fmt.Fprintln(b.out, l) }})
	if rep != nil {
		b.say("%s", rep.Summary())
	}
	if err != nil {
		return err
	}
	if rep.Failed() {
		// The live lines lack the agents' events (read from their logs at
		// the end): print the whole merged timeline for the diagnosis.
		b.say("== timeline of seed %d with the agents' events", seed)
		for _, l := range rep.Timeline {
			b.say("%s", l)
		}
		return fmt.Errorf("campaign seed %d: %d violations", seed, len(rep.Violations))
	}
	return nil
}
