package systemd

import (
	"context"
	"errors"
	"fmt"
	"os"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// A SIGTERM from systemd does not say why it comes: `systemctl stop` and
// `systemctl restart` (a unit-file change, an operator, a package script)
// send the same signal. The job systemd runs on the unit does: during the
// stop half of a restart the unit's job is a "restart" job, which systemd
// turns into a "start" job only once the unit is inactive (systemd 252,
// Debian bookworm, checked by packaging/e2e TestClusterRestartBooted). The
// question goes to systemd over the system bus: read-only calls that
// systemd's D-Bus policy allows any user without polkit.

// ErrNotService is returned by UnitJob when this process was not started by
// systemd as a service.
var ErrNotService = errors.New("not started by systemd")

// UnitJob returns the unit this process belongs to and the type of the job
// systemd is running or has queued for it ("" when none): "restart",
// "stop", "start", ... as systemd's ListJobs reports them.
func UnitJob(ctx context.Context) (unit, job string, err error) {
	// systemd sets INVOCATION_ID for every unit it starts; without it no
	// job can concern this process.
	if os.Getenv("INVOCATION_ID") == "" {
		return "", "", ErrNotService
	}
	conn, err := sddbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return "", "", fmt.Errorf("connect to systemd over D-Bus: %w", err)
	}
	defer conn.Close()
	unit, err = conn.GetUnitNameByPID(ctx, uint32(os.Getpid()))
	if err != nil {
		return "", "", fmt.Errorf("systemd: unit of pid %d: %w", os.Getpid(), err)
	}
	jobs, err := conn.ListJobsContext(ctx)
	if err != nil {
		return unit, "", fmt.Errorf("systemd: list jobs: %w", err)
	}
	for _, j := range jobs {
		if j.Unit == unit {
			return unit, j.JobType, nil
		}
	}
	return unit, "", nil
}

// IsRestart reports whether a job of type job (as UnitJob returns it) starts
// the unit again once it is stopped. try-restart is merged into restart
// when the job is installed on an active unit; it is accepted here as well.
func IsRestart(job string) bool {
	return job == "restart" || job == "try-restart"
}
