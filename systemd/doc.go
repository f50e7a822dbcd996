// Package systemd connects the agent to the systemd service manager:
// readiness and status notifications (sd_notify), a watchdog that keeps
// pinging systemd only while the agent's main loop is alive, and logging that
// writes structured journald entries when stderr is the journal and readable
// text otherwise.
//
// Everything here is a no-op when the process does not run under systemd
// (NOTIFY_SOCKET and WATCHDOG_USEC unset), so the same binary runs in the
// foreground, in containers and in tests.
//
// The unit file vipsentinel.service in this directory is the one the
// packages install; see its comments for each hardening choice.
package systemd
