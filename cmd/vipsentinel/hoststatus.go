package main

import (
	"time"

	"github.com/vipsentinel/vipsentinel/agent/runtime"
	"github.com/vipsentinel/vipsentinel/firewall"
	"github.com/vipsentinel/vipsentinel/vip"
)

// hostStatus reports the VIP and firewall managers' state for VIPSENTINEL
// STATUS (runtime.Options.HostStatus); either may be nil (not configured).
func hostStatus(vips *vip.Manager, fw *firewall.Manager) func() runtime.HostStatus {
	return func() runtime.HostStatus {
		var hs runtime.HostStatus
		if vips != nil {
			for _, v := range vips.Status() {
				s := runtime.VIPStatus{
					Master: v.Master, Address: v.Prefix.String(), Interface: v.Interface, Held: v.Held,
					Epoch: v.Epoch, Reason: v.Reason, Conflicts: v.Conflicts, Error: v.Err,
				}
				if !v.Since.IsZero() {
					s.Since = v.Since.UTC().Format(time.RFC3339)
				}
				hs.VIPs = append(hs.VIPs, s)
			}
		}
		if fw != nil {
			st := fw.Status()
			f := &runtime.FirewallStatus{Mode: st.Mode.String(), Open: st.Open, Fenced: st.Fenced, Restores: st.Restores,
				Conflicts: []runtime.FirewallConflict{}}
			if st.Err != nil {
				f.Error = st.Err.Error()
			}
			for _, c := range st.Conflicts {
				f.Conflicts = append(f.Conflicts, runtime.FirewallConflict{Description: c.String(), Handled: c.Handled(), Fix: c.Fix})
			}
			hs.Firewall = f
		}
		return hs
	}
}
