package sim

import (
	"fmt"
	"io"
	"math/rand"
	"slices"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Result is what one run measured.
type Result struct {
	Seed    uint64
	Options Options
	Err     error // the first violated invariant, nil when the run passed
	Events  uint64
	End     time.Duration // virtual time at the end

	// Failover after the master kill (zero when no kill or not reached).
	KilledAt   time.Duration
	Promoted   time.Duration // kill -> a replica runs SLAVEOF NO ONE
	VIPMoved   time.Duration // kill -> only the new master's host holds the VIP
	AllSwitch  time.Duration // kill -> every agent emitted +switch-master to it
	Failovers  int           // promotions executed by Redis
	Forged     int           // forged hellos the adversary published
	Converged  time.Duration // heal -> converged (liveness phase)
	MaxOverlap time.Duration // longest time two hosts held the VIP
	Overlap    time.Duration // total time with two holders
	StaleHold  time.Duration // longest a stale holder kept the VIP while able to act
	StaleClaim int           // VIP claims made with an older config epoch than a holder's
	VIPGap     time.Duration // longest time no host held the VIP

	WritesSent  uint64
	WritesAcked uint64
	WritesLost  uint64 // acknowledged, then missing from the final master

	// UnsyncedRefused counts replica selections (+selected-slave,
	// -failover-abort-no-good-slave) that refused an unsynced replica.
	UnsyncedRefused int

	Tail []string // last trace lines (only when traced)
}

// world is the whole simulated cluster.
type world struct {
	opts Options
	now  time.Duration
	q    queue
	err  error

	rFault, rNet, rDisk, rMisc *rand.Rand
	rAdv                       *rand.Rand // the adversary's choices (adversary.go)
	forged                     int        // forged hellos published

	hosts   []*host
	agents  []*agent
	redis   []*redis
	clients []*client
	cut     [][]bool
	loss    [][]float64 // per directed link
	vip     *vips
	check   *checker

	tiltTrigger time.Duration
	nextConn    uint64
	events      uint64

	tracing bool
	out     io.Writer
	tail    []string
	tailN   int

	// clients
	nextWrite    uint64
	nextClientID int // Redis client ids of replication links (all servers share the counter)
	writes       uint64
	acked        []uint64
	writeAt      map[uint64]time.Duration // when each write was taken, with Options.ReplLag
	stopWrites   bool

	// failover measurement
	killedAt  time.Duration
	killHost  int
	promAt    time.Duration
	promAddr  sentinel.Addr
	vipAt     time.Duration
	allAt     time.Duration
	failovers int

	partitioned bool

	// test hooks
	onEvent func(a *agent, ev sentinel.Event)
	onVIP   func(h int, own bool)
	onRedis func(r *redis, cmd sentinel.Command) // a command an agent sent, as Redis starts to execute it

	healedAt   time.Duration
	stableFrom time.Duration
	done       bool
	convergeAt time.Duration
}

func (w *world) at(t time.Duration, fn func()) { w.q.push(t, fn) }

// fenceSlack is what the runtime adds to the Node's lease before a release
// takes effect: the Node decides after an input (ticks every Tick), the
// Ready waits for the disk, and the agent's clock may run slow.
func fenceSlack(o Options) time.Duration {
	return 2*o.Tick + o.FsyncMax + o.VIPDelay + time.Duration(o.ClockDrift)*o.DownAfter/1e6 + 50*time.Millisecond
}

func (w *world) trace(format string, args ...any) {
	if !w.tracing {
		return
	}
	w.line(fmt.Sprintf("%9.4f ", w.now.Seconds()) + fmt.Sprintf(format, args...))
}

func (w *world) line(line string) {
	if w.out != nil {
		fmt.Fprintln(w.out, line)
	}
	if w.tailN > 0 {
		if len(w.tail) >= w.tailN {
			copy(w.tail, w.tail[1:])
			w.tail = w.tail[:len(w.tail)-1]
		}
		w.tail = append(w.tail, line)
	}
}

func (w *world) runID() string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 40)
	for i := range b {
		b[i] = hexd[w.rMisc.Intn(16)]
	}
	return string(b)
}

// Run simulates one seed with the given options.
func Run(o Options) *Result {
	w, err := newWorld(o)
	res := &Result{Seed: o.Seed, Options: o}
	if err != nil {
		res.Err = err
		return res
	}
	w.run()
	return w.result(res)
}

