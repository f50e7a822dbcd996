package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the Go runtime's soft memory limit when GOMEMLIMIT
// is not set: the systemd unit's value (systemd/vipsentinel.service), so
// that an agent started some other way (a container, a hand-written unit,
// the foreground) collects harder before its memory reaches the unit's
// MemoryHigh. An agent's live heap is a few MiB with one master and tens
// with hundreds; only a leak or an abuse (a subscriber's queued output)
// gets near this, and then the collector runs before the kernel throttles
// or kills the process holding the VIP.
const defaultMemoryLimit = 192 << 20

// setMemoryLimit applies defaultMemoryLimit unless GOMEMLIMIT chose
// another (the runtime read it at start). It returns the limit in force.
func setMemoryLimit(log *slog.Logger) int64 {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		limit := debug.SetMemoryLimit(-1)
		log.Debug("memory limit from GOMEMLIMIT", "GOMEMLIMIT", v, "bytes", limit)
		return limit
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
	return defaultMemoryLimit
}
