package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// steps runs a fixed script on the simulator, step by step: no fault
// schedule and no phases, a calm network with a fixed round trip, and the
// test deciding what breaks when. The core's scenario tests (once in
// agent/sentinel, on a driver and a Redis model of their own) run on it.
type steps struct {
	t      *testing.T
	w      *world
	agents []*stepAgent
	cmds   [][]string // per host: the SLAVEOFs and single commands its Redis executed
	dual   []string   // moments when more than one agent wanted the VIP

	// Write model (startWriter): a client writing to one Redis.
	writing    bool
	acked      []ack         // writes acknowledged to the client
	promotions []promotion   // SLAVEOF NO ONE executions
	stalled    time.Duration // total time the writer was blocked by a pause
}

type ack struct {
	at   time.Duration
	host int
	off  int // the master's log length after the write
}

type promotion struct {
	at   time.Duration
	host int
	addr sentinel.Addr
	off  int // the data the new master has
}

// startWriter starts a client that writes to the Redis on host h every
// period, as long as it is a master not paused for writes, and records every
// acknowledged write (the master's log length after it). Replicas stream
// the writes Options.ReplLag late.
func (s *steps) startWriter(h int, period time.Duration) {
	w := s.w
	s.writing = true
	var write func()
	write = func() {
		r := w.redis[h]
		switch {
		case !r.up || r.role != roleMaster:
		case r.paused():
			s.stalled += period
		default:
			w.nextWrite++
			if r.write(w.nextWrite) == "" {
				s.acked = append(s.acked, ack{w.now, h, len(r.log)})
			}
		}
		w.at(w.now+period, write)
	}
	w.at(w.now+period, write)
}

// lost returns the writes acknowledged by the Redis on host h that the
// promotion p lacks.
func (s *steps) lost(h int, p promotion) []ack {
	var out []ack
	for _, a := range s.acked {
		if a.host == h && a.off > p.off {
			out = append(out, a)
		}
	}
	return out
}

// lastAck returns the last write acknowledged by host h before t.
func (s *steps) lastAck(h int, t time.Duration) (ack, bool) {
	var last ack
	found := false
	for _, a := range s.acked {
		if a.host == h && a.at < t {
			last, found = a, true
		}
	}
	return last, found
}

// offsetBefore is the write offset host h had as a master at t.
func (s *steps) offsetBefore(h int, t time.Duration) int {
	off := 0
	for _, a := range s.acked {
		if a.host == h && a.at <= t {
			off = a.off
		}
	}
	return off
}

// stepAgent is an agent with the events it emitted.
type stepAgent struct {
	*agent
	s      *steps
	events []timedEvent
	vipLog []timedVIP // the VIP changes its host made
}

type timedEvent struct {
	at time.Duration
	ev sentinel.Event
}

type timedVIP struct {
	at  time.Duration
	own bool
}

type stepOpts struct {
	seed      uint64
	agents    int // 0: 3
	fence     bool
	minAgents int    // 0: none (the agents' own default), not the sweep's static membership
	waiting   []int  // agents not started by newSteps (startAgent starts them)
	redisPass string // requirepass of the Redis instances
	authPass  string // the agents' auth-pass
	// writes: the test runs a writer (startWriter); with replLag,
	// replicas pull every millisecond, replLag late.
	writes  bool
	replLag time.Duration
	// vipDelay and vipNoConfirm model the VIP manager (Options).
	vipDelay     time.Duration
	vipNoConfirm bool
}

// rtt is the steps' network round trip.
const rtt = 500 * time.Microsecond