func newWorld(o Options) (*world, error) {
	if o.Agents < 1 {
		return nil, fmt.Errorf("sim: need at least one agent, got %d", o.Agents)
	}
	w := &world{
		opts:   o,
		rFault: newRand(o.Seed, "fault", 0),
		rNet:   newRand(o.Seed, "net", 0),
		rDisk:  newRand(o.Seed, "disk", 0),
		rMisc:  newRand(o.Seed, "misc", 0),
		rAdv:   newRand(o.Seed, "adversary", 0),
		out:    o.Trace,
		tailN:  o.TraceTail,
	}
	w.tracing = o.Trace != nil || o.TraceTail > 0
	if w.tracing {
		w.line(fmt.Sprintf("SEED=%d", o.Seed))
	}
	timing := sentinel.DefaultTiming()
	w.tiltTrigger = timing.TiltTrigger
	nh := o.Agents + o.Clients
	for i := 0; i < nh; i++ {
		w.hosts = append(w.hosts, &host{id: i, ip: fmt.Sprintf("198.18.0.%d", 10+i), up: true})
	}
	w.cut = make([][]bool, nh)
	w.loss = make([][]float64, nh)
	for i := range w.cut {
		w.cut[i] = make([]bool, nh)
		w.loss[i] = make([]float64, nh)
		for j := range w.loss[i] {
			w.loss[i][j] = min(0.5, 2*o.Loss*w.rNet.Float64())
			if o.UniformLoss {
				w.loss[i][j] = o.Loss
			}
		}
	}
	w.vip = &vips{w: w, overlapSince: -1, emptySince: -1}
	lease := sentinel.FenceLease(o.DownAfter) + fenceSlack(o)
	w.check = newChecker(w, o.Agents, o.Quorum, lease)
	w.check.evidence = true
	for h := 0; h < o.Agents; h++ {
		prio := 100
		if h < len(o.Priority) && o.Priority[h] > 0 {
			prio = o.Priority[h]
		}
		if slices.Contains(o.Priority0, h) {
			prio = 0
		}
		w.redis = append(w.redis, newRedis(w, h, prio))
	}
	for h := 0; h < o.Agents; h++ {
		a := &agent{w: w, id: h, name: fmt.Sprintf("a%d", h), host: h,
			addr: sentinel.Addr{Host: w.hosts[h].ip, Port: agentPort},
			rnd:  newRand(o.Seed, "agent", h)}
		if o.ClockDrift > 0 {
			a.ppm = a.rnd.Intn(2*o.ClockDrift+1) - o.ClockDrift
		}
		a.cfg = w.agentConfig(h, timing)
		w.agents = append(w.agents, a)
	}
	for i := 0; i < o.Clients; i++ {
		w.clients = append(w.clients, &client{w: w, id: i, host: o.Agents + i, arp: -1})
	}
	return w, nil
}

func (w *world) agentConfig(h int, timing sentinel.Timing) sentinel.Config {
	o := w.opts
	timing.Tick = o.Tick
	if o.TiltPeriod > 0 {
		timing.TiltPeriod = o.TiltPeriod
	}
	return sentinel.Config{
		LocalIPs:  []string{w.hosts[h].ip},
		Port:      agentPort,
		Timing:    timing,
		MinAgents: o.Agents, // static membership: majorities over every agent
		Masters: []sentinel.MasterConfig{{
			Name:            masterName,
			Addr:            w.redis0Addr(),
			Quorum:          o.Quorum,
			DownAfter:       o.DownAfter,
			FailoverTimeout: o.FailoverTimeout,
			ParallelSyncs:   1,
			HasVIP:          true,
			Fence:           o.Fence,
			RenamedCommands: renamed(o),
			AuthPass:        o.AuthPass,

			AllowUnreplicatedWrites: o.AllowUnreplicatedWrites,
		}},
	}
}

