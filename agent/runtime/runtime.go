// Package runtime is the I/O shell around the pure Sentinel core: one
// goroutine owns the sentinel.Node, feeds it ticks from a monotonic clock,
// replies from Redis instances and peers, and API requests, and carries out
// every Ready in the order the core's contract requires:
//
//  1. persist Ready.State (atomic write + fsync) — before anything else;
//  2. send Ready.Commands through the transport;
//  3. answer the API requests served since the previous Ready (a vote is
//     never revealed to its requester before it is on disk);
//  4. publish and log Ready.Events;
//  5. hand Ready.VIPs to the VIP manager and Ready.Scripts to the script
//     runner.
//
// If the state cannot be written, nothing of that Ready leaves the process
// (no command, no reply, no VIP change) and the write is retried on the next
// loop iteration.
package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/api"
	"github.com/vipsentinel/vipsentinel/agent/driver"
	"github.com/vipsentinel/vipsentinel/agent/peerproof"
	"github.com/vipsentinel/vipsentinel/agent/redislink"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/state"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
	"github.com/vipsentinel/vipsentinel/internal/clock"
	"github.com/vipsentinel/vipsentinel/internal/defaults"
	"github.com/vipsentinel/vipsentinel/internal/tcprto"
)

// Persister durably stores the core's HardState. *state.Store implements it.
type Persister interface {
	Save(*sentinel.HardState) error
}

// VIPSetter receives the desired VIP ownership (cmd/vipsentinel adapts a
// *vip.Manager, which knows nothing of the core).
// Set is called on the runtime's goroutine and must not block on the
// network.
type VIPSetter interface {
	Set([]sentinel.VIPIntent)
}

// Transport executes commands and reports their results. *redislink.Transport
// implements it.
type Transport interface {
	Do(sentinel.Command)
	Inputs() <-chan sentinel.Input
	Close() error
}

// afterFunc calls f on its own goroutine once d has passed on c, unless
// the returned stop is called first: time.AfterFunc on a Clock.
func afterFunc(c clock.Clock, d time.Duration, f func()) (stop func()) {
	t := c.NewTimer(d)
	cancel := make(chan struct{})
	go func() {
		select {
		case <-t.C():
			f()
		case <-cancel:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.Stop()
			close(cancel)
		})
	}
}

// ErrSimulatedCrash is returned by Run when a SENTINEL SIMULATE-FAILURE
// crash point was reached. Sentinel exits with status 99 then; main should
// do the same.
var ErrSimulatedCrash = errors.New("runtime: simulated crash (SENTINEL SIMULATE-FAILURE)")

// DefaultMaxSaveFailure is Options.MaxSaveFailure's default.
const DefaultMaxSaveFailure = 30 * time.Second

// ErrStateNotSaved is returned by Run when the state could not be saved
// (Options.MaxSaveFailure).
var ErrStateNotSaved = errors.New("runtime: the state cannot be saved")

// errNotSaved is Sentinel's reply when its config cannot be written.
var errNotSaved = &sentinel.ReplyError{Msg: "ERR Failed to save config file. Check server logs."}

// stopTimeout bounds the graceful stop.
const stopTimeout = 5 * time.Second

