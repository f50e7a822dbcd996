// Package metrics exports the agent's state to Prometheus and answers health
// checks, over HTTP on the metrics-addr directive's address: /metrics in the
// Prometheus text format, /healthz, and /master and /replica for load
// balancers' health checks (HAProxy, cloud load balancers): 200 on the host
// whose Redis has that role, 503 elsewhere.
//
// Nothing is booked twice and nothing is global: the state of the Sentinel
// core, the VIP manager and the firewall is read from them at scrape time
// through small interfaces (CoreSource, VIPSource, FirewallSource), and the
// only state kept here is what exists nowhere else: event counters and the
// failover-duration histogram, fed by ObserveEvent. Every Metrics has its own
// registry, with the Go runtime and process collectors.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/defaults"
)

// Defaults for Options.
const (
	DefaultCoreTimeout      = 2 * time.Second
	DefaultHeartbeatTimeout = 5 * time.Second
)

// maxEventTypes bounds the label values of vipsentinel_events_total. Event
// types are a fixed vocabulary; the bound only guards against a future
// caller putting something variable there.
const maxEventTypes = 256

// VIPSource reports the floating addresses. The metrics package takes plain
// values so that it does not depend on the VIP manager (netlink, packet
// sockets); package source adapts a *vip.Manager.
type VIPSource interface {
	VIPs() []VIP
}

// VIP is one configured floating address at scrape time.
type VIP struct {
	Master    string
	Addr      string // the address, without prefix length
	Interface string
	Held      bool
	Epoch     uint64    // config epoch of the intent last acted on
	Since     time.Time // when Held last changed; zero if never
	Failing   bool      // the last action on the address failed
	// Announcements counts announcement packets sent, Repairs re-adds after
	// someone else removed the address, Conflicts claims of it by another
	// hardware address while held (the last at LastConflict).
	Announcements, Repairs, Conflicts uint64
	LastConflict                      time.Time
}

// FirewallSource reports the firewall; package source adapts a
// *firewall.Manager.
type FirewallSource interface {
	Firewall() Firewall
}

// Firewall is the state of the agent's firewall at scrape time.
type Firewall struct {
	Open    bool // the agent's table is installed
	Fenced  bool // the Redis ports are restricted to the fencing allow-list
	Failing bool // the last firewall operation failed
	// Conflicts counts foreign input chains that drop the opened ports,
	// Handled those an injected accept rule overrides.
	Conflicts, Handled int
	Restores           int       // re-applications after someone else changed the rules
	LastApply          time.Time // when the ruleset was last confirmed or written
}

// Options configures a Metrics. Every field is optional: a nil source only
// leaves its metrics out.
type Options struct {
	Core     CoreSource
	VIPs     VIPSource
	Firewall FirewallSource
	// Faults counts refused replies and recovered panics.
	Faults FaultSource
	// Heartbeat returns when the main loop last completed an iteration
	// (runtime.Runtime.Heartbeat). Without it /healthz always fails.
	Heartbeat func() time.Time
	// Now is the clock /healthz compares Heartbeat with; time.Now by
	// default.
	Now func() time.Time
	// HeartbeatTimeout is the largest heartbeat age /healthz accepts
	// (default DefaultHeartbeatTimeout).
	HeartbeatTimeout time.Duration
	// CoreTimeout bounds the wait for a Core snapshot per scrape (default
	// DefaultCoreTimeout).
	CoreTimeout time.Duration
	// FailoverWindow is the longest failover vipsentinel_failover_duration_seconds
	// measures; an attempt still open after it is dropped (default
	// DefaultFailoverWindow).
	FailoverWindow time.Duration
	// Version is exported as vipsentinel_build_info{version}.
	Version string
	// Logger receives scrape and server errors; nil discards them.
	Logger *slog.Logger
}

// Metrics is the agent's metrics registry and HTTP endpoint. Its methods are
// safe for concurrent use.
type Metrics struct {
	opts     Options
	log      *slog.Logger
	reg      *prometheus.Registry
	coll     *collector
	events   *prometheus.CounterVec
	failover *prometheus.HistogramVec
	scripts  *prometheus.CounterVec
	handover *prometheus.CounterVec
	tracker  *failoverTracker
	handler  http.Handler

	mu    sync.Mutex
	types map[string]bool // event types counted so far
}

