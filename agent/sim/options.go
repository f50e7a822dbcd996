package sim

import (
	"fmt"
	"io"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/tcprto"
)

// PartitionMode says how the fault schedule chooses the hosts a partition
// separates (after TigerBeetle VOPR's PartitionMode).
type PartitionMode int

// Partition modes.
const (
	PartitionNone        PartitionMode = iota
	PartitionIsolateOne                // one random host against the rest
	PartitionIsolateHost               // the host of the current Redis master against the rest
	PartitionHalves                    // a random split into two groups
	PartitionLinks                     // random individual links cut
)

func (m PartitionMode) String() string {
	return [...]string{"none", "isolate-one", "isolate-master", "halves", "links"}[m]
}

// Options configures one simulation run. Swarm derives every field from a
// seed; tests may then override single fields to build fixed scenarios.
type Options struct {
	Seed   uint64
	Agents int // 3, 5 or 7 agents, one per Redis host
	Quorum int

	DownAfter       time.Duration
	FailoverTimeout time.Duration
	TiltPeriod      time.Duration
	Fence           bool
	Priority        []int // slave-priority per host (0 or missing: 100)
	Priority0       []int // hosts whose Redis has slave-priority 0
	MinReplicas     int   // min-replicas-to-write on every Redis (0 = off)
	// AllowUnreplicatedWrites sets the agents' sentinel
	// allow-unreplicated-writes: replicas that stop receiving are not
	// disconnected (the behaviour before issue 13's rule).
	AllowUnreplicatedWrites bool
	Rename                  bool   // Redis renames CONFIG and SLAVEOF (rename-command)
	RedisPass               string // requirepass of every Redis ("" = none)
	AuthPass                string // the agents' auth-pass

	Tick       time.Duration // how often the runtime ticks each agent
	FsyncMax   time.Duration // persisting HardState takes up to this long
	ClockDrift int           // max clock rate error, parts per million

	// Network.
	Loss float64 // probability a transmission attempt is lost
	// UniformLoss gives every directed link exactly Loss instead of a
	// rate drawn between none and twice Loss (the loss benchmarks).
	UniformLoss    bool
	DelayMin       time.Duration
	DelayMean      time.Duration // mean of the exponential part added to DelayMin
	Dup            float64       // probability a hello is delivered twice
	ConnectTimeout time.Duration
	TCPTimeout     time.Duration // a stream stuck this long breaks its connection
	// AgentRTOMin is the retransmission timeout floor of the agents' own
	// sockets (the requests they send, and the replies of peer agents):
	// tcprto.Min on a kernel that takes TCP_RTO_MIN_US, 0 for Linux's
	// 200 ms (older kernels). Redis's replies always wait 200 ms.
	AgentRTOMin time.Duration
	ReplPeriod  time.Duration // how often replicas pull from their master
	ReplLag     time.Duration // replicas stream only the writes at least this old (0: all)
	// A full sync (a replica with no data, or whose data diverged) takes
	// SyncBase plus SyncPerWrite per write in the master's dataset.
	SyncBase     time.Duration
	SyncPerWrite time.Duration
	// SyncLoad is how long a fully synced replica loads the RDB after
	// the transfer (0: at once). Redis 7.0 shows it online at offset 0
	// on its master meanwhile, with a fresh lag (its keepalives), so the
	// write guard counts it, and streams it the writes since the RDB only
	// after its first ACK, once loaded; the RDB holds the master's log as
	// of the sync's start.
	SyncLoad time.Duration
	// VIPDelay is how late an agent's VIP manager may apply its intents
	// (a draw per batch; 0: at once). The manager confirms each removal
	// to the core (sentinel.VIPGone) once it is applied.
	VIPDelay time.Duration
	// VIPNoConfirm (tests only): the VIP manager never confirms a
	// removal, so no agent releases a lease early.
	VIPNoConfirm bool

	// Fault schedule (safety phase only). Rates are per second of virtual time.
	Partition     PartitionMode
	Asymmetric    bool // partitions cut one direction only
	PartitionRate float64
	PartitionMax  time.Duration
	AgentCrash    float64
	AgentDownMax  time.Duration
	RedisCrash    float64
	RedisDownMax  time.Duration
	RedisWipe     float64 // probability a Redis restart loses its data
	HostCrash     float64
	StallRate     float64
	StallMax      time.Duration
	JumpRate      float64
	JumpMax       time.Duration

	// Scenario.
	KillMaster bool          // kill the initial master at the start of the safety phase
	KillHost   int           // 0: host or Redis at random, 1: the host, 2: the Redis process only
	Warmup     time.Duration // fault-free time before the safety phase
	Safety     time.Duration // length of the safety phase
	Liveness   time.Duration // bound on convergence once everything is healed
	Clients    int
	WriteEvery time.Duration

	// Adversary publishes forged hellos on the monitored Redis instances
	// during the safety phase (adversary.go).
	Adversary bool

	// Trace receives one line per event when non-nil.
	Trace io.Writer
	// TraceTail is how many trace lines a failure report keeps.
	TraceTail int

	// Mutate, when set, deliberately breaks the runtime so that tests can
	// check that the invariants catch it.
	Mutate Mutation

	// SharedPublishLink (tests only) sends hello PUBLISHes to Redis on the
	// Node's command link, behind and ahead of its PINGs and INFOs, as the
	// runtime did before issue 13, instead of on a connection of their own.
	SharedPublishLink bool
}

