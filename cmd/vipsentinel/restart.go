package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/runtime"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/systemd"
)

// Restarts by systemd (agent/sentinel/design.md, "Restarts without an
// outage"): `systemctl restart`, and a unit-file change applied by one, stop
// the process with SIGTERM and start a new one. When systemd says that the
// SIGTERM is the stop half of a restart, the agent leaves its VIPs and its
// firewall table in place and writes its leases to the handover file in the
// state directory, as before a re-exec; the new process adopts them as a
// re-executed one does. Anything uncertain (no answer from systemd, another
// job, a configuration the new process would reject) is a stop: the VIPs
// are released as always.
//
// A handover whose successor never comes must not leave the VIP behind:
// ExecStopPost= runs `vipsentinel release-handover` once the process has
// exited, and again after a start that failed. It keeps the handover file
// only while systemd's job on the unit is still the restart, whose start
// follows at once; otherwise (the restart was replaced by a stop, the new
// process failed before adopting the VIPs) it removes the VIPs named in
// the file, the file and the firewall table.

// restartQueryTimeout bounds the question to systemd: the answer is a few
// local D-Bus round trips; without one in time the SIGTERM is a stop.
const restartQueryTimeout = 2 * time.Second

// systemdRestarting reports whether systemd's job on this unit is a restart.
// Any error is a no: the caller then releases the VIPs.
func systemdRestarting(ctx context.Context, log *slog.Logger) bool {
	ctx, cancel := context.WithTimeout(ctx, restartQueryTimeout)
	defer cancel()
	unit, job, err := systemd.UnitJob(ctx)
	switch {
	case errors.Is(err, systemd.ErrNotService):
		return false
	case err != nil:
		log.Warn("cannot ask systemd whether this is a restart; treated as a stop", "err", err)
		return false
	}
	log.Info("systemd's job on the unit", "unit", unit, "job", job)
	return systemd.IsRestart(job)
}

// successorWouldStart returns why a new process started with the
// configuration at path would not start, or nil. The stopping agent keeps
// its VIPs for a successor only when this is nil: a start skipped by the
// unit's conditions or refused by the agent would leave them to
// release-handover.
func successorWouldStart(path string) (*config.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s is empty (the unit's ConditionFileNotEmpty= would skip the start)", path)
	}
	if isTemplate(path) {
		return nil, fmt.Errorf("%s is the unedited template (the unit's ExecCondition= would skip the start)", path)
	}
	f, _, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// handoverEvent is the +handover (ok) or -handover event for the metric
// vipsentinel_handovers_total and the journal. Its payload starts with the
// kind ("reexec" or "restart"), which the metric counts by.
func handoverEvent(ok bool, kind, master, detail string) sentinel.Event {
	typ, level := "+handover", sentinel.LevelNotice
	if !ok {
		typ, level = "-handover", sentinel.LevelWarning
	}
	if master == "" {
		master = "*"
	}
	return sentinel.Event{Type: typ, Level: level, Master: master, Payload: strings.TrimSpace(kind + " " + master + " " + detail)}
}

// cmdReleaseHandover is `vipsentinel release-handover <config>`, the unit's
// ExecStopPost=. See the comment at the top of this file.
func cmdReleaseHandover(args []string, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "Usage: vipsentinel release-handover <config>\n\nRun by the unit's ExecStopPost=: removes the VIPs a stopped agent left for a successor that systemd will not start.")
		if len(args) == 1 && isHelp(args[0]) {
			return exitOK
		}
		return exitUsage
	}
	log := systemd.NewLogger(new(slog.LevelVar)).With("component", "release-handover")
	// This runs between the old process and the new one of a restart,
	// while the handed-over lease runs out: the handover file is found
	// without parsing the configuration where systemd names the state
	// directory (StateDirectory=; a list when several are set). The
	// agent's dir is that directory under the unit.
	var f *config.File
	cfgErr := errors.New("not loaded")
	dir, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":")
	if dir == "" {
		if f, _, cfgErr = config.Load(args[0]); cfgErr != nil {
			log.Error("cannot find the state directory", "err", cfgErr)
			return exitFail
		}
		dir = f.Dir
	}
	path := runtime.HandoverPath(dir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return exitOK // the usual case: the agent released its VIPs, or its successor took them
	}
	ctx := context.Background()
	if systemdRestarting(ctx, log) {
		log.Info("handover kept: systemd starts the successor next")
		return exitOK
	}
	if f == nil {
		f, _, cfgErr = config.Load(args[0])
	}
	h, err := runtime.TakeHandover(path)
	if err != nil {
		log.Warn("handover file", "err", err)
	}
	removeHandedOver(h.Leases, "the unit stopped and no successor took the handover", log)
	if cfgErr == nil && f.Firewall.Enabled {
		if fw, err := newFirewall(f, log); err != nil {
			log.Error("close firewall", "err", err)
		} else {
			ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := fw.Close(ctx); err != nil {
				log.Error("close firewall", "err", err)
			}
		}
	}
	ev := handoverEvent(false, h.KindOrDefault(), "", "the unit stopped before a successor took the handover; its VIPs were removed")
	log.Warn("handover released: "+ev.Payload, "event", ev.Type)
	return exitOK
}
