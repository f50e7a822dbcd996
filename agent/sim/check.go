package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Violation is a broken invariant: what, when, and the seed that shows it.
type Violation struct {
	Seed  uint64
	At    time.Duration
	Agent string
	What  string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("seed=%d t=%.3fs %s: %s", v.Seed, v.At.Seconds(), v.Agent, v.What)
}

// configSeen is the first persisted configuration seen for a config epoch.
type configSeen struct {
	addr  sentinel.Addr
	agent int
}

// voteKey is one agent's vote in one epoch (one master is monitored).
type voteKey struct {
	agent int
	epoch uint64
}

// track is what the checker knows of one agent, across its restarts.
type track struct {
	running      bool // process alive and not stalled
	runningSince time.Duration
	tilt         bool
	odown        bool
	// receivedTurn: the Ready being checked comes from a turn whose timer
	// pass followed a Receive; tiltThisTurn: its events entered TILT.
	receivedTurn, tiltThisTurn bool
	forced                     bool   // SENTINEL FAILOVER was requested: the next attempt needs no ODOWN
	forcedEpoch                uint64 // epoch of the last forced attempt: its leader needs no votes, as Sentinel's
	curEpoch                   uint64 // highest current epoch seen (events, persisted state)
	tryEpoch                   uint64 // epoch of the failover this agent last started
	elected                    uint64 // epoch this agent was last elected in
	persisted                  *sentinel.HardState
	runID                      string

	contact     bool          // can reach a majority of agents now
	lastContact time.Duration // last time it could
	switched    sentinel.Addr // target of its last +switch-master

	// unsynced is, per Redis host, what that instance was when it rendered
	// the latest INFO the agent's Node took in (redis.unsynced; "" when it
	// held its master's data).
	unsynced map[int]string
}

// infoTruth is the state of the instance that rendered an INFO reply.
type infoTruth struct {
	host     int
	unsynced string
}

// checker holds the cluster-wide invariants, checked after every event. It
// sees the agents only from outside: their committed Readys, the answers
// their runtimes sent, the commands Redis executed and the VIP holders.
type checker struct {
	w        *world
	err      *Violation
	n        int
	majority int
	quorum   int
	lease    time.Duration // how long a fenced holder may outlive its majority
	leader   map[uint64]int
	configs  map[uint64]configSeen // config epoch -> the master address it names
	votes    map[voteKey]string
	ag       []track
	// evidence: every configuration an agent persists was produced by an
	// election, naming a real Redis (no forged hello moves the master).
	evidence bool

	maxStaleHold  time.Duration // longest a stale holder kept the VIP while able to act
	staleAcquires int           // VIP claims made with an older config epoch than a current holder's

	infos           map[*sentinel.Info]infoTruth // INFO replies rendered and not yet taken in
	unsyncedRefused int                          // selections that refused an unsynced replica
}

func newChecker(w *world, n, quorum int, lease time.Duration) *checker {
	c := &checker{
		w: w, n: n, majority: n/2 + 1, quorum: quorum, lease: lease,
		leader: make(map[uint64]int), votes: make(map[voteKey]string), configs: make(map[uint64]configSeen),
		ag: make([]track, n), infos: make(map[*sentinel.Info]infoTruth),
	}
	for i := range c.ag {
		c.ag[i].unsynced = make(map[int]string)
	}
	return c
}

func (c *checker) failf(a *agent, format string, args ...any) {
	if c.err != nil {
		return
	}
	who := "sim"
	if a != nil {
		who = a.name
	}
	var seed uint64
	var now time.Duration
	if c.w != nil {
		seed, now = c.w.opts.Seed, c.w.now
	}
	c.err = &Violation{Seed: seed, At: now, Agent: who, What: fmt.Sprintf(format, args...)}
	if c.w != nil {
		c.w.err = c.err
		c.w.trace("VIOLATION %s", c.err.What)
	}
}

func (c *checker) now() time.Duration {
	if c.w == nil {
		return 0
	}
	return c.w.now
}