func newSteps(t *testing.T, so stepOpts) *steps {
	t.Helper()
	if so.agents == 0 {
		so.agents = 3
	}
	o := Options{
		Seed: so.seed, Agents: so.agents, Quorum: 2, DownAfter: time.Second, FailoverTimeout: 10 * time.Second,
		Fence: so.fence, Tick: 10 * time.Millisecond, DelayMin: rtt / 2,
		ConnectTimeout: time.Second, TCPTimeout: 10 * time.Second, ReplPeriod: 10 * time.Millisecond,
		SyncBase: 5 * time.Millisecond, TraceTail: 60, RedisPass: so.redisPass, AuthPass: so.authPass,
		VIPDelay: so.vipDelay, VIPNoConfirm: so.vipNoConfirm,
	}
	if so.writes && so.replLag > 0 {
		o.ReplPeriod, o.ReplLag = time.Millisecond, so.replLag
	}
	w, err := newWorld(o)
	if err != nil {
		t.Fatal(err)
	}
	s := &steps{t: t, w: w, cmds: make([][]string, o.Agents)}
	// What went down stays down until the test brings it back: the world
	// restarts nothing by itself while it heals.
	w.healedAt = 1
	for _, a := range w.agents {
		a.cfg.MinAgents = so.minAgents
		s.agents = append(s.agents, &stepAgent{agent: a, s: s})
	}
	w.onEvent = func(a *agent, ev sentinel.Event) {
		sa := s.agents[a.id]
		sa.events = append(sa.events, timedEvent{w.now, ev})
	}
	w.onVIP = func(h int, own bool) {
		sa := s.agents[h]
		sa.vipLog = append(sa.vipLog, timedVIP{w.now, own})
	}
	w.onRedis = func(r *redis, cmd sentinel.Command) {
		switch cmd.Kind {
		case sentinel.CmdTransaction: // the reconfigurations
			for _, argv := range cmd.Cmds {
				if !strings.EqualFold(argv[0], "SLAVEOF") && !strings.EqualFold(argv[0], "REPLICAOF") {
					continue
				}
				s.cmds[r.host] = append(s.cmds[r.host], strings.Join(argv, " "))
				if strings.EqualFold(argv[1], "NO") && r.role == roleReplica && s.writing {
					s.promotions = append(s.promotions, promotion{at: w.now, host: r.host, addr: r.addr, off: len(r.log)})
				}
			}
		case sentinel.CmdOther: // CLIENT PAUSE, CLIENT UNPAUSE, SCRIPT KILL
			s.cmds[r.host] = append(s.cmds[r.host], strings.Join(first(cmd.Cmds), " "))
		}
	}
	// As Run: the first master's VIP is in place, and the agents start
	// once the replicas are linked.
	w.vip.acquire(0, 0, "initial")
	for _, a := range s.agents {
		if slices.Contains(so.waiting, a.id) {
			continue
		}
		w.at(300*time.Millisecond+time.Duration(a.rnd.Int63n(int64(200*time.Millisecond))), func() { s.startAgent(a) })
	}
	return s
}

func (s *steps) now() time.Duration { return s.w.now }

// run advances virtual time by d.
func (s *steps) run(d time.Duration) { s.runUntil(s.w.now+d, nil) }

// runUntil runs until the deadline or until cond holds; it reports whether
// cond held. A violated invariant of the simulator fails the test.
func (s *steps) runUntil(deadline time.Duration, cond func() bool) bool {
	s.t.Helper()
	w := s.w
	held := false
	for w.q.len() > 0 && w.err == nil {
		if cond != nil && cond() {
			held = true
			break
		}
		if w.q.h[0].at > deadline {
			break
		}
		ev := w.q.pop()
		w.now = ev.at
		ev.fn()
		w.events++
		if len(w.vip.holders) > 1 {
			w.check.vipChanged()
		}
		if o := s.owners(); len(o) > 1 && (len(s.dual) == 0 || !strings.HasSuffix(s.dual[len(s.dual)-1], "owners "+ownersString(o))) {
			s.dual = append(s.dual, w.now.String()+": owners "+ownersString(o))
		}
	}
	if w.err != nil {
		for _, l := range w.tail {
			s.t.Log(l)
		}
		s.t.Fatalf("simulator invariant: %v", w.err)
	}
	if held || cond != nil && cond() {
		return true
	}
	w.now = max(w.now, deadline)
	return false
}

func ownersString(o []int) string {
	var b strings.Builder
	for _, h := range o {
		b.WriteString(" h" + string(rune('0'+h)))
	}
	return b.String()
}

func (s *steps) startAgent(a *stepAgent) {
	s.w.startAgent(a.agent)
	a.tick()
}

// call runs fn on a's Node as the runtime runs an API request: inside
// the loop, then the Ready and the timer.
func (s *steps) call(a *stepAgent, fn func(now sentinel.Time)) {
	fn(a.local())
	a.flush(turn{})
	a.drv.Schedule(s.w.now, false)
}

// killRedis stops the Redis on host h: its connections are reset.
func (s *steps) killRedis(h int) { s.w.redis[h].crash() }