// Options configures a Runtime.
type Options struct {
	// Config and State start the core (see sentinel.New). Config.Rand
	// may be nil: a source seeded from the clock is used.
	Config sentinel.Config
	State  *sentinel.HardState
	// Store persists the state; required.
	Store Persister
	// Logger receives events and diagnostics; nil discards them.
	Logger *slog.Logger
	// LogLevel, when set, follows SENTINEL CONFIG SET loglevel.
	LogLevel *slog.LevelVar

	// Listeners serve the RESP API. When empty, the runtime listens on
	// ListenAddrs (host:port each; default ":<Config.Port>").
	Listeners   []net.Listener
	ListenAddrs []string
	// TLS, when set, is the agent's TLS material (tls-* directives):
	// TLSListeners serve the API over TLS, and with tls-replication the
	// links to Redis and peers use TLS (see tls.go).
	TLS          *tlsconf.Source
	TLSListeners []net.Listener
	// API tweaks limits of the API server; Backend, Logger and RequirePass
	// are filled in by the runtime.
	API api.Config

	// VIPs receives VIP intents; nil when no VIP is managed.
	VIPs VIPSetter
	// MaxSaveFailure is how long saving the state may keep failing
	// before Run stops with ErrStateNotSaved (default
	// DefaultMaxSaveFailure). An agent that cannot persist its votes and
	// epochs cannot take part in elections or answer its peers, and the
	// watchdog would keep it alive forever; a restart by the service
	// manager is the better outcome. An epoch that would go backwards
	// (state.ErrEpochBackwards) stops it at once.
	MaxSaveFailure time.Duration
	// Transport defaults to a redislink.Transport.
	Transport Transport
	// ListedPeers are the addresses of real redis-sentinel peers the
	// operator listed (known-sentinel lines of the configuration file):
	// the default Transport verifies a peer there that does not know
	// VIPSENTINEL PROVE by SENTINEL MYID instead (package peerproof).
	ListedPeers []sentinel.Addr
	// Clock is the clock the runtime reads: the loop's ticks and
	// timestamps, the save-failure limit, the STATUS= refresh, the graceful
	// stop's bound, hostname re-resolution and the script runner's timeouts
	// and retries. It defaults to the system clock; tests substitute
	// testenv.Clock.
	Clock clock.Clock
	// Version and ConfigFile are reported in INFO.
	Version    string
	ConfigFile string
	// Shutdown is called when a client sends SHUTDOWN; typically it cancels
	// the context passed to Run. Nil refuses SHUTDOWN.
	Shutdown func()
	// OnEvent, if set, sees every event (the core's and those given to
	// Publish) after it is logged, e.g. for metrics. It must not block.
	OnEvent func(sentinel.Event)
	// Handover are the VIP leases this agent's previous process handed
	// over (a re-exec for an upgrade or reload): the core counts them
	// until they end (sentinel.Node.InheritLease).
	Handover []HandoverLease
	// Fence, if set, is told whether a local master is fenced (its writes
	// must stop) and which addresses must still reach it, whenever that
	// changes: the firewall's fencing mode. Called on the loop goroutine; it
	// must not block for long.
	Fence func(fenced bool, allowed []netip.Addr)
	// HostStatus, if set, reports this host's floating addresses and
	// firewall for VIPSENTINEL STATUS. It is called from API goroutines,
	// not the loop, and must be safe for that.
	HostStatus func() HostStatus
}

// Runtime runs one agent. Create it with New, then call Run once.
type Runtime struct {
	opts   Options
	log    *slog.Logger
	clock  clock.Clock
	start  time.Time
	node   *sentinel.Node
	drv    *driver.Driver // feeds node; its timer is tick
	tick   clock.Timer
	tr     Transport
	api    *api.Server
	lns    []net.Listener
	script *scriptRunner
	names  *hostnames // resolve-hostnames answers fed to node (resolve.go)

	calls   chan *call
	hellos  chan sentinel.Hello // peers' hellos, taken without a round trip (backend.Hello)
	gone    chan sentinel.VIPGone
	stopped chan struct{}

	heartbeat atomic.Int64 // unix nanoseconds of the last loop iteration
	status    atomic.Value // string
	ready     chan struct{}
	readyOnce sync.Once

	// addrs is the current address of every master, published by the loop
	// once the state that holds it is persisted, so that the hottest
	// client query (GET-MASTER-ADDR-BY-NAME) is answered without a round
	// trip through the loop.
	addrs atomic.Pointer[map[string]sentinel.Addr]

	// saveFailures counts failed Store.Save calls, for metrics (read off
	// the loop goroutine).
	saveFailures atomic.Uint64

	// loop-goroutine state
	fenceKey     string
	unsaved      *sentinel.HardState
	held         []heldReady
	vips         []sentinel.VIPIntent
	hasVIPs      bool
	answered     []*call
	saveFailing  bool
	saveErr      error     // the last Store.Save error, while saveFailing
	saveFailFrom time.Time // when saving started to fail
	fatal        error     // stops the loop (ErrStateNotSaved)
	lastSaveWarn time.Time
	lastSaveTry  time.Time
	dropped      int
	lastStatus   time.Time
	statusStale  bool // an event happened since lastStatus
	logLevel     string
	crashed      bool
}

// heldReady is the part of a Ready that waits for its State to be saved.
// VIP intents are not held per Ready: each is the full desired set, so only
// the latest (Runtime.vips) matters.
type heldReady struct {
	cmds    []sentinel.Command
	events  []sentinel.Event
	scripts []sentinel.ScriptRun
	crash   bool
}