// recordVote notes that agent a voted for runid in epoch; a second,
// different vote in the same epoch is a double vote.
func (c *checker) recordVote(a *agent, runid string, epoch uint64, source string) {
	if runid == "" || runid == "*" || epoch == 0 {
		return
	}
	k := voteKey{a.id, epoch}
	if prev, ok := c.votes[k]; ok && prev != runid {
		c.failf(a, "double vote in epoch %d: %s then %s (%s)", epoch, short(prev), short(runid), source)
		return
	}
	c.votes[k] = runid
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// persisted checks a state the agent's runtime just made durable against the
// previous one (kept across restarts): epochs and votes never go backwards.
func (c *checker) persisted(a *agent, st *sentinel.HardState) {
	t := &c.ag[a.id]
	prev := t.persisted
	if prev != nil {
		if st.CurrentEpoch < prev.CurrentEpoch {
			c.failf(a, "current epoch went backwards: %d -> %d", prev.CurrentEpoch, st.CurrentEpoch)
		}
		if prev.MyID != "" && st.MyID != prev.MyID {
			c.failf(a, "myid changed: %s -> %s", short(prev.MyID), short(st.MyID))
		}
		if len(prev.Masters) > 0 && len(st.Masters) > 0 {
			p, m := prev.Masters[0], st.Masters[0]
			if m.LeaderEpoch < p.LeaderEpoch {
				c.failf(a, "leader epoch went backwards: %d -> %d", p.LeaderEpoch, m.LeaderEpoch)
			}
			if m.ConfigEpoch < p.ConfigEpoch {
				c.failf(a, "config epoch went backwards: %d -> %d", p.ConfigEpoch, m.ConfigEpoch)
			}
		}
	}
	for _, m := range st.Masters {
		// A config epoch is born once, with one address: two different
		// addresses under one epoch never converge (hellos only carry
		// strictly newer configurations).
		if m.ConfigEpoch > 0 {
			if prev, ok := c.configs[m.ConfigEpoch]; !ok {
				c.configs[m.ConfigEpoch] = configSeen{m.CurrentAddr, a.id}
			} else if prev.addr != m.CurrentAddr {
				c.failf(a, "config epoch %d names two masters: %s (a%d) and %s", m.ConfigEpoch, prev.addr, prev.agent, m.CurrentAddr)
			}
		}
		if c.evidence && m.ConfigEpoch > 0 {
			if _, ok := c.leader[m.ConfigEpoch]; !ok {
				c.failf(a, "config epoch %d (master %s) persisted, but nobody was elected in it: adopted from a forged hello", m.ConfigEpoch, m.CurrentAddr)
			}
			if c.w != nil && c.w.redisAt(m.CurrentAddr) == nil {
				c.failf(a, "persisted master %s is no Redis: adopted from a forged hello", m.CurrentAddr)
			}
		}
		if m.LeaderEpoch > st.CurrentEpoch {
			c.failf(a, "voted in epoch %d beyond current epoch %d", m.LeaderEpoch, st.CurrentEpoch)
		}
		c.recordVote(a, m.Leader, m.LeaderEpoch, "persisted")
	}
	t.persisted = st
	t.runID = st.MyID
	t.curEpoch = max(t.curEpoch, st.CurrentEpoch)
}

// voteAnswer is an is-master-down-by-addr answer leaving the agent.
func (c *checker) voteAnswer(a *agent, leader string, epoch uint64) {
	c.recordVote(a, leader, epoch, "answer")
	if leader != "" && leader != "*" && epoch > 0 {
		if p := c.ag[a.id].persisted; p == nil || len(p.Masters) == 0 || p.Masters[0].LeaderEpoch < epoch {
			c.failf(a, "answered vote %s/%d before persisting it", short(leader), epoch)
		}
	}
}

// event checks one committed event.
func (c *checker) event(a *agent, ev sentinel.Event) {
	t := &c.ag[a.id]
	switch ev.Type {
	case "+tilt":
		t.tilt = true
		t.tiltThisTurn = true
	case "-tilt":
		t.tilt = false
	case "+odown":
		t.odown = true
	case "-odown":
		t.odown = false
	case "+new-epoch":
		if e, err := strconv.ParseUint(strings.TrimSpace(ev.Payload), 10, 64); err == nil {
			t.curEpoch = max(t.curEpoch, e)
		}
	case "+vote-for-leader":
		f := strings.Fields(ev.Payload)
		if len(f) >= 2 {
			e, err := strconv.ParseUint(f[1], 10, 64)
			if err == nil {
				c.recordVote(a, f[0], e, "+vote-for-leader")
			}
		}
	case "+try-failover":
		if t.tilt {
			c.failf(a, "failover started in TILT")
		}
		if !t.odown && !t.forced {
			c.failf(a, "failover started without ODOWN")
		}
		// Event.Epoch is the master's config epoch; the failover's epoch is
		// the current epoch the attempt just bumped (+new-epoch before it).
		t.tryEpoch = t.curEpoch
		if t.forced {
			t.forcedEpoch = t.tryEpoch
		}
		t.forced = false
	case "+elected-leader":
		c.elected(a, t.tryEpoch)
	case "-failover-abort-no-good-slave":
		c.countUnsynced(ev.Detail)
	case "+selected-slave":
		c.countUnsynced(ev.Detail)
		// "slave <ip>:<port> <ip> <port> @ <master> <ip> <port>"
		f := strings.Fields(ev.Payload)
		if len(f) >= 4 && c.w != nil {
			p, _ := strconv.Atoi(f[3])
			if r := c.w.redisAt(sentinel.Addr{Host: f[2], Port: p}); r != nil {
				if why := t.unsynced[r.host]; why != "" {
					c.failf(a, "selected %s for promotion while its latest INFO to this agent showed it %s (%s)", r.addr, why, ev.Detail)
				}
			}
		}
	case "+switch-master":
		f := strings.Fields(ev.Payload)
		if len(f) == 5 {
			p, _ := strconv.Atoi(f[4])
			t.switched = sentinel.Addr{Host: f[3], Port: p}
			if c.w != nil {
				c.w.switched(a, t.switched)
			}
		}
	}
}

// failoverRequested records a SENTINEL FAILOVER given to a.
func (c *checker) failoverRequested(a *agent) { c.ag[a.id].forced = true }

// elected checks a leader election: one leader per epoch, won with a
// majority of all agents (and the quorum), none in TILT.
func (c *checker) elected(a *agent, e uint64) {
	t := &c.ag[a.id]
	if t.tilt {
		c.failf(a, "elected leader in TILT")
	}
	if e == 0 {
		c.failf(a, "elected leader without an epoch")
		return
	}
	if prev, ok := c.leader[e]; ok && prev != a.id {
		c.failf(a, "two leaders in epoch %d: a%d and a%d", e, prev, a.id)
		return
	}
	c.leader[e] = a.id
	t.elected = e
	votes := 0
	for v := 0; v < c.n; v++ {
		if c.votes[voteKey{v, e}] == t.runID && t.runID != "" {
			votes++
		}
	}
	if e != t.forcedEpoch && (votes < c.majority || votes < c.quorum) {
		c.failf(a, "elected in epoch %d with %d votes (majority %d, quorum %d)", e, votes, c.majority, c.quorum)
	}
}

// command checks what an agent sends: promotions only by the elected leader
// of the failover it runs, and no reconfiguration in TILT.
func (c *checker) command(a *agent, cmd sentinel.Command) {
	if cmd.Kind != sentinel.CmdTransaction && cmd.Kind != sentinel.CmdOther {
		return
	}
	t := &c.ag[a.id]
	for _, argv := range cmd.Cmds {
		if len(argv) != 3 {
			continue
		}
		name := strings.ToUpper(argv[0])
		if c.w != nil {
			name = c.w.canonical(argv[0])
		}
		if name != "SLAVEOF" && name != "REPLICAOF" {
			continue
		}
		if t.tilt && !(t.tiltThisTurn && t.receivedTurn) {
			c.failf(a, "sent %v to %s in TILT", argv, cmd.To.Addr)
		}
		if strings.EqualFold(argv[1], "no") && strings.EqualFold(argv[2], "one") {
			if t.elected == 0 || t.elected != t.tryEpoch {
				c.failf(a, "promotes %s without being elected (elected in %d, failover epoch %d)", cmd.To.Addr, t.elected, t.tryEpoch)
			}
		}
	}
}

// countUnsynced counts a selection whose detail refused a replica for its
// sync (the reasons of sentinel's unsyncedReason and the loading rule).
func (c *checker) countUnsynced(detail string) {
	for _, why := range []string{"rejected: sync from the master", "rejected: never synced", "rejected: loading", "rejected: replicating from"} {
		if strings.Contains(detail, why) {
			c.unsyncedRefused++
			return
		}
	}
}

// infoRendered notes the state of r as it renders the INFO reply info.
func (c *checker) infoRendered(r *redis, info *sentinel.Info) {
	c.infos[info] = infoTruth{host: r.host, unsynced: r.unsynced()}
}

// infoTaken is an agent's Node taking in an INFO reply: from now on it
// knows what that reply said about the instance's sync.
func (c *checker) infoTaken(a *agent, info *sentinel.Info) {
	if tr, ok := c.infos[info]; ok {
		delete(c.infos, info)
		c.ag[a.id].unsynced[tr.host] = tr.unsynced
	}
}

// promoted is Redis executing SLAVEOF NO ONE on a replica.
func (c *checker) promoted(a *agent, r *redis) {
	if r.priority == 0 {
		c.failf(a, "promoted %s which has slave-priority 0", r.addr)
	}
	if c.w != nil {
		c.w.promoted(r)
	}
}

// turn starts the checks of one Ready; received says that its turn's
// timer pass followed a Receive. The Node takes an input before the pass
// that finds the gap since the previous pass, as Sentinel handles the
// replies an event loop iteration read before its timer detects TILT: a
// reconfiguration decided on that input (a promotion seen in an INFO
// reply, the old master demoted) is legitimate, yet comes in the same
// Ready as the +tilt event, and the Ready does not say which came first.
// Such a turn's commands are therefore not held to TILT; a pass that enters
// TILT on a Tick, and every turn after it, are.
func (c *checker) turn(a *agent, received bool) {
	t := &c.ag[a.id]
	t.receivedTurn, t.tiltThisTurn = received, false
}

// expectTilt: the agent's clock jumped by more than the TILT trigger between
// two ticks, so it must be in TILT now.
func (c *checker) expectTilt(a *agent) {
	if !c.ag[a.id].tilt {
		c.failf(a, "no TILT after a gap between ticks longer than the TILT trigger")
	}
}

// agentStart is a fresh process: no TILT, no failover, nothing seen down.
func (c *checker) agentStart(a *agent) {
	t := &c.ag[a.id]
	t.tilt, t.odown, t.tryEpoch, t.elected = false, false, 0, 0
	c.agentUp(a)
}

func (c *checker) agentUp(a *agent) {
	t := &c.ag[a.id]
	if !t.running {
		t.running, t.runningSince = true, c.now()
	}
	c.topology()
}

func (c *checker) agentDown(a *agent) {
	c.ag[a.id].running = false
	c.topology()
}

// topology recomputes which agents can reach a majority of running agents;
// called whenever the network or an agent's liveness changes.
func (c *checker) topology() {
	w := c.w
	if w == nil {
		return
	}
	for h := 0; h < c.n; h++ {
		n := 0
		for p := 0; p < c.n; p++ {
			if c.ag[p].running && w.hosts[p].up && (p == h || w.twoWay(h, p)) {
				n++
			}
		}
		t := &c.ag[h]
		has := c.ag[h].running && n >= c.majority
		if t.contact || has {
			t.lastContact = w.now
		}
		t.contact = has
	}
	c.vipChanged()
}

// staleAcquire: host h claims the VIP with config epoch e while other holds
// it with a newer one. The claimant acts on a configuration it should know
// is outdated; with fencing on, this is a split brain the design promises to
// avoid.
func (c *checker) staleAcquire(h int, e uint64, other vipHolder) {
	c.staleAcquires++
	if c.w.opts.Fence {
		c.failf(c.w.agents[h], "stale VIP claim: h%d claims the VIP with config epoch %d while h%d holds it with epoch %d",
			h, e, other.host, other.epoch)
	}
}

// vipChanged checks the fence window. With fence yes, a VIP holder must let
// go within the lease (sentinel.FenceLease: down-after/3, plus the runtime's
// slack) in two situations:
//
//   - it has not been able to reach a majority of the agents: the lease
//     counts from the moment it lost them, so the old host is expected to
//     release before the majority can even see its master down;
//   - another host holds the VIP with a newer config epoch (an overlap):
//     the lease counts from the moment the overlap began.
//
// Time during which the stale holder's agent cannot act (crashed, stalled)
// is excused: no software fence can act then, that is the watchdog's job.
// Overlaps are measured in every run, fenced or not.
func (c *checker) vipChanged() {
	w := c.w
	if w == nil || len(w.vip.holders) < 2 {
		return
	}
	newest := 0
	for i, x := range w.vip.holders {
		y := w.vip.holders[newest]
		if x.epoch > y.epoch || x.epoch == y.epoch && x.since > y.since {
			newest = i
		}
	}
	nw := w.vip.holders[newest]
	for i, x := range w.vip.holders {
		if i == newest {
			continue
		}
		t := &c.ag[x.host]
		if !t.running {
			continue
		}
		from := max(nw.since, x.since, t.runningSince)
		why := "an overlap with h" + strconv.Itoa(nw.host)
		if !t.contact {
			if lost := max(t.lastContact, t.runningSince, x.since); lost < from {
				from, why = lost, "losing the majority"
			}
		}
		held := w.now - from
		c.maxStaleHold = max(c.maxStaleHold, held)
		if w.opts.Fence && held > c.lease {
			c.failf(w.agents[x.host], "fence: h%d (epoch %d) still holds the VIP %v after %s (fence window %v); h%d holds it with epoch %d",
				x.host, x.epoch, held, why, c.lease, nw.host, nw.epoch)
		}
	}
}
