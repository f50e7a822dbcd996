package sentinel

import (
	"container/heap"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file is a tiny deterministic driver for scenario tests: N Nodes, fake
// Redis instances, a network with a fixed RTT and partitions, and a virtual
// clock. It plays the runtime's part: it persists State before anything else
// leaves a Ready, delivers Commands and reports their replies as inputs.

const ms1 = time.Millisecond

type fakeRedis struct {
	addr       Addr
	alive      bool
	runID      string
	role       string
	master     Addr
	syncedAt   Time
	offset     int64
	priority   int
	downSince  Time
	authPass   string
	pausedTill Time
	cmds       []string // log of executed admin commands

	// stuck holds, per connection (agent id and connKey), the commands
	// queued behind a PUBLISH that CLIENT PAUSE WRITE blocks: Redis
	// executes a connection's commands in order.
	stuck map[string][]func()

	// The write model (cluster.startWriter): written counts the writes
	// this instance accepted as a master, on top of base, the offset it
	// had when it became one; hist records its offset after each write,
	// for its replicas to follow with the cluster's replication lag.
	written int64
	hist    []offsetAt
	diedAt  Time
}

type offsetAt struct {
	at  Time
	off int64
}

type conn struct {
	ref  Ref
	link Link
}

type agent struct {
	id      int
	host    string
	node    *Node
	cfg     Config
	state   *HardState
	alive   bool
	conns   map[string]conn // by connKey
	dead    map[string]bool // connections reset by the peer
	events  []timedEvent
	vips    []VIPIntent
	vipLog  []timedVIP
	crashes int
}

type timedEvent struct {
	at Time
	ev Event
}

type timedVIP struct {
	at  Time
	vip VIPIntent
}

func connKey(ref Ref, l Link) string {
	return fmt.Sprintf("%d|%s|%d", ref.Kind, ref.Addr, l)
}

type qitem struct {
	at  Time
	seq int
	fn  func()
}

type queue []qitem

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(qitem)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}

type cluster struct {
	t      testing.TB
	now    Time
	seq    int
	q      queue
	rtt    Time
	agents []*agent
	redis  map[string]*fakeRedis
	cut    map[[2]string]bool
	rnd    *rand.Rand
	tick   Time
	trace  bool
	dual   []string // moments when more than one agent wanted the VIP

	// Write model (startWriter): a client writing to one address, with
	// replicas that apply the master's writes replLag late.
	data       bool
	replLag    Time
	acked      []ack       // writes acknowledged to the client
	promotions []promotion // SLAVEOF NO ONE executions
	stalled    Time        // total time the writer was blocked by a pause
}

type ack struct {
	at   Time
	addr Addr
	off  int64
}

type promotion struct {
	at   Time
	addr Addr
	off  int64 // the data the new master has
}

type clusterOpts struct {
	agents     int
	quorum     int
	downAfter  time.Duration
	failover   time.Duration
	fence      bool
	seed       int64
	rtt        time.Duration
	noReplicas bool
	authPass   string // configured in agents
	redisPass  string // required by the Redis instances
	timing     Timing
	replLag    time.Duration // write model: how late replicas apply writes
	minAgents  int
	waiting    []int // agents not started by newCluster (startAgent starts them)
}

func hostIP(i int) string { return fmt.Sprintf("198.18.0.%d", i+1) }

func redisAddr(i int) Addr { return Addr{Host: hostIP(i), Port: 6379} }