// Mutation is a deliberate runtime bug used to prove the checker can fail.
type Mutation int

// Mutations.
const (
	MutateNone Mutation = iota
	// MutateAmnesia loses the persisted state on every agent restart.
	MutateAmnesia
	// MutateNoFence keeps the VIP on a host whose agent asked to release it.
	MutateNoFence
	// MutateDeafReplica makes Redis answer OK to SLAVEOF <host> <port>
	// without acting on it.
	MutateDeafReplica
)

// Calm reports whether o injects no faults besides the scripted master kill.
func (o *Options) Calm() bool {
	return o.Partition == PartitionNone && o.AgentCrash == 0 && o.RedisCrash == 0 &&
		o.HostCrash == 0 && o.StallRate == 0 && o.JumpRate == 0 && o.Loss == 0
}

// String renders the swarm in one line, printed after SEED=.
func (o *Options) String() string {
	return fmt.Sprintf("agents=%d quorum=%d down-after=%v failover-timeout=%v fence=%v prio0=%v min-replicas=%d rename=%v sync=%v+%v/write+%v vip-delay=%v "+
		"loss=%.2f delay=%v+%v dup=%.2f partition=%v asym=%v/%.3f crash=%.3f/%.3f/%.3f wipe=%.2f stall=%.3f jump=%.3f drift=%dppm kill-master=%v adversary=%v",
		o.Agents, o.Quorum, o.DownAfter, o.FailoverTimeout, o.Fence, o.Priority0, o.MinReplicas, o.Rename, o.SyncBase, o.SyncPerWrite, o.SyncLoad, o.VIPDelay,
		o.Loss, o.DelayMin, o.DelayMean, o.Dup, o.Partition, o.Asymmetric, o.PartitionRate,
		o.AgentCrash, o.RedisCrash, o.HostCrash, o.RedisWipe, o.StallRate, o.JumpRate, o.ClockDrift, o.KillMaster, o.Adversary)
}

