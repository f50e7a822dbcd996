// Package api serves the Sentinel-compatible RESP API (port 26379 by
// default): SENTINEL subcommands, PING, INFO, ROLE, AUTH, HELLO, CLIENT,
// COMMAND, ACL, pub/sub of events, and the hello PUBLISH from peers, with the
// reply shapes, field order and error strings of Redis Sentinel, so that
// redis-cli, go-redis, redis-py, Jedis, ioredis, phpredis and real
// redis-sentinel peers work unchanged.
//
// The server is a small RESP server of its own rather than
// github.com/tidwall/redcon: redcon's reader buffers a whole request of any
// declared size before the handler sees it (its buffer doubles without
// bound and is re-scanned from the start on every read), so it cannot apply
// Redis's pre-AUTH limit of 10 arguments of 16 KiB; its pub/sub writes
// RESP2 frames only (RESP3 clients need push frames); and it has no
// accounting of queued output, so a subscriber that stops reading grows the
// server's memory without limit. Here requests are read by agent/resp with
// limits checked before allocation, and every client has one bounded output
// queue drained by its own writer goroutine.
//
// A reply is normally written by the goroutine that read the request when
// nothing else is queued or being written for that client: handing every
// reply to the writer goroutine costs a goroutine switch per request, which
// limits the rate clients polling SENTINEL GET-MASTER-ADDR-BY-NAME get.
// Replies to pipelined requests and pub/sub messages (which arrive from
// other goroutines) go through the queue and the writer goroutine, in the
// order they were produced.
//
// Requests and replies go through the plain net.Conn. A path with raw
// read and write syscalls on the non-blocking socket (skipping the
// scheduler's syscall bookkeeping, at the price of unsafe) was measured
// against it with BenchmarkRedisBenchmark and removed: it bought no CPU
// per request and lost rate (see bench_test.go).
package api

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/resp"
	"github.com/vipsentinel/vipsentinel/internal/defaults"
	"github.com/vipsentinel/vipsentinel/internal/panics"
	"github.com/vipsentinel/vipsentinel/internal/ratelog"
)

// Defaults for Config.
const (
	DefaultMaxClients     = 10000
	DefaultPubSubHard     = 32 << 20 // Redis: client-output-buffer-limit pubsub 32mb 8mb 60
	DefaultPubSubSoft     = 8 << 20
	DefaultPubSubSoftTime = 60 * time.Second
	DefaultCallTimeout    = 10 * time.Second
	// RedisVersion is the Redis version the API reports (HELLO, INFO):
	// clients pick features by it, and we implement 7.0's Sentinel.
	RedisVersion = "7.0.15"
)

// outputBackpressure is how much reply data may wait for a slow client
// before the server stops reading its requests.
const outputBackpressure = 1 << 20

// preAuthOutput is outputBackpressure before authentication.
const preAuthOutput = 4 << 10

// writeTimeout bounds one write to a client that does not read at all.
const writeTimeout = 5 * time.Minute

// Config configures a Server.
type Config struct {
	Backend Backend
	Logger  *slog.Logger
	// RequirePass, when set, is the password of the default user; clients
	// must AUTH before anything but AUTH, HELLO and QUIT.
	RequirePass string
	// Users are the config file's user lines (name, then rules), applied
	// after RequirePass; ACLFile is the aclfile instead (see acl.go).
	Users   [][]string
	ACLFile string
	// UsersChanged, if set, is given the users as ACL LIST renders them
	// after an ACL SETUSER or DELUSER changed them while no ACLFile holds
	// them, before the reply: the runtime persists them (Sentinel's
	// configuration rewrite keeps them in sentinel.conf). An error is
	// logged; the change stays in force.
	UsersChanged func(ctx context.Context, users []string) error
	// ACLPubsubAllChannels is acl-pubsub-default allchannels: new users
	// get every channel (Redis 6.2's default) instead of none.
	ACLPubsubAllChannels bool
	// Port is reported in INFO (tcp_port).
	Port int
	// Version is vipsentinel's version, reported in INFO.
	Version string
	// ConfigFile is reported in INFO (config_file).
	ConfigFile string
	// MaxClients caps concurrent connections (Redis's maxclients).
	MaxClients int
	// MaxUnauthenticated caps the connections that have not authenticated
	// (only when RequirePass is set): a new connection over it, or over
	// MaxClients, takes the slot of the oldest unauthenticated one. Default:
	// MaxClients/4, at most 1024.
	MaxUnauthenticated int
	// AuthTimeout is how long a client has to authenticate when RequirePass
	// is set (DefaultAuthTimeout if 0).
	AuthTimeout time.Duration
	// IdleTimeout closes a client that sent nothing for this long (Redis's
	// timeout; 0 never). Subscribed clients are exempt, as in Redis.
	IdleTimeout time.Duration
	// ProtectedMode, when RequirePass is empty, refuses clients that do not
	// connect from a loopback address (Redis's protected-mode).
	ProtectedMode bool
	// PubSubHard and PubSubSoft/PubSubSoftTime are the output limits of a
	// subscribed client: over Hard, or over Soft for SoftTime, it is
	// disconnected, as Redis does.
	PubSubHard, PubSubSoft int
	PubSubSoftTime         time.Duration
	// CallTimeout bounds one Backend call.
	CallTimeout time.Duration
	// PeerProof answers VIPSENTINEL PROVE <nonce> (package peerproof),
	// which is accepted before AUTH: our run id and the MAC over the
	// nonce, the run id and local, the address the challenge arrived at.
	// Nil refuses the command.
	PeerProof func(nonce string, local net.Addr) (runid, mac string)
}

