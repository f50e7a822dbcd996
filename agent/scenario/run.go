package scenario

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// Line is one entry of a failover timeline. At is relative to the moment the
// fault was injected (negative before it).
type Line struct {
	At   time.Duration
	Host string // the host it happened on, or "client"
	What string
}

// String renders the line as the demo prints it.
func (l Line) String() string {
	return fmt.Sprintf("%+8.0fms  %-6s %s", float64(l.At)/float64(time.Millisecond), l.Host, l.What)
}

// Result is what one failover run measured.
type Result struct {
	Stack      Stack
	Fault      Fault
	OldMaster  string
	NewMaster  string
	Outage     time.Duration // longest gap between acknowledged writes that ends after the fault
	FirstWrite time.Duration // the write that ended that gap, since the fault
	Switch     time.Duration // until every reachable agent reported the new master
	Acked      int           // acknowledged writes in the whole run
	Lost       int           // acknowledged writes the final master does not have
	Dual       time.Duration // time the floating IP was on two hosts at once
	MaxHolders int
	Timeline   []Line
}

// RunFailover measures one failover of the current master under fault. It
// writes through the floating IP all along, injects the fault, waits for the
// agents to agree on a new master and for writes to succeed again, repairs
// the fault (the old master returns, or the partition heals), waits for the
// old master to replicate from the new one, and counts the acknowledged
// writes the new master does not have. progress, if not nil, is called for
// every timeline line as it happens.
func (c *Cluster) RunFailover(ctx context.Context, fault Fault, progress func(Line)) (*Result, error) {
	res := &Result{Stack: c.Opts.Stack, Fault: fault}
	var (
		mu      sync.Mutex
		faultAt time.Time
	)
	base := time.Now()
	emit := func(at time.Time, host, what string) {
		mu.Lock()
		ref := base
		if !faultAt.IsZero() {
			ref = faultAt
		}
		l := Line{At: at.Sub(ref), Host: host, What: what}
		res.Timeline = append(res.Timeline, l)
		mu.Unlock()
		if progress != nil {
			progress(l)
		}
	}

	evctx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	events, err := c.Events(evctx)
	if err != nil {
		return nil, err
	}
	var evwg sync.WaitGroup
	evwg.Add(1)
	go func() {
		defer evwg.Done()
		for e := range events {
			if interesting(e.Type) {
				emit(e.At, e.Host, Describe(e))
			}
		}
	}()

	old, err := c.MasterAddr(ctx, 0)
	if err != nil {
		return nil, err
	}
	res.OldMaster = old
	mi := c.HostIndex(hostOf(old))
	if mi < 0 {
		return nil, fmt.Errorf("scenario: master %s is not a lab host", old)
	}

	w := c.StartWriter()
	if err := wait.For(ctx, 5*time.Millisecond, func() error {
		if w.Acked() < 50 {
			return fmt.Errorf("only %d writes acknowledged through %s", w.Acked(), c.VIP)
		}
		return nil
	}); err != nil {
		w.Stop()
		return nil, fmt.Errorf("scenario: writes through the floating IP: %w", err)
	}
	sampler := c.SampleVIP(2*time.Millisecond, func(h Holding) {
		if h.Neighbor {
			emit(h.At, "client", fmt.Sprintf("ARP entry for %s -> %s (%s)", c.VIP, h.NeighborMAC, h.NeighborHost))
			return
		}
		names := make([]string, 0, len(h.Holders))
		for _, i := range h.Holders {
			names = append(names, c.Hosts[i].Name)
		}
		what := "floating IP held by " + strings.Join(names, ", ")
		if len(names) == 0 {
			what = "floating IP held by nobody"
		}
		emit(h.At, "lab", what)
	})
	stopSampler := func() {
		dual, maxHeld, _, serr := sampler.Stop()
		res.Dual, res.MaxHolders = dual, maxHeld
		if serr != nil {
			emit(time.Now(), "lab", "sampling error: "+serr.Error())
		}
	}

	mu.Lock()
	faultAt = time.Now()
	mu.Unlock()
	if err := c.Inject(fault, mi); err != nil {
		w.Stop()
		stopSampler()
		return nil, fmt.Errorf("scenario: inject %s: %w", fault, err)
	}
	emit(faultAt, c.Hosts[mi].Name, "FAULT: "+fault.String())
	faultW := w.Since(faultAt)

	var agents []int
	for i := range c.Hosts {
		if fault == KillMaster || i != mi {
			agents = append(agents, i)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second+3*c.Opts.FailoverTimeout)
	defer cancel()
	res.NewMaster, err = c.WaitNewMaster(wctx, old, agents)
	if err != nil {
		w.Stop()
		stopSampler()
		return res, fmt.Errorf("scenario: no new master after %s: %w", fault, err)
	}
	res.Switch = time.Since(faultAt)
	emit(time.Now(), "lab", "all agents report master "+res.NewMaster)

	// The first acknowledged write after the fault. When the fault does not
	// stop writes at all (an isolated master the client still reaches),
	// that is the next write.
	if wait.For(wctx, 2*time.Millisecond, func() error {
		if w.LastAck() < faultW {
			return fmt.Errorf("no write acknowledged since the fault")
		}
		return nil
	}) == nil {
		if w.FirstAfter(faultW) >= 0 {
			emit(faultAt.Add(w.FirstAfter(faultW)-faultW), "client", "first acknowledged write after the fault")
		}
	}
	// Give the client time to see where the writes really go (the classic
	// stack may keep an isolated master reachable) before repairing.
	time.Sleep(time.Second)

	if err := c.Repair(fault, mi); err != nil {
		w.Stop()
		stopSampler()
		return res, fmt.Errorf("scenario: repair %s: %w", fault, err)
	}
	emit(time.Now(), c.Hosts[mi].Name, "REPAIR: "+map[Fault]string{KillMaster: "old master restarted", IsolateMaster: "partition healed"}[fault])
	rctx, cancel2 := context.WithTimeout(ctx, 30*time.Second+2*c.Opts.FailoverTimeout)
	defer cancel2()
	if err := c.WaitReplicaOf(rctx, mi, res.NewMaster); err != nil {
		w.Stop()
		stopSampler()
		return res, fmt.Errorf("scenario: old master never replicated from %s: %w", res.NewMaster, err)
	}
	emit(time.Now(), c.Hosts[mi].Name, "old master now replicates from "+res.NewMaster)
	// Let the writer run on the settled deployment briefly, then stop.
	time.Sleep(200 * time.Millisecond)
	acks := w.Stop()
	stopSampler()
	res.Acked = len(acks)
	res.Outage, res.FirstWrite = Outage(acks, faultW)
	if res.FirstWrite >= 0 {
		res.FirstWrite -= faultW
	}
	res.Lost, err = c.LostWrites(ctx, res.NewMaster, acks)
	if err != nil {
		return res, err
	}
	stopEvents()
	evwg.Wait()
	// Stable: lines with equal times keep their arrival order.
	slices.SortStableFunc(res.Timeline, func(a, b Line) int { return cmp.Compare(a.At, b.At) })
	return res, nil
}

// interesting filters the event stream down to what a timeline reader wants.
func interesting(t string) bool {
	switch t {
	case "+sdown", "-sdown", "+odown", "-odown", "+new-epoch", "+try-failover", "+vote-for-leader",
		"+elected-leader", "+selected-slave", "+promoted-slave", "+failover-state-reconf-slaves",
		"+slave-reconf-sent", "+slave-reconf-done", "+failover-end", "+switch-master", "+convert-to-slave",
		"+vip-acquired", "+vip-released", "+vip-conflict", "+garp-sent", "+fence", "-fence", "+lease-pause", "-lease-pause",
		"+lease-release", "+lease-freed", "+replica-not-receiving",
		"+quorum-lost", "+quorum-regained", "+tilt", "-tilt", "-failover-abort-not-elected",
		"-failover-abort-no-good-slave", "-failover-abort-slave-timeout", "+failover-end-for-timeout",
		"-failover-abort-newer-config", "+failover-pause-master", "+failover-replica-caught-up",
		"-failover-abort-replica-lagging", "-failover-abort-pause-failed", "+auth-error":
		return true
	}
	return false
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return strings.Trim(addr[:i], "[]")
	}
	return addr
}
