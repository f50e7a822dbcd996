package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

const (
	roleMaster  = "master"
	roleReplica = "slave"
	redisPort   = 6379
	agentPort   = 26379
	writeBytes  = 64 // replication offset bytes per modelled write
)

// redis models one redis-server: its role and replication, a write log that
// stands for the dataset (write ids in order), pub/sub on the hello channel,
// the commands Sentinel sends, and crashes with or without data loss.
type redis struct {
	w     *world
	host  int
	addr  sentinel.Addr
	up    bool
	inc   int
	runID string
	boot  time.Duration

	loadingUntil time.Duration
	role         string
	master       sentinel.Addr // when a replica
	confRole     string        // what the config file says (CONFIG REWRITE)
	confMaster   sentinel.Addr

	log       []uint64 // write ids, the dataset
	durable   int      // prefix of log that survives a crash (appendfsync everysec)
	lastFsync time.Duration

	linkUp        bool
	linkDownSince time.Duration // -1: never connected
	syncFrom      *redis        // a full sync from this master is in progress
	syncFromInc   int
	syncUntil     time.Duration // when it completes
	syncRDB       int           // the master's log length when it began: what the RDB holds
	rdbLoadUntil  time.Duration // loading the RDB of a full sync until then (Options.SyncLoad)
	syncedWith    *redis
	syncedInc     int
	syncedAt      time.Duration
	recvAt        time.Duration   // when the link last carried the master's stream to us
	replConn      int             // the master's client id of our replication link (CLIENT LIST)
	replSeen      []time.Duration // per host: when that replica last synced from us

	priority    int
	minReplicas int
	pausedUntil time.Duration
	pauses      int     // CLIENT PAUSE commands executed
	kills       int     // replication links killed by CLIENT KILL ID
	held        []*conn // connections whose commands wait for the pause to end, in the order they blocked

	subs  []*conn // pub/sub links subscribed to the hello channel
	conns []*conn // every attached connection
}

func newRedis(w *world, h int, prio int) *redis {
	r := &redis{
		w: w, host: h, addr: sentinel.Addr{Host: w.hosts[h].ip, Port: redisPort},
		priority: prio, minReplicas: w.opts.MinReplicas, linkDownSince: -1,
		replSeen: make([]time.Duration, w.opts.Agents),
	}
	for i := range r.replSeen {
		r.replSeen[i] = -time.Hour
	}
	if h == 0 {
		r.confRole = roleMaster
	} else {
		r.confRole, r.confMaster = roleReplica, w.redis0Addr()
	}
	r.start(false)
	replF := r.replTick
	var tick func()
	tick = func() {
		replF()
		w.at(w.now+w.opts.ReplPeriod, tick)
	}
	w.at(w.now+time.Duration(w.rNet.Int63n(int64(w.opts.ReplPeriod))), tick)
	return r
}

func (w *world) redis0Addr() sentinel.Addr {
	return sentinel.Addr{Host: w.hosts[0].ip, Port: redisPort}
}

func (r *redis) name() string { return fmt.Sprintf("r%d", r.host) }

// start boots the process from its config file and (unless wiped) its data.
func (r *redis) start(wipe bool) {
	w := r.w
	r.up = true
	r.inc++
	r.runID = w.runID()
	r.boot = w.now
	r.role, r.master = r.confRole, r.confMaster
	if wipe {
		r.log = nil
	} else {
		r.log = r.log[:r.durable]
	}
	r.durable = len(r.log)
	r.lastFsync = w.now
	r.loadingUntil = w.now + time.Duration(len(r.log))*time.Microsecond*50
	r.linkUp, r.syncedWith, r.syncFrom = false, nil, nil
	r.linkDownSince = -1
	r.rdbLoadUntil = 0
	r.pausedUntil = 0
	r.held = nil
	w.trace("%s start role=%s master=%s log=%d wipe=%v run_id=%s", r.name(), r.role, r.master, len(r.log), wipe, r.runID[:8])
}

// crash stops the process; every connection to it is reset.
func (r *redis) crash() {
	if !r.up {
		return
	}
	r.up = false
	r.w.trace("%s crash log=%d durable=%d", r.name(), len(r.log), r.durable)
	for _, c := range append([]*conn(nil), r.conns...) {
		c.reset("connection reset by peer")
	}
	r.conns, r.subs = nil, nil
}

