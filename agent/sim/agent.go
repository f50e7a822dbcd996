package sim

import (
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/driver"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

const masterName = "mymaster"

// item is one unit of work for an agent's single-threaded runtime loop: an
// input for the Node, or a request from a peer that the runtime serves with
// the Node's help (it returns the function that sends the answer).
type item struct {
	in  sentinel.Input
	req func() func()
}

// agent is the simulated runtime around one sentinel.Node. It drives the
// Node with the runtime's driver (agent/driver) and is the driver's IO:
// persists Ready.State to its disk (which takes time) before sending that
// Ready's commands and any answer obtained since the previous Ready,
// executes commands over the network, and feeds replies back.
type agent struct {
	w    *world
	id   int
	name string
	host int
	addr sentinel.Addr
	cfg  sentinel.Config

	node    *sentinel.Node
	drv     *driver.Driver
	disk    *sentinel.HardState // last durably persisted state (nil: never)
	running bool
	inc     int // incarnation: bumped on every crash, fences stale callbacks
	rnd     *rand.Rand

	boot         time.Duration // virtual time of process start
	ppm          int           // clock rate error
	jump         time.Duration // monotonic clock jumps so far
	stalledUntil time.Duration
	busy         bool // persisting a Ready
	pumping      bool
	inbox        []item
	tickQueued   bool
	timerGen     int
	tiltDue      bool // a timer pass inside a request found a TILT-worthy gap

	rd turn // what the Ready being flushed comes with (see flush)

	conns    []*conn // connections this agent opened
	incoming []*conn // connections peers opened to this agent's API
	runID    string

	// The VIP manager (vip.go): the latest intents not applied yet, and
	// whether their application is scheduled for this incarnation.
	vipWant   []sentinel.VIPIntent
	vipQueued bool
	vipRnd    *rand.Rand
}

// local is the agent's monotonic clock: time since process start, with a
// rate error and forward jumps.
func (a *agent) local() sentinel.Time {
	d := a.w.now - a.boot
	return d + d*time.Duration(a.ppm)/1e6 + a.jump
}

func (a *agent) stalled() bool { return a.w.now < a.stalledUntil }

// start boots the agent process from its disk.
func (a *agent) start() error {
	w := a.w
	var st *sentinel.HardState
	if a.disk != nil && w.opts.Mutate != MutateAmnesia {
		st = cloneState(a.disk)
	}
	a.cfg.Rand = rand.New(rand.NewSource(a.rnd.Int63()))
	n, err := sentinel.New(a.cfg, st)
	if err != nil {
		return fmt.Errorf("start %s: %w", a.name, err)
	}
	a.node = n
	a.drv = driver.New(n, a)
	a.running = true
	a.inc++
	a.boot = w.now
	a.jump = 0
	a.busy, a.pumping, a.tickQueued, a.tiltDue = false, false, false, false
	a.inbox = nil
	a.stalledUntil = 0
	a.vipWant, a.vipQueued = nil, false
	if st != nil {
		a.runID = st.MyID
	}
	// Start-up reconcile: an address left behind by a crashed process goes.
	w.vip.release(a.host, "agent start")
	w.trace("%s start epoch=%d", a.name, epochOf(st))
	w.check.agentStart(a)
	a.flush(turn{})
	a.tick()
	return nil
}

// crash kills the process: unpersisted state and unsent commands are lost;
// the VIP stays configured until the next start.
func (a *agent) crash(reason string) {
	if !a.running {
		return
	}
	w := a.w
	w.trace("%s crash (%s) unpersisted=%v", a.name, reason, a.busy)
	a.running = false
	a.inc++
	a.node = nil
	a.inbox = nil
	a.busy = false
	for _, c := range a.conns {
		c.close()
		if c.svc == svcAgent {
			w.agents[c.target].dropIncoming(c)
		}
	}
	a.conns = nil
	for _, c := range a.incoming {
		c.reset("connection reset by peer")
	}
	a.incoming = nil
	w.check.agentDown(a)
}

func (a *agent) dropIncoming(c *conn) {
	a.incoming = slices.DeleteFunc(a.incoming, func(x *conn) bool { return x == c })
}

// stall freezes the process (SIGSTOP, VM pause): nothing is processed, its
// peers' requests queue up, and the first tick after it resumes sees the gap.
func (a *agent) stall(d time.Duration) {
	if !a.running {
		return
	}
	w := a.w
	a.stalledUntil = max(a.stalledUntil, w.now+d)
	w.trace("%s stall %v", a.name, d)
	inc := a.inc
	w.at(a.stalledUntil, func() {
		if a.inc == inc && !a.stalled() {
			w.trace("%s resume", a.name)
			w.check.agentUp(a)
			a.pump()
		}
	})
	w.check.agentDown(a)
}

// tick starts the process's timer: the first Tick is due one tick from now.
func (a *agent) tick() { a.arm(a.w.opts.Tick, true) }

// arm sets the process's timer (driver.Driver.Arm).
func (a *agent) arm(d time.Duration, fired bool) { a.drv.Arm(a.w.now, d, fired) }

// SetTimer is the driver's timer: when it fires, a Tick is queued.
func (a *agent) SetTimer(d time.Duration) {
	w := a.w
	a.timerGen++
	gen, inc := a.timerGen, a.inc
	w.at(w.now+d, func() {
		if gen != a.timerGen || inc != a.inc {
			return
		}
		a.drv.Fired()
		if !a.running || a.tickQueued {
			return
		}
		a.tickQueued = true
		a.inbox = append(a.inbox, item{in: sentinel.Tick{}})
		a.pump()
	})
}

// simWallBase is the simulated wall clock at virtual time 0 (Unix
// milliseconds, 2026-01-01): timed maintenance ends by the wall clock.
const simWallBase = 1767225600000

// Wall is the driver's wall clock: virtual time from a fixed date, so runs
// replay exactly.
func (a *agent) Wall() int64 { return simWallBase + a.w.now.Milliseconds() }

// deliver queues an input for the incarnation inc of the process.
func (a *agent) deliver(inc int, in sentinel.Input) {
	if !a.running || inc != a.inc {
		return
	}
	a.inbox = append(a.inbox, item{in: in})
	a.pump()
}

// serve queues a request from a peer.
func (a *agent) serve(req func() func()) {
	if !a.running {
		return
	}
	a.inbox = append(a.inbox, item{req: req})
	a.pump()
}

// pump runs the loop: one item, then its Ready, until the inbox is empty or
// the loop blocks on a disk write or a stall.
func (a *agent) pump() {
	if a.pumping {
		return
	}
	a.pumping = true
	defer func() { a.pumping = false }()
	w := a.w
	for a.running && !a.busy && !a.stalled() && len(a.inbox) > 0 && w.err == nil {
		it := a.inbox[0]
		a.inbox[0] = item{}
		a.inbox = a.inbox[1:]
		var tn turn
		fired := false
		if it.req != nil {
			tn.answer = it.req()
			tn.expectTilt, tn.received = a.tiltDue, a.tiltDue
			a.tiltDue = false
		} else {
			now := a.local()
			if w.tracing && !isQuiet(it.in) {
				w.trace("%s <- %s", a.name, describeInput(it.in))
			}
			// As the runtime: a Tick runs the timer pass; any other
			// input is received, and runs the pass only if it asks to.
			if ir, ok := it.in.(sentinel.InfoReply); ok {
				w.check.infoTaken(a, ir.Info)
			}
			if _, ok := it.in.(sentinel.Tick); ok {
				a.tickQueued = false
				fired = true
				tn.expectTilt = a.tilts(a.drv.Pass(now))
			} else if gap, passed := a.drv.Input(now, it.in); passed {
				tn.expectTilt, tn.received = a.tilts(gap), true
			}
		}
		a.flush(tn)
		if a.running && a.node != nil {
			a.drv.Schedule(w.now, fired)
		}
	}
}

// tilts reports whether a gap between two timer passes (driver.Driver.Pass)
// must have put the Node in TILT.
func (a *agent) tilts(gap sentinel.Time) bool {
	return gap > a.w.tiltTrigger+a.w.opts.Tick
}

// flush takes the Node's Ready and hands it to the disk, then the network;
// tn goes with it (see Ready).
func (a *agent) flush(tn turn) {
	a.rd = tn
	a.drv.Flush()
}

// turn is what one turn of the agent's loop hands its Ready with.
type turn struct {
	answer     func() // an API request's answer, sent after the Ready's commands
	expectTilt bool   // the turn's timer pass followed a gap that must put the Node in TILT
	// received: the turn's timer pass followed a Receive, so commands the
	// Node decided on that input, before the pass found a TILT-worthy
	// gap, come in the same Ready as the +tilt event (checker.turn).
	received bool
}

// Ready is the driver's IO: it persists rd.State, then acts on rd.
func (a *agent) Ready(rd sentinel.Ready) {
	w := a.w
	tn := a.rd
	a.rd = turn{}
	if rd.State == nil {
		a.commit(rd, tn)
		return
	}
	d := time.Duration(0)
	if w.opts.FsyncMax > 0 {
		d = time.Duration(w.rDisk.Int63n(int64(w.opts.FsyncMax) + 1))
	}
	if d == 0 {
		a.commit(rd, tn)
		return
	}
	a.busy = true
	inc := a.inc
	w.at(w.now+d, func() {
		if a.inc != inc || !a.running {
			return // crashed while writing: the state never reached the disk
		}
		a.busy = false
		a.commit(rd, tn)
		a.pump()
	})
}

// commit runs once rd.State is durable: record it, then act.
func (a *agent) commit(rd sentinel.Ready, tn turn) {
	w := a.w
	w.check.turn(a, tn.received)
	if rd.State != nil {
		a.disk = cloneState(rd.State)
		a.runID = a.disk.MyID
		w.check.persisted(a, a.disk)
	}
	for _, ev := range rd.Events {
		if w.tracing && ev.Level > sentinel.LevelDebug {
			w.trace("%s %s %s e=%d", a.name, ev.Type, ev.Payload, ev.Epoch)
		}
		w.check.event(a, ev)
		if w.onEvent != nil {
			w.onEvent(a, ev)
		}
	}
	if tn.expectTilt {
		w.check.expectTilt(a)
	}
	if rd.Crash {
		// SENTINEL SIMULATE-FAILURE: exit 99 without sending anything;
		// systemd restarts the agent.
		a.crash("simulated failure")
		w.agentDownFor(a, 100*time.Millisecond)
		return
	}
	if rd.VIPs != nil {
		w.vip.apply(a, rd.VIPs)
	}
	for _, cmd := range rd.Commands {
		a.dispatch(cmd)
	}
	if tn.answer != nil {
		tn.answer()
	}
	for _, s := range rd.Scripts {
		w.trace("%s script %s %v", a.name, s.Path, s.Args)
	}
}

func (a *agent) findConn(to sentinel.Ref, l sentinel.Link) *conn {
	for _, c := range a.conns {
		if !c.pub && c.link == l && c.ref.Kind == to.Kind && c.ref.Addr == to.Addr {
			return c
		}
	}
	return nil
}

func (a *agent) removeConn(c *conn) {
	a.conns = slices.DeleteFunc(a.conns, func(x *conn) bool { return x == c })
}

// dispatch executes one command.
func (a *agent) dispatch(cmd sentinel.Command) {
	w := a.w
	if w.tracing && traced(cmd) {
		w.trace("%s -> %s %s/%s %v", a.name, cmdName(cmd.Kind), cmd.To.Kind, cmd.To.Addr, cmd.Cmds)
	}
	w.check.command(a, cmd)
	switch cmd.Kind {
	case sentinel.CmdConnect:
		if old := a.findConn(cmd.To, cmd.Link); old != nil {
			old.close()
			a.removeConn(old)
		}
		a.dial(cmd)
		return
	case sentinel.CmdClose:
		if c := a.findConn(cmd.To, cmd.Link); c != nil {
			c.close()
			a.removeConn(c)
			if c.svc == svcAgent {
				w.agents[c.target].dropIncoming(c)
			}
		}
		return
	}
	if cmd.Kind == sentinel.CmdPublish && cmd.To.Kind != sentinel.KindSentinel && !w.opts.SharedPublishLink {
		a.publish(cmd)
		return
	}
	c := a.findConn(cmd.To, cmd.Link)
	if c == nil || c.dead {
		inc := a.inc
		w.at(w.now, func() {
			a.deliver(inc, sentinel.LinkDown{To: cmd.To, Link: cmd.Link, Err: "not connected"})
		})
		return
	}
	c.req.send(func() { w.request(c, cmd) })
}

// maxPubOut bounds the hellos queued on a publish connection: a paused
// master holds them all, and one is enough to deliver once it unpauses.
// The Node resends a hello left unanswered for a publish period; one that
// finds the queue full is answered as failed when the connection next
// answers or breaks (answering at once would have it resent at once).
const maxPubOut = 2

// publish sends a hello PUBLISH to a Redis instance on the runtime's own
// publish connection to it (dialled on first use, redialled after it
// breaks, unknown to the Node), as agent/redislink does: on the command
// link, a PUBLISH blocked by CLIENT PAUSE WRITE held every PING and INFO
// queued behind it, and peers saw a paused master as down (issue 13).
// A failure is a PublishReply with OK false; the Node retries later.
func (a *agent) publish(cmd sentinel.Command) {
	w := a.w
	c := a.findPub(cmd.To.Addr)
	if c != nil && c.dead {
		a.removeConn(c)
		c = nil
	}
	if c == nil {
		c = a.dial(sentinel.Command{Kind: sentinel.CmdConnect, To: cmd.To, Link: sentinel.LinkCmd})
		c.pub = true
	}
	if len(c.pubOut) >= maxPubOut {
		c.pubLate = append(c.pubLate, cmd.To)
		return
	}
	c.pubOut = append(c.pubOut, cmd.To)
	if target, _ := w.resolve(cmd.To); target >= 0 { // else it fails at the connect timeout
		c.req.send(func() { w.request(c, cmd) })
	}
}

func (a *agent) findPub(addr sentinel.Addr) *conn {
	for _, c := range a.conns {
		if c.pub && c.ref.Addr == addr {
			return c
		}
	}
	return nil
}

// pubFailed answers the PUBLISHes lost with a publish connection.
func (c *conn) pubFailed() {
	for _, to := range append(c.pubOut, c.pubLate...) {
		c.owner.deliver(c.inc, sentinel.PublishReply{To: to, OK: false})
	}
	c.pubOut, c.pubLate = nil, nil
}

// dial opens a connection: SYN and the set-up commands, LinkUp once they are
// answered, LinkDown on a reset or after the connect timeout.
func (a *agent) dial(cmd sentinel.Command) *conn {
	w := a.w
	target, svc := w.resolve(cmd.To)
	w.nextConn++
	c := &conn{w: w, id: w.nextConn, owner: a, inc: a.inc, ref: cmd.To, link: cmd.Link, target: target, svc: svc}
	if target < 0 {
		c.target = a.host // unroutable: nothing ever answers
		c.req = newStream(w, c, a.host, a.host)
		c.rep = c.req
		a.conns = append(a.conns, c)
		w.at(w.now+w.opts.ConnectTimeout, func() { c.fail("connect timeout") })
		return c
	}
	c.req = newStream(w, c, a.host, target)
	c.rep = newStream(w, c, target, a.host)
	a.conns = append(a.conns, c)
	c.req.send(func() { w.syn(c, cmd) })
	w.at(w.now+w.opts.ConnectTimeout, func() {
		if !c.up && !c.dead {
			c.fail("connect timeout")
		}
	})
	return c
}

// resolve maps an address to the host and service listening there.
func (w *world) resolve(r sentinel.Ref) (int, service) {
	for _, h := range w.hosts[:w.opts.Agents] {
		if h.ip == r.Addr.Host {
			switch {
			case r.Kind == sentinel.KindSentinel && r.Addr.Port == agentPort:
				return h.id, svcAgent
			case r.Kind != sentinel.KindSentinel && r.Addr.Port == redisPort:
				return h.id, svcRedis
			}
		}
	}
	return -1, svcRedis
}

func (w *world) redisAt(a sentinel.Addr) *redis {
	if a.Port != redisPort {
		return nil
	}
	for _, r := range w.redis {
		if r.addr.Host == a.Host {
			return r
		}
	}
	return nil
}

// syn is the connection request arriving at the far host.
func (w *world) syn(c *conn, cmd sentinel.Command) {
	if c.dead {
		return
	}
	proof := sentinel.ProofNone
	established := func() {
		if !c.dead && !c.gone {
			c.up = true
			if c.pub {
				return // the runtime's own: the Node does not know it
			}
			c.owner.deliver(c.inc, sentinel.LinkUp{To: c.ref, Link: c.link, LocalIP: c.w.hosts[c.owner.host].ip, Proof: proof})
		}
	}
	switch c.svc {
	case svcRedis:
		r := w.redis[c.target]
		if !r.up {
			c.gone = true
			c.sendRST("connection refused")
			return
		}
		setup := cmd.Cmds
		if c.pub { // the runtime's own: it authenticates with the agents' auth-pass
			setup = [][]string{{"AUTH", w.opts.AuthPass}}
		}
		if p := w.opts.RedisPass; p != "" && !authenticates(setup, p) {
			// The set-up's AUTH is refused: the server is alive, only
			// unusable to us (redislink reports it so).
			c.gone = true
			c.rep.send(func() { c.authFailed() })
			return
		}
		r.attach(c)
		if c.link == sentinel.LinkPubSub {
			c.subscribed = true
			r.subs = append(r.subs, c)
		}
		c.rep.send(established)
	case svcAgent:
		ag := w.agents[c.target]
		if !ag.running {
			c.gone = true
			c.sendRST("connection refused")
			return
		}
		c.serverInc = ag.inc
		ag.incoming = append(ag.incoming, c)
		// The set-up commands (VIPSENTINEL PROVE, then AUTH, CLIENT
		// SETNAME, PING) need the process. The agents run without a
		// password: the proof is the open one, the endpoint's run id
		// (redislink's verifier); an endpoint with another run id fails
		// it and nothing else is sent.
		ag.serve(func() func() {
			ok := ag.node != nil && ag.node.MyID() == c.ref.RunID
			return func() {
				if !ok {
					c.rep.send(func() { c.fail("peer proof failed: run id mismatch") })
					return
				}
				proof = sentinel.ProofOpen
				c.rep.send(established)
			}
		})
	}
}

// authenticates reports whether the set-up commands hold an AUTH with
// password p.
func authenticates(setup [][]string, p string) bool {
	for _, argv := range setup {
		if len(argv) >= 2 && strings.EqualFold(argv[0], "AUTH") && argv[len(argv)-1] == p {
			return true
		}
	}
	return false
}

// request is a command arriving at the far end of c.
func (w *world) request(c *conn, cmd sentinel.Command) {
	if c.dead {
		return
	}
	switch c.svc {
	case svcRedis:
		r := w.redis[c.target]
		if c.gone || !r.up || r.inc != c.serverInc {
			c.gone = true
			c.sendRST("connection reset by peer")
			return
		}
		if len(c.held) > 0 || r.blocks(cmd) {
			r.hold(c, cmd)
			return
		}
		w.serveRedis(r, c, cmd)
	case svcAgent:
		ag := w.agents[c.target]
		if c.gone || !ag.running || ag.inc != c.serverInc {
			c.gone = true
			c.sendRST("connection reset by peer")
			return
		}
		ag.serve(func() func() {
			in := ag.answer(c, cmd)
			if in == nil {
				return nil
			}
			return func() {
				if ad, ok := in.(sentinel.IsDownReply); ok {
					w.check.voteAnswer(ag, ad.Leader, ad.LeaderEpoch)
				}
				c.rep.send(func() {
					if !c.dead {
						c.owner.deliver(c.inc, in)
					}
				})
			}
		})
	}
}

// serveRedis executes cmd on r and sends its reply back on c.
func (w *world) serveRedis(r *redis, c *conn, cmd sentinel.Command) {
	if c.dead || c.gone {
		return
	}
	in := w.redisReply(r, c, cmd)
	if in == nil {
		return
	}
	if ir, ok := in.(sentinel.InfoReply); ok {
		w.check.infoRendered(r, ir.Info)
	}
	c.rep.send(func() {
		if c.dead {
			return
		}
		c.owner.deliver(c.inc, in)
		if c.pub && len(c.pubOut) > 0 {
			c.pubOut = c.pubOut[1:]
			for _, to := range c.pubLate {
				c.owner.deliver(c.inc, sentinel.PublishReply{To: to, OK: false})
			}
			c.pubLate = nil
		}
	})
}

func first(cmds [][]string) []string {
	if len(cmds) == 0 {
		return nil
	}
	return cmds[0]
}

// redisReply executes cmd on r and builds the input its reply becomes.
func (w *world) redisReply(r *redis, c *conn, cmd sentinel.Command) sentinel.Input {
	if w.onRedis != nil {
		w.onRedis(r, cmd)
	}
	switch cmd.Kind {
	case sentinel.CmdPing:
		_, err := r.exec(c, first(cmd.Cmds))
		st := "PONG"
		if err != "" {
			st = strings.Fields(err)[0]
		}
		return sentinel.PingReply{To: cmd.To, Status: st}
	case sentinel.CmdInfo:
		raw, err := r.exec(c, first(cmd.Cmds))
		if err != "" {
			return sentinel.LinkDown{To: cmd.To, Link: cmd.Link, Err: err}
		}
		return infoReply(cmd.To, raw)
	case sentinel.CmdPublish:
		_, err := r.exec(c, first(cmd.Cmds))
		return sentinel.PublishReply{To: cmd.To, OK: err == ""}
	case sentinel.CmdTransaction:
		return sentinel.CommandDone{ID: cmd.ID, To: cmd.To, Err: r.transaction(c, cmd.Cmds)}
	default:
		errs, reply := "", ""
		for _, argv := range cmd.Cmds {
			var e string
			if reply, e = r.exec(c, argv); e != "" && errs == "" {
				errs = e
			}
		}
		return sentinel.CommandDone{ID: cmd.ID, To: cmd.To, Err: errs, Reply: reply}
	}
}

// answer serves a peer's command on this agent's API port, inside the
// agent's loop (so a stalled agent answers late).
func (a *agent) answer(c *conn, cmd sentinel.Command) sentinel.Input {
	argv := first(cmd.Cmds)
	switch cmd.Kind {
	case sentinel.CmdPing:
		return sentinel.PingReply{To: cmd.To, Status: "PONG"}
	case sentinel.CmdPublish:
		if len(argv) != 3 || argv[1] != sentinel.HelloChannel {
			return sentinel.PublishReply{To: cmd.To, OK: false}
		}
		from := c.owner.addr
		now := a.local()
		if gap, passed := a.drv.Input(now, sentinel.Hello{Via: sentinel.Ref{Master: cmd.To.Master, Kind: sentinel.KindSentinel, Addr: from}, Payload: argv[2]}); passed {
			a.tiltDue = a.tilts(gap) || a.tiltDue
		}
		return sentinel.PublishReply{To: cmd.To, OK: true}
	case sentinel.CmdAskMasterDown:
		// SENTINEL is-master-down-by-addr <ip> <port> <epoch> <runid>
		if len(argv) != 6 {
			return sentinel.IsDownReply{To: cmd.To}
		}
		port, err1 := strconv.Atoi(argv[3])
		epoch, err2 := strconv.ParseUint(argv[4], 10, 64)
		if err1 != nil || err2 != nil {
			return sentinel.IsDownReply{To: cmd.To}
		}
		down, leader, le := a.node.IsMasterDownByAddr(a.local(), argv[2], port, epoch, argv[5])
		return sentinel.IsDownReply{To: cmd.To, Valid: true, Down: down, Leader: leader, LeaderEpoch: le}
	case sentinel.CmdInfo:
		return sentinel.LinkDown{To: cmd.To, Link: cmd.Link, Err: "INFO not served"}
	case sentinel.CmdOther:
		// A lease release: a PUBLISH on the hello channel, as hellos.
		if len(argv) != 3 || !strings.EqualFold(argv[0], "PUBLISH") || argv[1] != sentinel.HelloChannel {
			return sentinel.CommandDone{ID: cmd.ID, To: cmd.To, Err: "ERR unknown command"}
		}
		now := a.local()
		if gap, passed := a.drv.Input(now, sentinel.Hello{Via: sentinel.Ref{Master: cmd.To.Master, Kind: sentinel.KindSentinel, Addr: c.owner.addr}, Payload: argv[2]}); passed {
			a.tiltDue = a.tilts(gap) || a.tiltDue
		}
		return sentinel.CommandDone{ID: cmd.ID, To: cmd.To}
	default:
		return sentinel.CommandDone{ID: cmd.ID, To: cmd.To, Err: "ERR unknown command"}
	}
}

func infoReply(to sentinel.Ref, raw string) sentinel.Input {
	info, err := sentinel.ParseInfo(raw)
	if err != nil {
		return sentinel.LinkDown{To: to, Link: sentinel.LinkCmd, Err: "bad INFO: " + err.Error()}
	}
	return sentinel.InfoReply{To: to, Info: info, Raw: raw}
}

func cloneState(s *sentinel.HardState) *sentinel.HardState {
	if s == nil {
		return nil
	}
	c := *s
	c.Masters = make([]sentinel.MasterState, len(s.Masters))
	for i, m := range s.Masters {
		m.KnownReplicas = append([]sentinel.Addr(nil), m.KnownReplicas...)
		m.KnownSentinels = append([]sentinel.SentinelRecord(nil), m.KnownSentinels...)
		if m.Config.RenamedCommands != nil {
			rc := make(map[string]string, len(m.Config.RenamedCommands))
			for k, v := range m.Config.RenamedCommands {
				rc[k] = v
			}
			m.Config.RenamedCommands = rc
		}
		c.Masters[i] = m
	}
	return &c
}

func epochOf(s *sentinel.HardState) uint64 {
	if s == nil {
		return 0
	}
	return s.CurrentEpoch
}

func isQuiet(in sentinel.Input) bool {
	switch in.(type) {
	case sentinel.Tick, sentinel.PingReply, sentinel.InfoReply, sentinel.PublishReply, sentinel.Hello:
		return true
	}
	return false
}

func describeInput(in sentinel.Input) string {
	switch x := in.(type) {
	case sentinel.LinkUp:
		return fmt.Sprintf("link-up %s %s %s", x.To.Kind, x.To.Addr, linkName(x.Link))
	case sentinel.LinkDown:
		return fmt.Sprintf("link-down %s %s %s %q", x.To.Kind, x.To.Addr, linkName(x.Link), x.Err)
	case sentinel.IsDownReply:
		return fmt.Sprintf("is-down-reply %s down=%v leader=%s epoch=%d", x.To.Addr, x.Down, x.Leader, x.LeaderEpoch)
	case sentinel.CommandDone:
		return fmt.Sprintf("done #%d %s err=%q", x.ID, x.To.Addr, x.Err)
	}
	return fmt.Sprintf("%T", in)
}

// traced leaves the periodic traffic (PING, INFO, hello, is-down polls)
// out of the trace.
func traced(cmd sentinel.Command) bool {
	switch cmd.Kind {
	case sentinel.CmdPing, sentinel.CmdInfo, sentinel.CmdPublish:
		return false
	case sentinel.CmdAskMasterDown:
		argv := first(cmd.Cmds)
		return len(argv) == 6 && argv[5] != "*"
	}
	return true
}

func cmdName(k sentinel.CmdKind) string {
	return [...]string{"connect", "close", "ping", "info", "publish", "ask", "multi", "cmd"}[k]
}