func newCluster(t testing.TB, o clusterOpts) *cluster {
	if o.agents == 0 {
		o.agents = 3
	}
	if o.quorum == 0 {
		o.quorum = 2
	}
	if o.downAfter == 0 {
		o.downAfter = time.Second
	}
	if o.failover == 0 {
		o.failover = 10 * time.Second
	}
	if o.rtt == 0 {
		o.rtt = 500 * time.Microsecond
	}
	c := &cluster{t: t, rtt: o.rtt, redis: map[string]*fakeRedis{}, cut: map[[2]string]bool{},
		rnd: rand.New(rand.NewSource(o.seed)), tick: 10 * ms1, replLag: o.replLag}
	for i := 0; i < o.agents; i++ {
		r := &fakeRedis{addr: redisAddr(i), alive: true, runID: fmt.Sprintf("%040x", 1000+i), role: "master",
			priority: 100, downSince: never, authPass: o.redisPass, stuck: map[string][]func(){}}
		if i > 0 && !o.noReplicas {
			r.role = "slave"
			r.master = redisAddr(0)
		}
		c.redis[r.addr.String()] = r
	}
	for i := 0; i < o.agents; i++ {
		cfg := Config{
			LocalIPs: []string{hostIP(i)},
			Port:     26379,
			Timing:   o.timing,
			Masters: []MasterConfig{{
				Name: "mymaster", Addr: redisAddr(0), Quorum: o.quorum,
				DownAfter: o.downAfter, FailoverTimeout: o.failover,
				HasVIP: true, Fence: o.fence, AuthPass: o.authPass,
			}},
			Rand:      rand.New(rand.NewSource(o.seed*100 + int64(i))),
			MinAgents: o.minAgents,
		}
		a := &agent{id: i, host: hostIP(i), cfg: cfg, alive: true}
		c.agents = append(c.agents, a)
	}
	for _, a := range c.agents {
		if slices.Contains(o.waiting, a.id) {
			a.alive = false
			continue
		}
		c.startAgent(a)
	}
	return c
}

func (c *cluster) startAgent(a *agent) {
	var st *HardState
	if a.state != nil {
		st = cloneState(a.state)
	}
	n, err := New(a.cfg, st)
	if err != nil {
		c.t.Fatalf("agent %d: New: %v", a.id, err)
	}
	a.node = n
	a.alive = true
	a.conns = map[string]conn{}
	a.dead = map[string]bool{}
	c.flush(a)
	phase := Time(a.id*3+1) * ms1 / 2
	var tick func()
	gen := a.crashes
	tick = func() {
		if !a.alive || a.crashes != gen {
			return
		}
		a.node.Step(c.now, Tick{})
		c.flush(a)
		c.after(c.tick, tick)
	}
	c.after(phase, tick)
}

func cloneState(s *HardState) *HardState {
	out := *s
	out.Masters = nil
	for _, m := range s.Masters {
		mm := m
		mm.Config = cloneMasterConfig(m.Config)
		mm.KnownReplicas = slices.Clone(m.KnownReplicas)
		mm.KnownSentinels = slices.Clone(m.KnownSentinels)
		out.Masters = append(out.Masters, mm)
	}
	return &out
}

func (c *cluster) after(d Time, fn func()) {
	c.seq++
	heap.Push(&c.q, qitem{at: c.now + d, seq: c.seq, fn: fn})
}

// run advances virtual time by d.
func (c *cluster) run(d Time) { c.runUntil(c.now+d, nil) }

// runUntil runs until the deadline or until cond holds; it reports whether
// cond held.
func (c *cluster) runUntil(deadline Time, cond func() bool) bool {
	for len(c.q) > 0 {
		if cond != nil && cond() {
			return true
		}
		if c.q[0].at > deadline {
			break
		}
		it := heap.Pop(&c.q).(qitem)
		c.now = it.at
		it.fn()
	}
	if cond != nil && cond() {
		return true
	}
	c.now = deadline
	return false
}

func (c *cluster) cutHosts(a, b string) bool {
	return a != b && (c.cut[[2]string{a, b}] || c.cut[[2]string{b, a}])
}

// partition isolates host ip from every other host.
func (c *cluster) isolate(ip string, on bool) {
	for _, a := range c.agents {
		if a.host != ip {
			if on {
				c.cut[[2]string{ip, a.host}] = true
			} else {
				delete(c.cut, [2]string{ip, a.host})
				delete(c.cut, [2]string{a.host, ip})
			}
		}
	}
}

func (c *cluster) agentAt(a Addr) *agent {
	for _, ag := range c.agents {
		if ag.host == a.Host && a.Port == 26379 {
			return ag
		}
	}
	return nil
}