// Server is the RESP API server. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	started time.Time
	runID   string

	nextID   atomic.Int64
	stats    stats
	rates    rates
	aclLog   aclLog
	logLimit *ratelog.Limiter // logLimited
	acl      *acl

	mu        sync.Mutex
	clients   map[int64]*client
	unauth    unauthList // unauthenticated clients, oldest first
	listeners map[net.Listener]struct{}
	closed    bool
	ps        pubsub

	handshakes tlsHandshakes // TLS handshakes in progress (tls.go)

	// sampling is set once the rate sampler runs; stopSampling ends it.
	sampling     bool
	stopSampling chan struct{}

	wg sync.WaitGroup
}

type stats struct {
	connections  atomic.Int64
	commands     atomic.Int64
	rejected     atomic.Int64
	netIn        atomic.Int64
	netOut       atomic.Int64
	reads        atomic.Int64 // reads from client sockets
	writes       atomic.Int64 // writes to client sockets
	errors       atomic.Int64
	authFail     atomic.Int64
	pubsubKills  atomic.Int64
	maxInput     atomic.Int64   // largest request read, in bytes of arguments
	denied       atomic.Int64   // refused by protected mode
	evicted      atomic.Int64   // unauthenticated clients closed to make room
	authTimeouts atomic.Int64   // clients closed for not authenticating in time
	panics       panics.Counter // panics recovered while serving a client
	tlsFailures  atomic.Int64   // failed TLS handshakes
}

// PanicsRecovered returns how many panics in client goroutines were
// recovered (each closed its client's connection).
func (s *Server) PanicsRecovered() uint64 { return s.stats.panics.Load() }

// New returns a Server. It does not listen; call Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, errors.New("api: no backend")
	}
	cfg.MaxClients = defaults.Positive(cfg.MaxClients, DefaultMaxClients)
	cfg.MaxUnauthenticated = defaults.Positive(cfg.MaxUnauthenticated, max(1, min(cfg.MaxClients/4, 1024)))
	cfg.AuthTimeout = defaults.Positive(cfg.AuthTimeout, DefaultAuthTimeout)
	cfg.PubSubHard = defaults.Positive(cfg.PubSubHard, DefaultPubSubHard)
	cfg.PubSubSoft = defaults.Positive(cfg.PubSubSoft, DefaultPubSubSoft)
	cfg.PubSubSoftTime = defaults.Positive(cfg.PubSubSoftTime, DefaultPubSubSoftTime)
	cfg.CallTimeout = defaults.Positive(cfg.CallTimeout, DefaultCallTimeout)
	log := defaults.Logger(cfg.Logger)
	users, err := newACL(cfg.RequirePass, cfg.Users, cfg.ACLFile, cfg.ACLPubsubAllChannels)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	var id [20]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("api: run id: %w", err)
	}
	return &Server{
		cfg:       cfg,
		log:       log,
		started:   time.Now(),
		runID:     hex.EncodeToString(id[:]),
		acl:       users,
		logLimit:  ratelog.New(logInterval),
		clients:   make(map[int64]*client),
		listeners: make(map[net.Listener]struct{}),
		ps:        newPubSub(),

		stopSampling: make(chan struct{}),
	}, nil
}

// Serve accepts connections on ln until ln fails or Close is called. It
// returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("api: server closed")
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed", "err", err)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("api: accept: %w", err)
		}
		backoff = 0
		s.ServeConn(conn)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// ServeConn serves one already-accepted connection in the background.
