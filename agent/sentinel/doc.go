// Package sentinel is the Redis Sentinel algorithm as a pure, deterministic
// state machine: it monitors masters, replicas and peer agents, detects
// SDOWN and ODOWN, elects a leader per epoch, promotes a replica,
// reconfigures the others, propagates configurations through hellos, and
// decides which agent should hold each master's floating IP.
//
// The Node has no goroutines, sockets or clocks. Like etcd-io/raft, the
// runtime feeds it inputs with Step(now, input) (ticks, connection events,
// replies, hellos) and collects what it wants done with Ready(): commands to
// send, events to log and publish, scripts to run, the desired VIP set, and
// the state to persist first. Randomness comes only from Config.Rand, and
// maps are always walked in sorted order, so the same inputs always give the
// same outputs.
//
// Wire formats (hello payloads, is-master-down-by-addr, the failover
// transactions, event payloads) are Redis Sentinel's, so agents can run in a
// group together with real redis-sentinel 7.0 processes.
//
// # Timing
//
// The rules that decide when an instance is down are Sentinel's: an instance
// is SDOWN once it has not answered a PING for more than down-after, so a
// blip shorter than down-after never causes a failover. What changes is how
// fast everything around that rule happens, so that a master is moved within
// down-after + 150 ms of its death (down-after 1 s, RTT < 1 ms, 10 ms ticks):
//
//   - instances are pinged every min(ping-period, max(10ms, down-after/10)),
//     so the first unanswered PING leaves at most down-after/10 after a death
//     (Sentinel: up to 1 s);
//   - on entering SDOWN the peers are asked at once, then every
//     min(ask-period, max(10ms, down-after/20)), and every reply is acted upon
//     immediately (Sentinel: 1 s asks, 100 ms timer runs);
//   - a failover starts after a random jitter of at most
//     min(20ms, down-after/20) instead of up to 1 s of desync; a vote given to
//     a peer during the jitter cancels our own attempt;
//   - the election is re-evaluated on every vote reply; an attempt that
//     cannot win (or times out after min(election-timeout, failover-timeout,
//     max(100ms, down-after/4))) is retried with a fresh epoch after a
//     randomized, doubling back-off (after a split vote, the candidate with
//     the lower run id retries after the start jitter and the others yield
//     a round), never giving two votes in an epoch; the
//     2×failover-timeout wait is kept after a promotion that timed out, and
//     when the elected leader is a real redis-sentinel;
//   - the failover state machine moves through as many states as it can per
//     step; INFO is pipelined behind SLAVEOF NO ONE and polled every
//     down-after/20 while waiting for the promotion and the replica
//     reconfigurations; hellos go to every instance and sentinel at once after
//     a promotion;
//   - a Redis command connection that comes back (a promotion's CLIENT KILL
//     closes it) is asked INFO at once, and an agent that voted for a peer's
//     failover asks its local replicas every down-after/20 until the switch,
//     so the new master's host knows its role at its +switch-master.
//
// # Forced failover
//
// SENTINEL FAILOVER of a healthy master does what Redis's FAILOVER command
// does, so that no acknowledged write is lost to asynchronous replication:
// the leader pauses writes on the master (CLIENT PAUSE WRITE), reads its
// master_repl_offset once the pause is in force, and promotes the selected
// replica only when the replica's slave_repl_offset has reached it. If it
// does not within min(failover-timeout, 5 s, down-after/2), the failover is
// aborted and the pause lifted. The replica's INFO is asked every tick
// meanwhile. A master that cannot be paused (Redis
// before 6.2, CLIENT disabled, the pause refused) is failed over as
// Sentinel does, with the warning +failover-no-pause. After the
// promotion the leader demotes the old master itself and keeps it paused
// until it reports role:slave. A master that is down is failed over as
// before. The events are +failover-pause-master, +failover-wait-replica-offset,
// +failover-replica-caught-up, -failover-abort-replica-lagging,
// -failover-abort-pause-failed, +failover-no-pause and -failover-pause-master; design.md gives
// the details.
//
// # Maintenance and switchover
//
// Pause puts a master in maintenance (Maintenance, persisted in
// MasterState): the Node starts no failover of it (reporting the first
// suppressed one as -failover-suppressed-maintenance) and gives no vote for
// one, so a group whose majority is paused cannot fail it over even if an
// agent that missed the pause tries. Detection, the VIP and fencing are
// unchanged, and the operator's own SENTINEL FAILOVER and FailoverTo still
// run. A timed pause ends on the first Tick whose Wall (the runtime's wall
// clock) reaches its end, so the end holds across restarts; the Node reads
// no clock. Events: +maintenance, -maintenance. FailoverTo is SENTINEL
// FAILOVER's safe switchover to a named replica, refused with the rule
// that excludes it when that replica does not qualify, and aborted rather
// than redirected if it stops qualifying before it is selected.
//
// # Replica selection
//
// A failover promotes the best replica by Sentinel's rules and order, but
// never one whose latest INFO shows it has not finished a sync with the
// current master (loading, a full sync in progress, never connected since
// it became a replica with no data, replicating from another instance, or
// reporting role:master while the master's last INFO did not list it as a
// replica): its dataset is empty, partial, or another history's. Unless no other replica is eligible and
// the master's AllowUnsyncedPromotion is set, the failover is aborted with
// -failover-abort-no-good-slave, each replica's reason in the event's
// Detail and in ReplicaCandidates. redis-sentinel has no such rule.
//
// # Replicas that acknowledge without receiving
//
// The agent of a local master whose INFO shows Redis's write guard
// (min_slaves_good_slaves) reads that INFO every 250 ms and disconnects
// (CLIENT LIST, CLIENT KILL ID) a replica the guard counts as good (online,
// fresh lag) that has not acknowledged the master offset of 2 s earlier:
// a one-way cut lets its acknowledgements through while it receives
// nothing, and the guard would count it until TCP gives up. Redis then
// refuses writes no replica receives. A replica online at offset 0 after
// a full sync is loading its RDB while the guard counts it: it is
// disconnected at once if the master advanced since the sync began and no
// other counted replica receives (it resumes by PSYNC once loaded). Not with the master's
// AllowUnreplicatedWrites, in TILT, or during a failover or a pause.
// Event: +replica-not-receiving. replwatch.go has the rule and its bound
// (ReplicationWindow).
//
// # Trust
//
// A hello only proposes a peer: it counts (voter, VIP-lease granter,
// source of configurations, persisted) once the runtime verified it on our
// own command link to it (LinkUp.Proof; package peerproof). Proposed peers
// are bounded in number and forgotten when not verified in time. A higher
// config epoch or a new master address is adopted only with evidence: a
// verified peer's hello over an authenticated path (Hello.Authenticated,
// or its own address with no requirepass); a hello through pub/sub never
// is (a vote we know of and a replica reporting role:master do not say
// who was elected with which master). Epochs more than MaxEpochJump
// ahead are refused unless a majority of the group vouches for them,
// arithmetic on epochs saturates, votes go only to
// verified peers, and Config.MinAgents, when set, is the group size for
// every majority. trust.go has the rules.
//
// # Boot confirmation
//
// A Node restarted from its state whose configuration names a master on
// its own host, with other agents known, does not serve that
// configuration (MasterAddr reports the master unknown, the VIP is not
// wanted) until a majority of agents confirmed it with trusted hellos, a
// newer configuration moved the master, or a bounded wait passed
// (+config-unconfirmed, -config-unconfirmed); no wait ends it while a
// replica it lists reports role:master, and meanwhile it converts no
// instance. A host powered off as master
// and booted after a failover thus never sends clients to its stale
// master. bootconfirm.go has the rules.
//
// # Floating IP and fencing
//
// A master's VIP is wanted by the agent whose host the latest configuration
// names, while the local instance reports role:master and answers PINGs,
// outside TILT, and (with fencing) while a majority of agents grants it an
// exclusive lease of down-after/3 (grant.go). An isolated master's agent
// therefore drops the VIP and pauses writes (CLIENT PAUSE WRITE) before the
// majority can even see the master as SDOWN, and two hosts never hold
// grants from a majority at once. Only a master whose lease this agent held
// in this run is ever paused: a start, a restart or a group built host by
// host never touches writes. design.md gives the argument and the fencing
// state machine (fence.go).
//
// When the master leaves this host, the agent releases its lease early
// (release.go): each VIPIntent carries a Gen, the runtime reports the VIP
// manager's confirmed removal of the intent that dropped the VIP as the
// input VIPGone, and only then does the Node stop counting its grants and
// tell the peer agents (+lease-release), which free the grants they gave
// it alone (+lease-freed) so that the new master's host is granted at once.
// The leader of a failover grants the promoted replica's address from the
// moment it has seen it promoted (under the same rules, its own claim of
// the old address released first), not only once its failover has ended.
package sentinel