// killRedis stops the Redis at addr: connections are reset at once.
func (c *cluster) killRedis(addr Addr) {
	r := c.redis[addr.String()]
	r.alive = false
	r.diedAt = c.now
	for _, a := range c.agents {
		for _, k := range sortedKeys(a.conns) {
			cn := a.conns[k]
			if (cn.ref.Addr == addr) && cn.ref.Kind != KindSentinel && !c.cutHosts(a.host, addr.Host) {
				delete(a.conns, k)
				a.dead[k] = true
				ag, cn := a, cn
				c.after(c.rtt/2, func() { c.step(ag, LinkDown{To: cn.ref, Link: cn.link, Err: "connection reset"}) })
			}
		}
	}
}

// killAgent stops agent a's process: its peers' connections to it are
// reset.
func (c *cluster) killAgent(a *agent) {
	a.alive = false
	a.crashes++
	self := Addr{Host: a.host, Port: 26379}
	for _, o := range c.agents {
		for _, k := range sortedKeys(o.conns) {
			cn := o.conns[k]
			if cn.ref.Kind == KindSentinel && (cn.ref.Addr == self) && !c.cutHosts(o.host, a.host) {
				delete(o.conns, k)
				o.dead[k] = true
				o2, cn := o, cn
				c.after(c.rtt/2, func() { c.step(o2, LinkDown{To: cn.ref, Link: cn.link, Err: "connection reset"}) })
			}
		}
	}
	// Its own connections die with it.
	a.conns = map[string]conn{}
}

func (c *cluster) step(a *agent, in Input) {
	if !a.alive {
		return
	}
	a.node.Step(c.now, in)
	c.flush(a)
}

func (c *cluster) flush(a *agent) {
	rd := a.node.Ready()
	if rd.State != nil {
		a.state = cloneState(rd.State)
	}
	for _, ev := range rd.Events {
		a.events = append(a.events, timedEvent{c.now, ev})
		if c.trace {
			c.t.Logf("%8.1fms a%d %s %s %s", float64(c.now)/1e6, a.id, ev.Type, ev.Payload, ev.Detail)
		}
	}
	if rd.VIPs != nil {
		a.vips = rd.VIPs
		for _, v := range rd.VIPs {
			a.vipLog = append(a.vipLog, timedVIP{c.now, v})
		}
	}
	if rd.VIPs != nil {
		if o := c.owners(); len(o) > 1 {
			c.dual = append(c.dual, fmt.Sprintf("%v: owners %v", c.now, o))
		}
	}
	if rd.Crash {
		c.killAgent(a)
		return
	}
	for _, cmd := range rd.Commands {
		c.deliver(a, cmd)
	}
}

func (c *cluster) reachable(from string, to Addr) bool { return !c.cutHosts(from, to.Host) }

func (c *cluster) deliver(a *agent, cmd Command) {
	half := c.rtt / 2
	gen := a.crashes
	reply := func(in Input) {
		c.after(c.rtt, func() {
			if a.crashes == gen {
				c.step(a, in)
			}
		})
	}
	key := connKey(cmd.To, cmd.Link)
	switch cmd.Kind {
	case CmdConnect:
		delete(a.dead, key)
		if !c.reachable(a.host, cmd.To.Addr) {
			c.after(time.Second, func() {
				if a.crashes == gen {
					c.step(a, LinkDown{To: cmd.To, Link: cmd.Link, Err: "connect timeout"})
				}
			})
			return
		}
		if cmd.To.Kind == KindSentinel {
			peer := c.agentAt(cmd.To.Addr)
			if peer == nil || !peer.alive {
				reply(LinkDown{To: cmd.To, Link: cmd.Link, Err: "connection refused"})
				return
			}
			a.conns[key] = conn{cmd.To, cmd.Link}
			// The agents run without a password: the proof is the
			// open one (the peer at the address has the run id).
			if peer.node.MyID() != cmd.To.RunID {
				reply(LinkDown{To: cmd.To, Link: cmd.Link, Err: "peer proof failed: run id mismatch"})
				return
			}
			reply(LinkUp{To: cmd.To, Link: cmd.Link, LocalIP: a.host, Proof: ProofOpen})
			return
		}
		r := c.redis[cmd.To.Addr.String()]
		if r == nil || !r.alive {
			reply(LinkDown{To: cmd.To, Link: cmd.Link, Err: "connection refused"})
			return
		}
		if r.authPass != "" {
			ok := false
			for _, x := range cmd.Cmds {
				if strings.EqualFold(x[0], "AUTH") && x[len(x)-1] == r.authPass {
					ok = true
				}
			}
			if !ok {
				reply(LinkDown{To: cmd.To, Link: cmd.Link, Err: "WRONGPASS", AuthFailed: true})
				return
			}
		}
		a.conns[key] = conn{cmd.To, cmd.Link}
		reply(LinkUp{To: cmd.To, Link: cmd.Link, LocalIP: a.host})
	case CmdClose:
		delete(a.conns, key)
	default:
		if _, ok := a.conns[key]; !ok {
			if a.dead[key] {
				return // reset; the LinkDown is on its way
			}
			c.t.Errorf("agent %d: %v sent on closed link to %v", a.id, cmd.Kind, cmd.To)
			return
		}
		if !c.reachable(a.host, cmd.To.Addr) {
			return // lost; the link stays up
		}
		c.after(half, func() { c.execute(a, gen, cmd) })
	}
}

