package campaign

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// Config describes a campaign.
type Config struct {
	Seed     uint64        // the fault schedule's seed
	Duration time.Duration // faults start during this long (the last may hold past it)
	Binary   string        // the vipsentinel executable
	Name     string        // lab name (default "camp")
	// DownAfter and FailoverTimeout are the agents' timings (default 1 s
	// and 10 s).
	DownAfter       time.Duration
	FailoverTimeout time.Duration
	// Converge bounds the time from the last heal until the group has
	// converged (default 30 s plus the failover timeout: a replica's
	// reconfiguration may wait that long).
	Converge time.Duration
	// MaxRSSKB bounds every agent's resident set (default 128 MiB).
	MaxRSSKB int
	// Guard is the redis-servers' min-replicas settings (default
	// RecommendedGuard; Guard{Off: true} runs without).
	Guard Guard
	// Steps, if set, is played instead of Seed's schedule (an idle run
	// under packet loss, say).
	Steps []Step
	// Progress, if set, receives every timeline line as it happens.
	Progress func(Line)
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = "camp"
	}
	if c.DownAfter == 0 {
		c.DownAfter = time.Second
	}
	if c.FailoverTimeout == 0 {
		c.FailoverTimeout = 10 * time.Second
	}
	if c.Converge == 0 {
		c.Converge = 30*time.Second + c.FailoverTimeout
	}
	if c.MaxRSSKB == 0 {
		c.MaxRSSKB = 128 << 10
	}
	if c.Guard == (Guard{}) {
		c.Guard = RecommendedGuard
	}
}

// Line is one timeline entry, At since the campaign's start.
type Line struct {
	At   time.Duration
	Who  string // "nemesis", "check", "lab", a host name
	What string
}

func (l Line) String() string {
	return fmt.Sprintf("%9.3fs  %-7s %s", l.At.Seconds(), l.Who, l.What)
}

// run is one campaign in progress.
type run struct {
	cfg   Config
	c     *scenario.Cluster
	start time.Time

	// agentCl are API clients for the agents, from the client namespace,
	// kept for the whole run (go-redis reconnects after faults).
	agentCl []*redis.Client

	mu        sync.Mutex
	timeline  []Line
	violation []string
	incidents []Incident
	procs     [][]*lab.Proc      // per host, every agent process started
	expected  map[*lab.Proc]bool // processes the nemesis stopped on purpose
	views     []string           // per host, the master its agent named last ("" unknown)
	epochs    []int64            // per host, the highest config epoch its agent reported
	maxRSS    int
	exits     int
}

func (r *run) note(who, what string) {
	l := Line{At: time.Since(r.start), Who: who, What: what}
	r.mu.Lock()
	r.timeline = append(r.timeline, l)
	r.mu.Unlock()
	if r.cfg.Progress != nil {
		r.cfg.Progress(l)
	}
}

func (r *run) violate(what string) {
	r.mu.Lock()
	r.violation = append(r.violation, fmt.Sprintf("%.3fs: %s", time.Since(r.start).Seconds(), what))
	r.mu.Unlock()
	r.note("check", "VIOLATION: "+what)
}

func (r *run) addIncident(in Incident) {
	r.mu.Lock()
	r.incidents = append(r.incidents, in)
	r.mu.Unlock()
}

// agent and redis return host h's current processes; the nemesis replaces
// them on restarts, under r.mu.
func (r *run) agent(h int) *lab.Proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c.Agents[h]
}

func (r *run) redis(h int) *lab.Redis {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c.Redis[h]
}

// probes returns one client per host for the monitors' samplers, each
// opened from the host's own namespace (no cut or loss between hosts
// affects it) to its redis-server as it is now, with 100 ms deadlines, no
// retries and one connection: a sample that does not answer at once is
// skipped rather than delaying the next.
func (r *run) probes() []*redis.Client {
	probes := make([]*redis.Client, len(r.c.Hosts))
	for h, host := range r.c.Hosts {
		probes[h] = host.RedisClient(&redis.Options{
			Addr: r.redis(h).Addr, Password: r.c.Opts.Password, Protocol: 2, MaxRetries: -1, PoolSize: 1,
			DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
		})
	}
	return probes
}

func (r *run) killRedis(h int) error {
	p := r.redis(h).Proc
	r.mu.Lock()
	r.expected[p] = true
	r.mu.Unlock()
	return p.Kill()
}