func (r *redis) loading() bool { return r.w.now < r.loadingUntil }

func (r *redis) offset() int64 { return int64(len(r.log)) * writeBytes }

func (r *redis) attach(c *conn) {
	c.serverInc = r.inc
	r.conns = append(r.conns, c)
}

func (r *redis) unsubscribe(c *conn) {
	for i, s := range r.subs {
		if s == c {
			r.subs = append(r.subs[:i], r.subs[i+1:]...)
			break
		}
	}
	for i, s := range r.conns {
		if s == c {
			r.conns = append(r.conns[:i], r.conns[i+1:]...)
			break
		}
	}
}

// replTick runs the replica side of replication: connect to the master,
// partial or full resync, and streaming of new writes.
func (r *redis) replTick() {
	w := r.w
	if !r.up {
		return
	}
	if w.now-r.lastFsync >= time.Second {
		r.durable, r.lastFsync = len(r.log), w.now
	}
	if r.role != roleReplica {
		r.linkUp = false
		return
	}
	m := w.redisAt(r.master)
	if w.now < r.rdbLoadUntil {
		// Loading the RDB of a full sync: the master shows it online at
		// offset 0 and streams nothing until its first ACK after the
		// load, while its keepalives keep its lag fresh and the guard
		// counting it. A disconnected one resumes by PSYNC once loaded.
		if r.linkUp && m != nil && m.up && r.syncedWith == m && r.syncedInc == m.inc && w.twoWay(r.host, m.host) {
			r.syncedAt = w.now
			m.replSeen[r.host] = w.now
		}
		return
	}
	if r.linkUp && r.syncedWith == m && r.syncedInc == m.inc && m.up && !w.passable(m.host, r.host) &&
		w.passable(r.host, m.host) && w.now-r.recvAt < replTimeout {
		// A one-way cut of the master's stream: the established link
		// stays up and the replica keeps acknowledging (REPLCONF ACK
		// every second gets through), so the master counts it as a
		// good, online replica whose offset no longer moves, until the
		// replica's repl-timeout. Redis's guard is blind to this.
		r.syncedAt = w.now
		m.replSeen[r.host] = w.now
		return
	}
	if m == nil || !m.up || m.loading() || !w.twoWay(r.host, m.host) || w.now-r.recvAt >= replTimeout && r.linkUp {
		if r.syncFrom != nil {
			w.trace("%s full sync from %s aborted", r.name(), r.master)
			r.syncFrom = nil
		}
		if r.linkUp {
			r.linkUp = false
			r.linkDownSince = w.now
			w.trace("%s master link down (%s)", r.name(), r.master)
		}
		return
	}
	if !r.linkUp || r.syncedWith != m || r.syncedInc != m.inc || !isPrefix(r.log, m.log) {
		// A replica with no data (a new or wiped one: no replication id
		// to continue from) or whose data diverged needs a full sync: the
		// master's RDB is transferred and loaded, which takes time in
		// proportion to the dataset, while INFO reports the link down and
		// master_sync_in_progress:1, and the replica keeps its old data
		// until the new one is loaded.
		full := len(r.log) == 0 || !isPrefix(r.log, m.log)
		if full && r.linkUp {
			r.linkUp = false
			r.linkDownSince = w.now
		}
		if full && (r.syncFrom != m || r.syncFromInc != m.inc) {
			r.syncFrom, r.syncFromInc, r.syncRDB = m, m.inc, len(m.log)
			r.syncUntil = w.now + w.opts.SyncBase + time.Duration(len(m.log))*w.opts.SyncPerWrite
			w.trace("%s full sync from %s started (log=%d, until %.3fs)", r.name(), r.master, len(m.log), r.syncUntil.Seconds())
		}
		if full && w.now < r.syncUntil {
			return
		}
		r.syncFrom = nil
		if full {
			// A full resync replaces the dataset with the master's RDB,
			// which the replica has on disk once loaded: what was durable
			// before is gone, and the new dataset is what survives a crash
			// (a shorter one must not leave durable pointing past its end).
			r.log = append([]uint64(nil), m.log...)
			if w.opts.SyncLoad > 0 {
				r.log = r.log[:min(r.syncRDB, len(r.log))]
				r.rdbLoadUntil = w.now + w.opts.SyncLoad
				r.loadingUntil = r.rdbLoadUntil
			}
			r.durable, r.lastFsync = len(r.log), w.now
		} else {
			r.log = append(r.log, m.log[len(r.log):max(len(r.log), m.streamable())]...)
		}
		r.linkUp, r.syncedWith, r.syncedInc = true, m, m.inc
		w.nextClientID++
		r.replConn = w.nextClientID
		w.trace("%s master link up (%s) full=%v log=%d", r.name(), r.master, full, len(r.log))
	} else if n := m.streamable(); n > len(r.log) {
		r.log = append(r.log, m.log[len(r.log):n]...)
	}
	r.syncedAt, r.recvAt = w.now, w.now
	m.replSeen[r.host] = w.now
}

