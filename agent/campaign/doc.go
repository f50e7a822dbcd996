// Package campaign runs a randomized fault campaign (a Jepsen-style
// "nemesis") against a real deployment in a lab: three hosts with
// redis-server and the agent, configured as the README recommends
// (passwords, min-agents 3, fence yes, one floating IP), with persistent
// Redis (AOF, fsync at every write) so that a killed or rebooted server
// keeps what it acknowledged, and with the replica guard the README
// recommends (min-replicas-to-write 1, min-replicas-max-lag 2; Config.Guard):
// a master no replica acknowledges refuses writes with -NOREPLICAS
// instead of acknowledging writes that exist on it alone.
//
// # Faults
//
// Schedule turns a seed into a deterministic list of steps, each a fault on
// a host named by its role when the step starts (the master, or the n-th
// replica): kill -9 and restart of a redis-server; kill -9, restart, and
// SIGSTOP/SIGCONT of an agent; power-off (every process killed, every link
// cut, its addresses gone) and boot; a full partition from the other hosts
// (clients still reach it) and one-way partitions in either direction;
// links flapping with cuts shorter than down-after; random packet loss; and
// a rolling restart of every agent. Faults follow each other with quiet
// gaps and sometimes overlap on two hosts. Replaying a seed replays the
// schedule; where each step lands depends on where the master is then.
//
// # Checks
//
// While the faults run, a client writes unique keys through the floating
// IP and another writes where the agents' Sentinel API says the master is
// (SENTINEL GET-MASTER-ADDR-BY-NAME), and the campaign checks:
//
//   - the floating IP is never on two hosts (sampled every 10 ms from the
//     namespaces; a powered-off host holds nothing);
//   - two masters that clients can reach (named by an agent or holding the
//     floating IP) never both accept writes for longer than the fence
//     window (sentinel.FenceLease plus a sampling period either side);
//   - no agent exits unless the nemesis made it, no agent's RSS exceeds a
//     bound, no agent's config epoch ever goes backwards;
//
// and once every fault has healed:
//
//   - the group converges (every agent names one master, whose redis-server
//     is a master, every other redis-server replicates from it with its
//     sync done, the floating IP on its host only) within a bound;
//   - no failover was spurious: a failover that started at t is spurious
//     when no fault that can silence the old master's redis-server (kill,
//     power-off, a cut, flapping or loss on its host) was in force during
//     [t - down-after - 1 s, t] and a majority of the hosts had no fault on
//     their links or power in that window (the second of grace covers TCP
//     retransmission after a heal). Faults on agent processes alone (kill,
//     stop, restart) excuse nothing: they cannot make a reachable master
//     look down;
//   - every acknowledged write of both clients is on the final master,
//     except writes acknowledged inside a failover's fence window: from the
//     start of a fault that caused it (less 100 ms of replication slack)
//     until the switch. Those are counted and placed per failover. A lost
//     write outside every fence window is still accounted for, not a
//     violation, when it was acknowledged within the replication bound
//     (sentinel.ReplicationWindow plus a second) after the replica the
//     failover promoted last received from the old master (its own
//     slave_repl_offset, sampled every 100 ms; after a full sync, the
//     master's first sample showing it online at offset 0, when the RDB it
//     then loads had been received), and that replica received
//     nothing more before the switch: the window the master's agent
//     (+replica-not-receiving) and Redis's guard bound. Those are reported
//     per failover with the measured window; every other lost write is a
//     violation.
//
// Writes the servers refused (-NOREPLICAS, -READONLY, ...) were never
// acknowledged, so they are not lost: the report counts them apart, per
// error code, with the NOREPLICAS episodes of the floating-IP client, and
// a histogram of the masters' best replica lag (sampled every 100 ms) that
// shows how close the guard came to refusing.
//
// Every run reports its seed, the schedule, a timeline (the nemesis, the
// checks, the agents' failover, fence and VIP events from their logs) and
// its figures. The package's test runs one short campaign in the normal
// suite; "vipsentinel bench -case campaign -for 1h" runs long ones.
package campaign
