// Package source adapts the VIP and firewall managers to the plain values
// package metrics exports, so that metrics (and the runtime that imports it)
// does not link netlink, packet sockets or nftables.
package source

import (
	"github.com/vipsentinel/vipsentinel/agent/metrics"
	"github.com/vipsentinel/vipsentinel/firewall"
	"github.com/vipsentinel/vipsentinel/vip"
)

// VIPs reports m's addresses to metrics; nil when m is nil (no VIP
// configured).
func VIPs(m *vip.Manager) metrics.VIPSource {
	if m == nil {
		return nil
	}
	return vips{m}
}

type vips struct{ m *vip.Manager }

func (s vips) VIPs() []metrics.VIP {
	st := s.m.Status()
	out := make([]metrics.VIP, len(st))
	for i, v := range st {
		out[i] = metrics.VIP{
			Master:        v.Master,
			Addr:          v.Prefix.Addr().String(),
			Interface:     v.Interface,
			Held:          v.Held,
			Epoch:         v.Epoch,
			Since:         v.Since,
			Failing:       v.Err != "",
			Announcements: v.Announcements,
			Repairs:       v.Repairs,
			Conflicts:     v.Conflicts,
			LastConflict:  v.LastConflict,
		}
	}
	return out
}

// Firewall reports m's state to metrics; nil when m is nil (no firewall
// directive).
func Firewall(m *firewall.Manager) metrics.FirewallSource {
	if m == nil {
		return nil
	}
	return fw{m}
}

type fw struct{ m *firewall.Manager }

func (s fw) Firewall() metrics.Firewall {
	st := s.m.Status()
	out := metrics.Firewall{
		Open:      st.Open,
		Fenced:    st.Fenced,
		Failing:   st.Err != nil,
		Conflicts: len(st.Conflicts),
		Restores:  st.Restores,
		LastApply: st.LastApply,
	}
	for _, c := range st.Conflicts {
		if c.Handled() {
			out.Handled++
		}
	}
	return out
}
