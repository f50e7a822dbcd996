package sentinel

import (
	"testing"
	"time"
)

// TestFenceHoldSettlesNewEpoch is the simulator's seed 2608: the old
// master's host comes back while the others finish a failover. A hello
// announces the failover's epoch (its leader's config is not out yet), and
// the peers answer our confirmation with their old configuration: fresh by
// epoch, stale by content. The VIP must not come back on that; it waits
// until the new epoch's result had time to reach the agents and asks again.
func TestFenceHoldSettlesNewEpoch(t *testing.T) {
	for _, tt := range []struct {
		name      string
		newConfig bool // the new epoch produced a configuration naming tRep1
	}{
		{"failed election: VIP back after the settle", false},
		{"promotion: switch, never the VIP", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newFencedHolder(t)
			n, cfg := h.n, h.n.cfg
			ps := h.peers(2)
			m := n.masters["mymaster"]
			hello := func(p *instance, epoch uint64, maddr Addr, cep uint64) {
				h.step(direct(p.addr.Host, HelloMsg{Addr: p.addr, RunID: p.runid,
					CurrentEpoch: epoch, Master: "mymaster", MasterAddr: maddr, ConfigEpoch: cep}))
			}
			// Start (a restart): fenced until the peers answer and
			// confirm our configuration.
			h.serve(500*time.Millisecond, std(defaultInfo))
			if m.fenceHold == holdOff || m.vip.Own {
				t.Fatalf("after start: hold %v, own %v (%s)", m.fenceHold, m.vip.Own, m.vip.Reason)
			}
			// A peer announces an epoch we did not know: the failover
			// of our master by the others, result not yet known.
			elected := n.CurrentEpoch() + 5000
			hello(ps[0], elected, tMaster, 0)
			// Both answer our confirmation with the old configuration.
			for _, p := range ps {
				hello(p, m.holdEpoch, tMaster, 0)
			}
			h.serve(50*time.Millisecond, std(defaultInfo))
			if m.vip.Own || m.fenceHold == holdOff {
				t.Fatalf("VIP claimed on stale confirmations (epoch %d announced): %s", elected, m.vip.Reason)
			}
			// The result reaches the peers within the settle time.
			cep := uint64(0)
			maddr := tMaster
			if tt.newConfig {
				cep, maddr = elected, tRep1
			}
			settle := max(2*cfg.Masters[0].DownAfter, 2*time.Second)
			h.serve(settle+50*time.Millisecond, std(defaultInfo))
			for _, p := range ps {
				hello(p, m.holdEpoch, maddr, cep)
			}
			h.serve(50*time.Millisecond, std(defaultInfo))
			m = n.masters["mymaster"]
			if tt.newConfig {
				if a, _ := n.MasterAddr("mymaster"); a != tRep1 || m.vip.Own {
					t.Errorf("after the new config: master %v, own %v", a, m.vip.Own)
				}
				return
			}
			if !m.vip.Own {
				t.Errorf("a failed election keeps the VIP away: %s (hold %v)", m.vip.Reason, m.fenceHold)
			}
		})
	}
}
