// Package redislink executes the sentinel.Commands the core asks for against
// monitored Redis instances and peer agents, and reports every outcome back as
// a sentinel.Input.
//
// Each (instance, link) pair gets its own connection and its own goroutine,
// which runs the commands sent to it strictly in order: a transaction's MULTI,
// SLAVEOF, CONFIG REWRITE, CLIENT KILL and EXEC therefore reach Redis one
// after the other on one socket. Connections are opened only when the core
// sends a CmdConnect and are never re-opened behind its back: when one fails
// the Transport reports LinkDown and forgets it, and the core decides when to
// reconnect (Sentinel reconnects at most once per ping period).
//
// Every command runs with a deadline, so a hung instance costs one
// CommandTimeout and then shows up as a LinkDown.
//
// Hello PUBLISHes to a master or replica travel on a second connection of
// the command link, so that one held by CLIENT PAUSE WRITE never delays a
// PING (see link.publishesApart).
//
// Replies are hostile until proven otherwise: every connection reads
// through a RESP framing validator with caps on lengths, sizes and nesting
// (bounded.go), and a goroutine that panics ends its own link only. Both
// are counted (Transport.Stats).
package redislink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/defaults"
	"github.com/vipsentinel/vipsentinel/internal/panics"
	"github.com/vipsentinel/vipsentinel/internal/ratelog"
	"github.com/vipsentinel/vipsentinel/internal/tcprto"
)

// Defaults for Options.
const (
	DefaultDialTimeout    = 1 * time.Second
	DefaultCommandTimeout = 5 * time.Second
	DefaultMaxQueue       = 256
	DefaultOutBuffer      = 1024
)

// Buffer sizes of a connection, by what it carries. An agent keeps two
// connections per monitored instance (hundreds with many masters), so
// these are most of its heap: at 200 masters, 8 KiB each way made 21 of
// the 44 MiB in use. A buffer smaller than a reply costs nothing but a
// read: go-redis reads a bulk string longer than the buffer straight into
// its own allocation, and a line longer than it in pieces; a write longer
// than the buffer goes to the socket directly, in order.
const (
	// cmdReadBuffer holds a PING's or a peer's reply whole, and the
	// first part of an INFO reply (a few KiB; the rest is one more read,
	// every 10 s per instance).
	cmdReadBuffer = 2 << 10
	// subReadBuffer is a pub/sub connection's: it is shared by every
	// master naming the server, and hellos arrive in bursts.
	subReadBuffer = 8 << 10
	// pubReadBuffer is a publish connection's: its replies are integers.
	pubReadBuffer = 512
	// writeBuffer holds any command the agent sends (a hello PUBLISH,
	// a failover transaction, a peer's IS-MASTER-DOWN-BY-ADDR).
	writeBuffer = 1 << 10
)

// readBufferSize is the read buffer of l's connection.
func readBufferSize(l *link) int {
	switch {
	case l.parent != nil:
		return pubReadBuffer
	case l.which == sentinel.LinkPubSub:
		return subReadBuffer
	}
	return cmdReadBuffer
}

// Options configures a Transport. Zero values select the defaults above.
type Options struct {
	Logger *slog.Logger
	// DialTimeout bounds the TCP connect.
	DialTimeout time.Duration
	// CommandTimeout bounds each command (and each connection set-up
	// command) from write to reply.
	CommandTimeout time.Duration
	// MaxQueue is how many commands may wait on one link. A link whose queue
	// overflows is treated as failed: Sentinel likewise stops feeding links
	// with too many pending commands, and a reconnect clears the backlog.
	MaxQueue int
	// OutBuffer is the capacity of the Inputs channel.
	OutBuffer int
	// Dial opens TCP connections; tests and network namespaces substitute it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// PeerAllowed reports whether a peer at addr that does not know
	// VIPSENTINEL PROVE (a real redis-sentinel) may be verified by AUTH
	// and SENTINEL MYID instead: the addresses the operator listed. Nil
	// allows none.
	PeerAllowed func(sentinel.Addr) bool
	// TLS, when set (tls-replication yes), wraps the raw connection of a
	// link to host in TLS: every link is TLS, and the server must present a
	// certificate for host that verifies (tls.go). tlsconf.Source.Client
	// is one, and closes the link if a reload stops trusting the server.
	TLS func(raw net.Conn, host string) *tls.Conn
	// CertProof makes a peer's verified certificate proof of membership
	// (sentinel.ProofCert): tls-auth-clients yes, so the CA admits the
	// group's agents only.
	CertProof bool
}

