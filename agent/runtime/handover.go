package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/defaults"
)

// A handover passes the VIP leases of a stopping agent process to its
// successor on the same host (a re-exec for an upgrade or a reload), so that
// the VIP stays on the interface across the restart instead of being
// dropped and claimed again. See agent/sentinel/design.md, "Restarts without
// an outage", for why this never puts the VIP on two hosts.
//
// The deadlines are kept on CLOCK_BOOTTIME: the same clock in every process
// of one boot, which keeps counting while the host is suspended, so a
// deadline read after a suspend is never later than the peers' grants. The
// boot ID ties the file to the boot it was written in.

// HandoverFile is the name of the handover file in the state directory.
const HandoverFile = "vipsentinel.handover"

// The kinds of handover: how the successor comes.
const (
	// HandoverReexec: the agent re-executes itself in place (a reload that
	// needs a start, an upgrade, SIGUSR2); same PID, no gap for systemd.
	HandoverReexec = "reexec"
	// HandoverRestart: systemd restarts the unit (systemctl restart, a
	// unit-file change); the process exits and systemd starts a new one.
	HandoverRestart = "restart"
)

// Handover is what a stopping agent leaves for its successor.
type Handover struct {
	BootID string          `json:"boot_id"`
	PID    int             `json:"pid"`
	Kind   string          `json:"kind,omitempty"` // HandoverReexec (also when empty) or HandoverRestart
	Leases []HandoverLease `json:"leases"`
}

// KindOrDefault is h's kind; files written before kinds existed came from
// a re-exec.
func (h Handover) KindOrDefault() string {
	if h.Kind == "" {
		return HandoverReexec
	}
	return h.Kind
}

// HandoverLease is one VIP lease handed over: the master's VIPs may stay
// on this host until Until (CLOCK_BOOTTIME nanoseconds).
type HandoverLease struct {
	Master string `json:"master"`
	Host   string `json:"host"` // the master's address the lease was granted for
	Port   int    `json:"port"`
	Epoch  uint64 `json:"epoch"`
	Until  int64  `json:"until_boottime_ns"`
	// VIPs are the floating addresses installed for the master when the
	// lease was handed over: a successor that fails before it adopts them
	// removes them (cmd/vipsentinel).
	VIPs []string `json:"vips,omitempty"`
}

// Addr is the master's address the lease was granted for.
func (l HandoverLease) Addr() sentinel.Addr { return sentinel.Addr{Host: l.Host, Port: l.Port} }

// Remaining is how long the lease still runs at boottime now (≤ 0: over).
func (l HandoverLease) Remaining(now int64) time.Duration { return time.Duration(l.Until - now) }

// BootTime reads CLOCK_BOOTTIME in nanoseconds.
func BootTime() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		// Linux has had CLOCK_BOOTTIME since 2.6.39; without it no lease
		// can be handed over (a zero deadline is always over).
		return 0
	}
	return ts.Nano()
}

// BootID returns the kernel's ID of the current boot.
func BootID() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("boot id: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}

// Handover returns the leases this agent holds, with deadlines on
// CLOCK_BOOTTIME, for a successor process. It waits (at most a quarter of
// the longest lease, longer than the holder's renewal period) for the
// moment right after a renewal, when every lease has at least nine tenths
// of its length left: the successor then has the most time to claim its
// own. The deadlines are fixed when it returns: grants the loop receives
// later only bind the peers longer.
func (r *Runtime) Handover(ctx context.Context) (Handover, error) {
	id, err := BootID()
	if err != nil {
		return Handover{}, err
	}
	var h Handover
	var giveUp time.Time
	for {
		h = Handover{BootID: id, PID: os.Getpid()}
		fresh, longest := true, time.Duration(0)
		err = r.do(ctx, func(sentinel.Time) {
			// The boot clock is read first, then the core's clock: the
			// time left is counted from a boot time no later than the
			// moment it was measured, so the deadline can only come out
			// early.
			boot := BootTime()
			now := r.now()
			for _, l := range r.node.Leases() {
				h.Leases = append(h.Leases, HandoverLease{Master: l.Master, Host: l.Addr.Host, Port: l.Addr.Port, Epoch: l.Epoch,
					Until: boot + int64(l.Until-now)})
				fresh = fresh && l.Until-now >= l.Length*9/10
				longest = max(longest, l.Length)
			}
		})
		if err != nil {
			return Handover{}, fmt.Errorf("runtime: handover: %w", err)
		}
		if giveUp.IsZero() {
			giveUp = r.clock.Now().Add(longest / 4)
		}
		if fresh || !r.clock.Now().Before(giveUp) {
			return h, nil
		}
		t := r.clock.NewTimer(2 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return Handover{}, fmt.Errorf("runtime: handover: %w", ctx.Err())
		case <-t.C():
		}
	}
}

// inherit gives the core the leases handed over (sentinel.Node.InheritLease),
// on its clock. The core's clock is read first, then the boot clock: the
// time left is counted from a moment no earlier than the core's reading,
// so the deadline can only come out early.
func (r *Runtime) inherit(leases []HandoverLease) {
	now := r.now()
	boot := BootTime()
	for _, l := range leases {
		left := l.Remaining(boot)
		if left <= 0 {
			continue
		}
		if r.node.InheritLease(now, l.Master, l.Addr(), now+left) {
			r.log.Info("handover: the core counts the inherited lease", "master", l.Master, "addr", l.Addr().String(), "left", left.String())
		}
	}
}

// SaveHandover writes h to path (atomically: a successor reads all of it
// or nothing).
func SaveHandover(path string, h Handover) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write handover: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write handover: %w", err)
	}
	return nil
}