func (w *world) run() {
	o := w.opts
	w.trace("swarm %s", o.String())
	// The initial master's VIP is in place before the agents start, as after a
	// clean install; the agents then take over.
	w.vip.acquire(0, 0, "initial")
	for _, a := range w.agents {
		a := a
		// Agents start once the replicas are linked, as on a running
		// deployment, so that their first INFO of the master lists them.
		w.at(300*time.Millisecond+time.Duration(a.rnd.Int63n(int64(200*time.Millisecond))), func() {
			if err := a.start(); err != nil {
				w.check.failf(a, "%v", err)
				return
			}
			a.tick()
		})
	}
	for _, c := range w.clients {
		w.at(o.Warmup/2+time.Duration(w.rMisc.Int63n(int64(o.WriteEvery))), c.tick)
	}
	w.at(o.Warmup, w.startSafety)
	w.at(o.Warmup+o.Safety, w.startLiveness)
	hardEnd := o.Warmup + o.Safety + o.Liveness
	for w.q.len() > 0 && w.err == nil && !w.done {
		ev := w.q.pop()
		if ev.at > hardEnd {
			w.now = hardEnd
			break
		}
		w.now = ev.at
		ev.fn()
		w.events++
		if len(w.vip.holders) > 1 {
			w.check.vipChanged()
		}
	}
	if w.err == nil && !w.done {
		w.check.failf(nil, "liveness: not converged %v after healing: %s", w.now-w.healedAt, w.convergence())
	}
	w.vip.finish()
}

// startSafety begins the fault phase: kill the master if asked, start the
// fault schedule.
func (w *world) startSafety() {
	o := w.opts
	w.trace("== safety phase")
	if o.KillMaster {
		w.killedAt = w.now
		w.killHost = 0
		host := w.rFault.Intn(2) == 0
		if o.KillHost != 0 {
			host = o.KillHost == 1
		}
		if host {
			w.trace("kill master host h0")
			w.crashHost(0, time.Hour)
		} else {
			w.trace("kill master redis r0")
			w.redis[0].crash()
			w.redisDownUntil(0, time.Hour)
		}
	}
	w.faultTick()
	if o.Adversary {
		w.adversaryTick()
	}
}

const faultEvery = 100 * time.Millisecond

func (w *world) roll(rate float64) bool {
	return rate > 0 && w.rFault.Float64() < rate*faultEvery.Seconds()
}

func (w *world) randDur(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(w.rFault.Int63n(int64(hi-lo)))
}

// faultTick injects faults, each kind as a Poisson process.
func (w *world) faultTick() {
	o := w.opts
	if w.now >= o.Warmup+o.Safety {
		return
	}
	w.at(w.now+faultEvery, w.faultTick)
	n := o.Agents
	if o.Partition != PartitionNone && !w.partitioned && w.roll(o.PartitionRate) {
		w.partition()
	}
	if w.roll(o.AgentCrash) {
		a := w.agents[w.rFault.Intn(n)]
		if a.running && w.hosts[a.host].up {
			a.crash("fault")
			w.agentDownFor(a, w.randDur(100*time.Millisecond, o.AgentDownMax))
		}
	}
	if w.roll(o.RedisCrash) {
		h := w.rFault.Intn(n)
		if r := w.redis[h]; r.up && !w.downForever(h) {
			r.crash()
			w.redisDownUntil(h, w.randDur(100*time.Millisecond, o.RedisDownMax))
		}
	}
	if w.roll(o.HostCrash) {
		h := w.rFault.Intn(n)
		if w.hosts[h].up && !w.downForever(h) {
			w.crashHost(h, w.randDur(500*time.Millisecond, 8*time.Second))
		}
	}
	if w.roll(o.StallRate) {
		a := w.agents[w.rFault.Intn(n)]
		a.stall(w.randDur(20*time.Millisecond, o.StallMax))
	}
	if w.roll(o.JumpRate) {
		a := w.agents[w.rFault.Intn(n)]
		if a.running {
			j := w.randDur(10*time.Millisecond, o.JumpMax)
			a.jump += j
			w.trace("%s clock jumps %v", a.name, j)
		}
	}
}

func (w *world) downForever(h int) bool {
	return w.opts.KillMaster && h == w.killHost && w.killedAt > 0
}

func (w *world) agentDownFor(a *agent, d time.Duration) {
	w.at(w.now+d, func() {
		if !a.running && w.hosts[a.host].up && !w.healing() {
			w.startAgent(a)
		}
	})
}

func (w *world) healing() bool { return w.healedAt > 0 }