// Transport runs commands for the core. Do is safe for concurrent use and
// never blocks; results arrive on Inputs.
type Transport struct {
	opts Options
	log  *slog.Logger
	out  chan sentinel.Input
	done chan struct{}

	mu     sync.Mutex
	links  map[linkKey]*link // command links
	subs   map[string]*sharedSub
	subOf  map[sentinel.Ref]*sharedSub
	closed bool
	wg     sync.WaitGroup

	proofLogAt time.Time // last warning about a failed peer proof
	proofFails uint64

	badReplies atomic.Uint64
	panics     panics.Counter
	logLimit   *ratelog.Limiter // warnLimited

	// beforeExec, when set by a test, runs before each command a link
	// executes (to inject a panic into a link goroutine).
	beforeExec func(sentinel.Command)
}

// Stats counts what the Transport's links refused or recovered from.
type Stats struct {
	// BadReplies counts replies refused as malformed or over a limit
	// (see ReplyError); each closed its link.
	BadReplies uint64
	// Panics counts panics recovered in link goroutines; each closed its
	// link.
	Panics uint64
}

// Stats returns the counters so far.
func (t *Transport) Stats() Stats {
	return Stats{BadReplies: t.badReplies.Load(), Panics: t.panics.Load()}
}

// linkKey identifies one command connection. The core shares one link to a
// peer agent between all the masters it monitors, and names the master a
// command is about in the command's Ref, so a peer's key is (kind, address,
// link). A master or replica link belongs to one monitored master, as in
// Sentinel: two masters naming the same server have a connection each (and
// each its own PINGs), so their key includes the master's name. Pub/sub
// links are shared per server (sharedSub).
type linkKey struct {
	kind   sentinel.Kind
	master string
	addr   sentinel.Addr
	link   sentinel.Link
}

func keyOf(ref sentinel.Ref, l sentinel.Link) linkKey {
	k := linkKey{kind: ref.Kind, addr: ref.Addr, link: l}
	if ref.Kind != sentinel.KindSentinel {
		k.master = ref.Master
	}
	return k
}

// New returns a Transport with no connections.
func New(opts Options) *Transport {
	opts.DialTimeout = defaults.Positive(opts.DialTimeout, DefaultDialTimeout)
	opts.CommandTimeout = defaults.Positive(opts.CommandTimeout, DefaultCommandTimeout)
	opts.MaxQueue = defaults.Positive(opts.MaxQueue, DefaultMaxQueue)
	opts.OutBuffer = defaults.Positive(opts.OutBuffer, DefaultOutBuffer)
	if opts.Dial == nil {
		// tcprto: a lost segment on a link to a peer or to Redis is
		// retransmitted after tens of milliseconds, not Linux's 200.
		d := &net.Dialer{KeepAlive: 15 * time.Second, Control: tcprto.Control}
		opts.Dial = d.DialContext
	}
	log := defaults.Logger(opts.Logger)
	return &Transport{
		opts:     opts,
		log:      log,
		logLimit: ratelog.New(warnInterval),
		out:      make(chan sentinel.Input, opts.OutBuffer),
		done:     make(chan struct{}),
		links:    make(map[linkKey]*link),
		subs:     make(map[string]*sharedSub),
		subOf:    make(map[sentinel.Ref]*sharedSub),
	}
}

// Inputs returns the channel on which results are reported. It is never
// closed; stop reading after Close.
func (t *Transport) Inputs() <-chan sentinel.Input { return t.out }

