package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/runtime"
	"github.com/vipsentinel/vipsentinel/systemd"
	"github.com/vipsentinel/vipsentinel/vip"
)

// Restarts without an outage (agent/sentinel/design.md, "Restarts without
// an outage"): on SIGUSR2, and on SIGHUP when the executable was replaced
// (a package upgrade) or the new configuration changes something only a
// start applies, the agent hands its VIP leases to a successor and
// re-executes itself in place. The process keeps its PID, so systemd sees
// a reload (RELOADING=1 ... READY=1) of the same main process with its
// watchdog, and the successor keeps the VIPs and the firewall table that
// are already in place while its lease is valid.

// handoverSignal asks the agent to re-execute itself unconditionally
// (`systemctl kill -s USR2 --kill-whom=main vipsentinel`).
const handoverSignal = syscall.SIGUSR2

// signals are the reload (SIGHUP), handover (SIGUSR2) and stop (SIGTERM,
// SIGINT) requests.
type signals struct{ hup, usr2, term chan os.Signal }

// notifySignals starts receiving SIGHUP and SIGUSR2, whose default action
// would end the process, and SIGTERM and SIGINT: a SIGTERM may be the stop
// half of a restart (restart.go). A reload or handover request that
// arrives before the agent is ready waits for it.
func notifySignals() signals {
	s := signals{hup: make(chan os.Signal, 1), usr2: make(chan os.Signal, 1), term: make(chan os.Signal, 1)}
	signal.Notify(s.hup, syscall.SIGHUP)
	signal.Notify(s.usr2, handoverSignal)
	signal.Notify(s.term, syscall.SIGTERM, os.Interrupt)
	return s
}

func (s signals) stop() {
	signal.Stop(s.hup)
	signal.Stop(s.usr2)
	signal.Stop(s.term)
}

// envHandover names the handover file for the re-executed process. It is
// removed from the environment at once, so scripts never see it.
const envHandover = "VIPSENTINEL_HANDOVER"

// executableReplaced reports whether the file this process runs from was
// replaced or removed since it started: dpkg and rpm install a new version
// by renaming over the old file, which the kernel then reports as deleted.
func executableReplaced() bool {
	target, err := os.Readlink("/proc/self/exe")
	return err == nil && strings.HasSuffix(target, " (deleted)")
}

// handOver takes the runtime's leases and writes them to path for the
// successor, which comes as kind says (runtime.HandoverReexec or
// HandoverRestart). On error nothing is written.
func handOver(ctx context.Context, path, kind string, rt *runtime.Runtime, vips *vip.Manager, log *slog.Logger) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the executable: %w", err)
	}
	// Refuse early what execve would refuse late, after the VIPs were left
	// behind for a successor.
	if st, err := os.Stat(exe); err != nil {
		return fmt.Errorf("executable: %w", err)
	} else if st.Mode()&0o111 == 0 || !st.Mode().IsRegular() {
		return fmt.Errorf("executable %s is not an executable file", exe)
	}
	h, err := rt.Handover(ctx)
	if err != nil {
		return err
	}
	h.Kind = kind
	if vips != nil {
		for i, l := range h.Leases {
			for _, s := range vips.Status() {
				if s.Master == l.Master && s.Held {
					h.Leases[i].VIPs = append(h.Leases[i].VIPs, s.Installed.Addr().String())
				}
			}
		}
	}
	if err := runtime.SaveHandover(path, h); err != nil {
		return err
	}
	for _, l := range h.Leases {
		log.Info("handover: lease passed to the successor", "kind", kind, "master", l.Master, "addr", l.Addr().String(), "epoch", l.Epoch,
			"left", l.Remaining(runtime.BootTime()).String(), "vips", strings.Join(l.VIPs, " "))
	}
	if len(h.Leases) == 0 {
		log.Info("handover: no VIP lease held; the successor claims the VIPs as at a start")
	}
	return nil
}

