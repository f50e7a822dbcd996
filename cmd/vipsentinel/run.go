package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/api"
	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/metrics"
	"github.com/vipsentinel/vipsentinel/agent/metrics/source"
	"github.com/vipsentinel/vipsentinel/agent/redislink"
	"github.com/vipsentinel/vipsentinel/agent/runtime"
	"github.com/vipsentinel/vipsentinel/agent/state"
	"github.com/vipsentinel/vipsentinel/firewall"
	"github.com/vipsentinel/vipsentinel/internal/tcprto"
	"github.com/vipsentinel/vipsentinel/systemd"
	"github.com/vipsentinel/vipsentinel/vip"
)

// exitSimulatedCrash is what Sentinel exits with at a SIMULATE-FAILURE crash
// point.
const exitSimulatedCrash = 99

// cmdRun runs the agent in the foreground until SIGTERM or SIGINT.
func cmdRun(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	path := args[0]
	// First of all: until then SIGHUP and SIGUSR2 would end the process, and
	// a reload may come while a re-executed agent starts.
	sig := notifySignals()
	defer sig.stop()
	level := new(slog.LevelVar)
	log := systemd.NewLogger(level)
	// A re-executed agent takes its predecessor's handover first: whatever
	// happens next, the VIPs in it are either adopted or removed.
	handoverPath := os.Getenv(envHandover)
	_ = os.Unsetenv(envHandover)
	succ := takeHandover(handoverPath, log)
	defer succ.releaseOrphans(log)

	f, warnings, err := config.Load(path)
	if err != nil {
		log.Error("bad configuration", "err", err)
		return configFailed(stderr, err)
	}
	if handoverPath == "" {
		// A handover left by a process that could not re-execute itself
		// and then died: adopted as well while its lease runs.
		succ = takeHandover(runtime.HandoverPath(f.Dir), log)
		defer succ.releaseOrphans(log)
	}
	if err := level.UnmarshalText([]byte(slogLevel(f.LogLevel))); err != nil {
		level.Set(slog.LevelInfo)
	}
	log, logFile, err := configLogger(f, level, log)
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel: %v\n", err)
		return exitConfig
	}
	for _, w := range warnings {
		log.Warn("configuration", "file", w.File, "line", w.Line, "directive", w.Directive, "msg", w.Msg)
	}

	setMemoryLimit(log)
	redis.SetLogger(redislink.GoRedisLogger(log.With("component", "go-redis")))
	// SIGTERM and SIGINT arrive on sig.term: runAgent decides whether a
	// SIGTERM is a stop or the stop half of a restart (restart.go).
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	err = runAgent(ctx, stop, path, f, level, log, logFile, succ, sig)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, runtime.ErrSimulatedCrash):
		log.Warn("simulated crash", "err", err)
		return exitSimulatedCrash
	case isConfigError(err):
		log.Error("cannot start", "err", err)
		fmt.Fprintf(stderr, "vipsentinel: %v\n", err)
		return exitConfig
	default:
		log.Error("agent stopped", "err", err)
		return exitFail
	}
}

// configError marks start-up failures that a restart cannot fix (a bad
// configuration or state file).
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

func isConfigError(err error) bool {
	var ce configError
	return errors.As(err, &ce)
}

