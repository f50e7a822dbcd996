// Package sim is a deterministic simulator for vipsentinel, in the style of
// TigerBeetle's VOPR and FoundationDB's simulation. It runs several real
// sentinel.Node state machines, each inside a simulated copy of the agent
// runtime, against modelled Redis instances, clients and a faulty network,
// under virtual time, in one goroutine. One uint64 seed drives every random
// choice (one *rand.Rand per purpose, one per agent), so a failing seed
// reproduces exactly; the first trace line is SEED=<seed>.
//
// # What is modelled
//
// Runtime: the agent's single-threaded loop drives its Node with the driver
// agent/runtime uses (agent/driver): every input goes through Node.Receive,
// which runs the timer pass only when it asks to, and a Tick comes when the
// timer set from Node.Quiet fires (10 ms while anything is going on, up to a
// PING period when all is calm; an input only moves it earlier). It persists
// Ready.State to the agent's disk (a write takes up to FsyncMax, during
// which the loop blocks), and only then sends that Ready's commands and any answer (a vote)
// obtained since the previous Ready. A crash loses the Ready being written,
// never a persisted one. A crashed agent leaves the VIP configured until it
// starts again (its start-up reconcile removes it); a crashed host loses it.
// The VIP manager applies the latest intents it was given up to
// Options.VIPDelay late (drawn per seed: 0 in a quarter of them, else
// 1–30 ms), dies with its process, and confirms each removal it applied
// to the Node (sentinel.VIPGone), after which the old holder releases
// its lease to the peers (agent/sentinel/release.go): the release
// travels as a PUBLISH to the peers' API, as a hello does.
//
// Network: every connection is a pair of TCP-like streams over directed
// links: ordered, retransmitted with exponential backoff when a packet is
// lost (per-link loss rates; loss is a delay, never a lost message), what
// was sent behind a lost packet arriving with its retransmission as from
// TCP's receive buffer, held while a link is cut and delivered after the
// cut heals, broken after a TCP timeout. Partitions are symmetric or
// one-way. A process that dies resets its connections (RST) when its host
// is up; a host that dies answers nothing. Hellos may be delivered twice.
// A server reads each connection in order: a command it blocks holds every
// later one on that connection. The runtime sends hello PUBLISHes to Redis
// on a connection of its own, as agent/redislink does, so that a PUBLISH a
// paused master blocks never delays a PING or an INFO (Options.
// SharedPublishLink restores the shared link, for the test that shows why).
//
// Redis: role, replicaof, run_id, an ordered write log standing for the
// dataset (offsets derive from it), replicas pulling from their master while
// the link is up, partial resync when their log is a prefix of the master's
// and full resync (losing their tail) otherwise; a full sync (also for a
// replica with no data) takes time in proportion to the dataset, during
// which INFO reports master_link_status:down and master_sync_in_progress:1
// (and, before the first one, master_link_down_since_seconds:-1 and offset
// 1) and the replica keeps its old data, then with Options.SyncLoad loads
// the RDB (the master's log as of the sync's start) while its master shows
// it online at offset 0 and the guard counts it; appendfsync everysec
// (a crash keeps the log as of the last second, or nothing when wiped),
// slave-priority, min-replicas-to-write, pub/sub on the hello channel,
// INFO rendered as redis-server 7.0 does (min_slaves_good_slaves with the
// guard), a replica cut one way from its master that keeps its link and
// its acknowledgements (the master counts it as good, its offset frozen)
// until repl-timeout, MULTI/EXEC with SLAVEOF,
// CONFIG REWRITE (what a restart comes back as), CLIENT KILL (TYPE, and ID
// of a replication link, which the replica must re-establish both ways),
// CLIENT LIST TYPE replica, CLIENT PAUSE
// WRITE (PUBLISH and client writes wait for the pause to end, as in Redis
// 7; PING, INFO and admin commands are answered) and SCRIPT KILL; for the
// scripted scenarios, requirepass (Options.RedisPass: a connection whose
// AUTH is refused is reported as AuthFailed) and replicas streaming writes
// a fixed time late (Options.ReplLag).
//
// Clients write through the VIP: ARP resolution follows gratuitous ARPs of
// new holders, a host only answers for an address it holds, acknowledged
// writes are recorded, and a run reports the acknowledged writes the final
// master does not have.
//
// Adversary (a third of the seeds, Options.Adversary): an ordinary client
// of the Redis instances that PUBLISHes forged hellos on their hello
// channel during the safety phase: a higher epoch naming its own address,
// phantom agents, epoch 2^64-1, a real agent's run id at another address,
// a real agent's run id at its real address naming a real replica, and
// phantom run ids at real agents' addresses. Its announced agents live at
// unroutable addresses, or are real agents with another run id: the
// modelled peer endpoint proves its run id (the open-mode proof of
// redislink) and one that cannot fails the connection, as the runtime
// does.
//
// # Phases
//
// A run has a fault-free start (agents discover each other), then a safety
// phase in which the swarm's faults are injected (loss, delays, partitions,
// agent/Redis/host crashes, stalls, clock jumps) and, in most seeds, the
// initial master (host or Redis process) is killed at its start; then a
// liveness phase in which everything is healed (no cuts, no loss, every
// process up) and the cluster must converge within Options.Liveness.
//
// # Invariants, checked after every event
//
//   - at most one +elected-leader per epoch, and only with votes from a
//     majority of all agents (and at least the quorum);
//   - at most one vote per agent per epoch, across restarts: +vote-for-leader
//     events, persisted Leader/LeaderEpoch and the is-master-down answers the
//     runtime sent must agree, and an answer carrying a vote leaves only
//     after the vote was persisted;
//   - persisted current, leader and config epochs never go backwards, the
//     myid never changes, and one config epoch never names two masters;
//   - every configuration an agent persists (config epoch > 0) was produced
//     by an election the checker saw, and names a real Redis: forged hellos
//     alone never move the master;
//   - a failover (+try-failover) starts only in ODOWN and never in TILT;
//     SLAVEOF NO ONE is sent only by the elected leader of its failover; no
//     SLAVEOF/REPLICAOF is sent in TILT; a slave-priority 0 replica is never
//     promoted;
//   - no replica is selected for promotion (+selected-slave) while the
//     latest INFO the agent took in from it was rendered while it was in a
//     full sync, loading, or replicating with no data and no completed sync
//     (issue 13: an empty replica promoted over a healthy dataset);
//   - an agent whose ticks are further apart than the TILT trigger is in
//     TILT after that tick;
//   - the fence window (fence yes): a VIP holder must let go within the lease
//     (sentinel.FenceLease: down-after/3, plus the runtime's slack: two ticks,
//     the disk write, the VIP manager's delay, clock drift, 50 ms) counted from the moment it could
//     no longer reach a majority of the agents in both directions, and from
//     the moment another host holds the VIP with a newer config epoch; time
//     during which the holder's agent cannot act (crashed, stalled) is
//     excused, since only a hardware watchdog can fence then. A VIP claim
//     made with an older config epoch than a current holder's is a
//     violation. Without fencing overlaps are measured only;
//   - liveness: after healing, every agent persists the same master address
//     and config epoch, that Redis is the only master, every other instance
//     replicates from it with its link up, and only its host holds the VIP,
//     continuously for 2 s, within Options.Liveness.
//
// # Running
//
//	go test ./agent/sim/                                   # 2000 seeds (50 with -race)
//	go test ./agent/sim/ -run 'TestSeeds$' -sim.seeds 20000 -sim.base 5000
//	go test ./agent/sim/ -run 'TestSeeds$' -sim.seed 491 -v  # one seed, full trace
//	go test ./agent/sim/ -run 'TestSeeds$' -sim.agents 7 -sim.list -v
//	go test ./agent/sim/ -run 'TestLossFailover$' -sim.lossseeds 300 -v  # failover times at 10 % / 30 % loss
//
// A failing seed prints the invariant, the swarm, the command that
// reproduces it and the tail of its trace; the sweep reruns it to check that
// the failure is deterministic.
package sim
