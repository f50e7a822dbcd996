package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// The checker must be able to fail: each case feeds it a history that a
// broken Node or runtime could produce and expects the named violation.
func TestCheckerCatches(t *testing.T) {
	ids := []string{strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)}
	state := func(i int, epoch, leaderEpoch uint64, leader string) *sentinel.HardState {
		return &sentinel.HardState{MyID: ids[i], CurrentEpoch: epoch,
			Masters: []sentinel.MasterState{{LeaderEpoch: leaderEpoch, Leader: leader}}}
	}
	ev := func(typ string, epoch uint64, payload string) sentinel.Event {
		return sentinel.Event{Type: typ, Master: masterName, Epoch: epoch, Payload: payload}
	}
	demote := sentinel.Command{Kind: sentinel.CmdTransaction, Cmds: [][]string{{"MULTI"}, {"SLAVEOF", "198.18.0.12", "6379"}, {"EXEC"}}}
	slaveofNoOne := sentinel.Command{Kind: sentinel.CmdTransaction, Cmds: [][]string{{"MULTI"}, {"SLAVEOF", "NO", "ONE"}, {"EXEC"}}}
	// elect0 is a valid election of a0 in epoch 1 by a0 and a1.
	elect0 := func(c *checker, a []*agent) {
		c.persisted(a[0], state(0, 1, 1, ids[0]))
		c.persisted(a[1], state(1, 1, 1, ids[0]))
		c.event(a[0], ev("+odown", 0, ""))
		c.event(a[0], ev("+new-epoch", 1, "1"))
		c.event(a[0], ev("+try-failover", 0, ""))
		c.event(a[0], ev("+elected-leader", 0, ""))
	}
	cases := []struct {
		name string
		run  func(c *checker, a []*agent)
		want string // "" = no violation
	}{
		{"valid election and promotion", func(c *checker, a []*agent) {
			elect0(c, a)
			c.command(a[0], slaveofNoOne)
		}, ""},
		{"double +elected-leader", func(c *checker, a []*agent) {
			elect0(c, a)
			c.event(a[1], ev("+odown", 0, ""))
			c.event(a[1], ev("+new-epoch", 1, "1"))
			c.event(a[1], ev("+try-failover", 0, ""))
			c.event(a[1], ev("+elected-leader", 0, ""))
		}, "two leaders in epoch 1"},
		{"double vote in events", func(c *checker, a []*agent) {
			c.event(a[2], ev("+vote-for-leader", 3, ids[0]+" 3"))
			c.event(a[2], ev("+vote-for-leader", 3, ids[1]+" 3"))
		}, "double vote in epoch 3"},
		{"double vote across a restart", func(c *checker, a []*agent) {
			c.persisted(a[2], state(2, 3, 3, ids[0]))
			c.voteAnswer(a[2], ids[1], 3)
		}, "double vote in epoch 3"},
		{"answer before persisting", func(c *checker, a []*agent) {
			c.persisted(a[2], state(2, 2, 0, ""))
			c.voteAnswer(a[2], ids[1], 2)
		}, "before persisting"},
		{"current epoch backwards", func(c *checker, a []*agent) {
			c.persisted(a[1], state(1, 5, 0, ""))
			c.persisted(a[1], state(1, 4, 0, ""))
		}, "current epoch went backwards"},
		{"one config epoch, two masters", func(c *checker, a []*agent) {
			s0, s1 := state(0, 3, 0, ""), state(1, 3, 0, "")
			s0.Masters[0].ConfigEpoch, s0.Masters[0].CurrentAddr = 3, sentinel.Addr{Host: "198.18.0.16", Port: 6379}
			s1.Masters[0].ConfigEpoch, s1.Masters[0].CurrentAddr = 3, sentinel.Addr{Host: "198.18.0.13", Port: 6379}
			c.persisted(a[0], s0)
			c.persisted(a[1], s1)
		}, "config epoch 3 names two masters"},
		{"elected without majority", func(c *checker, a []*agent) {
			c.persisted(a[0], state(0, 1, 1, ids[0]))
			c.event(a[0], ev("+odown", 0, ""))
			c.event(a[0], ev("+try-failover", 0, ""))
			c.event(a[0], ev("+elected-leader", 0, ""))
		}, "with 1 votes"},
		{"failover without ODOWN", func(c *checker, a []*agent) {
			c.event(a[0], ev("+try-failover", 1, ""))
		}, "without ODOWN"},
		{"failover in TILT", func(c *checker, a []*agent) {
			c.event(a[0], ev("+odown", 0, ""))
			c.event(a[0], ev("+tilt", 0, ""))
			c.event(a[0], ev("+try-failover", 1, ""))
		}, "in TILT"},
		{"reconfiguration in TILT entered on a Tick", func(c *checker, a []*agent) {
			c.turn(a[0], false)
			c.event(a[0], ev("+tilt", 0, ""))
			c.command(a[0], demote)
		}, "in TILT"},
		{"reconfiguration in the turn after TILT", func(c *checker, a []*agent) {
			c.turn(a[0], true)
			c.event(a[0], ev("+tilt", 0, ""))
			c.turn(a[0], true)
			c.command(a[0], demote)
		}, "in TILT"},
		{"reconfiguration decided on the input before the pass that enters TILT", func(c *checker, a []*agent) {
			c.turn(a[0], true)
			c.event(a[0], ev("+tilt", 0, ""))
			c.command(a[0], demote)
		}, ""},
		{"promotion without election", func(c *checker, a []*agent) {
			c.event(a[1], ev("+odown", 0, ""))
			c.event(a[1], ev("+new-epoch", 2, "2"))
			c.event(a[1], ev("+try-failover", 0, ""))
			c.command(a[1], slaveofNoOne)
		}, "without being elected"},
		{"configuration nobody elected (forged hello)", func(c *checker, a []*agent) {
			c.evidence = true
			elect0(c, a)
			s := state(2, 5, 0, "")
			s.Masters[0].ConfigEpoch, s.Masters[0].CurrentAddr = 5, sentinel.Addr{Host: "198.18.0.11", Port: 6379}
			c.persisted(a[2], s)
		}, "nobody was elected in it"},
		{"promotion of a priority-0 replica", func(c *checker, a []*agent) {
			elect0(c, a)
			c.promoted(a[0], &redis{priority: 0, addr: sentinel.Addr{Host: "198.18.0.11", Port: 6379}})
		}, "slave-priority 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(nil, 3, 2, 0)
			var a []*agent
			for i := range 3 {
				a = append(a, &agent{id: i, name: fmt.Sprintf("a%d", i)})
			}
			tc.run(c, a)
			switch {
			case tc.want == "" && c.err != nil:
				t.Fatalf("unexpected violation: %v", c.err)
			case tc.want != "" && c.err == nil:
				t.Fatalf("checker missed %q", tc.want)
			case tc.want != "" && !strings.Contains(c.err.What, tc.want):
				t.Fatalf("got %q, want %q", c.err.What, tc.want)
			}
		})
	}
}
