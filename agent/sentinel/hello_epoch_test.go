package sentinel

import (
	"math/rand"
	"testing"
)

// TestHelloNewerConfigOvertakesFailover is the simulator's seed 146: an
// agent still reconfiguring replicas after promoting .11 hears a newer
// configuration that names the old master .10. Comparing the hello's
// address with the old master's (Sentinel's rule) kept the newer epoch
// under our promoted replica, so one config epoch named two masters. The
// newer configuration must end our failover and be adopted as it is.
func TestHelloNewerConfigOvertakesFailover(t *testing.T) {
	const fe = 5 // our failover epoch
	tests := []struct {
		name      string
		state     int
		helloAddr Addr
		helloCE   uint64
		wantAddr  Addr
		wantCE    uint64
		wantFail  bool   // our failover still in progress
		wantSwMsg string // +switch-master payload, "" for none
	}{
		{"reconf, newer names old master", stateReconfSlaves, tMaster, 9, tMaster, 9, false,
			"mymaster 198.18.0.11 6379 198.18.0.10 6379"},
		{"reconf, newer names our promoted replica", stateReconfSlaves, tRep1, 9, tRep1, 9, false,
			"mymaster 198.18.0.10 6379 198.18.0.11 6379"},
		{"reconf, newer names a third", stateReconfSlaves, tRep2, 9, tRep2, 9, false,
			"mymaster 198.18.0.10 6379 198.18.0.12 6379"},
		{"wait promotion, peer config in our epoch", stateWaitPromotion, tMaster, fe, tMaster, fe, false, ""},
		{"wait promotion, peer config later", stateWaitPromotion, tRep2, fe + 1, tRep2, fe + 1, false,
			"mymaster 198.18.0.10 6379 198.18.0.12 6379"},
		{"wait start, older config same master", stateWaitStart, tMaster, 3, tMaster, 3, true, ""},
		{"reconf, older config ignored", stateReconfSlaves, tMaster, 4, tRep1, fe, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHealthy(t)
			m := h.n.masters["mymaster"]
			// Our failover, set up directly so the test does not depend on
			// how a failover reaches the state.
			p := m.replicas[tRep1.String()]
			if p == nil {
				t.Fatalf("replica %v not discovered", tRep1)
			}
			h.n.currentEpoch = fe
			m.inst.flags |= fFailoverInProgress
			m.failoverEpoch = fe
			m.failoverState = tt.state
			m.stateChangeTime = h.n.now
			m.failoverStartTime = h.n.now
			if tt.state >= stateSelectSlave {
				m.promoted = p
				p.flags |= fPromoted
			}
			if tt.state >= stateReconfSlaves {
				m.configEpoch = fe
			}
			h.takeEvents()
			h.states = nil

			peer := NewID(rand.New(rand.NewSource(77)))
			h.verifiedPeer("198.18.0.3", peer)
			h.step(direct("198.18.0.3", HelloMsg{
				Addr: Addr{Host: "198.18.0.3", Port: 26379}, RunID: peer, CurrentEpoch: max(tt.helloCE, fe),
				Master: "mymaster", MasterAddr: tt.helloAddr, ConfigEpoch: tt.helloCE}))

			m = h.n.masters["mymaster"]
			if got, _ := h.n.MasterAddr("mymaster"); got != tt.wantAddr || m.configEpoch != tt.wantCE {
				t.Errorf("config (%v, %d), want (%v, %d)", got, m.configEpoch, tt.wantAddr, tt.wantCE)
			}
			if got := m.inst.flags&fFailoverInProgress != 0; got != tt.wantFail {
				t.Errorf("failover in progress %v, want %v: %v", got, tt.wantFail, types(h.events))
			}
			ev, ok := findEvent(h.events, "+switch-master")
			if tt.wantSwMsg == "" && ok {
				t.Errorf("unexpected +switch-master %q", ev.Payload)
			}
			if tt.wantSwMsg != "" && (!ok || ev.Payload != tt.wantSwMsg) {
				t.Errorf("+switch-master %q (found %v), want %q", ev.Payload, ok, tt.wantSwMsg)
			}
			if !tt.wantFail {
				if _, ok := findEvent(h.events, "-failover-abort-newer-config"); !ok && tt.helloCE >= fe {
					t.Errorf("no -failover-abort-newer-config: %v", types(h.events))
				}
			}
			// What is persisted pairs the epoch with the address it names.
			if len(h.states) == 0 {
				if tt.helloCE > fe || tt.state < stateReconfSlaves {
					t.Fatal("new config epoch not persisted")
				}
				return
			}
			st := h.states[len(h.states)-1].Masters[0]
			if st.CurrentAddr != tt.wantAddr || st.ConfigEpoch != tt.wantCE {
				t.Errorf("persisted (%v, %d), want (%v, %d)", st.CurrentAddr, st.ConfigEpoch, tt.wantAddr, tt.wantCE)
			}
		})
	}
}