func runAgent(ctx context.Context, stop func(), path string, f *config.File, level *slog.LevelVar, log *slog.Logger, logFile *logFile, succ *successor, sig signals) error {
	store, hs, changes, err := state.Open(f)
	if err != nil {
		return configError{fmt.Errorf("state: %w", err)}
	}
	defer store.Close()
	for _, c := range changes {
		log.Info("state merged with configuration", "change", c.String())
	}
	localIPs, err := hostIPs()
	if err != nil {
		return fmt.Errorf("list this host's addresses: %w", err)
	}
	cfg := f.Sentinel(localIPs)
	cfg.Masters = state.MasterConfigs(hs)
	cfg.Rand = rand.New(rand.NewSource(time.Now().UnixNano()))

	// The firewall opens the ports before anything can take a VIP: clients
	// must never reach a VIP whose ports are closed.
	var fw *firewall.Manager
	if f.Firewall.Enabled {
		fw, err = newFirewall(f, log)
		if err != nil {
			return configError{err}
		}
		if err := fw.Open(ctx); err != nil {
			return fmt.Errorf("open firewall: %w", err)
		}
		for _, c := range fw.Conflicts() {
			if !c.Handled() {
				log.Warn("firewall conflict", "conflict", c.String(), "fix", c.Fix)
			}
		}
	}

	var rt *runtime.Runtime
	var vips *vip.Manager
	if vcfgs := vipConfigs(f, cfg.Masters); len(vcfgs) > 0 {
		vips, err = newVIPs(vcfgs, log, func(ev sentinelEvent) {
			if rt != nil {
				rt.Publish(ev)
			}
		}, func(master string, gen uint64) {
			if rt != nil {
				rt.VIPGone(master, gen)
			}
		})
		if err != nil {
			return configError{err}
		}
	}
	// met is built once the runtime exists; events before that are not
	// counted (ObserveEvent accepts a nil *Metrics), and nothing runs yet.
	var met *metrics.Metrics
	fence := newFencer(fw, f.Firewall.Fence, log)
	opts := runtime.Options{
		Config:     cfg,
		State:      hs,
		Store:      store,
		Logger:     log,
		LogLevel:   level,
		Version:    version(),
		ConfigFile: path,
		Shutdown:   stop,
		OnEvent:    func(ev sentinelEvent) { met.ObserveEvent(time.Now(), ev) },
		Fence:      fence.set,
		HostStatus: hostStatus(vips, fw),
		Handover:   succ.leases,
		API: api.Config{
			ProtectedMode: f.ProtectedMode,
			MaxClients:    f.MaxClients,
			IdleTimeout:   f.Timeout,
		},
		// Listed redis-sentinel peers are admitted on every start, not
		// only when the state is first imported.
		ListedPeers: f.ListedPeers(),
	}
	if msg := f.APIAccess(); msg != "" {
		log.Warn("API access", "msg", msg)
	}
	opts.API.Users, opts.API.ACLFile, opts.API.ACLPubsubAllChannels = f.Users, f.ACLFile, f.ACLPubsubAllChannels
	opts.Listeners, err = listen(f, log)
	if err != nil {
		return err
	}
	if opts.TLS, opts.TLSListeners, err = startTLS(f, log); err != nil {
		return err
	}
	if ok, why := tcprto.Supported(); !ok {
		log.Info("kernel keeps its own TCP retransmission floor", "err", why,
			"msg", fmt.Sprintf("TCP_RTO_MIN_US (Linux 6.15 and later) is not available, so a segment lost between the agents waits at least 200 ms for its retransmission instead of %v; under packet loss expect more +lease-pause and +fence events (or raise down-after)", tcprto.Min))
	}
	var adopter *runtime.Adopter
	if vips != nil {
		opts.VIPs = vipSetter{vips}
		if len(succ.leases) > 0 {
			adopter = runtime.NewAdopter(vipSetter{vips}, succ.leases, log.With("component", "handover"))
			opts.VIPs = adopter
		}
	} else {
		succ.releaseOrphans(log) // no VIP configured any more
	}
	rt, err = runtime.New(opts)
	if err != nil {
		return configError{err}
	}
	faults := metrics.FaultFunc(func() metrics.Faults {
		f := rt.Faults()
		if vips != nil {
			f.Panics["vip"] = vips.PanicsRecovered()
		}
		return f
	})
	met = metrics.New(metrics.Options{Core: rt, VIPs: source.VIPs(vips), Firewall: source.Firewall(fw), Faults: faults, Heartbeat: rt.Heartbeat,
		Version: version(), Logger: log.With("component", "metrics")})
	if err := rt.Listen(); err != nil {
		return fmt.Errorf("listen: %w", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 4)
	vipsDone := make(chan struct{})
	if adopter != nil {
		// Before the manager's first pass, which would remove VIPs it
		// was not told to hold.
		adopter.Set(nil)
		go adopter.Run(runCtx)
		if held := adopter.Adopted(); len(held) > 0 {
			log.Info("handover: holding the VIPs on the inherited lease until the core claims them", "masters", strings.Join(held, " "))
		} else {
			log.Warn("handover: the inherited leases ended before this process could adopt them; the VIPs are claimed as at a start")
		}
	}
	// The VIP manager keeps or removes the handed-over VIPs from now on.
	succ.adopt()
	go func() { done <- rt.Run(runCtx) }()
	if vips != nil {
		go func() {
			defer close(vipsDone)
			if err := vips.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("VIP manager stopped", "err", err)
			}
		}()
	} else {
		close(vipsDone)
	}
	if fw != nil {
		go func() {
			if err := fw.Run(runCtx); err != nil {
				log.Error("firewall watch stopped", "err", err)
			}
		}()
	}
	go fence.run(runCtx)
	go watchTLS(runCtx, opts.TLS, met, rt.Publish)
	go func() {
		if err := met.Serve(runCtx, f.MetricsAddr); err != nil {
			log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	wd := systemd.NewWatchdog(rt.Heartbeat, log)
	go func() { _ = wd.Run(runCtx) }()
	status := systemd.NewStatusUpdater(systemd.DefaultStatusInterval, log)
	go status.Run(runCtx)

	select {
	case <-rt.Ready():
	case err := <-done:
		return err
	case <-sig.term:
		// Before it is ready the agent holds no lease to hand over.
		stop()
		return <-done
	}
	if err := systemd.Ready(); err != nil {
		log.Warn("sd_notify READY", "err", err)
	}
	log.Info("agent ready", "addrs", fmt.Sprint(rt.Addrs()), "masters", len(cfg.Masters), "version", version())

	handoverTo, handoverKind, fwOff := "", "", false
	tryHandover := func(kind, why string) bool {
		p := runtime.HandoverPath(f.Dir)
		if err := handOver(runCtx, p, kind, rt, vips, log); err != nil {
			next := "the agent keeps running"
			if kind == runtime.HandoverRestart {
				next = "the VIPs are released as at a stop"
			}
			log.Error("handover failed; "+next, "why", why, "err", err)
			rt.Publish(handoverEvent(false, kind, "", "failed: "+err.Error()))
			dropHandover(p)
			return false
		}
		log.Info("handing over to a new process", "kind", kind, "why", why)
		handoverTo, handoverKind = p, kind
		return true
	}
	if adopter != nil {
		// Counted once the core runs: the inherited leases this process
		// adopted (+handover) or that ended before it could (-handover).
		held := map[string]bool{}
		for _, m := range adopter.Adopted() {
			held[m] = true
		}
		for _, l := range succ.leases {
			if held[l.Master] {
				rt.Publish(handoverEvent(true, succ.kind, l.Master, "adopted"))
			} else {
				rt.Publish(handoverEvent(false, succ.kind, l.Master, "the inherited lease ended before this process could adopt it"))
			}
		}
	}

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var runErr error
loop:
	for {
		select {
		case runErr = <-done:
			break loop
		case <-ctx.Done():
			runErr = <-done
			break loop
		case s := <-sig.term:
			if s == syscall.SIGTERM && systemdRestarting(runCtx, log) {
				nf, err := successorWouldStart(path)
				switch {
				case err != nil:
					log.Warn("systemd restarts the unit, but the new process would not start: releasing the VIPs", "err", err)
				case tryHandover(runtime.HandoverRestart, "systemd restarts the unit"):
					fwOff = fw != nil && !nf.Firewall.Enabled
					cancel()
					runErr = <-done
					break loop
				}
			}
			stop()
			runErr = <-done
			break loop
		case <-sig.usr2:
			if tryHandover(runtime.HandoverReexec, "SIGUSR2") {
				cancel()
				runErr = <-done
				break loop
			}
		case <-sig.hup:
			if logFile != nil {
				if err := logFile.Reopen(); err != nil {
					log.Error("reopen log file", "err", err)
				}
			}
			reloadTLS(opts.TLS, log)
			nf, restart := reload(runCtx, path, f, localIPs, rt, level, log)
			why := ""
			switch {
			case nf == nil:
				// A successor would not start either: keep running.
			case executableReplaced():
				why = "the executable was replaced (upgrade)"
			case len(restart) > 0:
				why = "the configuration changes " + strings.Join(restart, ", ")
			}
			if why != "" && tryHandover(runtime.HandoverReexec, why) {
				fwOff = fw != nil && !nf.Firewall.Enabled
				cancel()
				runErr = <-done
				break loop
			}
		case <-tick.C:
			line := rt.Status()
			if fw != nil {
				line += "; " + fw.Status().String()
			}
			status.Set(line)
		}
	}
	if handoverTo != "" {
		// The VIPs and the firewall table stay as they are for the
		// successor (the managers stop without Close), unless the new
		// configuration turns the firewall off: its table goes now.
		cancel()
		<-vipsDone
		if fwOff {
			fwCtx, fwCancel := context.WithTimeout(context.Background(), 3*time.Second)
			if err := fw.Close(fwCtx); err != nil {
				log.Error("close firewall", "err", err)
			}
			fwCancel()
			fw = nil
		}
		if errors.Is(runErr, context.Canceled) {
			runErr = nil
		}
		if runErr == nil && handoverKind == runtime.HandoverRestart {
			// systemd starts the successor once this process has
			// exited; it takes the file from the state directory.
			store.Close()
			_ = systemd.Stopping()
			log.Info("exiting for systemd's restart; the VIPs and the firewall table stay for the successor")
			return nil
		}
		if runErr == nil {
			store.Close()
			err := reexec(handoverTo, log)
			log.Error("re-exec failed; releasing the VIPs", "err", err)
		}
		dropHandover(handoverTo)
	}
	_ = systemd.Stopping()
	// Release the VIPs before the ports close (the reverse of start-up).
	closeCtx, cancelClose := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancelClose()
	if vips != nil {
		if err := vips.Close(closeCtx); err != nil {
			log.Error("release VIPs", "err", err)
		}
	}
	if fw != nil {
		if err := fw.Close(closeCtx); err != nil {
			log.Error("close firewall", "err", err)
		}
	}
	if errors.Is(runErr, context.Canceled) {
		runErr = nil
	}
	return runErr
}

// listen opens the API's listeners on the bind addresses (all addresses when
// none is given). As in Redis, an address written with a leading "-" is
// optional: failing to bind it is logged, not fatal. "::" listens on IPv6
// only, so that "bind * -::*" holds both 0.0.0.0 and :: on one port.
func listen(f *config.File, log *slog.Logger) ([]net.Listener, error) {
	if f.Port == 0 {
		return nil, nil // TLS only (port 0): listenTLS opens tls-port
	}
	return listenOn(f, f.Port, log)
}

// listenOn is listen on port.
func listenOn(f *config.File, port int, log *slog.Logger) ([]net.Listener, error) {
	binds := f.Bind
	if len(binds) == 0 {
		binds = []string{""}
	}
	optional := map[string]bool{}
	for _, b := range f.BindOptional {
		optional[b] = true
	}
	var ls []net.Listener
	for _, b := range binds {
		// tcp4/tcp6 keep the families apart: Go would otherwise make
		// 0.0.0.0 a dual-stack socket and :: could not be bound beside it.
		network := "tcp"
		if ip := net.ParseIP(b); ip != nil && ip.To4() != nil {
			network = "tcp4"
		} else if ip != nil {
			network = "tcp6"
		}
		addr := net.JoinHostPort(b, fmt.Sprint(port))
		l, err := net.Listen(network, addr)
		if err != nil {
			if optional[b] {
				log.Warn("optional bind address unavailable", "addr", addr, "err", err)
				continue
			}
			for _, l := range ls {
				l.Close()
			}
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
		ls = append(ls, tcprto.Listener(l)) // peers' lease requests and votes arrive here
	}
	if len(ls) == 0 {
		return nil, fmt.Errorf("no address to listen on (bind %v)", binds)
	}
	return ls, nil
}

// hostIPs lists this host's addresses, so the core can tell which monitored
// instance is local.
func hostIPs() ([]string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			ips = append(ips, n.IP.String())
		}
	}
	return ips, nil
}

func slogLevel(redisLevel string) string {
	switch redisLevel {
	case "debug", "verbose":
		return "DEBUG"
	case "warning":
		return "WARN"
	case "nothing":
		return "ERROR"
	}
	return "INFO"
}