// HandoverPath is where an agent whose state directory is dir writes its
// handover.
func HandoverPath(dir string) string { return filepath.Join(dir, HandoverFile) }

// TakeHandover reads and removes the handover file at path, and returns the
// handover if it is of this boot (Adopter ignores leases already over). A
// missing file is no handover (zero Handover, nil error); a file from
// another boot, or one that does not parse, is removed and ignored: the
// VIPs are then claimed as at any start.
func TakeHandover(path string) (Handover, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Handover{}, nil
	}
	if err != nil {
		return Handover{}, fmt.Errorf("read handover: %w", err)
	}
	// Taken once: a handover is never read by a second start.
	if err := os.Remove(path); err != nil {
		return Handover{}, fmt.Errorf("remove handover: %w", err)
	}
	var h Handover
	if err := json.Unmarshal(b, &h); err != nil {
		return Handover{}, fmt.Errorf("handover file %s: %w", path, err)
	}
	id, err := BootID()
	if err != nil {
		return Handover{}, err
	}
	if h.BootID != id {
		return Handover{}, fmt.Errorf("handover file %s is from another boot", path)
	}
	// Leases already over are returned too: their VIPs may still be on
	// the interface, and the caller must remove them if it cannot start.
	return h, nil
}

// Adopter keeps the VIPs of handed-over leases while the core of the new
// process builds its own lease. It passes the core's intents to the next
// VIPSetter, except that a master with a running inherited lease is owned
// until the lease ends or the core claims the VIP itself, whichever comes
// first. From then on the core's intents apply unchanged, so a VIP the core
// does not want is released at the inherited deadline at the latest.
type Adopter struct {
	next VIPSetter
	log  *slog.Logger
	now  func() int64 // CLOCK_BOOTTIME

	mu      sync.Mutex
	adopted map[string]HandoverLease // masters still held on an inherited lease
	last    []sentinel.VIPIntent     // the core's latest intents
	changed chan struct{}
}

// NewAdopter returns an Adopter for leases in front of next. Call Set or
// Start before the VIP manager runs: until it hears otherwise, the manager
// removes configured VIPs it finds.
func NewAdopter(next VIPSetter, leases []HandoverLease, log *slog.Logger) *Adopter {
	return newAdopter(next, leases, log, BootTime)
}

func newAdopter(next VIPSetter, leases []HandoverLease, log *slog.Logger, now func() int64) *Adopter {
	a := &Adopter{next: next, log: defaults.Logger(log), now: now, adopted: map[string]HandoverLease{}, changed: make(chan struct{}, 1)}
	t := a.now()
	for _, l := range leases {
		if l.Remaining(t) > 0 {
			a.adopted[l.Master] = l
		}
	}
	return a
}

// Adopted returns the masters still held on an inherited lease.
func (a *Adopter) Adopted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Sorted(maps.Keys(a.adopted))
}

// Set implements VIPSetter.
func (a *Adopter) Set(intents []sentinel.VIPIntent) {
	a.mu.Lock()
	a.last = slices.Clone(intents)
	// next.Set under mu: Run's re-application must not overtake newer
	// intents (VIPSetter.Set never blocks).
	a.next.Set(a.merge())
	a.mu.Unlock()
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

// merge applies the inherited leases to the core's latest intents, and
// forgets those that ended or that the core took over. Called with mu held.
func (a *Adopter) merge() []sentinel.VIPIntent {
	now := a.now()
	out := slices.Clone(a.last)
	seen := map[string]bool{}
	for i, in := range out {
		seen[in.Master] = true
		l, ok := a.adopted[in.Master]
		if !ok {
			continue
		}
		switch {
		case in.Own:
			delete(a.adopted, in.Master)
			a.log.Info("handover: the core holds the lease again", "master", in.Master, "left", l.Remaining(now).Round(time.Millisecond).String())
		case l.Remaining(now) <= 0:
			delete(a.adopted, in.Master)
			a.log.Warn("handover: inherited lease ended before the core claimed the VIP", "master", in.Master, "reason", in.Reason)
		default:
			out[i] = sentinel.VIPIntent{Master: in.Master, Own: true, Epoch: max(in.Epoch, l.Epoch),
				Reason: "lease handed over by the previous process (" + in.Reason + ")"}
		}
	}
	// Before the core's first intents (or for a master they do not name
	// yet), the inherited lease alone decides.
	for m, l := range a.adopted {
		if seen[m] {
			continue
		}
		if l.Remaining(now) <= 0 {
			delete(a.adopted, m)
			continue
		}
		out = append(out, sentinel.VIPIntent{Master: m, Own: true, Epoch: l.Epoch, Reason: "lease handed over by the previous process"})
	}
	return out
}

// Run re-applies the intents when an inherited lease ends, until ctx is
// done or no inherited lease is left.
func (a *Adopter) Run(ctx context.Context) {
	// A real timer, not the runtime's clock.Clock: the deadlines are on
	// CLOCK_BOOTTIME (a.now, which tests substitute), a clock that keeps
	// counting across a suspend, and the Adopter runs before a Runtime
	// (and its clock) exists.
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		a.mu.Lock()
		var next time.Duration = -1
		now := a.now()
		for _, l := range a.adopted {
			if r := l.Remaining(now); next < 0 || r < next {
				next = r
			}
		}
		a.mu.Unlock()
		if next < 0 {
			return
		}
		t.Reset(max(next, 0) + time.Millisecond)
		select {
		case <-ctx.Done():
			return
		case <-a.changed:
		case <-t.C:
			a.mu.Lock()
			a.next.Set(a.merge())
			a.mu.Unlock()
		}
	}
}