// Do starts executing cmd. It never blocks on the network.
//
// A command for a link that is not connected is answered at once as the core
// would see a dead link: LinkDown for connection-level commands, and a
// failed CommandDone for transactions and other commands.
func (t *Transport) Do(cmd sentinel.Command) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	key := keyOf(cmd.To, cmd.Link)
	if cmd.Link == sentinel.LinkPubSub && cmd.To.Kind != sentinel.KindSentinel {
		switch cmd.Kind {
		case sentinel.CmdConnect:
			l := t.connectSubLocked(cmd)
			t.mu.Unlock()
			if l != nil {
				go l.run(cmd)
			}
			return
		case sentinel.CmdClose:
			t.closeSubLocked(cmd.To)
			t.mu.Unlock()
			return
		}
	}
	switch cmd.Kind {
	case sentinel.CmdConnect:
		if old := t.links[key]; old != nil {
			// A new CmdConnect replaces the old connection: the core has
			// already forgotten it.
			old.close()
			delete(t.links, key)
		}
		l := newLink(t, key, cmd)
		t.links[key] = l
		t.wg.Add(1)
		t.mu.Unlock()
		go l.run(cmd)
		return
	case sentinel.CmdClose:
		if l := t.links[key]; l != nil {
			l.close()
			delete(t.links, key)
		}
		t.mu.Unlock()
		return
	}
	l := t.links[key]
	t.mu.Unlock()
	if l == nil || !l.enqueue(cmd) {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.failCommand(cmd, "link not connected")
		}()
	}
}

// Close closes every connection and waits for their goroutines to finish.
// Nothing is reported for connections closed this way.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for k, l := range t.links {
		l.close()
		delete(t.links, k)
	}
	for k, s := range t.subs {
		s.l.close()
		delete(t.subs, k)
	}
	close(t.done)
	t.mu.Unlock()
	t.wg.Wait()
	return nil
}

// warnInterval is how often warnLimited repeats a warning.
const warnInterval = time.Minute

// warnLimited logs a warning about one instance (args start with "addr",
// <address>) at most once per warnInterval for each message and address:
// the conditions it reports (refused credentials, hostile replies) repeat
// at every reconnect for as long as they last. The line after a pause says
// how many were held back ("suppressed").
func (t *Transport) warnLimited(msg string, args ...any) {
	key := msg
	if len(args) >= 2 {
		key += "\x00" + fmt.Sprint(args[1])
	}
	ok, n := t.logLimit.Allow(key)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	t.log.Warn(msg, args...)
}

// report delivers in to the core unless the Transport is closing.
func (t *Transport) report(in sentinel.Input) {
	select {
	case t.out <- in:
	case <-t.done:
	}
}

// forget removes l from the table if it is still the current link for its key.
func (t *Transport) forget(l *link) {
	t.mu.Lock()
	if t.links[l.key] == l {
		delete(t.links, l.key)
	}
	t.mu.Unlock()
}

// failCommand reports a command that could not be sent.
func (t *Transport) failCommand(cmd sentinel.Command, reason string) {
	switch cmd.Kind {
	case sentinel.CmdTransaction, sentinel.CmdOther:
		t.report(sentinel.CommandDone{ID: cmd.ID, To: cmd.To, Err: reason})
	case sentinel.CmdPublish:
		t.report(sentinel.PublishReply{To: cmd.To, OK: false})
	case sentinel.CmdAskMasterDown:
		t.report(sentinel.IsDownReply{To: cmd.To, Valid: false})
	default:
		// PING and INFO: the link state (already reported, or about to
		// be) tells the core, which forgets pending commands with it.
	}
}