// isolate cuts host h off from every other host, or heals that.
func (s *steps) isolate(h int, on bool) {
	w := s.w
	for o := range w.hosts {
		if o != h {
			w.cut[h][o], w.cut[o][h] = on, on
		}
	}
	w.partitioned = on
	w.check.topology()
}

func (s *steps) redisAddr(h int) sentinel.Addr { return s.w.redis[h].addr }
func (s *steps) hostIP(h int) string           { return s.w.hosts[h].ip }

// status is the agent's view of the one master; ok is false while the
// agent is not running.
func (a *stepAgent) status() (st sentinel.MasterStatus, ok bool) {
	if !a.running || a.node == nil {
		return st, false
	}
	all := a.node.Status(a.local())
	if len(all) != 1 {
		return st, false
	}
	return all[0], true
}

func (a *stepAgent) ownsVIP() bool {
	st, ok := a.status()
	return ok && st.VIPWanted
}

// owners lists the running agents that want the VIP.
func (s *steps) owners() []int {
	var out []int
	for _, a := range s.agents {
		if a.ownsVIP() {
			out = append(out, a.id)
		}
	}
	return out
}

// firstEvent returns the time of the first event of type typ at a at or
// after since, or -1.
func (a *stepAgent) firstEvent(typ string, since time.Duration) time.Duration {
	for _, e := range a.events {
		if e.at >= since && e.ev.Type == typ {
			return e.at
		}
	}
	return -1
}

func (a *stepAgent) hasEvent(typ string, since time.Duration) bool {
	return a.firstEvent(typ, since) >= 0
}

// eventTypes lists the published (non-debug) event types of a since a time.
func (a *stepAgent) eventTypes(since time.Duration) []string {
	var out []string
	for _, e := range a.events {
		if e.at >= since && e.ev.Level != sentinel.LevelDebug {
			out = append(out, e.ev.Type)
		}
	}
	return out
}

// allSwitched reports whether every one of agents emitted +switch-master
// since a time.
func allSwitched(agents []*stepAgent, since time.Duration) bool {
	for _, a := range agents {
		if !a.hasEvent("+switch-master", since) {
			return false
		}
	}
	return true
}

// logEvents logs every agent's event types since a time.
func (s *steps) logEvents(since time.Duration) {
	s.t.Helper()
	for _, a := range s.agents {
		s.t.Logf("agent %d: %v", a.id, a.eventTypes(since))
	}
}

// leaderOf returns the agent that logged +elected-leader since t.
func (s *steps) leaderOf(since time.Duration) *stepAgent {
	for _, a := range s.agents {
		if a.hasEvent("+elected-leader", since) {
			return a
		}
	}
	return nil
}

// converge runs until every agent knows the others and the replicas (their
// INFO taken), one agent wants the VIP and, with fencing, has heard from
// every peer within the lease and is not fenced (the bootstrap claim made
// before the peers were known is over).
func (s *steps) converge() {
	s.t.Helper()
	n := len(s.agents)
	ok := s.runUntil(s.w.now+10*time.Second, func() bool {
		for _, a := range s.agents {
			st, ok := a.status()
			if !ok || st.KnownSentinels != n-1 || st.KnownReplicas != n-1 || st.AgentsKnown != n || st.AgentsReachable != n {
				return false
			}
			reps, err := a.node.Replicas(a.local(), masterName)
			if err != nil {
				return false
			}
			for _, r := range reps {
				if kv(r, "master-link-status") != "ok" {
					return false
				}
			}
		}
		own := s.owners()
		if len(own) != 1 {
			return false
		}
		st, _ := s.agents[own[0]].status()
		return !st.Fenced && (!st.Fence || st.AgentsReachable == n)
	})
	if !ok {
		for _, a := range s.agents {
			st, _ := a.status()
			s.t.Logf("agent %d: %+v", a.id, st)
		}
		s.t.Fatalf("cluster did not converge")
	}
	// Scenarios judge the commands sent from here on (a fresh group's
	// first fence, taken when the peers appear, is part of its start).
	for i := range s.cmds {
		s.cmds[i] = nil
	}
}

func kv(kvs []sentinel.KV, key string) string {
	for _, x := range kvs {
		if x.Key == key {
			return x.Value
		}
	}
	return ""
}
