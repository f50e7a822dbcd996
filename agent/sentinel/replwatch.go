package sentinel

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Replicas that acknowledge without receiving (issue 13).
//
// Redis's own guard (min-replicas-to-write, min-replicas-max-lag) counts a
// replica as good while its REPLCONF ACKs are fresh: it measures that the
// replica talks, not that it receives. A one-way cut that stops the
// master's stream to a replica but lets the replica's ACKs through leaves
// the replica counted, with its acknowledged offset frozen, for as long as
// TCP keeps the connection (minutes): the master acknowledges every write,
// and a failover to that replica loses them all. The fault campaign lost
// 831 writes that way.
//
// The agent of a local master therefore watches the master's INFO at
// ReplWatchPeriod while the guard is configured, remembers the
// master_repl_offset values it saw with their times, and when a replica
// the guard counts (state=online, lag fresh) has not acknowledged the
// offset the master had replicationBound ago, it disconnects that replica
// on the master (CLIENT LIST TYPE replica, then CLIENT KILL ID). Redis then
// stops counting it at once (the guard's count is refreshed when a replica
// client is freed) and refuses writes with -NOREPLICAS if too few good
// replicas remain; the replica must reconnect, which a one-way cut
// prevents (the handshake needs both directions) and which a healthy one
// does at once, resuming from the backlog. So the writes a failover can
// lose to such a cut are those of at most replicationBound plus two watch
// periods, instead of an unbounded window.
//
// A replica that has just been fully synced is the other way the guard
// counts a replica that holds nothing recent: Redis 7.0 shows it online
// at offset 0, with a fresh lag, while it loads the RDB, and streams it
// the writes of the load only after its first ACK. The watch remembers
// replicas it saw in wait_bgsave or send_bulk and disconnects one at the
// first INFO showing it online at offset 0 if the master advanced since
// the sync began and no other counted replica receives; a replica online
// at offset 0 that the watch did not see syncing is disconnected once it
// has been so for the bound.
//
// Why this design rather than the alternatives: pausing writes would be a
// second user of CLIENT PAUSE (the fence and the forced failover own it);
// refusing writes in the agent is not possible (clients talk to Redis
// directly); killing every replica link (CLIENT KILL TYPE replica) would
// also abort the full sync of a healthy replica. CLIENT KILL in Redis 7.0
// has no filter naming a replica's listening port, so the connection is
// found by the replica's address in CLIENT LIST: replicas sharing that IP
// address (several on one host) are disconnected together, and the healthy
// ones resume from the backlog.
//
// Cost while the guard is configured and nothing is wrong: one INFO of the
// local master every ReplWatchPeriod instead of every InfoPeriod (4 INFO
// per second of a few KiB each, on the loopback or a LAN; well under 1 ms
// of Redis CPU per second), and a few samples kept per master. Nothing is
// sent to remote masters, and nothing at all when the operator set
// allow-unreplicated-writes or the guard is off.

const (
	// replicationBound is how long a replica the guard counts may go
	// without acknowledging an offset the master had. Replicas acknowledge
	// once a second, so a healthy replica's acknowledged offset trails the
	// master's by about a second plus a round trip; two seconds leaves a
	// late acknowledgement (a TCP retransmission) a second of room, as
	// min-replicas-max-lag 2 (the README's recommendation) does for Redis's
	// own guard.
	replicationBound = 2 * time.Second
	// ReplWatchPeriod is the INFO period of a watched local master.
	ReplWatchPeriod = replicationBound / 8
	// maxListReply bounds the CLIENT LIST reply the Node parses.
	maxListReply = 1 << 20
)

// ReplicationWindow is the longest a local master's agent lets a replica
// Redis counts as good go without receiving, from the moment it stopped,
// before disconnecting it: the bound, plus the watch period before the
// master offset it misses is sampled and the one before it is seen missed.
// Writes the master acknowledged in that window after the replica stopped
// are the ones a failover to it can lose (agent/campaign accounts for them).
const ReplicationWindow = replicationBound + 2*ReplWatchPeriod

// offsetSample is a master_repl_offset and when the INFO that showed it
// arrived.
type offsetSample struct {
	at  Time
	off int64
}

