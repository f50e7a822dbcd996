package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/scenario"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// switchoverCase is `bench -case switchover`: SENTINEL FAILOVER of a healthy
// master while a client writes through the floating IP every
// scenario.WriteInterval, vipsentinel and redis-sentinel (+ the classic
// reconfig script) interleaved, a fresh deployment per run. It prints the
// write pause (the longest gap between acknowledged writes after the
// command), the acknowledged writes the new master lacks, and for
// vipsentinel where the time went: each step's event, and the floating IP
// landing on the new master's host, since the command.
func (b *bench) switchoverCase(ctx context.Context, runs int) error {
	b.say("== planned switchover: SENTINEL FAILOVER of a healthy master, client writing through the floating IP every %v, giving up on a write after %v", scenario.WriteInterval, switchoverWriteTimeout)
	b.say("%-4s %-22s %10s %12s %10s  %s", "run", "stack", "pause", "lost/acked", "load", "steps since the command (vipsentinel)")
	var firstErr error
	pauses := map[scenario.Stack][]time.Duration{}
	lost := map[scenario.Stack]int{}
	acked := map[scenario.Stack]int{}
	for r := 1; r <= runs && ctx.Err() == nil; r++ {
		for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
			res, err := b.oneSwitchover(ctx, stack)
			if err != nil {
				b.say("%-4d %-22s error: %v", r, stack, err)
				fmt.Fprintf(os.Stderr, "bench: switchover %s run %d: %v\n", stack, r, err)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			pauses[stack] = append(pauses[stack], res.pause)
			lost[stack] += res.lost
			acked[stack] += res.acked
			b.say("%-4d %-22s %10s %12s %10s  %s", r, stack, ms(res.pause), fmt.Sprintf("%d/%d", res.lost, res.acked), strings.Fields(loadAvg())[0], res.steps)
		}
	}
	for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
		b.say("%-22s pause p50 %s, max %s, lost acknowledged writes %d/%d", stack,
			ms(median(pauses[stack])), ms(maxOf(pauses[stack])), lost[stack], acked[stack])
	}
	v, c := pauses[scenario.Vipsentinel], pauses[scenario.Classic]
	b.say("ratio vipsentinel/redis-sentinel: pause p50 %s, max %s, lost writes %s",
		ratio(float64(median(v)), float64(median(c))), ratio(float64(maxOf(v)), float64(maxOf(c))),
		ratio(float64(lost[scenario.Vipsentinel]), float64(lost[scenario.Classic])))
	b.say("")
	return firstErr
}

type switchoverResult struct {
	pause       time.Duration
	lost, acked int
	steps       string
}

// switchoverWriteTimeout is the writer's per-write timeout in the
// switchover case. A write sent to the old master during its pause is held
// until the timeout (the writer then dials the floating IP again, which has
// moved), so the timeout is the floor of every pause measured: at the
// default WriteTimeout (100 ms) both stacks measured 101-104 ms in every
// run while the VIP reached the new master's host 44-49 ms after the
// command. A client meant for fast switchovers gives up sooner; the writes
// of this quiet lab take well under a millisecond.
const switchoverWriteTimeout = 20 * time.Millisecond

// oneSwitchover runs one SENTINEL FAILOVER on a fresh deployment of stack.
func (b *bench) oneSwitchover(ctx context.Context, stack scenario.Stack) (*switchoverResult, error) {
	c, err := b.start(ctx, stack, 0)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	old, err := c.MasterAddr(ctx, 0)
	if err != nil {
		return nil, err
	}
	// Both stacks need a moment after the start before a forced failover
	// can select a replica (INFO from each replica, the peers discovered).
	if err := wait.For(ctx, 50*time.Millisecond, func() error {
		return c.AgentClient(0).Do(ctx, "SENTINEL", "CKQUORUM", scenario.MasterName).Err()
	}); err != nil {
		return nil, fmt.Errorf("quorum never reachable: %w", err)
	}
	time.Sleep(2 * time.Second)

	var (
		mu    sync.Mutex
		cmdAt time.Time
		steps []string
	)
	step := func(at time.Time, what string) {
		mu.Lock()
		defer mu.Unlock()
		if !cmdAt.IsZero() {
			steps = append(steps, fmt.Sprintf("%s %dms", what, at.Sub(cmdAt).Milliseconds()))
		}
	}
	evctx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	var evwg sync.WaitGroup
	if stack == scenario.Vipsentinel {
		events, err := c.Events(evctx)
		if err != nil {
			return nil, err
		}
		evwg.Add(1)
		go func() {
			defer evwg.Done()
			for e := range events {
				switch e.Type {
				case "+failover-pause-master", "+failover-replica-caught-up", "+promoted-slave", "+switch-master", "+lease-release":
					step(e.At, e.Host+":"+e.Type)
				}
			}
		}()
	}
	w := c.StartWriterTimeout(switchoverWriteTimeout)
	if err := wait.For(ctx, 5*time.Millisecond, func() error {
		if w.Acked() < 50 {
			return fmt.Errorf("only %d writes acknowledged", w.Acked())
		}
		return nil
	}); err != nil {
		w.Stop()
		return nil, err
	}
	sampler := c.SampleVIP(time.Millisecond, func(h scenario.Holding) {
		if !h.Neighbor && len(h.Holders) > 0 && !slices.Contains(h.Holders, 0) {
			step(h.At, "VIP on "+c.Hosts[h.Holders[0]].Name)
		}
	})
	mu.Lock()
	cmdAt = time.Now()
	mu.Unlock()
	cmdW := w.Since(cmdAt)
	if err := c.AgentClient(0).Do(ctx, "SENTINEL", "FAILOVER", scenario.MasterName).Err(); err != nil {
		w.Stop()
		sampler.Stop()
		return nil, fmt.Errorf("SENTINEL FAILOVER: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	newMaster, err := c.WaitNewMaster(wctx, old, []int{0, 1, 2})
	if err == nil {
		err = wait.For(wctx, 2*time.Millisecond, func() error {
			if w.LastAck() < w.Since(time.Now())-50*time.Millisecond {
				return fmt.Errorf("writes not flowing")
			}
			return nil
		})
	}
	// The writer keeps going a little: a pause that is still on would show.
	time.Sleep(500 * time.Millisecond)
	acks := w.Stop()
	sampler.Stop()
	stopEvents()
	evwg.Wait()
	if err != nil {
		return nil, fmt.Errorf("no switchover: %w", err)
	}
	res := &switchoverResult{acked: len(acks)}
	res.pause, _ = scenario.Outage(acks, cmdW)
	res.lost, err = c.LostWrites(ctx, newMaster, acks)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	res.steps = strings.Join(steps, ", ")
	mu.Unlock()
	return res, nil
}