// clientOptions returns go-redis options for one connection to addr. The
// pool holds a single connection and never retries, so commands keep their
// order and a failed command is never silently re-sent (a re-sent SLAVEOF
// NO ONE could land after the failover moved on).
func (t *Transport) clientOptions(addr string, l *link) *redis.Options {
	o := &redis.Options{
		Addr: addr,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			ctx, cancel := context.WithTimeout(ctx, t.opts.DialTimeout)
			defer cancel()
			c, err := t.opts.Dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			l.setLocal(c.LocalAddr())
			if c, err = t.secure(ctx, c, l); err != nil {
				return nil, err
			}
			if l.which == sentinel.LinkCmd && l.ref.Kind == sentinel.KindSentinel {
				// Before go-redis or the set-up send anything (AUTH).
				proof, err := t.provePeer(c, l.ref, l.secret)
				if err != nil {
					_ = c.Close()
					return nil, err
				}
				l.setProof(proof)
			}
			return c, nil
		},
		// RESP2: Sentinel speaks RESP2 to instances, and INFO comes back
		// as a plain bulk string.
		Protocol:              2,
		DisableIdentity:       true,
		MaxRetries:            -1,
		DialTimeout:           t.opts.DialTimeout,
		DialerRetries:         1,
		ReadTimeout:           t.opts.CommandTimeout,
		WriteTimeout:          t.opts.CommandTimeout,
		ContextTimeoutEnabled: true,
		// Small buffers (see readBufferSize): go-redis's 32 KiB defaults
		// made them most of the agent's memory.
		ReadBufferSize:  readBufferSize(l),
		WriteBufferSize: writeBuffer,
		// No separate pipeline pool: a link is one connection, and a
		// transaction must stay on it, in order.
		PipelinePoolSize: -1,
		PoolSize:         1,
		MaxActiveConns:   1,
		MinIdleConns:     0,
		PoolTimeout:      t.opts.CommandTimeout,
		ConnMaxIdleTime:  -1,
		OnConnect:        l.onConnect,
	}
	// Everything go-redis reads, it reads through the reply validator.
	o.Dialer = boundedDialer(o.Dialer, l.badReply)
	return o
}

// ---------------------------------------------------------------------------
// Error classification.

// AuthError reports that an instance refused our credentials.
type AuthError struct{ Msg string }

// Error describes the refusal; it never contains the password.
func (e *AuthError) Error() string { return "authentication failed: " + e.Msg }

// isRedisError reports whether err is an error reply from the server, as
// opposed to a transport failure.
func isRedisError(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// isAuthError reports whether a server error reply means our credentials
// were refused or are missing.
func isAuthError(msg string) bool {
	upper := strings.ToUpper(msg)
	switch {
	case strings.HasPrefix(upper, "WRONGPASS"),
		strings.HasPrefix(upper, "NOAUTH"),
		strings.Contains(upper, "INVALID PASSWORD"),
		strings.Contains(upper, "INVALID USERNAME-PASSWORD"):
		return true
	}
	return false
}

// isHarmlessAuthError reports an AUTH sent to a server without a password:
// the link works, so Sentinel's behaviour (ignore the reply) is kept.
func isHarmlessAuthError(msg string) bool {
	upper := strings.ToUpper(msg)
	return strings.Contains(upper, "WITHOUT ANY PASSWORD CONFIGURED") ||
		strings.Contains(upper, "NO PASSWORD IS SET")
}

// firstWord returns the error code of a Redis error reply ("LOADING" from
// "LOADING Redis is loading the dataset in memory").
func firstWord(msg string) string {
	if i := strings.IndexByte(msg, ' '); i >= 0 {
		return msg[:i]
	}
	return msg
}

func toArgs(cmd []string) []any {
	args := make([]any, len(cmd))
	for i, a := range cmd {
		args[i] = a
	}
	return args
}

func describe(cmd []string) string {
	if len(cmd) == 0 {
		return "(empty)"
	}
	return strings.ToUpper(cmd[0])
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// GoRedisLogger adapts log to the logger go-redis writes its internal
// messages to (pool redials and the like), at debug level so that they do
// not drown the journal. go-redis keeps it in a package variable, so only
// main should install it: redis.SetLogger(redislink.GoRedisLogger(log)).
func GoRedisLogger(log *slog.Logger) interface {
	Printf(ctx context.Context, format string, v ...any)
} {
	return goRedisLogger{log}
}

type goRedisLogger struct{ log *slog.Logger }

func (g goRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	g.log.DebugContext(ctx, "go-redis", "msg", fmt.Sprintf(format, v...))
}
