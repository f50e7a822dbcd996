package systemd

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/vipsentinel/vipsentinel/internal/clock"
)

// Heartbeat records when the agent's main loop last made progress. The main
// loop calls Beat once per iteration, including idle iterations driven by
// its own ticker. The zero value has never beaten. It is safe for concurrent
// use.
type Heartbeat struct{ ns atomic.Int64 }

// Beat records that the main loop is alive now.
func (h *Heartbeat) Beat() { h.ns.Store(time.Now().UnixNano()) }

// Last returns the time of the latest Beat, or the zero time if none.
func (h *Heartbeat) Last() time.Time {
	ns := h.ns.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Watchdog sends systemd's WATCHDOG=1 keep-alive, but only while the main
// loop's heartbeat is fresh. A stuck main loop therefore stops the pings and
// systemd kills the agent (SIGABRT: the Go runtime prints every goroutine's
// stack to the journal) and restarts it. A watchdog that pinged from its own
// goroutine regardless of the main loop would only prove that the Go
// scheduler runs.
type Watchdog struct {
	heartbeat func() time.Time
	log       *slog.Logger
	notify    notifyFunc
	clock     clock.Clock
	timeout   time.Duration
	envErr    error
}

// NewWatchdog returns a watchdog driven by heartbeat, which reports when the
// main loop last made progress (Heartbeat.Last, typically; the zero time or
// the Unix epoch mean "not yet"). It reads
// WATCHDOG_USEC and WATCHDOG_PID: when systemd enabled no watchdog for this
// process (unset, or WATCHDOG_PID names another process) Run does nothing.
// log (nil: discarded) receives stall and recovery reports.
func NewWatchdog(heartbeat func() time.Time, log *slog.Logger) *Watchdog {
	timeout, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		err = fmt.Errorf("systemd watchdog settings: %w", err)
	}
	return newWatchdog(heartbeat, log, timeout, err, sdNotify, clock.Real{})
}

func newWatchdog(heartbeat func() time.Time, log *slog.Logger, timeout time.Duration, envErr error, notify notifyFunc, c clock.Clock) *Watchdog {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watchdog{heartbeat: heartbeat, log: log, notify: notify, clock: c, timeout: timeout, envErr: envErr}
}

// Timeout returns systemd's watchdog timeout for this process (WatchdogSec=),
// or 0 when no watchdog is enabled.
func (w *Watchdog) Timeout() time.Duration { return w.timeout }

// Interval returns how often Run pings: half the timeout, as
// sd_watchdog_enabled(3) asks. The main loop must beat more often than this.
func (w *Watchdog) Interval() time.Duration { return w.timeout / 2 }

// Run pings systemd every Interval while the heartbeat is younger than
// Interval, until ctx is done. A heartbeat from before Run started (or none)
// counts as one taken when Run started. Run returns at once (nil) when no
// watchdog is enabled, and an error when WATCHDOG_USEC or WATCHDOG_PID is
// malformed.
func (w *Watchdog) Run(ctx context.Context) error {
	if w.envErr != nil {
		return w.envErr
	}
	if w.timeout <= 0 {
		return nil
	}
	var (
		stalled   bool
		stalledAt time.Time
		failing   bool
		// A main loop that has not beaten since Run started (its heartbeat
		// is zero, the Unix epoch, or older) gets one interval from here,
		// so that Run may start first without a false alarm.
		start = w.clock.Now()
	)
	for {
		last := w.heartbeat()
		never := !last.After(start)
		if never {
			last = start
		}
		age := w.clock.Now().Sub(last)
		switch fresh := age < w.Interval(); {
		case fresh:
			if stalled {
				w.log.Info("main loop recovered; resuming watchdog keep-alives",
					"withheld_for", w.clock.Now().Sub(stalledAt))
				stalled = false
			}
			if _, err := w.notify(daemon.SdNotifyWatchdog); err != nil {
				if !failing {
					w.log.Warn("cannot send watchdog keep-alive", "err", err)
				}
				failing = true
			} else {
				failing = false
			}
		case !stalled:
			// Staying silent is the point: systemd restarts us after Timeout.
			stalled, stalledAt = true, w.clock.Now()
			if never {
				w.log.Error("main loop has made no progress since the watchdog started; withholding watchdog keep-alive",
					"watchdog_timeout", w.timeout)
			} else {
				w.log.Error("main loop stalled; withholding watchdog keep-alive so systemd restarts the agent",
					"last_beat_age", age, "watchdog_timeout", w.timeout)
			}
		}
		t := w.clock.NewTimer(w.Interval())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
		}
	}
}