// New builds a Metrics. It starts nothing; see Handler and Serve.
func New(opts Options) *Metrics {
	if isNil(opts.Core) {
		opts.Core = nil
	}
	if isNil(opts.VIPs) {
		opts.VIPs = nil
	}
	if isNil(opts.Firewall) {
		opts.Firewall = nil
	}
	if isNil(opts.Faults) {
		opts.Faults = nil
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.HeartbeatTimeout = defaults.Positive(opts.HeartbeatTimeout, DefaultHeartbeatTimeout)
	opts.CoreTimeout = defaults.Positive(opts.CoreTimeout, DefaultCoreTimeout)
	opts.FailoverWindow = defaults.Positive(opts.FailoverWindow, DefaultFailoverWindow)
	log := defaults.Logger(opts.Logger)
	m := &Metrics{
		opts:    opts,
		log:     log,
		reg:     prometheus.NewRegistry(),
		tracker: newFailoverTracker(opts.FailoverWindow),
		types:   map[string]bool{},
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipsentinel_events_total",
			Help: "Events emitted by the agent (Sentinel's +sdown, +switch-master, ... and vipsentinel's +vip-acquired, +fence, ...), by type.",
		}, []string{"type"}),
		failover: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vipsentinel_failover_duration_seconds",
			Help: "Time from this agent's first +try-failover or +elected-leader for a master to the +switch-master or +failover-end that completed the failover.",
			// From a fast automatic failover (about 100 ms) up to failover
			// timeouts of minutes.
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600},
		}, []string{"master"}),
		scripts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipsentinel_script_failures_total",
			Help: "notification-script and client-reconfig-script runs that failed: reason=\"error\" (could not start, or exited non-zero or on a signal; -script-error) or \"timeout\" (killed after 60 s; -script-timeout).",
		}, []string{"reason"}),
		handover: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vipsentinel_handovers_total",
			Help: "VIP leases handed from a stopping agent process to its successor on this host, counted by the successor: kind=\"reexec\" (reload or upgrade, same PID) or \"restart\" (systemctl restart); result=\"adopted\" (+handover: the VIP stayed up) or \"failed\" (-handover: the lease could not be passed or ended first, and the VIP was claimed again).",
		}, []string{"kind", "result"}),
	}
	m.scripts.WithLabelValues("error")
	m.scripts.WithLabelValues("timeout")
	for _, kind := range handoverKinds {
		m.handover.WithLabelValues(kind, "adopted")
		m.handover.WithLabelValues(kind, "failed")
	}
	// Counters that alerts watch exist from the start, so that the first
	// occurrence is an increase rather than a new series.
	for _, t := range []string{"+sdown", "+odown", "+try-failover", "+switch-master", "+failover-end",
		"+tilt", "+vip-acquired", "+vip-released", "+vip-conflict", "+fence", "+quorum-lost"} {
		m.events.WithLabelValues(t)
		m.types[t] = true
	}
	m.coll = newCollector(opts, log)
	buildVersion := opts.Version
	if buildVersion == "" {
		buildVersion = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			buildVersion = bi.Main.Version
		}
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "vipsentinel_build_info",
		Help:        "Always 1; the version label names the running agent's version.",
		ConstLabels: prometheus.Labels{"version": buildVersion},
	})
	build.Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build,
		m.events,
		m.failover,
		m.scripts,
		m.handover,
		m.coll,
	)

	metricsHandler := promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: errorLog{log},
		// A broken metric must not hide the others.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Registry:            m.reg,
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler)
	mux.HandleFunc("GET /healthz", m.healthz)
	mux.HandleFunc("GET /master", m.roleCheck(roleMaster))
	mux.HandleFunc("GET /replica", m.roleCheck(roleReplica))
	m.handler = mux
	return m
}

// isNil reports whether v is nil or an interface holding a nil pointer, such
// such as a nil *vip.Manager behind an adapter.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Slice, reflect.Interface, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

