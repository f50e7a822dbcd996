package sentinel

import (
	"strings"
	"testing"
	"time"
)

// A configuration reaches us only in its sender's own hello over an
// authenticated path. Through pub/sub, nothing we know makes a hello
// evidence: not our vote for its sender in its epoch, nor other agents'
// votes, not even a majority of them (the candidate may not have tallied
// them), nor a replica reporting role:master (promoted in an older epoch).
// Sim seed 1000689: a forged hello replaying a verified agent's run id with
// the epoch of an election it never completed (we had voted for it) and
// the replica our own failover had promoted one epoch before was adopted,
// a configuration nobody was elected in. A verified peer's untrusted hello
// announcing a newer configuration is answered with our hello, so that the
// peer sends its own over its link to us.
func TestPubSubHelloIsNoEvidence(t *testing.T) {
	cand, other, third := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)
	const candIP = "198.18.0.2"
	cases := []struct {
		name   string
		ours   bool     // we voted for cand in 7
		voters []string // verified peers whose replies reported a vote for cand in 7
		hello  func(HelloMsg) Hello
		adopt  bool
	}{
		{"pub/sub, our vote", true, nil, nil, false},
		{"pub/sub, another agent's vote", false, []string{other}, nil, false},
		{"pub/sub, a majority of votes", true, []string{cand, other, third}, nil, false},
		{"pub/sub, no vote known", false, nil, nil, false},
		{"sender's own authenticated hello", true, nil, func(msg HelloMsg) Hello { return direct(candIP, msg) }, true},
		{"relayed by another verified agent", false, nil, func(msg HelloMsg) Hello {
			msg.Addr.Host, msg.RunID = "198.18.0.3", other
			return direct("198.18.0.3", msg)
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			info := func(r Ref) string {
				if r.Kind == KindReplica && r.Addr == tRep1 {
					return masterInfo()
				}
				return defaultInfo(r)
			}
			h.healthy(time.Second, info)
			m := h.n.masters["mymaster"]
			peers := map[string]*instance{}
			for i, id := range []string{cand, other, third} {
				peers[id] = h.verifiedPeer("198.18.0."+string(rune('2'+i)), id)
			}
			h.serve(time.Second, std(info))
			h.n.currentEpoch = 7
			if tc.ours {
				m.leader, m.leaderEpoch = cand, 7
			}
			for _, id := range tc.voters {
				peers[id].leader, peers[id].leaderEpoch = cand, 7
			}
			h.takeCmds()
			msg := HelloMsg{Addr: Addr{Host: candIP, Port: 26379}, RunID: cand, CurrentEpoch: 7,
				Master: "mymaster", MasterAddr: tRep1, ConfigEpoch: 7}
			in := forged(m, msg)
			if tc.hello != nil {
				in = tc.hello(msg)
			}
			h.step(in)
			got, _ := h.n.MasterAddr("mymaster")
			if adopted := m.configEpoch == 7; adopted != tc.adopt || adopted && got != tRep1 || !adopted && got != tMaster {
				t.Fatalf("config epoch %d, master %v: adopted %v, want %v", m.configEpoch, got, adopted, tc.adopt)
			}
			if tc.adopt {
				return
			}
			asked := false
			for _, c := range h.takeCmds() {
				asked = asked || c.Kind == CmdPublish && c.To == peers[cand].link.ref
			}
			if !asked {
				t.Error("the announced newer configuration was not answered with our hello to its sender")
			}
		})
	}
}