// execute runs cmd at its target and schedules the reply.
func (c *cluster) execute(a *agent, gen int, cmd Command) {
	back := func(in Input) {
		c.after(c.rtt/2, func() {
			if a.crashes == gen && c.reachable(a.host, cmd.To.Addr) {
				c.step(a, in)
			}
		})
	}
	if cmd.To.Kind == KindSentinel {
		peer := c.agentAt(cmd.To.Addr)
		if peer == nil || !peer.alive {
			return
		}
		switch cmd.Kind {
		case CmdPing:
			back(PingReply{To: cmd.To, Status: "PONG"})
		case CmdPublish:
			if cmd.Cmds[0][1] != HelloChannel {
				back(PublishReply{To: cmd.To, OK: false})
				return
			}
			c.step(peer, Hello{Via: Ref{Kind: KindSentinel, Addr: Addr{Host: a.host, Port: 40000 + a.id}}, Payload: cmd.Cmds[0][2]})
			back(PublishReply{To: cmd.To, OK: true})
		case CmdAskMasterDown:
			args := cmd.Cmds[0]
			port, _ := strconv.Atoi(args[3])
			ep, _ := strconv.ParseUint(args[4], 10, 64)
			down, leader, le := peer.node.IsMasterDownByAddr(c.now, args[2], port, ep, args[5])
			c.flush(peer) // persist the vote before the reply leaves
			back(IsDownReply{To: cmd.To, Valid: true, Down: down, Leader: leader, LeaderEpoch: le})
		default:
			c.t.Errorf("unexpected %v to sentinel", cmd.Kind)
		}
		return
	}
	r := c.redis[cmd.To.Addr.String()]
	if r == nil || !r.alive {
		return
	}
	key := connKey(cmd.To, cmd.Link)
	sk := strconv.Itoa(a.id) + "|" + key
	later := func() {
		if _, ok := a.conns[key]; ok && a.crashes == gen {
			c.execute(a, gen, cmd)
		}
	}
	if q, ok := r.stuck[sk]; ok {
		r.stuck[sk] = append(q, later)
		return
	}
	switch cmd.Kind {
	case CmdPing:
		back(PingReply{To: cmd.To, Status: "PONG"})
	case CmdInfo:
		text := c.infoText(r)
		info, err := ParseInfo(text)
		if err != nil {
			c.t.Fatalf("ParseInfo of generated INFO: %v", err)
		}
		back(InfoReply{To: cmd.To, Info: info, Raw: text})
	case CmdPublish:
		if c.now < r.pausedTill {
			// Blocked by CLIENT PAUSE WRITE, and so is everything sent
			// after it on this connection.
			r.stuck[sk] = []func(){later}
			c.after(r.pausedTill-c.now, func() { c.unblock(r) })
			return
		}
		payload := cmd.Cmds[0][2]
		for _, ag := range c.agents {
			for _, k := range sortedKeys(ag.conns) {
				cn := ag.conns[k]
				if cn.link == LinkPubSub && (cn.ref.Addr == r.addr) && c.reachable(ag.host, r.addr) {
					ag2, ref := ag, cn.ref
					c.after(c.rtt/2, func() { c.step(ag2, Hello{Via: ref, Payload: payload}) })
				}
			}
		}
		back(PublishReply{To: cmd.To, OK: true})
	case CmdTransaction:
		for _, x := range cmd.Cmds {
			if strings.EqualFold(x[0], "SLAVEOF") || strings.EqualFold(x[0], "REPLICAOF") {
				r.cmds = append(r.cmds, strings.Join(x, " "))
				if strings.EqualFold(x[1], "NO") {
					if c.data && r.role == "slave" {
						c.replicate(r)
						r.written, r.hist = r.offset, nil
						c.promotions = append(c.promotions, promotion{at: c.now, addr: r.addr, off: r.offset})
					}
					r.role = "master"
					r.master = Addr{}
				} else {
					p, _ := strconv.Atoi(x[2])
					r.role = "slave"
					r.master = Addr{Host: x[1], Port: p}
					r.syncedAt = c.now + 5*ms1
				}
			}
		}
		back(CommandDone{ID: cmd.ID, To: cmd.To})
	case CmdOther:
		x := cmd.Cmds[0]
		r.cmds = append(r.cmds, strings.Join(x, " "))
		if len(x) >= 3 && strings.EqualFold(x[0], "CLIENT") && strings.EqualFold(x[1], "PAUSE") {
			d, _ := strconv.Atoi(x[2])
			r.pausedTill = c.now + Time(d)*ms1
		}
		if len(x) >= 2 && strings.EqualFold(x[0], "CLIENT") && strings.EqualFold(x[1], "UNPAUSE") {
			r.pausedTill = 0
			c.unblock(r)
		}
		back(CommandDone{ID: cmd.ID, To: cmd.To})
	}
}