func (s *Server) ServeConn(conn net.Conn) {
	if s.startHandshake(conn) {
		return // back here once the TLS handshake completed
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	if s.protected() && !isLoopback(conn.RemoteAddr()) && !verifiedClient(conn) {
		s.mu.Unlock()
		s.stats.denied.Add(1)
		s.logLimited("denied", slog.LevelWarn, "refused non-loopback API client: protected mode (no requirepass)",
			"client", conn.RemoteAddr().String())
		refuse(conn, deniedMsg)
		return
	}
	authed := s.acl.anonymousOK()
	evict, ok := s.admit(authed)
	if !ok {
		s.mu.Unlock()
		s.stats.rejected.Add(1)
		s.logLimited("rejected", slog.LevelWarn, "refused API client: max number of clients reached",
			"client", conn.RemoteAddr().String(), "maxclients", s.cfg.MaxClients)
		refuse(conn, "-ERR max number of clients reached\r\n")
		return
	}
	c := newClient(s, conn)
	s.clients[c.id] = c
	if !authed {
		c.unauthElem = s.unauth.l.PushBack(c)
		c.authTimer = time.AfterFunc(s.cfg.AuthTimeout, c.authExpired)
	}
	s.wg.Add(2)
	if !s.sampling {
		// Started with the first client rather than in New, so that a
		// Server that never serves needs no Close.
		s.sampling = true
		s.wg.Add(1)
		go s.sampleRates(s.stopSampling)
	}
	s.mu.Unlock()
	for _, old := range evict {
		s.stats.evicted.Add(1)
		s.logLimited("evicted", slog.LevelWarn, "closed the oldest unauthenticated API client to make room",
			"client", old.addr, "unauthenticated", s.cfg.MaxUnauthenticated, "maxclients", s.cfg.MaxClients)
		old.close()
	}
	s.stats.connections.Add(1)
	go c.writeLoop()
	go c.readLoop()
}

// Close stops all listeners, disconnects every client and waits for their
// goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stopSampling)
	for ln := range s.listeners {
		_ = ln.Close()
	}
	clients := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.close()
	}
	s.closeHandshakes()
	s.wg.Wait()
	return nil
}

// Publish sends message to the subscribers of channel (and of matching
// patterns) and returns how many received it. It never blocks: a subscriber
// whose output queue is over its limit is disconnected instead.
func (s *Server) Publish(channel, message string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ps.publish(channel, message)
}

// removeClient forgets c (after it was closed).
func (s *Server) removeClient(c *client) {
	s.mu.Lock()
	s.forgetLocked(c)
	s.mu.Unlock()
}

// call runs a Backend call with the per-call timeout, bound to the client's
// life.
func (s *Server) call(c *client) (context.Context, context.CancelFunc) {
	cc := &callContext{parent: c.ctx, deadline: time.Now().Add(s.cfg.CallTimeout)}
	return cc, cc.release
}

// callContext is context.WithDeadline(parent, deadline), made only when
// the Backend asks for its Done channel: most calls (the master address
// above all, answered from a snapshot) never wait, and a real context costs
// a timer and three allocations per request.
type callContext struct {
	parent   context.Context
	deadline time.Time

	mu       sync.Mutex
	ctx      context.Context
	cancel   context.CancelFunc
	released bool
}

func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.ctx, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.released {
			c.cancel()
		}
	}
	return c.ctx.Done()
}

func (c *callContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ctx != nil:
		return c.ctx.Err()
	case c.released:
		return context.Canceled
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *callContext) Value(key any) any { return c.parent.Value(key) }

// release is the context's CancelFunc.
func (c *callContext) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = true
	if c.cancel != nil {
		c.cancel()
	}
}

// ---------------------------------------------------------------------------
// Clients.

// replyMode is set by CLIENT REPLY.
type replyMode int

const (
	replyOn replyMode = iota
	replyOff
	replySkipNext
	replySkip // skipping the current command's reply
)

