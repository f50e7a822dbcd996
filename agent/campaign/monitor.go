package campaign

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Sampling periods of the continuous checks.
const (
	vipSample      = 10 * time.Millisecond  // holders of the floating IP, from the namespaces
	writableSample = 50 * time.Millisecond  // role and a probe write on every redis-server
	viewSample     = 100 * time.Millisecond // every agent's master (GET-MASTER-ADDR-BY-NAME)
	epochSample    = 500 * time.Millisecond // every agent's config epoch
	procSample     = time.Second            // agent exits and RSS
)

// monitors are the continuous checks; stop ends them.
type monitors struct {
	r       *run
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	sampler *scenario.VIPSampler

	// written by the writable sampler only, read after stop
	dualWritable []time.Duration // episodes with two writable masters clients can reach
	staleMax     time.Duration   // longest time a writable master nobody points at coexisted with another

	lagMu sync.Mutex
	lag   LagHistogram
	goods []goodSample // in time order
	// recv are the replicas' offsets where they advanced (or changed
	// master), in time order, and lastRecv each host's latest.
	recv     []recvSample
	lastRecv map[int]recvSample
	// syncing is each replica host's last master_sync_in_progress, and
	// loadSeen the master's first sample of the current streak showing
	// that replica online at offset 0 (loading the RDB of a full sync).
	syncing  map[int]bool
	loadSeen map[int]loadMark
}

func (m *monitors) lagHistogram() LagHistogram {
	m.lagMu.Lock()
	defer m.lagMu.Unlock()
	return m.lag
}

func (r *run) startMonitors() *monitors {
	ctx, cancel := context.WithCancel(context.Background())
	m := &monitors{r: r, cancel: cancel}
	m.sampler = r.c.SampleVIP(vipSample, func(h scenario.Holding) {
		if h.Neighbor {
			return
		}
		names := make([]string, 0, len(h.Holders))
		for _, i := range h.Holders {
			names = append(names, r.c.Hosts[i].Name)
		}
		if len(names) > 1 {
			r.violate(fmt.Sprintf("floating IP on %d hosts at once: %v", len(names), names))
		}
		r.note("lab", fmt.Sprintf("floating IP held by %v", names))
	})
	for _, loop := range []struct {
		every time.Duration
		fn    func(context.Context)
	}{
		{writableSample, m.sampleWritable()},
		{viewSample, m.sampleViews},
		{epochSample, m.sampleEpochs},
		{procSample, m.sampleProcs},
		{lagSample, m.sampleLag()},
	} {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			for ctx.Err() == nil {
				t0 := time.Now()
				loop.fn(ctx)
				select {
				case <-ctx.Done():
				case <-time.After(loop.every - time.Since(t0)):
				}
			}
		}()
	}
	return m
}

// stop ends the monitors and returns the VIP sampler's figures.
func (m *monitors) stop() (dual time.Duration, maxHeld int, err error) {
	m.cancel()
	m.wg.Wait()
	dual, maxHeld, _, err = m.sampler.Stop()
	return dual, maxHeld, err
}

