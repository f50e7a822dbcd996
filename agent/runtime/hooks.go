package runtime

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"

	"github.com/vipsentinel/vipsentinel/agent/metrics"
	"github.com/vipsentinel/vipsentinel/agent/redislink"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// CoreSnapshot reads the core's state for a metrics scrape, on the loop
// goroutine. It satisfies metrics.CoreSource.
func (r *Runtime) CoreSnapshot(ctx context.Context) (metrics.Core, error) {
	var c metrics.Core
	err := r.do(ctx, func(now sentinel.Time) { c = metrics.CoreFromNode(now, r.node) })
	return c, err
}

// checkFence tells Options.Fence whether a local master is fenced now, with
// the addresses that must still reach the local Redis (the other agents and
// the replicas), whenever that changes. It runs on the loop goroutine after
// events that can change it.
func (r *Runtime) checkFence(events []sentinel.Event) {
	if r.opts.Fence == nil {
		return
	}
	relevant := false
	for _, ev := range events {
		switch ev.Type {
		case "+fence", "-fence", "+switch-master", "+slave", "+sentinel":
			relevant = true
		}
	}
	if !relevant {
		return
	}
	now := r.now()
	fenced := false
	var allowed []netip.Addr
	add := func(maps [][]sentinel.KV) {
		for _, kv := range maps {
			for _, f := range kv {
				if f.Key == "ip" {
					if a, err := netip.ParseAddr(f.Value); err == nil && !slices.Contains(allowed, a) {
						allowed = append(allowed, a)
					}
				}
			}
		}
	}
	for _, m := range r.node.Status(now) {
		if m.Fenced {
			fenced = true
		}
		reps, _ := r.node.Replicas(now, m.Name)
		add(reps)
		sents, _ := r.node.Sentinels(now, m.Name)
		add(sents)
	}
	slices.SortFunc(allowed, func(a, b netip.Addr) int { return a.Compare(b) })
	key := strconv.FormatBool(fenced) + fmt.Sprint(allowed)
	if key == r.fenceKey {
		return
	}
	r.fenceKey = key
	r.opts.Fence(fenced, allowed)
}

// Reload applies what can change without a restart from a new
// configuration: per-master settings of masters this agent already monitors
// (as SENTINEL SET would), and masters that are new in the file (as SENTINEL
// MONITOR would). It returns what it applied and what needs a restart; it
// changes nothing if any setting fails.
func (r *Runtime) Reload(ctx context.Context, masters []sentinel.MasterConfig) (applied, restart []string, err error) {
	err = r.do(ctx, func(now sentinel.Time) {
		applied, restart, err = r.reload(now, masters)
	})
	return applied, restart, err
}

func (r *Runtime) reload(now sentinel.Time, masters []sentinel.MasterConfig) (applied, restart []string, err error) {
	known := map[string]bool{}
	for _, name := range r.node.MasterNames() {
		known[name] = true
	}
	inFile := map[string]bool{}
	for _, mc := range masters {
		inFile[mc.Name] = true
		if !known[mc.Name] {
			q := strconv.Itoa(mc.Quorum)
			if err := r.node.Monitor(now, mc.Name, mc.Addr.Host, strconv.Itoa(mc.Addr.Port), q); err != nil {
				return applied, restart, fmt.Errorf("monitor %s: %w", mc.Name, err)
			}
			applied = append(applied, "monitor "+mc.Name)
			if mc.HasVIP {
				restart = append(restart, "sentinel vip "+mc.Name+" (new master)")
			}
		}
		kv, err := r.node.Master(now, mc.Name)
		if err != nil {
			return applied, restart, err
		}
		cur := map[string]string{}
		for _, f := range kv {
			cur[f.Key] = f.Value
		}
		var args []string
		set := func(opt, field, want string) {
			if cur[field] != want {
				args = append(args, opt, want)
			}
		}
		set("quorum", "quorum", strconv.Itoa(mc.Quorum))
		set("down-after-milliseconds", "down-after-milliseconds", strconv.FormatInt(mc.DownAfter.Milliseconds(), 10))
		set("failover-timeout", "failover-timeout", strconv.FormatInt(mc.FailoverTimeout.Milliseconds(), 10))
		set("parallel-syncs", "parallel-syncs", strconv.Itoa(mc.ParallelSyncs))
		if len(args) > 0 {
			if err := r.node.Set(now, mc.Name, args); err != nil {
				return applied, restart, fmt.Errorf("set %s %v: %w", mc.Name, args, err)
			}
			for i := 0; i < len(args); i += 2 {
				applied = append(applied, fmt.Sprintf("%s %s %s", args[i], mc.Name, args[i+1]))
			}
		}
	}
	for name := range known {
		if !inFile[name] {
			restart = append(restart, "master "+name+" is not in the configuration file (still monitored: SENTINEL REMOVE it, or restart)")
		}
	}
	slices.Sort(restart)
	return applied, restart, nil
}

// publishAddrs publishes the current address of every master for
// backend.MasterAddr. It runs on the loop goroutine (or before it starts).
func (r *Runtime) publishAddrs() {
	names := r.node.MasterNames()
	m := make(map[string]sentinel.Addr, len(names))
	for _, name := range names {
		if a, ok := r.node.MasterAddr(name); ok {
			m[name] = a
		}
	}
	if old := r.addrs.Load(); old != nil && maps.Equal(*old, m) {
		return
	}
	r.addrs.Store(&m)
}

// Faults reports what the links and the API refused or recovered from. It
// satisfies metrics.FaultSource.
func (r *Runtime) Faults() metrics.Faults {
	f := metrics.Faults{Panics: map[string]uint64{"api": r.api.PanicsRecovered()}, StateSaveFailures: r.saveFailures.Load()}
	if s, ok := r.tr.(interface{ Stats() redislink.Stats }); ok {
		st := s.Stats()
		f.BadReplies = st.BadReplies
		f.Panics["redislink"] = st.Panics
	}
	return f
}