// replWatch is the watch of one local master's replicas.
type replWatch struct {
	inst    *instance       // the master instance watched; another one starts over
	active  bool            // watching: INFO every ReplWatchPeriod
	samples []offsetSample  // oldest first; the newest older than the bound and all later ones
	online  map[string]Time // replica address -> first INFO of the current online streak
	// unacked: replica address -> the first INFO of its current streak
	// showing it online with offset 0, and the master offset then.
	unacked map[string]offsetSample
	// syncing: replica address -> the first INFO showing it in a full
	// sync (wait_bgsave, send_bulk), and the master offset then; kept
	// until it acknowledges something once online.
	syncing map[string]offsetSample
	killed  map[string]Time  // replica address -> when it was last disconnected
	listing uint64           // id of the CLIENT LIST in flight, 0 if none
	stalled []stalledReplica // what that CLIENT LIST is for
}

// stalledReplica is a replica found not receiving.
type stalledReplica struct {
	addr      Addr
	offset    int64 // its acknowledged offset
	masterOff int64 // the master offset it has not reached
	age       time.Duration
	loading   bool // online at offset 0 after a full sync: loading its RDB
}

// watchesReplication reports whether the Node applies the rule to m now,
// given the master's latest INFO.
func (n *Node) watchesReplication(m *master, info *Info) bool {
	mi := m.inst
	return n.watchable(m, info) && !info.Loading && !n.tilt &&
		m.failoverState == stateNone && mi.flags&fFailoverInProgress == 0 &&
		!m.hold.active && !m.pause.active
}

// watchable reports whether m's master, as info shows it, is one the rule
// applies to once nothing passing holds it off (TILT, a pause, a failover,
// a load): a local master running the guard, with unreplicated writes not
// allowed. Its INFO runs at ReplWatchPeriod whenever it is watchable, not
// only while the watch is active: the watch starts or resumes only at an
// INFO, and at InfoPeriod (10 s) it stayed blind for up to that long
// after the state that held it off ended, or after a switch that carried
// the promoted replica's INFO over to the new master instance (the local
// agent led the failover), while a replica fully synced and Redis counted
// it as it loaded (issue 13: the one-hour campaign's 92 writes lost beyond
// the bound, and its 1,055 of epoch 401278).
func (n *Node) watchable(m *master, info *Info) bool {
	return info != nil && info.Guarded && !m.cfg.AllowUnreplicatedWrites &&
		strings.EqualFold(info.Role, "master") && n.isLocal(m.inst.addr)
}

