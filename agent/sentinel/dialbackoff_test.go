package sentinel

import (
	"strings"
	"testing"
	"time"
)

// A phantom peer (announced by a forged hello, nothing answering at its
// address) is redialled with a doubling back-off, not every ping period;
// a verified peer that is down keeps Sentinel's pace; a connect that
// succeeds resets the back-off.
func TestUnverifiedPeerDialBackoff(t *testing.T) {
	h := newHealthy(t)
	m := h.n.masters["mymaster"]
	real := h.verifiedPeer("198.18.0.3", strings.Repeat("e", 40))
	phantom := strings.Repeat("d", 40)
	h.step(forged(m, HelloMsg{Addr: Addr{Host: "198.18.250.9", Port: 26379}, RunID: phantom, Master: "mymaster", MasterAddr: tMaster}))
	dials := map[string]int{}
	answer := func(up map[string]bool) func(Command) Input {
		return func(c Command) Input {
			if c.Kind == CmdConnect && c.To.Kind == KindSentinel && c.Link == LinkCmd {
				dials[c.To.RunID]++
				if up[c.To.RunID] {
					return LinkUp{To: c.To, Link: c.Link}
				}
				return LinkDown{To: c.To, Link: c.Link, Err: "connection refused"}
			}
			return std(defaultInfo)(c)
		}
	}
	window := h.n.unverifiedTTL(m) / 3 // the next dial comes before it expires
	h.serve(window, answer(nil))
	pp := h.n.pingPeriod(m)
	t.Logf("in %v (ping period %v): phantom dialled %d times, verified peer %d", window, pp, dials[phantom], dials[real.runid])
	if max := 4; dials[phantom] > max {
		t.Errorf("phantom dialled %d times in %v, want at most %d", dials[phantom], window, max)
	}
	if min := int(window / pp / 2); dials[real.runid] < min {
		t.Errorf("verified peer dialled %d times in %v, want at least %d (Sentinel's pace)", dials[real.runid], window, min)
	}
	s := m.sentinels[phantom]
	if s == nil || s.link.dialFails == 0 || h.n.dialPeriod(s) <= pp {
		t.Fatal("no back-off recorded for the phantom")
	}
	// Something answers now (without a proof): the back-off resets at
	// the next connect, before the phantom expires.
	before := dials[phantom]
	up := answer(map[string]bool{phantom: true})
	for i := 0; i < 100 && dials[phantom] == before; i++ {
		h.serve(10*time.Millisecond, up)
	}
	if dials[phantom] == before || m.sentinels[phantom] == nil {
		t.Fatal("phantom not dialled again before it expired")
	}
	if s := m.sentinels[phantom]; s.link.dialFails != 0 || h.n.dialPeriod(s) != pp {
		t.Errorf("back-off not reset by a successful connect: %d fails, period %v", s.link.dialFails, h.n.dialPeriod(s))
	}
}