type client struct {
	srv     *Server
	id      int64
	conn    net.Conn
	addr    string
	laddr   string
	created time.Time
	ctx     context.Context
	cancel  context.CancelFunc
	rd      *resp.Reader
	w       *resp.Writer // reply being built; reader goroutine only
	// writeDeadline is the connection's write deadline; holder of writing
	// only.
	writeDeadline time.Time

	mu       sync.Mutex
	cond     *sync.Cond
	out      []byte // queued output
	inflight int    // bytes being written, not yet written
	// writing is set while a goroutine (reader or writer) writes to conn:
	// the other must not, so that output keeps its order.
	writing    bool
	closed     bool
	quit       bool // close once the queue is written
	softSince  time.Time
	name       string
	libName    string
	libVer     string
	proto      int
	authed     bool
	user       *aclUser // guarded by mu; its fields by Server.acl
	lastCmd    string
	lastActive time.Time
	subs       map[string]struct{}
	psubs      map[string]struct{}
	reply      replyMode
	authTimer  *time.Timer // closes the client if it has not authenticated by then

	// unauthElem is c's entry in the server's list of unauthenticated
	// clients; guarded by the server's lock.
	unauthElem *list.Element
	// idleArmed is set while a read deadline for the idle timeout is set;
	// reader goroutine only.
	idleArmed bool
}

func newClient(s *Server, conn net.Conn) *client {
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{
		srv:        s,
		id:         s.nextID.Add(1),
		conn:       conn,
		addr:       conn.RemoteAddr().String(),
		laddr:      conn.LocalAddr().String(),
		created:    time.Now(),
		ctx:        ctx,
		cancel:     cancel,
		w:          resp.NewWriter(2),
		proto:      2,
		authed:     s.acl.anonymousOK(),
		user:       s.acl.def,
		lastCmd:    "NULL",
		lastActive: time.Now(),
		subs:       map[string]struct{}{},
		psubs:      map[string]struct{}{},
	}
	c.cond = sync.NewCond(&c.mu)
	c.rd = resp.NewReader(countingReader{conn, &s.stats.netIn, &s.stats.reads})
	return c
}

// countingReader counts the bytes read and the reads made.
type countingReader struct {
	r     io.Reader
	n     *atomic.Int64
	reads *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	c.reads.Add(1)
	return n, err
}

// close disconnects the client at once. It is idempotent.
func (c *client) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cond.Broadcast()
	if c.authTimer != nil {
		c.authTimer.Stop()
		c.authTimer = nil
	}
	c.mu.Unlock()
	c.cancel()
	_ = c.conn.Close()
	c.srv.removeClient(c)
}

func (c *client) readLoop() {
	defer c.srv.wg.Done()
	defer panics.Recover(c.srv.log, &c.srv.stats.panics, "api client goroutine panicked; closing the connection",
		func(*panics.Error) { c.close() }, "client", c.addr)
	for {
		if !c.waitOutput() {
			return
		}
		c.mu.Lock()
		authed := c.authed
		subscribed := len(c.subs)+len(c.psubs) > 0
		c.mu.Unlock()
		lim := resp.Authenticated
		if authed {
			c.idleDeadline(subscribed)
		} else {
			lim = preAuthLimits
		}
		args, err := c.rd.ReadRequest(lim)
		if err != nil {
			var pe *resp.ProtocolError
			if errors.As(err, &pe) {
				c.srv.logLimited("protocol", slog.LevelInfo, "protocol error from client", "client", c.addr, "err", pe.Msg)
				c.w.Error("ERR " + pe.Error())
				c.flushReply()
			} else if errors.Is(err, os.ErrDeadlineExceeded) {
				c.srv.log.Debug("closing idle client", "client", c.addr, "timeout", c.srv.cfg.IdleTimeout)
			}
			// Write what is queued (a reply to a last request sent just
			// before the client half-closed, or the protocol error), then
			// close.
			c.finish()
			return
		}
		c.srv.stats.commands.Add(1)
		if n := int64(c.rd.MaxRequestSeen()); n > c.srv.stats.maxInput.Load() {
			c.srv.stats.maxInput.Store(n)
		}
		c.dispatch(args)
		c.flushReply()
		c.mu.Lock()
		quit := c.quit || c.closed
		c.mu.Unlock()
		if quit {
			return
		}
	}
}

// waitOutput blocks while the client has too much output queued, so a
// client that sends requests without reading replies is throttled by TCP
// instead of growing the server's memory. It returns false once closed.
func (c *client) waitOutput() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed && len(c.out)+c.inflight > c.outputLimit() {
		c.cond.Wait()
	}
	return !c.closed
}

// outputLimit is how much output may wait before the client's requests are
// no longer read: small before authentication, where every reply is a
// short error, so that anonymous clients that never read cannot make the
// server hold their replies. Called with c.mu held.
func (c *client) outputLimit() int {
	if !c.authed {
		return preAuthOutput
	}
	return outputBackpressure
}

// finish closes the client after its queued output is written.
func (c *client) finish() {
	c.mu.Lock()
	c.quit = true
	c.cond.Broadcast()
	c.mu.Unlock()
}