// sampleViews records every agent's current master; a change is a
// timeline line.
func (m *monitors) sampleViews(ctx context.Context) {
	r := m.r
	for h := range r.c.Hosts {
		if !r.agent(h).Running() {
			r.mu.Lock()
			r.views[h] = "" // a dead agent names nothing to anyone
			r.mu.Unlock()
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		a, err := r.askMaster(qctx, h)
		cancel()
		if err != nil {
			continue // a frozen or cut-off agent keeps its last view
		}
		r.mu.Lock()
		old := r.views[h]
		r.views[h] = a
		r.mu.Unlock()
		if old != "" && old != a {
			r.note(r.c.Hosts[h].Name, fmt.Sprintf("agent now names master %s (was %s)", a, old))
		}
	}
}

// sampleEpochs checks that no agent's config epoch ever goes backwards,
// across its restarts too (its state file keeps it).
func (m *monitors) sampleEpochs(ctx context.Context) {
	r := m.r
	for h := range r.c.Hosts {
		qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		e, err := r.configEpoch(qctx, h)
		cancel()
		if err != nil {
			continue
		}
		r.mu.Lock()
		prev := r.epochs[h]
		if e > prev {
			r.epochs[h] = e
		}
		r.mu.Unlock()
		if e < prev {
			r.violate(fmt.Sprintf("config epoch of the agent on %s went backwards: %d after %d", r.c.Hosts[h], e, prev))
		}
	}
}

// sampleProcs checks that no agent exits unless the nemesis made it, and
// that none grows beyond the RSS bound. An agent that exited on its own is
// started again so the campaign goes on.
func (m *monitors) sampleProcs(ctx context.Context) {
	r := m.r
	for h, host := range r.c.Hosts {
		p := r.agent(h)
		r.mu.Lock()
		expected := r.expected[p]
		r.mu.Unlock()
		if !p.Running() {
			if expected {
				continue
			}
			r.mu.Lock()
			r.exits++
			r.expected[p] = true
			r.mu.Unlock()
			r.violate(fmt.Sprintf("agent on %s exited unexpectedly: %v; log tail:\n%s", host, p.Wait(ctx), tail(p.Log(), 1500)))
			if err := r.startAgent(h); err != nil {
				r.violate(fmt.Sprintf("restart of the agent on %s: %v", host, err))
			}
			continue
		}
		if _, rss, err := scenario.ProcUsage(p.Pid()); err == nil {
			r.mu.Lock()
			grew := rss > r.maxRSS
			r.maxRSS = max(r.maxRSS, rss)
			r.mu.Unlock()
			if grew && rss > r.cfg.MaxRSSKB {
				r.violate(fmt.Sprintf("agent on %s: RSS %d KiB, bound %d KiB", host, rss, r.cfg.MaxRSSKB))
			}
		}
	}
}

// sampleWritable returns the writable-masters check: every round it asks
// each redis-server (from its own namespace, which no cut affects) for its
// role and makes a probe write on each master with a short deadline (a
// paused master does not answer it). Two writable masters are a split brain
// when clients can reach both: each is named by some agent or holds the
// floating IP. Such an episode may last at most the fence window (the VIP
// lease, sentinel.FenceLease) plus a sampling period on either side.
func (m *monitors) sampleWritable() func(context.Context) {
	r := m.r
	probes := r.probes()
	window := sentinel.FenceLease(r.cfg.DownAfter) + 2*writableSample
	var dualSince, staleSince time.Time
	seq := 0
	return func(ctx context.Context) {
		seq++
		var writable []int
		for h := range r.c.Hosts {
			info, err := probes[h].Info(ctx, "replication").Result()
			if err != nil || !roleMaster(info) {
				continue
			}
			if probes[h].Set(ctx, "campaign:probe:"+r.c.Hosts[h].Name, strconv.Itoa(seq), 0).Err() == nil {
				writable = append(writable, h)
			}
		}
		now := time.Now()
		holders, _ := r.c.VIPHolders()
		r.mu.Lock()
		var reachable []int
		for _, h := range writable {
			named := false
			for _, v := range r.views {
				named = named || r.hostOf(v) == h
			}
			if named || slices.Contains(holders, h) {
				reachable = append(reachable, h)
			}
		}
		r.mu.Unlock()
		if len(reachable) > 1 {
			if dualSince.IsZero() {
				dualSince = now
				r.note("check", fmt.Sprintf("two writable masters clients can reach: %v", names(r, reachable)))
			}
		} else if !dualSince.IsZero() {
			d := now.Sub(dualSince)
			m.dualWritable = append(m.dualWritable, d)
			r.note("check", fmt.Sprintf("two writable masters for %v", d.Round(time.Millisecond)))
			if d > window {
				r.violate(fmt.Sprintf("two writable masters clients can reach for %v (fence window %v)", d.Round(time.Millisecond), window))
			}
			dualSince = time.Time{}
		}
		if len(writable) > len(reachable) && len(writable) > 1 {
			if staleSince.IsZero() {
				staleSince = now
			}
			m.staleMax = max(m.staleMax, now.Sub(staleSince))
		} else {
			staleSince = time.Time{}
		}
	}
}

func roleMaster(info string) bool { return lab.ParseInfo(info)["role"] == "master" }

func names(r *run, hosts []int) []string {
	var out []string
	for _, h := range hosts {
		out = append(out, r.c.Hosts[h].Name)
	}
	return out
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
