package sentinel

import (
	"strings"
	"testing"
	"time"
)

// A promotion seen through pub/sub is evidence only with a vote for its
// sender that someone other than the sender cast: a candidate always votes
// for itself, so its own report of that vote says nothing about whether
// it won (seed 571 with 70 ms delays adopted a forged hello that replayed
// a peer's run id with the epoch of an election it lost).
func TestHelloEvidenceNeedsAnotherVoter(t *testing.T) {
	leader, other := strings.Repeat("a", 40), strings.Repeat("b", 40)
	cases := []struct {
		name  string
		voter string // the verified peer whose reply reported the vote for leader in 7
		adopt bool
	}{
		{"only the candidate's own vote", leader, false},
		{"another agent's vote", other, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			h.healthy(time.Second, func(r Ref) string {
				if r.Kind == KindReplica && r.Addr == tRep1 {
					return masterInfo()
				}
				return defaultInfo(r)
			})
			m := h.n.masters["mymaster"]
			for i, id := range []string{leader, other} {
				s := h.n.addSentinel(m, Addr{Host: "198.18.0." + string(rune('2'+i)), Port: 26379}, id)
				s.verifiedAddr = s.addr
				if id == tc.voter {
					s.leader, s.leaderEpoch = leader, 7
				}
			}
			h.n.currentEpoch = 7
			h.step(forged(m, HelloMsg{Addr: Addr{Host: "198.18.0.2", Port: 26379}, RunID: leader, CurrentEpoch: 7,
				Master: "mymaster", MasterAddr: tRep1, ConfigEpoch: 7}))
			if adopted := m.configEpoch == 7; adopted != tc.adopt {
				t.Fatalf("config epoch %d: adopted %v, want %v", m.configEpoch, adopted, tc.adopt)
			}
		})
	}
}