// flushReply sends the reply built by the current command, honouring CLIENT
// REPLY: written by this goroutine when the client's output is idle and no
// further request is already buffered; otherwise through the output queue.
// Writing here saves a goroutine switch per request, which limits the rate
// of clients that poll SENTINEL GET-MASTER-ADDR-BY-NAME. The write may
// block while the client does not read; then this goroutine, which is this
// client's alone, stops reading its requests: the backpressure wanted, and
// no other client waits.
func (c *client) flushReply() {
	if c.w.Len() == 0 {
		return
	}
	defer c.w.Reset()
	reply := c.w.Bytes()
	c.mu.Lock()
	switch c.reply {
	case replyOff, replySkip:
		if c.reply == replySkip {
			c.reply = replyOn
		}
		c.mu.Unlock()
		return
	}
	if c.closed {
		c.mu.Unlock()
		return
	}
	// Replies to pipelined requests are left to the writer goroutine,
	// which sends them together.
	if c.writing || len(c.out) > 0 || c.rd.Buffered() > 0 {
		c.out = append(c.out, reply...)
		c.cond.Broadcast()
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.inflight = len(reply)
	c.mu.Unlock()

	err := c.writeNow(reply)

	c.mu.Lock()
	c.writing = false
	c.inflight = 0
	if len(c.out) > 0 || c.quit {
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	if err != nil {
		c.close()
	}
}

// writeNow writes b from the reader goroutine. The caller holds the
// writing flag.
func (c *client) writeNow(b []byte) error {
	c.armWriteDeadline()
	n, err := c.conn.Write(b)
	c.srv.stats.netOut.Add(int64(n))
	c.srv.stats.writes.Add(1)
	return err
}

// armWriteDeadline makes a write fail once the client has read nothing for
// between half of writeTimeout and writeTimeout. The deadline is moved only
// when half of it is used up, so that most writes do not touch it. Called
// by the holder of the writing flag.
func (c *client) armWriteDeadline() {
	now := time.Now()
	if c.writeDeadline.Sub(now) < writeTimeout/2 {
		c.writeDeadline = now.Add(writeTimeout)
		_ = c.conn.SetWriteDeadline(c.writeDeadline)
	}
}

// push queues an out-of-band message (pub/sub). Called with the server's
// lock held; it must not block. Over the pub/sub limits the client is
// disconnected, as Redis does with client-output-buffer-limit.
func (c *client) push(msg []byte) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	pending := len(c.out) + c.inflight + len(msg)
	cfg := &c.srv.cfg
	kill := pending > cfg.PubSubHard
	if !kill && pending > cfg.PubSubSoft {
		if c.softSince.IsZero() {
			c.softSince = time.Now()
		} else if time.Since(c.softSince) > cfg.PubSubSoftTime {
			kill = true
		}
	} else if pending <= cfg.PubSubSoft {
		c.softSince = time.Time{}
	}
	if kill {
		c.mu.Unlock()
		c.srv.stats.pubsubKills.Add(1)
		c.srv.log.Warn("disconnecting subscriber over output limit", "client", c.addr, "pending_bytes", pending)
		// close takes the server lock: do it elsewhere.
		go c.close()
		return false
	}
	c.out = append(c.out, msg...)
	c.cond.Broadcast()
	c.mu.Unlock()
	return true
}

func (c *client) writeLoop() {
	defer c.srv.wg.Done()
	defer panics.Recover(c.srv.log, &c.srv.stats.panics, "api client goroutine panicked; closing the connection",
		func(*panics.Error) { c.close() }, "client", c.addr)
	var spare []byte
	for {
		c.mu.Lock()
		for !c.closed && (c.writing || len(c.out) == 0 && !c.quit) {
			c.cond.Wait()
		}
		if c.closed || len(c.out) == 0 {
			// Closed, or quitting with everything written.
			c.mu.Unlock()
			c.close()
			return
		}
		buf := c.out
		c.out = spare[:0]
		c.inflight = len(buf)
		c.writing = true
		c.mu.Unlock()

		c.armWriteDeadline()
		n, err := c.conn.Write(buf)
		c.srv.stats.netOut.Add(int64(n))
		c.srv.stats.writes.Add(1)

		c.mu.Lock()
		c.inflight = 0
		c.writing = false
		c.cond.Broadcast()
		c.mu.Unlock()
		if err != nil {
			c.close()
			return
		}
		if cap(buf) <= 64<<10 {
			spare = buf[:0]
		} else {
			spare = nil
		}
	}
}