// watchReplication is run on every INFO of m's master instance.
func (n *Node) watchReplication(m *master, info *Info) {
	w := &m.repl
	now := n.now
	watching := n.watchesReplication(m, info)
	if w.inst != m.inst || !watching {
		// Held off (TILT, a pause, a failover, a load), the watch starts
		// over, except for the full syncs it saw begin: a replica whose
		// sync began and whose transfer ended while the watch was held
		// off is loading when it resumes, and only the sighting says so
		// at once; without it rule (c) would wait out the bound.
		watchable := n.watchable(m, info)
		var syncing map[string]offsetSample
		if w.inst == m.inst && watchable {
			syncing = w.syncing
		}
		*w = replWatch{inst: m.inst, syncing: syncing}
		if !watching {
			if watchable {
				w.noteSyncs(info, now)
			}
			return
		}
	}
	w.active = true
	if k := len(w.samples); k > 0 && info.MasterReplOffset < w.samples[k-1].off {
		// A new replication history (a restart without data): offsets
		// observed before mean nothing now.
		w.samples = w.samples[:0]
	}
	w.samples = append(w.samples, offsetSample{at: now, off: info.MasterReplOffset})
	ref := -1 // newest sample at least the bound old
	for i, s := range w.samples {
		if now-s.at >= replicationBound {
			ref = i
		}
	}
	if ref > 0 {
		w.samples = append(w.samples[:0], w.samples[ref:]...)
		ref = 0
	}
	if w.online == nil {
		w.online = map[string]Time{}
	}
	if w.unacked == nil {
		w.unacked = map[string]offsetSample{}
	}
	w.noteSyncs(info, now)
	seen := make(map[string]bool, len(info.Replicas))
	var stalled, loading []stalledReplica
	receiving := false // a replica the guard counts has acknowledged what the master had the bound ago
	for _, rep := range info.Replicas {
		key := rep.Addr.String()
		if rep.State != "online" {
			continue
		}
		seen[key] = true
		if rep.Offset != 0 {
			delete(w.unacked, key)
			delete(w.syncing, key)
		} else if _, ok := w.unacked[key]; !ok {
			w.unacked[key] = offsetSample{at: now, off: info.MasterReplOffset}
		}
		counted := rep.Lag >= 0 && time.Duration(rep.Lag)*time.Second <= replicationBound
		k, recent := w.killed[key]
		recent = recent && now-k < replicationBound
		// Online at offset 0 after a full sync seen by this watch: the
		// transfer has ended and the replica is loading the RDB (it
		// acknowledges only once loaded), so it is judged from the first
		// such INFO rather than after the bound. A partial resync never
		// goes through wait_bgsave or send_bulk, so its brief offset 0
		// (until its first ACK, under a second) is not taken for a load.
		if z, ok := w.syncing[key]; ok && rep.Offset == 0 && counted && !recent {
			if info.MasterReplOffset > z.off {
				loading = append(loading, stalledReplica{addr: rep.Addr, offset: 0, masterOff: z.off, age: now - z.at, loading: true})
			}
			if _, ok := w.online[key]; !ok {
				w.online[key] = now
			}
			continue
		}
		since, ok := w.online[key]
		if !ok {
			w.online[key] = now
			continue
		}
		if ref < 0 {
			continue
		}
		s := w.samples[ref]
		// A replica judged has been online since before the sample and
		// has acknowledged something (a fresh link shows offset 0 until
		// its first ACK, and a reconnection between two INFOs does not
		// break the streak), is counted by the guard (its lag is
		// fresh), and has not acknowledged what the master had the bound
		// ago, which implies the master's offset advanced past it: an
		// idle master never trips the rule.
		if counted && rep.Offset >= s.off {
			receiving = true
		}
		if recent {
			continue
		}
		// Offset 0 with a fresh lag past the bound is not a fresh link
		// (those acknowledge within a second) but a replica loading the
		// RDB of a full sync: Redis 7.0 puts it online when the transfer
		// ends and its keepalive newlines while it loads keep its lag
		// fresh, so the guard counts it while the writes it acknowledges
		// wait, unsent, in the master's output buffer (issue 13: four
		// failovers of a one-hour campaign lost 3.8 to 6.2 s of writes
		// that way). Disconnected, it resumes from the backlog once
		// loaded (PSYNC; checked against redis-server 7.0.15).
		if z, ok := w.unacked[key]; ok && rep.Offset == 0 {
			if counted && now-z.at >= replicationBound && info.MasterReplOffset > z.off {
				loading = append(loading, stalledReplica{addr: rep.Addr, offset: 0, masterOff: z.off, age: now - z.at})
			}
			continue
		}
		if since > s.at || !counted || rep.Offset >= s.off {
			continue
		}
		stalled = append(stalled, stalledReplica{addr: rep.Addr, offset: rep.Offset, masterOff: s.off, age: now - s.at})
	}
	// A loading replica matters only when no replica the guard counts is
	// receiving: one that is holds the writes, and a promotion prefers
	// its larger offset. Leaving it alone then spares it a second full
	// sync should the writes of its load outgrow the backlog.
	if !receiving {
		stalled = append(stalled, loading...)
	}
	for key := range w.online {
		if !seen[key] {
			delete(w.online, key)
		}
	}
	for key := range w.unacked {
		if !seen[key] {
			delete(w.unacked, key)
		}
	}
	for key, k := range w.killed {
		if now-k >= replicationBound {
			delete(w.killed, key)
		}
	}
	if len(stalled) == 0 || w.listing != 0 {
		return
	}
	id, ok := n.sendOtherID(m.inst, purposeReplList, "CLIENT", "LIST", "TYPE", "replica")
	if !ok {
		return
	}
	w.listing, w.stalled = id, stalled
}