// ObserveEvent counts e and times failovers with it. at is when e was
// emitted; only differences between the at of events of the same master are
// used. It is cheap, never blocks on the network, and does nothing on a nil
// Metrics, so the runtime may call it unconditionally.
func (m *Metrics) ObserveEvent(at time.Time, e sentinel.Event) {
	if m == nil {
		return
	}
	typ := m.eventType(e.Type)
	if c, err := m.events.GetMetricWithLabelValues(typ); err == nil {
		c.Inc()
	}
	switch e.Type {
	case "-script-error":
		m.scripts.WithLabelValues("error").Inc()
	case "-script-timeout":
		m.scripts.WithLabelValues("timeout").Inc()
	case "+handover":
		m.handover.WithLabelValues(handoverKind(e.Payload), "adopted").Inc()
	case "-handover":
		m.handover.WithLabelValues(handoverKind(e.Payload), "failed").Inc()
	}
	if d, ok := m.tracker.observe(at, e); ok {
		if h, err := m.failover.GetMetricWithLabelValues(e.Master); err == nil {
			h.Observe(d.Seconds())
		}
	}
}

// handoverKinds are the kinds of +handover and -handover events, the first
// word of their payload (cmd/vipsentinel: runtime.HandoverReexec and
// HandoverRestart).
var handoverKinds = []string{"reexec", "restart"}

// handoverKind is the kind label of a handover event's payload; anything
// else is "other", so that the label set stays bounded.
func handoverKind(payload string) string {
	kind, _, _ := strings.Cut(payload, " ")
	if slices.Contains(handoverKinds, kind) {
		return kind
	}
	return "other"
}

// eventType is the label value for an event type: the type itself, or
// "other" once maxEventTypes distinct types have been seen.
func (m *Metrics) eventType(typ string) string {
	if typ == "" {
		return "unknown"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.types[typ] {
		if len(m.types) >= maxEventTypes {
			return "other"
		}
		m.types[typ] = true
	}
	return typ
}

// Registry returns the registry behind /metrics, for registering further
// collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves GET /metrics and GET /healthz.
func (m *Metrics) Handler() http.Handler { return m.handler }

// healthz answers 200 while the main loop's heartbeat is at most
// HeartbeatTimeout old, 503 otherwise; the body says which and why.
func (m *Metrics) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ok, msg := m.health()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, msg)
}

func (m *Metrics) health() (bool, string) {
	if m.opts.Heartbeat == nil {
		return false, "unhealthy: no heartbeat source"
	}
	hb := m.opts.Heartbeat()
	if hb.IsZero() || hb.UnixNano() <= 0 {
		return false, "unhealthy: the main loop has not run yet"
	}
	age := m.opts.Now().Sub(hb)
	if age > m.opts.HeartbeatTimeout {
		return false, fmt.Sprintf("unhealthy: main loop heartbeat %v old (limit %v)", age.Round(time.Millisecond), m.opts.HeartbeatTimeout)
	}
	return true, fmt.Sprintf("ok: main loop heartbeat %v old", age.Round(time.Millisecond))
}

// shutdownTimeout bounds the wait for in-flight scrapes when Serve stops.
const shutdownTimeout = 5 * time.Second

// Serve listens on addr (host:port) and serves Handler until ctx ends, then
// shuts the server down and returns nil. An empty addr means the endpoint is
// off: Serve just waits for ctx. An address that cannot be listened on,
// including one already in use, is an error returned at once.
func (m *Metrics) Serve(ctx context.Context, addr string) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil && ctx.Err() != nil {
		return nil // stopped while resolving addr
	}
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("metrics: listen on %s (metrics-addr): %w: another process is listening there", addr, syscall.EADDRINUSE)
		}
		return fmt.Errorf("metrics: listen on %s (metrics-addr): %w", addr, err)
	}
	return m.ServeListener(ctx, ln)
}

// ServeListener serves Handler on ln until ctx ends, then shuts the server
// down (waiting up to 5 s for scrapes in flight) and returns nil. It closes
// ln. It returns an error only if serving fails before ctx ends.
func (m *Metrics) ServeListener(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           m.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelDebug),
	}
	m.log.Info("metrics endpoint listening", "addr", ln.Addr().String())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("metrics: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		m.log.Warn("metrics endpoint: scrapes still running at shutdown; closing", "err", err)
		_ = srv.Close()
	}
	<-served // http.ErrServerClosed
	return nil
}

// errorLog adapts slog to promhttp.Logger.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) { l.log.Warn("metrics: scrape error", "err", fmt.Sprint(v...)) }