func (r *run) restartRedis(h int) error {
	old := r.redis(h)
	n, err := old.Restart()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.c.Redis[h] = n
	r.mu.Unlock()
	return nil
}

func (r *run) killAgent(h int) error {
	p := r.agent(h)
	r.mu.Lock()
	r.expected[p] = true
	r.mu.Unlock()
	return p.Kill()
}

func (r *run) startAgent(h int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.c.StartAgent(h); err != nil {
		return err
	}
	r.procs[h] = append(r.procs[h], r.c.Agents[h])
	return nil
}

// restartAgent stops host h's agent with SIGTERM, starts it again and
// waits until it answers its API.
func (r *run) restartAgent(ctx context.Context, h int) error {
	p := r.agent(h)
	r.mu.Lock()
	r.expected[p] = true
	r.mu.Unlock()
	if err := p.Term(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.Wait(wctx); err != nil && wctx.Err() != nil {
		p.Kill()
		return fmt.Errorf("agent did not stop within 10s of SIGTERM: %w", err)
	}
	if err := r.startAgent(h); err != nil {
		return err
	}
	return wait.For(wctx, 20*time.Millisecond, func() error {
		_, err := r.agentCl[h].Do(wctx, "SENTINEL", "get-master-addr-by-name", scenario.MasterName).StringSlice()
		return err
	})
}

// powerOff does to host h what pulling its plug does once its links are
// cut (the nemesis does that): every process dies at once, and its
// addresses (the floating IP included) are gone when it comes back.
func (r *run) powerOff(ctx context.Context, h int) error {
	host := r.c.Hosts[h]
	errs := []error{r.killAgent(h), r.killRedis(h)}
	if _, err := host.Exec(ctx, "ip", "addr", "del", r.c.Prefix.String(), "dev", host.Iface); err != nil {
		// Absent unless the agent held it.
		if held, _ := r.c.VIPHolders(); slices.Contains(held, h) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// powerOn boots host h again, once its links are back: its redis-server
// (from its own files), then its agent.
func (r *run) powerOn(h int) error {
	if err := r.restartRedis(h); err != nil {
		return err
	}
	return r.startAgent(h)
}

// resolve turns a step's target into a host: the master is the one most
// agents name (their last answers), else the host whose redis-server says
// it is a master; replicas are the other hosts in host order.
func (r *run) resolve(ctx context.Context, t Target) int {
	master := r.majorityView()
	if master < 0 {
		for h := range r.c.Hosts {
			if info, err := r.redis(h).Info(ctx, "replication"); err == nil && info["role"] == "master" {
				master = h
				break
			}
		}
	}
	if master < 0 {
		master = 0
	}
	if t.Master {
		return master
	}
	var replicas []int
	for h := range r.c.Hosts {
		if h != master {
			replicas = append(replicas, h)
		}
	}
	return replicas[t.Replica%len(replicas)]
}

// majorityView is the host a majority of the agents last named master, or
// -1.
func (r *run) majorityView() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	votes := map[string]int{}
	for _, v := range r.views {
		if v != "" {
			votes[v]++
		}
	}
	for v, n := range votes {
		if n > len(r.views)/2 {
			return r.hostOf(v)
		}
	}
	return -1
}

// hostOf maps "ip:port" to a host index, or -1.
func (r *run) hostOf(addr string) int {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return -1
	}
	for h, host := range r.c.Hosts {
		if host.IP4 == ap.Addr() {
			return h
		}
	}
	return -1
}

// askMaster asks host h's agent where the master is.
func (r *run) askMaster(ctx context.Context, h int) (string, error) {
	addr, err := r.agentCl[h].Do(ctx, "SENTINEL", "get-master-addr-by-name", scenario.MasterName).StringSlice()
	if err != nil {
		return "", err
	}
	if len(addr) != 2 {
		return "", fmt.Errorf("master address reply %v", addr)
	}
	return net.JoinHostPort(addr[0], addr[1]), nil
}

// followMaster is the Sentinel-following client's discovery: the first
// agent, in host order, that answers.
func (r *run) followMaster(ctx context.Context) (string, error) {
	var errs []error
	for h := range r.c.Hosts {
		a, err := r.askMaster(ctx, h)
		if err == nil {
			return a, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
}

// configEpoch asks host h's agent for the master's config epoch.
func (r *run) configEpoch(ctx context.Context, h int) (int64, error) {
	return scenario.AgentConfigEpoch(ctx, r.agentCl[h])
}