func (w *world) startAgent(a *agent) {
	if err := a.start(); err != nil {
		w.check.failf(a, "%v", err)
	}
}

func (w *world) redisDownUntil(h int, d time.Duration) {
	w.at(w.now+d, func() {
		r := w.redis[h]
		if !r.up && w.hosts[h].up && !w.healing() {
			r.start(w.rFault.Float64() < w.opts.RedisWipe)
		}
	})
}

// crashHost powers a host off: agent, Redis and VIP go, no resets are sent.
func (w *world) crashHost(h int, d time.Duration) {
	if !w.hosts[h].up {
		return
	}
	w.trace("h%d crash for %v", h, d)
	w.agents[h].crash("host crash")
	w.redis[h].crash()
	w.hosts[h].up = false
	w.vip.release(h, "host crash")
	w.check.topology()
	w.at(w.now+d, func() {
		if !w.hosts[h].up && !w.healing() {
			w.bootHost(h, w.rFault.Float64() < w.opts.RedisWipe)
		}
	})
}

func (w *world) bootHost(h int, wipe bool) {
	w.hosts[h].up = true
	w.trace("h%d boot", h)
	w.redis[h].start(wipe)
	w.startAgent(w.agents[h])
	w.check.topology()
}

// partition cuts the network per the swarm's mode and heals it later.
func (w *world) partition() {
	o := w.opts
	nh := len(w.hosts)
	side := make([]bool, nh)
	switch o.Partition {
	case PartitionIsolateOne:
		side[w.rFault.Intn(nh)] = true
	case PartitionIsolateHost:
		side[w.masterHost()] = true
	case PartitionHalves:
		for i := range side {
			side[i] = w.rFault.Intn(2) == 0
		}
	case PartitionLinks:
		k := 1 + w.rFault.Intn(nh)
		for i := 0; i < k; i++ {
			a, b := w.rFault.Intn(nh), w.rFault.Intn(nh)
			if a != b {
				w.cut[a][b] = true
				if !o.Asymmetric {
					w.cut[b][a] = true
				}
			}
		}
	}
	oneWay := w.rFault.Intn(2) == 0
	for a := 0; a < nh; a++ {
		for b := 0; b < nh; b++ {
			if side[a] && !side[b] && (!o.Asymmetric || oneWay) {
				w.cut[a][b] = true
			}
			if !side[a] && side[b] && (!o.Asymmetric || !oneWay) {
				w.cut[a][b] = true
			}
		}
	}
	w.partitioned = true
	d := w.randDur(200*time.Millisecond, o.PartitionMax)
	w.trace("partition %v %s for %v", o.Partition, w.cutString(), d)
	w.check.topology()
	w.at(w.now+d, w.heal)
}

func (w *world) heal() {
	if !w.partitioned {
		return
	}
	for _, row := range w.cut {
		clear(row)
	}
	w.partitioned = false
	w.trace("partition healed")
	w.check.topology()
}

func (w *world) cutString() string {
	var b strings.Builder
	for a, row := range w.cut {
		for c, x := range row {
			if x {
				fmt.Fprintf(&b, "%d>%d ", a, c)
			}
		}
	}
	return strings.TrimSpace(b.String())
}

// masterHost is the host of the Redis instance that currently is master
// (the lowest one if several), or 0.
func (w *world) masterHost() int {
	for _, r := range w.redis {
		if r.up && r.role == roleMaster {
			return r.host
		}
	}
	return 0
}

// renames is the rename-command table of the monitored Redis instances.
var renames = map[string]string{"config": "vs-config-7f3a", "slaveof": "vs-slaveof-7f3a"}

// renamed is the rename-command table the agents are configured with.
func renamed(o Options) map[string]string {
	if !o.Rename {
		return nil
	}
	out := make(map[string]string, len(renames))
	for k, v := range renames {
		out[k] = v
	}
	return out
}

// canonical maps a command name as sent to Redis back to the command it
// is, through the rename-command table; a renamed-away original name maps
// to "" (Redis no longer knows it).
func (w *world) canonical(name string) string {
	up := strings.ToUpper(name)
	if w.opts.Rename {
		for orig, to := range renames {
			switch up {
			case strings.ToUpper(to):
				return strings.ToUpper(orig)
			case strings.ToUpper(orig):
				return ""
			}
		}
	}
	return up
}
