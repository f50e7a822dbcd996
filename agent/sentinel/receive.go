package sentinel

import "fmt"

// Receive applies in as Step does, without the timer pass that Step runs
// after every input; the next Step runs it. A runtime that takes several
// inputs at once (a burst of replies) calls Receive for each and, when any
// of them reported true, Step(now, Tick{}) once, instead of one full pass
// per input: with many masters the pass, not the input, is the cost.
//
// Receive reports true when the pass should run now rather than at the next
// tick: whenever the Node is not calm (TILT, the stall guard, a master
// SDOWN, ODOWN or failing over, the fence or a pause active, the majority
// of agents not heard), for every input other than PingReply, InfoReply,
// PublishReply and Hello, and for those when they produced an output (a
// command, an event, a state change). So a routine PONG or INFO of a healthy
// group waits at most one tick, and anything that may move a decision acts
// at once, as with Step.
func (n *Node) Receive(now Time, in Input) (urgent bool) {
	if n.crashed {
		return false
	}
	cmds, events, scripts, dirty, epoch := len(n.cmds), len(n.events), len(n.scripts), n.dirty, n.currentEpoch
	n.advance(now, false)
	n.apply(in)
	if n.crashed || !n.calm {
		return true
	}
	switch in.(type) {
	case PingReply, InfoReply, PublishReply, Hello:
	default:
		return true
	}
	return len(n.cmds) != cmds || len(n.events) != events || len(n.scripts) != scripts ||
		n.dirty != dirty || n.currentEpoch != epoch || n.crash
}

// apply hands in to its handler.
func (n *Node) apply(in Input) {
	switch v := in.(type) {
	case Tick:
	case LinkUp:
		n.onLinkUp(v)
	case LinkDown:
		n.onLinkDown(v)
	case PingReply:
		n.onPingReply(v)
	case InfoReply:
		n.onInfoReply(v)
	case PublishReply:
		n.onPublishReply(v)
	case Hello:
		n.onHello(v)
	case IsDownReply:
		n.onIsDownReply(v)
	case CommandDone:
		n.onCommandDone(v)
	case nil:
		n.debug("", "bad-input", "nil input")
	default:
		n.debug("", "bad-input", fmt.Sprintf("unknown input type %T", in))
	}
}

// updateCalm records, at the end of a pass, whether the Node is calm: no
// TILT, no stall guard, and every master healthy and idle (see Receive).
func (n *Node) updateCalm() {
	n.calm = !n.tilt && n.now >= n.stallEnd
	for _, m := range n.sortedMasters() {
		if !n.calm {
			return
		}
		n.calm = m.failoverState == stateNone &&
			m.inst.flags&(fSDown|fODown|fFailoverInProgress) == 0 &&
			m.quorumOK && !m.fenced && !m.fenceHold && !m.settling &&
			!m.pause.active && !m.hold.active
	}
}