// unblock runs the commands queued behind blocked PUBLISHes once r's pause
// is over.
func (c *cluster) unblock(r *fakeRedis) {
	if c.now < r.pausedTill {
		c.after(r.pausedTill-c.now, func() { c.unblock(r) })
		return
	}
	for _, k := range sortedKeys(r.stuck) {
		q := r.stuck[k]
		delete(r.stuck, k)
		for i, fn := range q {
			fn()
			if _, again := r.stuck[k]; again {
				r.stuck[k] = append(r.stuck[k], q[i+1:]...)
				break
			}
		}
	}
}

// startWriter starts a client that writes to the Redis at addr every
// period, as long as it is a master not paused for writes, and records every
// acknowledged write. From then on offsets count writes, and replicas apply
// them replLag late.
func (c *cluster) startWriter(addr Addr, period Time) {
	c.data = true
	var write func()
	write = func() {
		r := c.redis[addr.String()]
		switch {
		case !r.alive || r.role != "master":
		case c.now < r.pausedTill:
			c.stalled += period
		default:
			r.written++
			r.hist = append(r.hist, offsetAt{c.now, r.written})
			c.acked = append(c.acked, ack{c.now, addr, r.written})
		}
		c.after(period, write)
	}
	c.after(period, write)
}

// replicate brings replica r up to date with the write model: it has what
// its master had replLag ago; what a master wrote in the last replLag
// before it died is lost with it. A replica cut off from its master, or
// whose master is a replica, keeps what it has.
func (c *cluster) replicate(r *fakeRedis) {
	m := c.redis[r.master.String()]
	if r.role != "slave" || m == nil || c.cutHosts(r.addr.Host, m.addr.Host) || m.alive && m.role != "master" {
		return
	}
	cutoff := c.now - c.replLag
	if !m.alive {
		cutoff = min(cutoff, m.diedAt-c.replLag)
	}
	off := m.written - int64(len(m.hist)) // m's offset before its first recorded write
	for _, h := range m.hist {
		if h.at > cutoff {
			break
		}
		off = h.off
	}
	r.offset = off
}

// linkUp reports whether replica r is connected to its master.
func (c *cluster) linkUp(r *fakeRedis) bool {
	if r.role != "slave" {
		return false
	}
	m := c.redis[r.master.String()]
	return m != nil && m.alive && m.role == "master" && !c.cutHosts(r.addr.Host, m.addr.Host) && c.now >= r.syncedAt
}