// reexec replaces this process by the executable at its path (the new
// version after an upgrade), with the same arguments and environment
// (NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID stay valid: the PID does
// not change) plus the handover file's path. It returns only on failure.
func reexec(handover string, log *slog.Logger) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	_ = systemd.Reloading()
	log.Info("re-executing", "exe", exe)
	env := append(os.Environ(), envHandover+"="+handover)
	return syscall.Exec(exe, os.Args, env)
}

// successor is the handover this process received, if any, and whether its
// VIP manager has taken responsibility for the VIPs in it.
type successor struct {
	kind   string // runtime.HandoverReexec or HandoverRestart
	leases []runtime.HandoverLease

	mu      sync.Mutex
	adopted bool        // by the VIP manager, or removed
	expire  *time.Timer // removes the VIPs at the first deadline unless adopted
}

// takeHandover reads and removes the handover file at path ("" or missing:
// none). Until the VIP manager adopts them, the VIPs in it are removed at
// the first lease deadline: a start that hangs (a slow disk, a stuck
// firewall call) must not keep them past the lease that justified them.
func takeHandover(path string, log *slog.Logger) *successor {
	s := &successor{}
	if path == "" {
		return s
	}
	h, err := runtime.TakeHandover(path)
	if err != nil {
		log.Warn("handover ignored; the VIPs are claimed as at a start", "err", err)
		return s
	}
	s.kind, s.leases = h.KindOrDefault(), h.Leases
	now := runtime.BootTime()
	first := time.Duration(-1)
	for _, l := range h.Leases {
		log.Info("handover: lease received", "kind", s.kind, "master", l.Master, "addr", l.Addr().String(), "epoch", l.Epoch,
			"left", l.Remaining(now).String(), "vips", strings.Join(l.VIPs, " "))
		if left := l.Remaining(now); first < 0 || left < first {
			first = left
		}
	}
	if first >= 0 {
		s.expire = time.AfterFunc(max(first, 0), func() { s.release(log, "its lease ended before this process adopted it") })
	}
	return s
}

// adopt records that the VIP manager keeps or removes the handed-over VIPs
// from now on.
func (s *successor) adopt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.adopted = true
	if s.expire != nil {
		s.expire.Stop()
	}
}

// releaseOrphans removes the handed-over VIPs when this process stops
// before its VIP manager adopted them (a configuration the new version
// rejects, a failed start): nobody else would remove them, and they must
// not outlive the lease.
func (s *successor) releaseOrphans(log *slog.Logger) {
	if s != nil {
		s.release(log, "this process stopped before adopting it")
	}
}

func (s *successor) release(log *slog.Logger, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.adopted || len(s.leases) == 0 {
		return
	}
	s.adopted = true // once
	if s.expire != nil {
		s.expire.Stop()
	}
	removeHandedOver(s.leases, why, log)
}

// removeHandedOver removes the VIPs named in leases from this host's
// interfaces (only addresses the VIP manager marks as its own), logging
// each with why.
func removeHandedOver(leases []runtime.HandoverLease, why string, log *slog.Logger) {
	ips := map[netip.Addr]bool{}
	for _, l := range leases {
		for _, v := range l.VIPs {
			if ip, err := netip.ParseAddr(v); err == nil {
				ips[ip] = true
			}
		}
	}
	nl, err := vip.NewNetlink(vip.NetlinkOptions{})
	if err != nil {
		log.Error("handover: cannot remove the handed-over VIPs", "err", err)
		return
	}
	defer nl.Close()
	addrs, err := nl.List("")
	if err != nil {
		log.Error("handover: cannot remove the handed-over VIPs", "err", err)
		return
	}
	for _, a := range addrs {
		if !a.Ours || !ips[a.Prefix.Addr()] {
			continue
		}
		if err := nl.Del(a); err != nil {
			log.Error("handover: remove VIP", "vip", a.Prefix.String(), "iface", a.Iface, "err", err)
			continue
		}
		log.Warn("handover: VIP removed: "+why, "vip", a.Prefix.String(), "iface", a.Iface)
	}
}

// dropHandover removes a handover file written for a successor that will
// not come (the re-exec failed): the VIPs are then released by the normal
// stop.
func dropHandover(path string) { _ = os.Remove(path) }