// replTimeout is Redis's repl-timeout: a replica that received nothing from
// its master for that long drops the link.
const replTimeout = 60 * time.Second

func isPrefix(a, b []uint64) bool {
	if len(a) > len(b) {
		return false
	}
	for i := len(a) - 1; i >= 0; i-- { // recent entries differ first
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// replicas lists the instances currently streaming from r.
func (r *redis) replicas() []*redis {
	var out []*redis
	for _, o := range r.w.redis {
		if o != r && o.up && o.role == roleReplica && o.linkUp && o.syncedWith == r && o.master == r.addr {
			out = append(out, o)
		}
	}
	return out
}

// syncingReplicas lists the instances receiving a full sync from r.
func (r *redis) syncingReplicas() []*redis {
	var out []*redis
	for _, o := range r.w.redis {
		if o != r && o.up && o.role == roleReplica && o.syncFrom == r && o.syncFromInc == r.inc && o.master == r.addr {
			out = append(out, o)
		}
	}
	return out
}

// unsynced says why r, a replica, holds no complete copy of its master's
// dataset (what issue 13's selection rule must not promote), or "".
func (r *redis) unsynced() string {
	switch {
	case !r.up:
		return ""
	case r.loading():
		return "loading its dataset"
	case r.role != roleReplica:
		return ""
	case r.syncFrom != nil:
		return fmt.Sprintf("in a full sync from %s", r.master)
	case !r.linkUp && r.linkDownSince < 0 && len(r.log) == 0:
		return fmt.Sprintf("never synced with %s, no data", r.master)
	}
	return ""
}

// write applies one client write; it is acknowledged only on a writable master.
func (r *redis) write(id uint64) string {
	w := r.w
	switch {
	case !r.up:
		return "connection refused"
	case r.loading():
		return "LOADING"
	case r.role != roleMaster:
		return "READONLY"
	case r.paused(): // whenWritable holds writes back while paused
		return "PAUSED"
	}
	if r.minReplicas > 0 && r.goodReplicas() < r.minReplicas {
		return "NOREPLICAS"
	}
	r.log = append(r.log, id)
	if w.opts.ReplLag > 0 {
		if w.writeAt == nil {
			w.writeAt = make(map[uint64]time.Duration)
		}
		w.writeAt[id] = w.now
	}
	return ""
}

// goodReplicas is min-replicas-to-write's count: replicas whose last
// acknowledgement is recent.
func (r *redis) goodReplicas() int {
	w := r.w
	good := 0
	for h, t := range r.replSeen {
		if h != r.host && w.now-t <= 10*time.Second && w.redis[h].master == r.addr && w.redis[h].role == roleReplica {
			good++
		}
	}
	return good
}

// streamable is how much of its log r, a master, streams to a replica now:
// all of it, or with Options.ReplLag the writes at least that old.
func (r *redis) streamable() int {
	w := r.w
	n := len(r.log)
	if w.opts.ReplLag > 0 {
		for n > 0 {
			at, ok := w.writeAt[r.log[n-1]]
			if !ok || w.now-at >= w.opts.ReplLag {
				break
			}
			n--
		}
	}
	return n
}

// exec runs one command sent by an agent on connection c; it returns the
// reply (or an error reply starting with its code).
func (r *redis) exec(c *conn, argv []string) (string, string) {
	if len(argv) == 0 {
		return "", "ERR empty command"
	}
	w := r.w
	switch w.canonical(argv[0]) {
	case "PING":
		if r.loading() {
			return "", loadingErr
		}
		return "PONG", ""
	case "AUTH", "SUBSCRIBE":
		return "OK", ""
	case "INFO":
		return r.info(), ""
	case "PUBLISH":
		if len(argv) != 3 {
			return "", "ERR wrong number of arguments for 'publish' command"
		}
		return strconv.Itoa(r.publish(argv[1], argv[2])), ""
	case "SLAVEOF", "REPLICAOF":
		if len(argv) != 3 {
			return "", "ERR wrong number of arguments"
		}
		if r.loading() {
			return "", loadingErr // not a command Redis runs while loading
		}
		if strings.EqualFold(argv[1], "no") && strings.EqualFold(argv[2], "one") {
			if r.role == roleReplica {
				w.check.promoted(c.owner, r)
			}
			if r.role != roleMaster {
				w.trace("%s promoted by %s (log=%d)", r.name(), c.owner.name, len(r.log))
			}
			r.role, r.master = roleMaster, sentinel.Addr{}
			r.linkUp, r.syncedWith, r.syncFrom = false, nil, nil
			return "OK", ""
		}
		port, err := strconv.Atoi(argv[2])
		if err != nil {
			return "", "ERR value is not an integer or out of range"
		}
		to := sentinel.Addr{Host: argv[1], Port: port}
		if r.role == roleReplica && r.master == to {
			return "OK Already connected to specified master", ""
		}
		if w.opts.Mutate == MutateDeafReplica {
			return "OK", ""
		}
		w.trace("%s replicaof %s by %s", r.name(), to, c.owner.name)
		r.role, r.master = roleReplica, to
		r.linkUp, r.syncedWith, r.syncFrom, r.linkDownSince = false, nil, nil, w.now
		return "OK", ""
	case "CONFIG":
		if len(argv) >= 2 && strings.EqualFold(argv[1], "rewrite") {
			r.confRole, r.confMaster = r.role, r.master
		}
		return "OK", ""
	case "CLIENT":
		return r.client(c, argv)
	case "SCRIPT":
		return "", "NOTBUSY No scripts in execution right now."
	}
	return "", fmt.Sprintf("ERR unknown command '%s'", argv[0])
}

func (r *redis) client(c *conn, argv []string) (string, string) {
	if len(argv) < 2 {
		return "", "ERR wrong number of arguments for 'client' command"
	}
	switch strings.ToUpper(argv[1]) {
	case "SETNAME":
		return "OK", ""
	case "LIST":
		// CLIENT LIST TYPE replica: the replication links, which this
		// model keeps on the replica's side.
		if len(argv) != 4 || !strings.EqualFold(argv[2], "type") || !strings.EqualFold(argv[3], "replica") {
			return "", "ERR syntax error"
		}
		var b strings.Builder
		for _, o := range r.replicas() {
			fmt.Fprintf(&b, "id=%d addr=%s:%d laddr=%s fd=8 name= flags=S db=0 cmd=replconf user=default\n", o.replConn, o.addr.Host, 40000+o.host, r.addr)
		}
		return b.String(), ""
	case "KILL":
		if len(argv) == 4 && strings.EqualFold(argv[2], "id") {
			for _, o := range r.replicas() {
				if strconv.Itoa(o.replConn) == argv[3] {
					// Freed at once: the guard stops counting it, and
					// the replica must reconnect (both ways) to resume.
					r.w.trace("%s client kill of %s's replication link by %s", r.name(), o.name(), c.owner.name)
					o.linkUp, o.linkDownSince = false, r.w.now
					r.replSeen[o.host] = -time.Hour
					r.kills++
					return "OK", ""
				}
			}
			return "", "ERR No such client"
		}
		if len(argv) == 4 && strings.EqualFold(argv[2], "type") {
			typ := strings.ToLower(argv[3])
			n := 0
			for _, o := range append([]*conn(nil), r.conns...) {
				if o == c { // SKIPME yes
					continue
				}
				if (typ == "pubsub") == o.subscribed {
					o.reset("killed by CLIENT KILL")
					r.unsubscribe(o)
					n++
				}
			}
			return strconv.Itoa(n), ""
		}
		return "", "ERR syntax error"
	case "PAUSE":
		if len(argv) < 3 {
			return "", "ERR wrong number of arguments for 'client|pause' command"
		}
		ms, err := strconv.Atoi(argv[2])
		if err != nil || ms < 0 {
			return "", "ERR timeout is not an integer or out of range"
		}
		r.pause(time.Duration(ms)*time.Millisecond, c.owner.name)
		return "OK", ""
	case "UNPAUSE":
		r.pausedUntil = 0
		inc := r.inc
		r.w.at(r.w.now, func() { // after the command that unpaused, as Redis does
			if r.inc == inc {
				r.release()
			}
		})
		return "OK", ""
	}
	return "", "ERR unknown subcommand"
}

// pause is CLIENT PAUSE d WRITE.
func (r *redis) pause(d time.Duration, by string) {
	r.pausedUntil = r.w.now + d
	r.pauses++
	r.w.trace("%s client pause %v by %s", r.name(), d, by)
	inc := r.inc
	r.w.at(r.pausedUntil, func() {
		if r.inc == inc {
			r.release()
		}
	})
}

// paused reports whether a CLIENT PAUSE (WRITE, the only mode Sentinel
// sends) is in force.
func (r *redis) paused() bool { return r.w.now < r.pausedUntil }

// blocks reports whether cmd, arriving now, must wait for the pause to end.
// Redis 7 blocks the write commands and PUBLISH of a client while paused
// (INFO, PING, reads and the admin commands are served), and a blocked
// client reads nothing more until it is unblocked, so everything behind
// the blocked command on that connection waits too (hold).
func (r *redis) blocks(cmd sentinel.Command) bool {
	return r.paused() && cmd.Kind == sentinel.CmdPublish
}

// hold queues cmd on c until the pause ends.
func (r *redis) hold(c *conn, cmd sentinel.Command) {
	if len(c.held) == 0 {
		r.held = append(r.held, c)
	}
	c.held = append(c.held, cmd)
}

// release serves the held commands, connection by connection in the order
// they blocked, each in its own order, unless a new pause is in force.
func (r *redis) release() {
	for len(r.held) > 0 && !r.paused() && r.up {
		c := r.held[0]
		for len(c.held) > 0 && !r.blocks(c.held[0]) {
			cmd := c.held[0]
			c.held = c.held[1:]
			r.w.serveRedis(r, c, cmd)
		}
		if len(c.held) > 0 {
			return // paused again by a command just served
		}
		r.held = r.held[1:]
	}
}

// whenWritable runs fn once r is not paused (at once if it is not): a
// client's write waits out a pause, as it does on a real server.
func (r *redis) whenWritable(fn func()) {
	if !r.up || !r.paused() {
		fn()
		return
	}
	inc := r.inc
	r.w.at(r.pausedUntil, func() {
		if r.inc != inc {
			fn() // restarted meanwhile: the write fails as on any dead server
			return
		}
		r.whenWritable(fn)
	})
}

// transaction runs MULTI ... EXEC atomically.
func (r *redis) transaction(c *conn, cmds [][]string) string {
	if len(cmds) < 2 || !strings.EqualFold(cmds[0][0], "MULTI") || !strings.EqualFold(cmds[len(cmds)-1][0], "EXEC") {
		// Not wrapped: run the commands one by one.
		errs := ""
		for _, argv := range cmds {
			if _, e := r.exec(c, argv); e != "" && errs == "" {
				errs = e
			}
		}
		return errs
	}
	queued := cmds[1 : len(cmds)-1]
	if r.loading() {
		// Redis refuses SLAVEOF with -LOADING as it is queued, and
		// EXEC then discards the whole transaction.
		for _, argv := range queued {
			if n := r.w.canonical(argv[0]); n == "SLAVEOF" || n == "REPLICAOF" {
				return "EXECABORT Transaction discarded because of previous errors."
			}
		}
	}
	for _, argv := range queued {
		r.exec(c, argv)
	}
	return ""
}

const loadingErr = "LOADING Redis is loading the dataset in memory"

// publish fans a message out to the subscribed pub/sub links.
func (r *redis) publish(ch, msg string) int {
	if ch != sentinel.HelloChannel {
		return 0
	}
	n := 0
	for _, s := range r.subs {
		if s.dead || s.gone {
			continue
		}
		n++
		s := s
		deliver := func() {
			if !s.dead {
				s.owner.deliver(s.inc, sentinel.Hello{Via: s.ref, Payload: msg})
			}
		}
		s.rep.send(deliver)
		if r.w.opts.Dup > 0 && r.w.rNet.Float64() < r.w.opts.Dup {
			s.rep.send(deliver)
		}
	}
	return n
}

// info renders INFO the way redis-server 7.0 does (the sections Sentinel
// reads, with the surrounding fields a real reply carries).
func (r *redis) info() string {
	w := r.w
	var b strings.Builder
	up := int64((w.now - r.boot) / time.Second)
	fmt.Fprintf(&b, "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\nredis_mode:standalone\r\n")
	fmt.Fprintf(&b, "os:Linux 6.1.0 x86_64\r\narch_bits:64\r\nprocess_id:%d\r\nrun_id:%s\r\ntcp_port:%d\r\n", 1000+r.inc, r.runID, redisPort)
	fmt.Fprintf(&b, "uptime_in_seconds:%d\r\nuptime_in_days:%d\r\nhz:10\r\n\r\n", up, up/86400)
	fmt.Fprintf(&b, "# Clients\r\nconnected_clients:%d\r\nblocked_clients:0\r\n\r\n", len(r.conns))
	loading := 0
	if r.loading() {
		loading = 1
	}
	fmt.Fprintf(&b, "# Persistence\r\nloading:%d\r\naof_enabled:1\r\n\r\n", loading)
	fmt.Fprintf(&b, "# Replication\r\nrole:%s\r\n", r.role)
	if r.role == roleReplica {
		status := "down"
		if r.linkUp {
			status = "up"
		}
		fmt.Fprintf(&b, "master_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n", r.master.Host, r.master.Port, status)
		switch {
		case r.linkUp:
			fmt.Fprintf(&b, "master_last_io_seconds_ago:%d\r\nmaster_sync_in_progress:0\r\n", int64((w.now-r.syncedAt)/time.Second))
		case r.syncFrom != nil:
			fmt.Fprintf(&b, "master_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:1\r\n")
		default:
			fmt.Fprintf(&b, "master_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:0\r\n")
		}
		off := r.offset()
		if off == 0 && r.syncFrom == nil && !r.linkUp {
			off = 1 // Redis 7.0 with neither a master nor a cached one
		}
		fmt.Fprintf(&b, "slave_read_repl_offset:%d\r\nslave_repl_offset:%d\r\n", off, off)
		if !r.linkUp {
			since := int64(-1)
			if r.linkDownSince >= 0 {
				since = int64((w.now - r.linkDownSince) / time.Second)
			}
			fmt.Fprintf(&b, "master_link_down_since_seconds:%d\r\n", since)
		}
		fmt.Fprintf(&b, "slave_priority:%d\r\nslave_read_only:1\r\nreplica_announced:1\r\n", r.priority)
	}
	reps, syncing := r.replicas(), r.syncingReplicas()
	fmt.Fprintf(&b, "connected_slaves:%d\r\n", len(reps)+len(syncing))
	if r.minReplicas > 0 {
		fmt.Fprintf(&b, "min_slaves_good_slaves:%d\r\n", r.goodReplicas())
	}
	for i, o := range reps {
		off := o.offset()
		if w.now < o.rdbLoadUntil {
			off = 0 // no ACK before the load ends
		}
		fmt.Fprintf(&b, "slave%d:ip=%s,port=%d,state=online,offset=%d,lag=%d\r\n", i, o.addr.Host, o.addr.Port, off, int64((w.now-o.syncedAt)/time.Second))
	}
	for i, o := range syncing {
		fmt.Fprintf(&b, "slave%d:ip=%s,port=%d,state=send_bulk,offset=0,lag=0\r\n", len(reps)+i, o.addr.Host, o.addr.Port)
	}
	fmt.Fprintf(&b, "master_failover_state:no-failover\r\nmaster_replid:%040x\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n", r.inc)
	fmt.Fprintf(&b, "master_repl_offset:%d\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:1\r\nrepl_backlog_size:1048576\r\n", r.offset())
	fmt.Fprintf(&b, "repl_backlog_first_byte_offset:1\r\nrepl_backlog_histlen:%d\r\n\r\n", r.offset())
	fmt.Fprintf(&b, "# Keyspace\r\ndb0:keys=%d,expires=0,avg_ttl=0\r\n", len(r.log))
	return b.String()
}