// noteSyncs records the replicas info shows in a full sync (wait_bgsave,
// send_bulk) with the master offset when the watch first saw each, and
// forgets those no longer listed: their link is gone, a new sync starts
// over.
func (w *replWatch) noteSyncs(info *Info, now Time) {
	if w.syncing == nil {
		w.syncing = map[string]offsetSample{}
	}
	listed := make(map[string]bool, len(info.Replicas))
	for _, rep := range info.Replicas {
		key := rep.Addr.String()
		listed[key] = true
		if _, ok := w.syncing[key]; !ok && (rep.State == "wait_bgsave" || rep.State == "send_bulk") {
			w.syncing[key] = offsetSample{at: now, off: info.MasterReplOffset}
		}
	}
	for key := range w.syncing {
		if !listed[key] {
			delete(w.syncing, key)
		}
	}
}

// onReplList acts on the CLIENT LIST sent for stalled replicas: it
// disconnects their connections and reports each one.
func (n *Node) onReplList(m *master, v CommandDone) {
	w := &m.repl
	if w.listing != v.ID {
		return
	}
	stalled := w.stalled
	w.listing, w.stalled = 0, nil
	if w.inst != m.inst || !w.active {
		return
	}
	var conns []replicaConn
	why := ""
	if v.Err != "" {
		why = "CLIENT LIST failed: " + v.Err
	} else if conns, why = parseReplicaConns(v.Reply); why != "" {
		why = "CLIENT LIST reply unusable: " + why
	}
	for _, s := range stalled {
		var ids []string
		for _, c := range conns {
			if n.sameHost(c.ip, s.addr.Host) {
				ids = append(ids, strconv.FormatUint(c.id, 10))
			}
		}
		detail := "replica " + s.addr.String() + " acknowledged offset " + strconv.FormatInt(s.offset, 10) +
			", not the master's " + strconv.FormatInt(s.masterOff, 10) + " of " + s.age.Round(time.Millisecond).String() +
			" ago, while Redis counts it as a good replica"
		if s.loading {
			detail = "replica " + s.addr.String() + " is online at offset 0 after a full sync (loading its RDB) that began " +
				s.age.Round(time.Millisecond).String() + " ago at master offset " + strconv.FormatInt(s.masterOff, 10) +
				", the master has advanced since, no other replica Redis counts has its data, and Redis counts this one as good"
		}
		switch {
		case why != "":
			detail += "; not disconnected: " + why
		case len(ids) == 0:
			detail += "; not disconnected: no replica connection from " + s.addr.Host
		default:
			for _, id := range ids {
				n.sendOther(m.inst, purposeOther, "CLIENT", "KILL", "ID", id)
			}
			if w.killed == nil {
				w.killed = map[string]Time{}
			}
			w.killed[s.addr.String()] = n.now
			delete(w.online, s.addr.String())
			delete(w.unacked, s.addr.String())
			delete(w.syncing, s.addr.String())
			detail += "; disconnected it on the master (client id " + strings.Join(ids, ", ") + ") so that Redis's guard stops counting it"
		}
		payload := n.describeReplica(s.addr, m, m.inst.addr) + " " + strconv.FormatInt(s.offset, 10) + " " +
			strconv.FormatInt(s.masterOff, 10) + " " + strconv.FormatInt(s.age.Milliseconds(), 10)
		n.masterEventDetail(LevelWarning, "+replica-not-receiving", m, payload, detail)
	}
}

// replicaConn is one line of CLIENT LIST TYPE replica.
type replicaConn struct {
	id uint64
	ip string
}

// parseReplicaConns reads the id and the peer address of each connection
// in a CLIENT LIST reply. It is bounded (the reply comes from the network)
// and reports why it cannot use a reply.
func parseReplicaConns(reply string) ([]replicaConn, string) {
	if len(reply) > maxListReply {
		return nil, strconv.Itoa(len(reply)) + " bytes"
	}
	var out []replicaConn
	for _, line := range strings.Split(reply, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		var c replicaConn
		var haveID, haveAddr bool
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "id":
				id, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return nil, "bad id in " + strconv.Quote(truncate(line, 80))
				}
				c.id, haveID = id, true
			case "addr":
				ap, err := netip.ParseAddrPort(v)
				if err != nil {
					return nil, "bad addr in " + strconv.Quote(truncate(line, 80))
				}
				c.ip, haveAddr = ap.Addr().Unmap().String(), true
			}
		}
		if !haveID || !haveAddr {
			return nil, "no id or addr in " + strconv.Quote(truncate(line, 80))
		}
		out = append(out, c)
	}
	return out, ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