// Swarm derives a run's options from its seed (swarm testing: every seed
// gets its own mix of fault kinds and intensities). agents forces the number
// of agents when non-zero.
func Swarm(seed uint64, agents int) Options {
	r := newRand(seed, "swarm", 0)
	o := Options{
		Seed:           seed,
		Tick:           10 * time.Millisecond,
		TiltPeriod:     []time.Duration{5 * time.Second, 10 * time.Second, 30 * time.Second}[r.Intn(3)],
		FsyncMax:       time.Duration(r.Intn(6)) * time.Millisecond,
		ClockDrift:     r.Intn(3) * 500,
		ConnectTimeout: time.Duration(200+r.Intn(1800)) * time.Millisecond,
		TCPTimeout:     time.Duration(3+r.Intn(28)) * time.Second,
		ReplPeriod:     time.Duration(10+r.Intn(90)) * time.Millisecond,
		KillMaster:     r.Intn(8) != 0,
		Warmup:         6 * time.Second,
		Safety:         time.Duration(12+r.Intn(14)) * time.Second,
		Clients:        1 + r.Intn(2),
		WriteEvery:     time.Duration(50+r.Intn(150)) * time.Millisecond,
	}
	switch {
	case agents > 0:
		o.Agents = agents
	default:
		o.Agents = []int{3, 3, 3, 5, 5, 7}[r.Intn(6)]
	}
	maj := o.Agents/2 + 1
	o.Quorum = maj
	if r.Intn(4) == 0 && maj > 2 {
		o.Quorum = maj - 1
	}
	o.DownAfter = []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second}[r.Intn(4)]
	o.FailoverTimeout = []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}[r.Intn(3)]
	o.Fence = r.Intn(3) != 0
	// Some replicas must never be promoted; keep at least one candidate.
	for h := 1; h < o.Agents-1; h++ {
		if r.Intn(4) == 0 {
			o.Priority0 = append(o.Priority0, h)
		}
	}
	if r.Intn(3) == 0 {
		o.MinReplicas = 1
	}
	// Drawn apart so that adding it did not change the other options a
	// seed stands for.
	o.Rename = newRand(seed, "swarm-rename", 0).Intn(4) == 0
	o.Adversary = newRand(seed, "swarm-adversary", 0).Intn(3) == 0
	// Full syncs from about 50 ms to several seconds for the datasets a
	// run builds (a few hundred writes), so that masters die mid-sync.
	rs := newRand(seed, "swarm-sync", 0)
	o.SyncBase = time.Duration(50+rs.Intn(950)) * time.Millisecond
	o.SyncPerWrite = time.Duration(rs.Intn(10000)) * time.Microsecond
	// Half the runs load a full sync's RDB for up to 2 s after the
	// transfer, as Redis does (the guard counts the loading replica).
	if rl := newRand(seed, "swarm-syncload", 0); rl.Intn(2) == 0 {
		o.SyncLoad = time.Duration(rl.Intn(2000)) * time.Millisecond
	}
	// Half the runs on a kernel whose agents retransmit after tcprto.Min.
	if newRand(seed, "swarm-rtomin", 0).Intn(2) == 0 {
		o.AgentRTOMin = tcprto.Min
	}
	if rv := newRand(seed, "swarm-vipdelay", 0); rv.Intn(4) != 0 {
		o.VIPDelay = time.Duration(1+rv.Intn(30)) * time.Millisecond
	}

	o.DelayMin = time.Duration(50+r.Intn(950)) * time.Microsecond
	o.DelayMean = time.Duration(r.Intn(20)+1) * time.Millisecond
	o.Liveness = 3*o.FailoverTimeout + 4*o.DownAfter + o.TiltPeriod + 30*time.Second

	if r.Intn(8) == 0 {
		return o // calm: only the master kill
	}
	if r.Intn(3) != 0 {
		o.Loss = r.Float64() * 0.3
	}
	if r.Intn(4) == 0 {
		o.Dup = r.Float64() * 0.2
	}
	o.Partition = PartitionMode(r.Intn(5))
	o.Asymmetric = r.Intn(3) == 0
	o.PartitionRate = r.Float64() * 0.2
	o.PartitionMax = time.Duration(1+r.Intn(15)) * time.Second
	if r.Intn(2) == 0 {
		o.AgentCrash = r.Float64() * 0.05
		o.AgentDownMax = time.Duration(1+r.Intn(10)) * time.Second
	}
	if r.Intn(2) == 0 {
		o.RedisCrash = r.Float64() * 0.05
		o.RedisDownMax = time.Duration(1+r.Intn(10)) * time.Second
		o.RedisWipe = r.Float64() * 0.5
	}
	if r.Intn(4) == 0 {
		o.HostCrash = r.Float64() * 0.02
	}
	if r.Intn(3) == 0 {
		o.StallRate = r.Float64() * 0.05
		o.StallMax = time.Duration(100+r.Intn(5000)) * time.Millisecond
	}
	if r.Intn(4) == 0 {
		o.JumpRate = r.Float64() * 0.03
		o.JumpMax = time.Duration(100+r.Intn(5000)) * time.Millisecond
	}
	return o
}
