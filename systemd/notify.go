package systemd

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/vipsentinel/vipsentinel/internal/clock"
)

// notifyFunc sends one sd_notify datagram. It reports (false, nil) when the
// process is not running under systemd.
type notifyFunc func(state string) (bool, error)

// sdNotify keeps NOTIFY_SOCKET in the environment: the agent notifies
// repeatedly (STATUS=, WATCHDOG=1), and children get a cleaned environment
// from ChildEnv instead.
func sdNotify(state string) (bool, error) { return daemon.SdNotify(false, state) }

func send(notify notifyFunc, state string) error {
	if _, err := notify(state); err != nil {
		return fmt.Errorf("sd_notify %q: %w", firstLine(state), err)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + "…"
	}
	return s
}

// Ready tells systemd that start-up (or a reload) has finished: for a
// Type=notify unit, `systemctl start` returns and dependent units start.
// It returns nil when not running under systemd.
func Ready() error { return send(sdNotify, daemon.SdNotifyReady) }

// Reloading tells systemd that the agent is reloading its configuration; the
// unit shows "reloading" until the next Ready.
func Reloading() error { return send(sdNotify, daemon.SdNotifyReloading) }

// Stopping tells systemd that the agent has begun an orderly shutdown.
func Stopping() error { return send(sdNotify, daemon.SdNotifyStopping) }

// Status sets the one-line status `systemctl status` shows. Control
// characters are replaced by spaces: a newline would otherwise start a new
// sd_notify assignment (a status text could then forge READY=1 or WATCHDOG=1).
func Status(line string) error { return send(sdNotify, "STATUS="+OneLine(line)) }

// maxStatusLen bounds STATUS= so that a runaway summary cannot flood
// `systemctl status`; systemd itself accepts much more.
const maxStatusLen = 200

// OneLine returns s with every control character replaced by a space,
// surrounding space trimmed, and cut to a length `systemctl status` shows.
func OneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxStatusLen {
		cut := maxStatusLen
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// ChildEnv returns env without the variables that address this process's
// service manager (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID), for scripts
// and other children the agent starts: they must not be able to report
// readiness or keep the watchdog happy on the agent's behalf.
func ChildEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// DefaultStatusInterval is the StatusUpdater's minimum spacing between two
// STATUS= notifications when NewStatusUpdater is given zero.
const DefaultStatusInterval = time.Second

// StatusUpdater keeps systemd's STATUS= equal to the newest summary line it
// was given, without ever blocking the caller on I/O and without sending more
// than one notification per interval: Set only records the line, Run sends
// it. A line equal to the last one sent is not sent again, and the newest
// line is always sent eventually (at most one interval late).
type StatusUpdater struct {
	interval time.Duration
	notify   notifyFunc
	log      *slog.Logger
	clock    clock.Clock
	wake     chan struct{}

	mu      sync.Mutex
	pending string
	set     bool // pending holds a line not yet considered by Run
}

// NewStatusUpdater returns an updater that sends at most one STATUS= per
// interval (DefaultStatusInterval when interval <= 0). Send failures are
// logged to log (nil: discarded); they never stop the updater.
func NewStatusUpdater(interval time.Duration, log *slog.Logger) *StatusUpdater {
	return newStatusUpdater(interval, log, sdNotify, clock.Real{})
}

func newStatusUpdater(interval time.Duration, log *slog.Logger, notify notifyFunc, c clock.Clock) *StatusUpdater {
	if interval <= 0 {
		interval = DefaultStatusInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &StatusUpdater{interval: interval, notify: notify, log: log, clock: c, wake: make(chan struct{}, 1)}
}

// Set records line as the current status. It is safe for concurrent use and
// returns at once.
func (u *StatusUpdater) Set(line string) {
	line = OneLine(line)
	u.mu.Lock()
	u.pending, u.set = line, true
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

func (u *StatusUpdater) take() (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	line, ok := u.pending, u.set
	u.set = false
	return line, ok
}

// Run sends status lines until ctx is done. Lines set while Run is not
// running are sent when it starts.
func (u *StatusUpdater) Run(ctx context.Context) {
	var (
		sent     string
		sentOnce bool
		lastSend time.Time
		failing  bool
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.wake:
		}
		if sentOnce {
			if wait := lastSend.Add(u.interval).Sub(u.clock.Now()); wait > 0 {
				t := u.clock.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C():
				}
			}
		}
		// Take the newest line only now, after the wait: lines set during the
		// wait collapse into one notification.
		line, ok := u.take()
		if !ok || (sentOnce && line == sent) {
			continue
		}
		lastSend = u.clock.Now()
		if err := send(u.notify, "STATUS="+line); err != nil {
			if !failing {
				u.log.Warn("cannot update systemd status", "err", err)
			}
			failing = true
			continue
		}
		failing = false
		sent, sentOnce = line, true
	}
}
