package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/runtime"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/firewall"
	"github.com/vipsentinel/vipsentinel/systemd"
)

// reload re-reads the configuration on SIGHUP (systemctl reload). A file
// that does not load changes nothing. Otherwise the log level and the
// per-master settings the runtime can change safely are applied, masters new
// in the file are monitored, and everything that needs a restart (listening
// addresses, floating IPs, firewall, credentials, scripts, removed masters)
// is returned, rather than half-applied: the caller applies those by a
// handover to a re-executed process (upgrade.go), which keeps the VIPs.
// It returns the configuration loaded, nil when the file did not load.
func reload(ctx context.Context, path string, old *config.File, localIPs []string, rt *runtime.Runtime, level *slog.LevelVar, log *slog.Logger) (*config.File, []string) {
	_ = systemd.Reloading()
	defer func() { _ = systemd.Ready() }()
	f, warnings, err := config.Load(path)
	if err != nil {
		log.Error("reload: configuration not loaded; keeping the running one", "err", err)
		return nil, nil
	}
	for _, w := range warnings {
		log.Warn("configuration", "file", w.File, "line", w.Line, "directive", w.Directive, "msg", w.Msg)
	}
	if f.LogLevel != old.LogLevel {
		_ = level.UnmarshalText([]byte(slogLevel(f.LogLevel)))
	}
	var masters []sentinel.MasterConfig
	for _, m := range f.Masters {
		masters = append(masters, m.MasterConfig())
	}
	applied, restart, err := rt.Reload(ctx, masters)
	if err != nil {
		log.Error("reload: not applied", "err", err)
		return f, nil
	}
	restart = append(restart, restartChanges(old, f)...)
	log.Info("configuration reloaded", "applied", strings.Join(applied, "; "), "needs_restart", strings.Join(restart, "; "))
	for _, m := range f.Masters {
		if o := old.Master(m.Name); o != nil && o.Addr != m.Addr {
			log.Info("reload: sentinel monitor address changed; not applied: the agents track the master themselves", "master", m.Name)
		}
	}
	return f, restart
}

// restartChanges lists the differences between two configurations that a
// running agent applies only at a start.
func restartChanges(a, b *config.File) []string {
	var out []string
	diff := func(what string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			out = append(out, what)
		}
	}
	diff("port", a.Port, b.Port)
	diff("bind", a.Bind, b.Bind)
	diff("requirepass", a.RequirePass, b.RequirePass)
	diff("protected-mode/maxclients/timeout", [3]any{a.ProtectedMode, a.MaxClients, a.Timeout}, [3]any{b.ProtectedMode, b.MaxClients, b.Timeout})
	diff("announce-ip/announce-port", [2]any{a.AnnounceIP, a.AnnouncePort}, [2]any{b.AnnounceIP, b.AnnouncePort})
	diff("sentinel-user/sentinel-pass", [2]string{a.SentinelUser, a.SentinelPass}, [2]string{b.SentinelUser, b.SentinelPass})
	diff("firewall", a.Firewall, b.Firewall)
	diff("metrics-addr", a.MetricsAddr, b.MetricsAddr)
	diff("min-agents", a.MinAgents, b.MinAgents)
	diff("tls-* settings (certificate files are re-read on reload)", a.TLS, b.TLS)
	diff("sentinel vip", a.VIPs(), b.VIPs())
	for _, m := range b.Masters {
		o := a.Master(m.Name)
		if o == nil {
			continue
		}
		diff("sentinel auth-pass/auth-user "+m.Name, [2]string{o.AuthUser, o.AuthPass}, [2]string{m.AuthUser, m.AuthPass})
		diff("scripts of "+m.Name, [2]string{o.NotificationScript, o.ClientReconfigScript}, [2]string{m.NotificationScript, m.ClientReconfigScript})
		diff("rename-command of "+m.Name, o.RenamedCommands, m.RenamedCommands)
		diff("sentinel vip-garp/fence/vip-release-on-stop "+m.Name, [3]any{o.GARP, o.Fence, o.ReleaseOnStop}, [3]any{m.GARP, m.Fence, m.ReleaseOnStop})
	}
	return out
}

// fencer applies the core's fencing decision to the firewall (firewall-fence
// yes) off the runtime's loop goroutine, newest decision first.
type fencer struct {
	fw  *firewall.Manager // nil: fencing by firewall is off
	log *slog.Logger
	ch  chan fenceState
}

type fenceState struct {
	fenced  bool
	allowed []netip.Addr
}

func newFencer(fw *firewall.Manager, on bool, log *slog.Logger) *fencer {
	if !on {
		fw = nil
	}
	return &fencer{fw: fw, log: log, ch: make(chan fenceState, 1)}
}

// set records the newest decision without blocking. It has one caller, the
// runtime's loop goroutine, so after dropping a stale decision the send
// always finds room.
func (f *fencer) set(fenced bool, allowed []netip.Addr) {
	if f.fw == nil {
		return
	}
	select {
	case <-f.ch:
	default:
	}
	f.ch <- fenceState{fenced, allowed}
}

func (f *fencer) run(ctx context.Context) {
	if f.fw == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case st := <-f.ch:
			if err := f.fw.SetFenced(st.fenced, st.allowed); err != nil {
				f.log.Error("firewall fence", "fenced", st.fenced, "err", err)
				continue
			}
			f.log.Info("firewall fence applied", "fenced", st.fenced, "allowed", fmt.Sprint(st.allowed))
		}
	}
}
