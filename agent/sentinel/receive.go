package sentinel

import (
	"fmt"
	"time"
)

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
// PublishReply, Hello and IsDownReply, for those when they produced an
// output (a command, an event, a state change), and for an IsDownReply that
// credited a grant while we do not hold the VIP. So a routine PONG, INFO or
// lease renewal of a healthy group waits at most one tick, and anything
// that may move a decision acts at once, as with Step.
func (n *Node) Receive(now Time, in Input) (urgent bool) {
	if n.crashed {
		return false
	}
	cmds, events, scripts, dirty, epoch := len(n.cmds), len(n.events), len(n.scripts), n.dirty, n.currentEpoch
	n.advance(now, false)
	n.newGrant = false
	n.apply(in)
	if n.crashed || !n.calm {
		return true
	}
	switch in.(type) {
	case IsDownReply:
		// A calm Node asks peers for lease renewals, and a new master's
		// host for its first grants: a renewal extends a lease, a
		// refusal changes nothing before the timers Quiet already wakes
		// for (quietHolder), but a grant that starts counting while we
		// do not hold the VIP may complete the majority that claims it
		// (the end of a switchover's write pause): it must not wait for
		// the next tick.
		if n.newGrant {
			return true
		}
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
		n.expireMaintenance(v.Wall)
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
	case Resolved:
		n.onResolved(v)
	case VIPGone:
		n.onVIPGone(v)
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
			break
		}
		n.calm = m.failoverState == stateNone &&
			m.inst.flags&(fSDown|fODown|fFailoverInProgress) == 0 &&
			m.quorumOK && !m.fenced && m.fenceHold == holdOff &&
			!m.pause.active && !m.hold.active
	}
	// The timers only move through passes (the sends of a pass set them;
	// replies push them later), so Quiet can use what this pass saw.
	n.quietAt = n.now + n.quiet()
}

// Quiet returns how long the runtime may wait for its next Tick if no input
// arrives first: one Tick while anything is going on, and for a calm Node
// (see Receive) the time until the next timer that could act, as of the
// last pass (replies without a pass only push timers later): the next PING
// slot, an unanswered PING reaching down-after (or half of it), a peer's
// answer leaving the lease, an INFO, hello or pub/sub check falling due,
// and for a VIP held here its lease requests and grants (quietHolder). A
// VIP this host may hold but does not, a link not up, a reply or script
// awaited, a flag that a timer clears: each keeps the Tick. The runtime must Step(now, Tick{})
// no later than that (a later Tick is a stall, and arms the stall guard);
// an earlier one is always fine.
//
// An idle agent thus wakes once per PING period (down-after/10) instead of
// every Tick.
func (n *Node) Quiet() time.Duration {
	d := n.t.Tick
	if n.calm && !n.crashed {
		d = max(d, n.quietAt-n.now)
	}
	n.quietUntil = n.now + d
	return d
}

func (n *Node) quiet() time.Duration {
	tick := n.t.Tick
	if !n.calm || n.crashed || len(n.pending) > 0 || n.scriptsRunning+n.scriptsQueued > 0 {
		return tick
	}
	now := n.now
	// TILT is a gap of more than TiltTrigger between ticks: sleeping a
	// quarter of it leaves the check nearly as sensitive to a stalled
	// process as with a Tick every 10 ms.
	next := now + n.t.TiltTrigger/4
	at := func(t Time) {
		if t > now && t < next {
			next = t
		}
	}
	for _, m := range n.sortedMasters() {
		if m.promoted != nil || m.inst.roleReported == KindReplica {
			return tick
		}
		if m.vipLocal && !n.quietHolder(m, at) {
			return tick
		}
		pp := n.pingPeriod(m)
		at((now/pp + 1) * pp)
		lease, da := n.lease(m), m.cfg.DownAfter
		if !n.quietInstance(m.inst, da, at) {
			return tick
		}
		for _, r := range m.sortedReplicas() {
			if !n.quietInstance(r, da, at) {
				return tick
			}
		}
		for _, s := range m.sortedSentinels() {
			if !n.quietInstance(s, da, at) {
				return tick
			}
			if s.link.heardAt != never {
				at(s.link.heardAt + lease + 1)
			}
		}
	}
	return max(tick, next-now)
}

// quietHolder adds the timers of a master whose VIP this host holds to at:
// the next lease request to each peer agent, each grant leaving the lease,
// our own grant and guard ending, and the local master's last answer
// leaving the lease. It reports false, and the Node keeps the Tick, while
// the VIP is not held (the requests then run every tick).
func (n *Node) quietHolder(m *master, at func(Time)) bool {
	if !m.vip.Own {
		return false
	}
	lease := n.lease(m)
	if l := n.currentInst(m).link; l.heardAt != never {
		at(l.heardAt + lease + 1)
	}
	if !m.cfg.Fence {
		return true
	}
	period := n.leaseRequestPeriod(m, true)
	for _, s := range m.sortedSentinels() {
		if !agentRunID(s) {
			continue
		}
		if s.leaseReqAt != never {
			at(max((s.leaseReqAt/period+1)*period, s.leaseReqAt+period/2))
		}
		if s.grantAt != never {
			at(s.grantAt + lease + 1)
		}
		if s.link.heardAt != never {
			at(s.link.heardAt + n.renewWindow(m) + 1)
		}
	}
	at(m.grant.until)
	at(m.guard.until)
	at(m.inherited.until)
	return true
}

// quietInstance adds ri's timers to at, or reports false when ri needs the
// Tick.
func (n *Node) quietInstance(ri *instance, da time.Duration, at func(Time)) bool {
	l := ri.link
	if l.disconnected() || ri.forceInfo || ri.flags&^fReconfDone != 0 || ri.demoteUntil != never && n.now < ri.demoteUntil {
		return false
	}
	if l.actPing != never {
		// SDOWN, and the forced close of a link silent for half of
		// it. A PING repeated while one is unanswered waits for the next
		// PING slot: the first unanswered PING is what SDOWN counts
		// from.
		at(l.actPing + da/2 + 1)
		at(l.actPing + da + 1)
	}
	if l.pubsub {
		at(l.pcActive + 3*n.t.PublishPeriod + 1)
	}
	if ri.kind != KindSentinel {
		period := n.infoPeriod(ri)
		if ri.infoRefresh == never {
			return false
		}
		at(ri.infoRefresh + period + 1)
		if ri.infoSentAt != never {
			at(ri.infoSentAt + max(period, da))
		}
	}
	at(max(ri.lastPub, ri.pubSentAt) + n.t.PublishPeriod + 1)
	if ri.helloDue != never {
		at(ri.helloDue)
	}
	return true
}
