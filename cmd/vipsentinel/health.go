package main

import (
	"fmt"

	"github.com/vipsentinel/vipsentinel/agent/runtime"
)

// Exit statuses of `vipsentinel status`, for monitoring checks (as
// Nagios plugins and `systemctl is-active` give a meaning to each).
const (
	exitHealthy     = 0
	exitDegraded    = 1
	exitUnreachable = 2
)

// Health is the verdict `vipsentinel status` adds to the agent's status
// document: healthy, degraded (with every reason) or unreachable.
type Health struct {
	State   string   `json:"state"`
	Reasons []string `json:"reasons"`
}

// exitCode maps h to the exit status of `vipsentinel status`.
func (h Health) exitCode() int {
	switch h.State {
	case "healthy":
		return exitHealthy
	case "degraded":
		return exitDegraded
	}
	return exitUnreachable
}

// assess judges an agent's status. Degraded means the agent would not, or
// could not, fail its masters over as configured, or does not hold the
// addresses it should: TILT, a state file it cannot save, a master that is
// down, paused, fenced or mid-failover, no majority of agents reachable,
// no replica a failover could promote, a VIP that failed or is not held on
// the master's host, a firewall error or an unhandled firewall conflict.
func assess(st *runtime.Status) Health {
	h := Health{State: "healthy", Reasons: []string{}}
	add := func(format string, a ...any) { h.Reasons = append(h.Reasons, fmt.Sprintf(format, a...)) }
	if st.Tilt {
		add("TILT mode: no failover until it ends")
	}
	if !st.StateSaved {
		add("the state file cannot be saved")
	}
	for _, m := range st.Masters {
		switch {
		case m.ODown:
			add("master %s is objectively down (o_down)", m.Name)
		case m.SDown:
			add("master %s is down from this agent (s_down)", m.Name)
		}
		if m.FailoverState != "" && m.FailoverState != "none" {
			add("master %s: failover in progress (%s)", m.Name, m.FailoverState)
		}
		if m.Paused {
			until := "until resumed"
			if m.PausedUntil != "" {
				until = "until " + m.PausedUntil
			}
			add("master %s is paused (maintenance, %s): no failover", m.Name, until)
		}
		if m.Fenced {
			add("master %s is fenced: writes paused, no majority of agents reachable", m.Name)
		}
		if m.AgentsKnown > 1 && 2*m.AgentsReachable <= m.AgentsKnown {
			add("master %s: no majority of agents reachable (%d of %d)", m.Name, m.AgentsReachable, m.AgentsKnown)
		}
		eligible := 0
		for _, r := range m.Replicas {
			if r.Eligible {
				eligible++
			}
		}
		if eligible == 0 {
			add("master %s: no replica could be promoted (%d known)", m.Name, len(m.Replicas))
		}
		if m.Local && m.HasVIP && !m.VIPHeld {
			add("master %s is on this host but its VIP is not wanted here (%s)", m.Name, m.VIPReason)
		}
	}
	for _, v := range st.VIPs {
		if v.Error != "" {
			add("VIP %s on %s: %s", v.Address, v.Interface, v.Error)
		}
	}
	if fw := st.Firewall; fw != nil {
		if fw.Error != "" {
			add("firewall: %s", fw.Error)
		}
		for _, c := range fw.Conflicts {
			if !c.Handled {
				add("firewall conflict: %s", c.Description)
			}
		}
	}
	if len(h.Reasons) > 0 {
		h.State = "degraded"
	}
	return h
}