// maxHeld bounds the Readys kept while the state cannot be saved (one per
// loop iteration at most). Older ones are dropped: their commands were
// periodic probes whose loss the core handles like a lost connection.
const maxHeld = 1024

// statusDelay is how soon after an event the STATUS= line is refreshed.
const statusDelay = 100 * time.Millisecond

// saveRetry spaces the attempts to save the state while saving fails.
const saveRetry = 250 * time.Millisecond

// call is an API request executed on the loop goroutine.
type call struct {
	fn   func(now sentinel.Time)
	done chan struct{}
	err  error // set when the reply must not be sent (state not saved)
}

// New builds the core and the API server. It does not start anything.
func New(opts Options) (*Runtime, error) {
	if opts.Store == nil {
		return nil, errors.New("runtime: no state store")
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	if opts.Config.Rand == nil {
		opts.Config.Rand = rand.New(rand.NewSource(clk.Now().UnixNano()))
	}
	if opts.Config.ScriptExecutable == nil {
		opts.Config.ScriptExecutable = scriptExecutable
	}
	log := defaults.Logger(opts.Logger)
	node, err := sentinel.New(opts.Config, opts.State)
	if err != nil {
		return nil, fmt.Errorf("runtime: start core: %w", err)
	}
	tr := opts.Transport
	if tr == nil {
		listed := map[sentinel.Addr]bool{}
		for _, a := range opts.ListedPeers {
			listed[a] = true
		}
		lopts := redislink.Options{Logger: log.With("component", "redislink"),
			PeerAllowed: func(a sentinel.Addr) bool { return listed[a] }}
		linkTLS(&lopts, opts.TLS)
		tr = redislink.New(lopts)
	}
	r := &Runtime{
		opts:    opts,
		log:     log,
		clock:   clk,
		start:   clk.Now(),
		node:    node,
		tr:      tr,
		calls:   make(chan *call),
		hellos:  make(chan sentinel.Hello, maxHellos),
		gone:    make(chan sentinel.VIPGone, maxGone),
		stopped: make(chan struct{}),
		ready:   make(chan struct{}),
		names:   newHostnames(),
	}
	r.drv = driver.New(node, loopIO{r})
	// main derived the level from the configuration file; a loglevel
	// SENTINEL CONFIG SET gave in an earlier run (persisted) replaces it
	// now, later ones as they come.
	r.logLevel = cmp.Or(strings.ToLower(opts.Config.LogLevel), "notice")
	r.followLogLevel()
	r.publishAddrs()
	r.inherit(opts.Handover)
	r.script = newScriptRunner(log.With("component", "scripts"), r.Publish, clk)
	r.status.Store("starting")
	acfg := opts.API
	acfg.Backend = backend{r}
	acfg.Logger = log.With("component", "api")
	acfg.RequirePass = opts.Config.RequirePass
	acfg.PeerProof = peerProver(opts.Config, node.MyID())
	restoreUsers(&acfg, opts.State)
	acfg.UsersChanged = r.persistUsers
	if acfg.Port == 0 {
		acfg.Port = opts.Config.Port
	}
	if acfg.Version == "" {
		acfg.Version = opts.Version
	}
	if acfg.ConfigFile == "" {
		acfg.ConfigFile = opts.ConfigFile
	}
	srv, err := api.New(acfg)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	r.api = srv
	return r, nil
}

// now is the core's clock: time elapsed since the Runtime was created, read
// from the monotonic clock, so wall-clock jumps cannot cause TILT or early
// timeouts.
func (r *Runtime) now() sentinel.Time { return r.clock.Now().Sub(r.start) }

// since is time.Since on the runtime's clock.
func (r *Runtime) since(t time.Time) time.Duration { return r.clock.Now().Sub(t) }

// Heartbeat returns when the loop last completed an iteration (the Unix
// epoch before Run started the loop). A watchdog should stop being fed when
// this stalls.
func (r *Runtime) Heartbeat() time.Time { return time.Unix(0, r.heartbeat.Load()) }

// Ready is closed once the API is listening and the initial state has been
// persisted: the moment to send READY=1 to systemd.
func (r *Runtime) Ready() <-chan struct{} { return r.ready }

// Status returns a one-line summary for systemd's STATUS=.
func (r *Runtime) Status() string { return r.status.Load().(string) }

// Addrs returns the addresses the API listens on (after Run started).
func (r *Runtime) Addrs() []net.Addr {
	var out []net.Addr
	for _, ln := range r.lns {
		out = append(out, ln.Addr())
	}
	for _, ln := range r.opts.TLSListeners {
		out = append(out, ln.Addr())
	}
	return out
}

// Listen opens the API listeners if they were not given, so that errors
// (address in use) surface before Run. Run calls it if needed.
func (r *Runtime) Listen() error {
	if len(r.lns) > 0 {
		return nil
	}
	if len(r.opts.Listeners) > 0 || len(r.opts.TLSListeners) > 0 {
		r.lns = r.opts.Listeners
		return nil
	}
	addrs := r.opts.ListenAddrs
	if len(addrs) == 0 {
		addrs = []string{fmt.Sprintf(":%d", r.opts.Config.Port)}
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range r.lns {
				_ = l.Close()
			}
			r.lns = nil
			return fmt.Errorf("runtime: listen on %s: %w", a, err)
		}
		r.lns = append(r.lns, tcprto.Listener(ln))
	}
	return nil
}