func (c *cluster) infoText(r *fakeRedis) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Server\r\nredis_version:7.0.15\r\nrun_id:%s\r\ntcp_port:%d\r\n\r\n# Replication\r\n", r.runID, r.addr.Port)
	if r.role == "master" {
		r.offset = int64(c.now / ms1)
		if c.data {
			r.offset = r.written
		}
		b.WriteString("role:master\r\n")
		var reps []*fakeRedis
		for _, k := range sortedKeys(c.redis) {
			o := c.redis[k]
			if o.alive && o.role == "slave" && (o.master == r.addr) && c.linkUp(o) {
				reps = append(reps, o)
			}
		}
		fmt.Fprintf(&b, "connected_slaves:%d\r\n", len(reps))
		for i, o := range reps {
			fmt.Fprintf(&b, "slave%d:ip=%s,port=%d,state=online,offset=%d,lag=0\r\n", i, o.addr.Host, o.addr.Port, r.offset)
		}
		fmt.Fprintf(&b, "master_repl_offset:%d\r\n", r.offset)
		return b.String()
	}
	up := c.linkUp(r)
	if up {
		r.offset = c.redis[r.master.String()].offset
		if c.data {
			c.replicate(r)
		}
		r.downSince = never
	} else if r.downSince == never {
		r.downSince = c.now
	}
	status := "down"
	if up {
		status = "up"
	}
	fmt.Fprintf(&b, "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\nmaster_link_status:%s\r\n", r.master.Host, r.master.Port, status)
	if !up {
		fmt.Fprintf(&b, "master_link_down_since_seconds:%d\r\n", int64((c.now-r.downSince)/time.Second))
	}
	fmt.Fprintf(&b, "slave_repl_offset:%d\r\nslave_priority:%d\r\nslave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\nmaster_repl_offset:%d\r\n", r.offset, r.priority, r.offset)
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// firstEvent returns the time of the first event of type typ at agent a at
// or after since, or -1.
func (a *agent) firstEvent(typ string, since Time) Time {
	for _, e := range a.events {
		if e.at >= since && e.ev.Type == typ {
			return e.at
		}
	}
	return -1
}

func (a *agent) hasEvent(typ string, since Time) bool { return a.firstEvent(typ, since) >= 0 }

// eventTypes lists the published (non-debug) event types of a since a time.
func (a *agent) eventTypes(since Time) []string {
	var out []string
	for _, e := range a.events {
		if e.at >= since && e.ev.Level != LevelDebug {
			out = append(out, e.ev.Type)
		}
	}
	return out
}

func (a *agent) ownsVIP() bool {
	for _, v := range a.vips {
		if v.Own {
			return true
		}
	}
	return false
}

// owners lists the agents that want the VIP.
func (c *cluster) owners() []int {
	var out []int
	for _, a := range c.agents {
		if a.alive && a.ownsVIP() {
			out = append(out, a.id)
		}
	}
	return out
}

// converge runs until every agent knows the others and the replicas.
func (c *cluster) converge() {
	c.t.Helper()
	n := len(c.agents)
	ok := c.runUntil(c.now+10*time.Second, func() bool {
		for _, a := range c.agents {
			m := a.node.masters["mymaster"]
			if len(m.sentinels) != n-1 || len(m.replicas) != n-1 {
				return false
			}
			for _, r := range m.replicas {
				if r.infoRefresh == never {
					return false
				}
			}
		}
		own := c.owners()
		if len(own) != 1 {
			return false
		}
		// With fencing, the owner holds grants from every peer: the
		// bootstrap claim made before the peers were known is over.
		m := c.agents[own[0]].node.masters["mymaster"]
		for _, s := range m.sentinels {
			if m.cfg.Fence && s.grantAt == never {
				return false
			}
		}
		return !m.fenced
	})
	if !ok {
		for _, a := range c.agents {
			m := a.node.masters["mymaster"]
			c.t.Logf("agent %d: %d sentinels %d replicas vips %+v", a.id, len(m.sentinels), len(m.replicas), a.vips)
		}
		c.t.Fatalf("cluster did not converge")
	}
	// Scenarios judge the commands sent from here on (a fresh group's
	// first fence, taken when the peers appear, is part of its start).
	for _, r := range c.redis {
		r.cmds = nil
	}
}

// isSubsequence reports whether want appears in got in order.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
