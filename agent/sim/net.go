package sim

import (
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// host is one machine: an agent and a Redis instance (agent hosts), or a
// client. A crashed host answers nothing and sends no resets.
type host struct {
	id int
	ip string
	up bool
}

// packet is one message on a stream; fn runs on arrival.
type packet struct {
	ready time.Duration
	fn    func()
}

// stream is one direction of a TCP connection: an ordered, reliable byte
// stream over a lossy path. A lost transmission is retried with exponential
// backoff (like TCP's RTO), and everything sent behind it while it waited
// arrives with the retransmission that fills the hole; a path that stays cut past the TCP timeout breaks
// the connection. Packets are never reordered or silently dropped while the
// connection lives, which is what TCP promises the runtime.
type stream struct {
	w        *world
	c        *conn
	from, to int
	q        []packet
	armed    bool
	rto      time.Duration
	stuck    time.Duration // when the head was first not delivered; -1 when not stuck
	attemptF func()
}

func newStream(w *world, c *conn, from, to int) *stream {
	s := &stream{w: w, c: c, from: from, to: to, stuck: -1}
	s.attemptF = s.attempt
	return s
}

func (s *stream) send(fn func()) {
	if s.c.dead {
		return
	}
	p := packet{ready: s.w.now + s.w.delay(s.from, s.to), fn: fn}
	s.q = append(s.q, p)
	if !s.armed {
		s.arm(p.ready)
	}
}

func (s *stream) arm(at time.Duration) {
	s.armed = true
	s.w.at(at, s.attemptF)
}

func (s *stream) attempt() {
	s.armed = false
	if s.c.dead {
		s.q = nil
		return
	}
	if len(s.q) == 0 {
		return
	}
	w := s.w
	p := s.q[0]
	if w.now < p.ready {
		s.arm(p.ready)
		return
	}
	if w.passable(s.from, s.to) && !w.lost(s.from, s.to) {
		recovered := s.rto > 0
		s.q[0] = packet{}
		s.q = s.q[1:]
		s.rto, s.stuck = 0, -1
		p.fn()
		// What was sent while the head waited for its retransmission
		// left in the same window and waits in the receiver's buffer
		// (its own losses repaired by selective acknowledgement, not by
		// one RTO after another): the retransmission that fills the hole
		// hands all of it to the reader at once. Rolling the loss again
		// for each of these, one retransmission timeout after the other,
		// made a burst of small commands on a lossy link take seconds to
		// drain, which TCP does not do.
		for recovered && len(s.q) > 0 && s.q[0].ready <= w.now && !s.c.dead {
			p := s.q[0]
			s.q[0] = packet{}
			s.q = s.q[1:]
			p.fn()
		}
		if len(s.q) > 0 && !s.armed && !s.c.dead {
			s.arm(max(w.now, s.q[0].ready))
		}
		return
	}
	if s.stuck < 0 {
		s.stuck = w.now
	}
	if w.now-s.stuck > w.opts.TCPTimeout {
		s.c.fail("tcp timeout")
		return
	}
	switch {
	case s.rto == 0:
		s.rto = s.rtoMin()
	case s.rto < 3*time.Second:
		s.rto *= 2
	}
	s.arm(w.now + s.rto)
}

// rtoMin is the first retransmission timeout of s: the floor of the
// socket that sends on it (the RTT of the modelled networks is far below
// either floor). The agent owns the sending socket of its requests, and
// of the replies when the far end is another agent.
func (s *stream) rtoMin() time.Duration {
	if f := s.w.opts.AgentRTOMin; f > 0 && (s == s.c.req || s.c.svc == svcAgent) {
		return f
	}
	return 200 * time.Millisecond // Linux's TCP_RTO_MIN
}

// service says what listens at the far end of a connection.
type service int

const (
	svcRedis service = iota
	svcAgent
)

// conn is one TCP connection opened by an agent's runtime, to a Redis
// instance or to a peer agent's API port.
type conn struct {
	w      *world
	id     uint64
	owner  *agent
	inc    int // owner's incarnation
	ref    sentinel.Ref
	link   sentinel.Link
	target int
	svc    service
	req    *stream
	rep    *stream

	up   bool // established, as the owner knows it
	dead bool // closed or broken, as the owner knows it
	// far-end state
	serverInc  int  // incarnation of the server process it is attached to
	gone       bool // the server process closed it (crash, CLIENT KILL)
	subscribed bool
	held       []sentinel.Command // commands the server has not read yet (a CLIENT PAUSE blocks the first)

	// pub marks the runtime's own connection for hello PUBLISHes to a
	// Redis instance, kept apart from the Node's command link so that a
	// PUBLISH blocked by CLIENT PAUSE WRITE never delays a PING or an INFO
	// (agent.publish). pubOut lists its PUBLISHes not yet answered.
	pub     bool
	pubOut  []sentinel.Ref
	pubLate []sentinel.Ref // hellos that found pubOut full, answered later
}

// fail breaks the connection and tells the owner, unless the owner already
// knows.
func (c *conn) fail(reason string) {
	if c.dead {
		return
	}
	c.dead = true
	c.detach()
	c.w.trace("%s conn %d %s/%s %s down: %s", c.owner.name, c.id, c.ref.Kind, c.ref.Addr, linkName(c.link), reason)
	if c.pub {
		c.pubFailed()
		return
	}
	c.owner.deliver(c.inc, sentinel.LinkDown{To: c.ref, Link: c.link, Err: reason})
}

// authFailed is the server refusing the connection's AUTH.
func (c *conn) authFailed() {
	if c.dead {
		return
	}
	c.dead = true
	c.detach()
	c.w.trace("%s conn %d %s/%s %s auth failed", c.owner.name, c.id, c.ref.Kind, c.ref.Addr, linkName(c.link))
	if c.pub {
		c.pubFailed()
		return
	}
	c.owner.deliver(c.inc, sentinel.LinkDown{To: c.ref, Link: c.link, Err: "WRONGPASS invalid username-password pair or user is disabled.", AuthFailed: true})
}

// close is the owner closing the connection: no report.
func (c *conn) close() {
	if c.dead {
		return
	}
	c.dead = true
	c.detach()
}

func (c *conn) detach() {
	if c.subscribed && c.svc == svcRedis {
		c.w.redis[c.target].unsubscribe(c)
	}
	c.subscribed = false
}

// reset is the server side dropping the connection: it sends a RST that the
// owner sees once it arrives (never, if the host is down or the path stays
// cut: then the owner finds out by timeout).
func (c *conn) reset(reason string) {
	if c.dead || c.gone {
		return
	}
	c.gone = true
	if c.subscribed && c.svc == svcRedis {
		c.w.redis[c.target].unsubscribe(c)
		c.subscribed = false
	}
	c.held = nil
	c.sendRST(reason)
}

// sendRST answers the owner with a reset, as the far host's kernel does for
// a connection its process no longer has.
func (c *conn) sendRST(reason string) {
	if c.dead || !c.w.hosts[c.target].up {
		return
	}
	c.rep.send(func() { c.fail(reason) })
}

func linkName(l sentinel.Link) string {
	if l == sentinel.LinkPubSub {
		return "pubsub"
	}
	return "cmd"
}

// passable reports whether a packet from a can reach b right now.
func (w *world) passable(a, b int) bool {
	if !w.hosts[a].up || !w.hosts[b].up {
		return false
	}
	return a == b || !w.cut[a][b]
}

// lost rolls the per-attempt loss on a non-loopback path. Each directed
// link has its own loss rate, between none and twice the swarm's.
func (w *world) lost(a, b int) bool {
	return a != b && w.opts.Loss > 0 && !w.healing() && w.rNet.Float64() < w.loss[a][b]
}

// delay samples a one-way latency.
func (w *world) delay(a, b int) time.Duration {
	if a == b {
		return 20 * time.Microsecond
	}
	return w.opts.DelayMin + time.Duration(w.rNet.ExpFloat64()*float64(w.opts.DelayMean))
}

// twoWay reports whether a and b can talk in both directions.
func (w *world) twoWay(a, b int) bool { return w.passable(a, b) && w.passable(b, a) }