// Run runs the agent until ctx is cancelled (returns nil) or a fatal error.
// The stop is graceful and bounded: in-flight work gets at most 5 s.
func (r *Runtime) Run(ctx context.Context) error {
	if err := r.Listen(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, ln := range r.lns {
		wg.Add(1)
		go func(ln net.Listener) {
			defer wg.Done()
			if err := r.api.Serve(ln); err != nil {
				r.log.Error("api listener failed", "addr", ln.Addr().String(), "err", err)
			}
		}(ln)
	}
	r.serveTLS(&wg)
	r.log.Info("agent started", "myid", r.node.MyID(), "epoch", r.node.CurrentEpoch(), "listen", fmt.Sprint(r.Addrs()))
	err := r.loop(ctx)

	// Graceful stop: refuse new API calls, close the API and the links,
	// stop scripts. Each step is bounded.
	close(r.stopped)
	done := make(chan struct{})
	go func() {
		_ = r.api.Close()
		_ = r.tr.Close()
		r.script.stop(stopTimeout - time.Second)
		wg.Wait()
		close(done)
	}()
	bound := r.clock.NewTimer(stopTimeout)
	defer bound.Stop()
	select {
	case <-done:
	case <-bound.C():
		r.log.Warn("graceful stop timed out")
	}
	r.log.Info("agent stopped")
	return err
}

// loopIO is the driver's IO: the Ready goes to process, the timer is the
// loop's.
type loopIO struct{ r *Runtime }

func (l loopIO) Ready(rd sentinel.Ready)  { l.r.process(rd) }
func (l loopIO) SetTimer(d time.Duration) { l.r.tick.Reset(d) }

// Wall is the runtime's clock: timed maintenance ends by it (sentinel.Tick).
func (l loopIO) Wall() int64 { return l.r.clock.Now().UnixMilli() }

// loop owns the Node: it feeds it through the driver (agent/driver) from the
// timer, the transport's replies, peers' hellos and API calls.
func (r *Runtime) loop(ctx context.Context) error {
	tick := r.clock.NewTimer(r.node.Timing().Tick)
	defer tick.Stop()
	r.tick = tick
	r.heartbeat.Store(r.clock.Now().UnixNano())
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go r.watchStall(wctx)
	// The first Ready carries a fresh agent's generated myid and the
	// initial VIP intents.
	r.startResolving(ctx, r.now())
	r.drv.Pass(r.now())
	r.drv.Flush()
	if r.unsaved == nil {
		r.readyOnce.Do(func() { close(r.ready) })
	}
	inputs := r.tr.Inputs()
	r.drv.Schedule(r.now(), true)
	for {
		fired := false
		select {
		case <-ctx.Done():
			r.failCalls(errors.New("agent is stopping"))
			return nil
		case <-tick.C():
			r.drv.Fired()
			r.drv.Pass(r.now())
			fired = true
		case in := <-inputs:
			now := r.now()
			urgent := r.receive(now, in)
			// Take what else is waiting, bounded, so that one timer pass
			// and one Ready cover a burst of replies. Routine replies of
			// a calm agent wait for the next tick's pass (Receive).
		drain:
			for i := 0; i < 256; i++ {
				select {
				case in := <-inputs:
					urgent = r.receive(now, in) || urgent
				default:
					break drain
				}
			}
			if urgent {
				r.drv.Pass(now)
			}
		case g := <-r.gone:
			now := r.now()
			if r.receive(now, g) {
				r.drv.Pass(now)
			}
		case h := <-r.hellos:
			now := r.now()
			urgent := r.receive(now, h)
			if r.takeHellos(now) || urgent {
				r.drv.Pass(now)
			}
		case c := <-r.calls:
			now := r.now()
			// A peer's hellos sent before this request are applied
			// first, as they would be without the queue.
			if r.takeHellos(now) {
				r.drv.Pass(now)
			}
			c.fn(now)
			r.answered = append(r.answered, c)
		}
		r.drv.Flush()
		if r.crashed {
			r.failCalls(ErrSimulatedCrash)
			return ErrSimulatedCrash
		}
		if r.fatal != nil {
			r.log.Error("stopping: the state cannot be saved", "err", r.fatal)
			r.failCalls(errNotSaved)
			return r.fatal
		}
		if r.unsaved == nil {
			r.readyOnce.Do(func() { close(r.ready) })
		}
		r.heartbeat.Store(r.clock.Now().UnixNano())
		r.refreshStatus()
		r.drv.Schedule(r.now(), fired)
	}
}

// maxGone bounds the VIP manager's confirmations waiting for the loop:
// one per change of a master's VIP intent, so it is never full unless the
// loop is stuck.
const maxGone = 256

// VIPGone tells the core that the VIP manager applied the intent gen of
// master, which does not own the VIP, and that its addresses are off the
// interfaces (vip.Options.OnGone): only then does the core release that
// VIP's lease to the other agents. Safe from any goroutine; it never
// blocks. A confirmation dropped because the loop is stuck costs only the
// early release: the grants then lapse by themselves.
func (r *Runtime) VIPGone(master string, gen uint64) {
	select {
	case r.gone <- sentinel.VIPGone{Master: master, Gen: gen}:
	default:
		r.log.Warn("VIP removal confirmation dropped: the loop is behind", "master", master, "gen", gen)
	}
}

// maxHellos bounds the peers' hellos waiting for the loop; when it is full,
// Hello waits for the loop as other calls do.
const maxHellos = 4096

// takeHellos receives the hellos waiting in the queue and reports whether
// one of them asks for the timer pass now (Node.Receive).
func (r *Runtime) takeHellos(now sentinel.Time) (urgent bool) {
	for {
		select {
		case h := <-r.hellos:
			urgent = r.receive(now, h) || urgent
		default:
			return urgent
		}
	}
}

// process carries out the core's Ready in contract order, and retries
// saving the state while that fails (rd may be empty then).
func (r *Runtime) process(rd sentinel.Ready) {
	if !emptyReady(&rd) {
		if rd.State != nil {
			r.unsaved = rd.State
		}
		r.held = append(r.held, heldReady{cmds: rd.Commands, events: rd.Events, scripts: rd.Scripts, crash: rd.Crash})
		if rd.VIPs != nil {
			r.vips, r.hasVIPs = rd.VIPs, true
		}
		if len(r.held) > maxHeld {
			// Never sent; still logged, as they happened.
			r.logEvents(r.held[0].events)
			r.held[0] = heldReady{}
			r.held = r.held[1:]
			r.dropped++
		}
	}
	saved := false
	if r.unsaved != nil {
		// While saving fails, retry at most every saveRetry, or at once
		// when a client waits for its answer; between tries the last
		// failure stands (and is the one a stop reports).
		err := r.saveErr
		if !r.saveFailing || len(r.answered) > 0 || r.since(r.lastSaveTry) >= saveRetry {
			r.lastSaveTry = r.clock.Now()
			err = r.opts.Store.Save(r.unsaved)
			r.saveErr = err
			if err != nil {
				r.saveFailures.Add(1)
			}
		}
		if err != nil {
			if !r.saveFailing {
				r.saveFailFrom = r.clock.Now()
			}
			limit := defaults.Positive(r.opts.MaxSaveFailure, DefaultMaxSaveFailure)
			if errors.Is(err, state.ErrEpochBackwards) || r.since(r.saveFailFrom) > limit {
				r.fatal = fmt.Errorf("%w for %v (limit %v): %w", ErrStateNotSaved, r.since(r.saveFailFrom).Round(time.Millisecond), limit, err)
			}
			if !r.saveFailing || r.since(r.lastSaveWarn) > 10*time.Second {
				r.log.Error("cannot persist state; holding commands, replies and VIP changes until it is saved", "err", err)
				r.lastSaveWarn = r.clock.Now()
			}
			r.saveFailing = true
			// Calls answered since the state changed must not be
			// revealed; they fail instead (a peer asks again).
			r.failCalls(errNotSaved)
			return
		}
		if r.saveFailing {
			r.log.Info("state persisted again", "dropped_readys", r.dropped)
			r.dropped = 0
		}
		r.saveFailing = false
		r.unsaved = nil
		saved = true
	}
	held := r.held
	r.held = nil
	for _, h := range held {
		if h.crash {
			r.logEvents(h.events)
			r.log.Error("simulated crash point reached; exiting without sending commands")
			r.crashed = true
			return
		}
		for _, c := range h.cmds {
			r.tr.Do(c)
		}
	}
	// A master's address only changes with the state (a failover, a reset,
	// SENTINEL MONITOR/REMOVE); rebuilding the table on every Ready was a
	// visible share of an idle agent's work with many masters.
	if saved || len(r.answered) > 0 {
		r.publishAddrs()
	}
	for _, c := range r.answered {
		close(c.done)
	}
	r.answered = r.answered[:0]
	for _, h := range held {
		r.logEvents(h.events)
		for _, ev := range h.events {
			if ev.Level > sentinel.LevelDebug {
				r.api.Publish(ev.Type, ev.Payload)
			}
		}
		for _, s := range h.scripts {
			r.script.run(s, r.node.Timing())
		}
		r.checkFence(h.events)
	}
	if r.hasVIPs {
		if r.opts.VIPs != nil {
			r.opts.VIPs.Set(r.vips)
		}
		r.vips, r.hasVIPs = nil, false
	}
	if len(held) > 0 {
		running, queued := r.script.counts()
		r.node.SetScriptCounts(running, queued)
		for _, h := range held {
			if len(h.events) > 0 {
				r.statusStale = true // something happened: refresh STATUS= soon
				break
			}
		}
	}
	r.followLogLevel()
}

// emptyReady reports whether rd carries nothing to do.
func emptyReady(rd *sentinel.Ready) bool {
	return rd.State == nil && len(rd.Commands) == 0 && len(rd.Events) == 0 && len(rd.Scripts) == 0 &&
		rd.VIPs == nil && !rd.Crash
}

// failCalls answers the pending API calls with err.
func (r *Runtime) failCalls(err error) {
	for _, c := range r.answered {
		c.err = err
		close(c.done)
	}
	r.answered = r.answered[:0]
}

// logEvents logs events with stable keys: event, master, epoch.
func (r *Runtime) logEvents(events []sentinel.Event) {
	for _, ev := range events {
		lvl := slog.LevelInfo
		switch ev.Level {
		case sentinel.LevelDebug:
			lvl = slog.LevelDebug
		case sentinel.LevelWarning:
			lvl = slog.LevelWarn
		}
		attrs := []slog.Attr{slog.String("event", ev.Type), slog.String("payload", ev.Payload)}
		if ev.Master != "" {
			attrs = append(attrs, slog.String("master", ev.Master))
		}
		if ev.Epoch != 0 {
			attrs = append(attrs, slog.Uint64("epoch", ev.Epoch))
		}
		if ev.Detail != "" {
			attrs = append(attrs, slog.String("detail", ev.Detail))
		}
		if strings.HasPrefix(ev.Type, "+vip-") {
			// "<master> <vip> <iface> epoch <n> ...": the journal gets a VIP field.
			if f := strings.Fields(ev.Payload); len(f) > 1 {
				attrs = append(attrs, slog.String("vip", f[1]))
			}
		}
		r.log.LogAttrs(context.Background(), lvl, ev.Type+" "+ev.Payload, attrs...)
		if r.opts.OnEvent != nil {
			r.opts.OnEvent(ev)
		}
	}
}

// Publish logs an event produced outside the core (the VIP manager, the
// script runner) and, unless it is a debug event, publishes it on the API's
// pub/sub. It is safe to call from any goroutine and never blocks.
func (r *Runtime) Publish(ev sentinel.Event) {
	r.logEvents([]sentinel.Event{ev})
	if ev.Level > sentinel.LevelDebug {
		r.api.Publish(ev.Type, ev.Payload)
	}
}

// followLogLevel applies SENTINEL CONFIG SET loglevel to the log level.
func (r *Runtime) followLogLevel() {
	if r.opts.LogLevel == nil {
		return
	}
	lvl := strings.ToLower(r.node.LogLevel())
	if lvl == r.logLevel {
		return
	}
	r.logLevel = lvl
	switch lvl {
	case "debug":
		r.opts.LogLevel.Set(slog.LevelDebug)
	case "verbose", "notice":
		r.opts.LogLevel.Set(slog.LevelInfo)
	case "warning":
		r.opts.LogLevel.Set(slog.LevelWarn)
	case "nothing":
		r.opts.LogLevel.Set(slog.LevelError + 4)
	}
}

// refreshStatus recomputes the STATUS= line once a second, and within
// statusDelay of an event. With many masters the line is long, and an event
// in every loop iteration (a flapping peer) made it a visible share of the
// agent's work.
func (r *Runtime) refreshStatus() {
	since := r.since(r.lastStatus)
	if since < time.Second && !(r.statusStale && since >= statusDelay) {
		return
	}
	r.statusStale = false
	r.lastStatus = r.clock.Now()
	var parts []string
	for _, m := range r.node.Status(r.now()) {
		s := fmt.Sprintf("%s %s epoch %d", m.Name, m.Addr, m.ConfigEpoch)
		switch {
		case m.ODown:
			s += " odown"
		case m.SDown:
			s += " sdown"
		}
		if m.FailoverState != "" && m.FailoverState != "none" {
			s += " failover " + m.FailoverState
		}
		if m.HasVIP {
			if m.VIPWanted {
				s += " vip held"
			} else {
				s += " vip not held"
			}
		}
		if m.Fenced {
			s += " fenced"
		}
		s += fmt.Sprintf(" agents %d/%d", m.AgentsReachable, m.AgentsKnown)
		parts = append(parts, s)
	}
	st := strings.Join(parts, "; ")
	if r.node.Tilt() {
		st = "TILT; " + st
	}
	if r.saveFailing {
		st = "STATE NOT SAVED; " + st
	}
	if st == "" {
		st = "no masters monitored"
	}
	r.status.Store(st)
}

// do runs fn on the loop goroutine and waits until its effects are
// persisted (see process).
func (r *Runtime) do(ctx context.Context, fn func(now sentinel.Time)) error {
	c := &call{fn: fn, done: make(chan struct{})}
	select {
	case r.calls <- c:
	case <-r.stopped:
		return errors.New("ERR agent is stopping")
	case <-ctx.Done():
		return fmt.Errorf("ERR agent busy: %w", ctx.Err())
	}
	// Once accepted, the call is always answered by the loop (or failed
	// when it stops), so waiting here cannot leak.
	<-c.done
	return c.err
}

// peerProver answers VIPSENTINEL PROVE (package peerproof) for the API: the
// MAC is keyed with the group's peer secret, the password agents AUTH to
// each other with (sentinel-pass, else requirepass: the verifier's key, see
// redislink's authSecret; with ACL users, sentinel-pass is the password of
// sentinel-user, and requirepass may be unset), over the address the
// challenge arrived at, or the announced one (behind NAT, what peers dial
// is announce-ip/announce-port).
func peerProver(cfg sentinel.Config, myid string) func(nonce string, local net.Addr) (string, string) {
	return func(nonce string, local net.Addr) (string, string) {
		var host string
		var port int
		if tcp, ok := local.(*net.TCPAddr); ok {
			host, port = tcp.IP.String(), tcp.Port
		}
		if cfg.AnnounceIP != "" {
			host = cfg.AnnounceIP
		}
		if cfg.AnnouncePort != 0 {
			port = cfg.AnnouncePort
		}
		return myid, peerproof.MAC(cmp.Or(cfg.SentinelPass, cfg.RequirePass), nonce, myid, peerproof.Addr(host, port))
	}
}
