package sentinel

import (
	"fmt"
	"strings"
)

// FailoverTo is `vipsentinel failover <master> --to <addr>`: the forced
// failover of SENTINEL FAILOVER (writes paused on a healthy master, the
// replica promoted only once it has every acknowledged write; sync.go),
// but of the replica at to rather than the best one. It is refused, with
// the rule that excludes it, when to is not a known replica of the master
// or is not eligible now; and the failover is aborted with
// -failover-abort-no-good-slave if to stops qualifying before it is
// selected: the operator asked for that replica, and promoting another
// would surprise them.
func (n *Node) FailoverTo(now Time, name string, to Addr) error {
	m, err := n.userFailoverMaster(now, name)
	if err != nil {
		return err
	}
	c, ok := n.candidate(m, to)
	if !ok {
		return &ReplyError{Msg: fmt.Sprintf("ERR %s is not a known replica of %s (known: %s)", to, name, n.replicaList(m))}
	}
	if c.Rejected != "" {
		return &ReplyError{Msg: fmt.Sprintf("NOGOODSLAVE %s cannot be promoted: %s", to, c.Rejected)}
	}
	n.forceFailover(m, c.Addr, fmt.Sprintf("Executing user requested FAILOVER of '%s' to %s", name, c.Addr))
	return nil
}

// candidate returns how the replica of m at a fares in a promotion now.
func (n *Node) candidate(m *master, a Addr) (Candidate, bool) {
	for _, c := range n.candidates(m) {
		if n.sameAddr(c.Addr, a) {
			return c, true
		}
	}
	return Candidate{}, false
}

func (n *Node) replicaList(m *master) string {
	var out []string
	for _, r := range m.sortedReplicas() {
		out = append(out, r.addr.String())
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// selectTarget is selectReplica for a switchover: m.target or nothing.
func (n *Node) selectTarget(m *master) (*instance, string) {
	c, ok := n.candidate(m, m.target)
	switch {
	case !ok:
		return nil, fmt.Sprintf("requested replica %s is no longer known", m.target)
	case c.Rejected != "":
		return nil, fmt.Sprintf("requested replica %s rejected: %s", c.Addr, c.Rejected)
	}
	return m.replicas[c.Addr.String()], fmt.Sprintf("requested replica %s eligible (priority %d, offset %d)", c.Addr, c.Priority, c.Offset)
}
