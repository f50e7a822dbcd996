package sentinel

import (
	"strconv"
	"time"
)

// fencing is the fencing state of a master (design.md, "The fencing state
// machine"). Every pass, fencePass reads what the Node knows into a
// fenceView, applies the transitions in a fixed order, then decides from
// the view and the new state alone whether to ask for grants (asks), to
// want the VIP (vipDecision) and to pause the local master (mustFence).
type fencing struct {
	quorumOK bool // a majority answered at the last pass (+quorum-lost/-regained)
	regainAt Time // when quorumOK last became true
	// fenceHold keeps the VIP away after the majority is heard again (or
	// at a start) until a majority of agents sent us their configuration
	// since: only then do we know whether the local master is still the
	// master.
	fenceHold holdState
	holdEpoch uint64 // epoch a hello must carry to count as fresh
	settleAt  Time   // end of holdSettle
	held      Addr   // the local address whose lease we held in this run
	fenced    bool   // the local master is paused by the fence (+fence/-fence)
	// lapsing: the local master is paused because the grants stopped
	// arriving for renewWindow while the lease still runs (+lease-pause).
	lapsing bool
	// stalls is the longest recent silence of a peer answering our lease
	// requests (grant.go, renewWindow).
	stalls recentMax

	// The early release of a lease whose master left this host
	// (release.go). vipGen numbers our VIP intents (it changes whenever
	// Own does), vipGone is the latest one the VIP manager confirmed
	// applied with the VIP gone from the interfaces (VIPGone), releasing
	// the address whose lease waits for that confirmation of intent
	// releaseGen, and releasedAt when we last released (released set):
	// grants to requests sent until then no longer count.
	vipGen     uint64
	vipGone    uint64
	releasing  Addr
	releaseGen uint64
	released   bool
	releasedAt Time
}

// holdState is the confirmation of our configuration.
type holdState uint8

const (
	holdOff holdState = iota // nothing to confirm
	// holdWait: the majority was lost while the fence was armed; the VIP
	// waits for hellos carrying our hold epoch from a majority (holdBump).
	holdWait
	// holdSettle: holdWait, but an epoch we did not know was announced:
	// ask again at settleAt (settleHold).
	holdSettle
)

func (s holdState) String() string { return [...]string{"off", "wait", "settle"}[s] }

// fenceView is what one pass knows about a master, for the fencing
// transitions and decisions.
type fenceView struct {
	fence    bool // fencing is enabled for the master
	local    bool // the current master address is on this host
	master   bool // its latest INFO says role:master
	linkUp   bool // our command link to it is up
	answered bool // it answered a PING within the lease
	prompt   bool // it answered a PING within two ping periods
	tilt     bool
	booting  bool // our restored configuration is not confirmed yet (bootconfirm.go)
	majority bool // a majority of the agents answered us within the lease
	leased   bool // fence on the master's host: a majority granted us the lease; else majority
	recent   bool // a majority of the agents answered us within renewWindow
	recentN  int  // how many did, us included
	steady   bool // no stall guard: the Node has not just woken from a process stall
	bound    bool // fence: a grant or vote of our own forbids claiming the address
	held     bool // we held the lease of this address in this run
	peers    bool // another agent is known
	// notLocal is the VIP reason when the master is not local.
	notLocal     string
	reach, known int
}

// armed reports whether the fence applies to the master: fencing is on and
// the local instance is the master, reporting role:master over a command
// link that is up.
func (v fenceView) armed() bool { return v.fence && v.local && v.master && v.linkUp }

// asks reports whether we ask the peers for grants: only while the local
// master answers promptly, since grants hold the others' votes back and
// must lapse well before they could see a dead master as down.
func (v fenceView) asks() bool { return v.armed() && !v.tilt && v.prompt }

// view reads what the fencing of m needs to know.
func (n *Node) view(m *master, inst *instance) fenceView {
	l := inst.link
	reach, granted, recent, known := n.heard(m)
	majority := known/2 + 1
	v := fenceView{
		fence:    m.cfg.Fence,
		local:    n.isLocal(inst.addr),
		master:   inst.info != nil && inst.roleReported == KindMaster,
		linkUp:   l.cc == connUp || l.carried,
		answered: l.heardAt != never && n.now-l.heardAt <= n.lease(m),
		prompt:   l.heardAt != never && n.now-l.heardAt <= 2*n.pingPeriod(m),
		tilt:     n.tilt,
		steady:   n.now >= n.stallEnd,
		booting:  m.unconfirmed(),
		majority: reach >= majority,
		held:     n.sameAddr(m.held, inst.addr),
		peers:    known > 1,
		reach:    reach,
		known:    known,
	}
	// A lease this agent's previous process held and handed over counts
	// as the majority it was (handover.go).
	inherited := v.fence && n.grantCovers(m.inherited, inst.addr)
	v.majority = v.majority || inherited
	v.leased = v.majority
	if v.local && v.fence {
		v.leased = granted >= majority || inherited
	}
	v.recent, v.recentN = recent >= majority || inherited, recent
	v.bound = v.fence && !n.mayClaim(m, inst.addr)
	if !v.local {
		v.notLocal = notLocalReason(m.vip.Reason, inst.addr)
	}
	return v
}

// updateVIPs runs fencePass for every master. It runs after every input.
func (n *Node) updateVIPs() {
	for _, m := range n.sortedMasters() {
		n.fencePass(m)
	}
}

// fencePass decides whether this agent wants m's VIP and whether it must
// fence the local master: the transitions first, in order, then the
// decisions, then their effects.
func (n *Node) fencePass(m *master) {
	inst := n.currentInst(m)
	n.confirmBoot(m)
	v := n.view(m, inst)
	n.quorumEdge(m, v)
	n.settleEnd(m, v)
	n.confirmHold(m, v)
	m.fenceHold = holdNext(m.fenceHold, v)
	m.reachable, m.knownAgent, m.vipLocal = v.reach, v.known, v.local

	if v.asks() {
		n.requestGrants(m, inst.addr, v.leased)
	}
	own, reason := vipDecision(v, m.fenceHold)
	if own && v.fence {
		n.give(m, inst.addr, grantSelf, n.now)
	}
	if own != m.vip.Own || m.vipGen == 0 {
		m.vipGen++
	}
	m.vip = VIPIntent{Master: m.cfg.Name, Own: own, Epoch: m.configEpoch, Reason: reason, Gen: m.vipGen}
	n.releaseNext(m, v)
	m.held = heldNext(m.held, v, own, inst.addr)
	v.held = n.sameAddr(m.held, inst.addr)

	fence := mustFence(v, m.fenceHold)
	lapsing := !fence && mustLeasePause(v)
	if lapsing != m.lapsing {
		m.lapsing = lapsing
		typ := "-lease-pause"
		if lapsing {
			typ = "+lease-pause"
		}
		n.instEventDetail(LevelWarning, typ, inst, "", "agents answered within "+n.renewWindow(m).String()+": "+strconv.Itoa(v.recentN)+"/"+strconv.Itoa(v.known))
	}
	if fence != m.fenced {
		m.fenced = fence
		typ := "-fence"
		if fence {
			typ = "+fence"
		}
		n.instEventDetail(LevelWarning, typ, inst, "", "agents heard "+strconv.Itoa(v.reach)+"/"+strconv.Itoa(v.known))
	}
	n.managePause(m, inst, fence || lapsing)
	n.manageHold(m)
}

// quorumEdge emits +quorum-lost and +quorum-regained. A regain restarts a
// confirmation in progress above every epoch we know: hellos in flight
// during the loss are stale.
func (n *Node) quorumEdge(m *master, v fenceView) {
	if v.majority == m.quorumOK {
		return
	}
	m.quorumOK = v.majority
	typ := "+quorum-lost"
	if v.majority {
		typ = "+quorum-regained"
		m.regainAt = n.now
		if m.fenceHold != holdOff {
			n.holdBump(m, n.currentEpoch)
		}
	}
	n.instEvent(LevelWarning, typ, m.inst, " #agents "+strconv.Itoa(v.reach)+"/"+strconv.Itoa(v.known))
}

// settleEnd moves holdSettle to holdWait at settleAt: whatever the new
// epoch's election produced has reached the agents by then, so we ask them
// again (if we hear a majority; else the regain will).
func (n *Node) settleEnd(m *master, v fenceView) {
	if m.fenceHold != holdSettle || n.now < m.settleAt {
		return
	}
	m.fenceHold = holdWait
	if v.majority {
		n.holdBump(m, n.currentEpoch)
	}
}

// confirmHold ends holdWait when a majority of agents (us included) sent a
// hello carrying our hold epoch, with the majority heard.
func (n *Node) confirmHold(m *master, v fenceView) {
	if m.fenceHold == holdWait && v.majority && n.freshHellos(m) >= v.known/2+1 {
		m.fenceHold = holdOff
	}
}

// holdNext is the confirmation's other two transitions: losing the
// majority while the fence is armed starts one (holdWait; a settle under
// way stays), and a fence that is no longer armed (the master moved or
// reports role:slave, its link dropped, fencing was switched off) has
// nothing left to confirm.
func holdNext(s holdState, v fenceView) holdState {
	switch {
	case !v.armed():
		return holdOff
	case !v.majority && s == holdOff:
		return holdWait
	}
	return s
}

// settleHold is called when an epoch we did not know is announced (a hello
// or a vote request): holdWait (or holdSettle) becomes holdSettle, until
// a vipsentinel leader of that epoch has promoted and told everyone, or
// given up (voteBlock's wait for agent leaders). That epoch may be a
// failover of our master whose result the answering agents have not heard
// yet: one that voted for the leader answers our confirmation with its old
// configuration, fresh by its epoch but stale, and a majority of such
// answers would hand the VIP back to the old master while the new one
// holds it with a newer config epoch.
func (n *Node) settleHold() {
	for _, m := range n.sortedMasters() {
		if m.fenceHold != holdOff {
			m.fenceHold = holdSettle
			m.settleAt = max(m.settleAt, n.now+min(2*m.cfg.FailoverTimeout, max(2*m.cfg.DownAfter, 2*time.Second)))
		}
	}
}

// holdBump starts (or restarts) the confirmation of m's configuration.
// Our configuration may be stale, and so may hellos that were in flight
// during the partition. We jump to a new epoch 1024 to 2047 above every
// epoch we know of: a peer adopts it from our hellos and answers at once,
// so a hello carrying exactly that epoch was sent after the peer heard
// from us, and carries its configuration as of then (a peer could only be
// there by itself after a thousand elections we did not hear of, and the
// random part keeps two agents confirming at once apart). A hello
// announcing a higher epoch cannot be placed in time, and restarts the
// confirmation above it.
func (n *Node) holdBump(m *master, above uint64) {
	n.currentEpoch = satAdd(max(n.currentEpoch, above), 1024+uint64(n.rnd.Int63n(1024)))
	m.holdEpoch = n.currentEpoch
	n.dirty = true
	n.newEpochEvent(m)
	n.forceHello(m)
}

// freshHellos counts the agents (ourselves included) whose hello about m was
// sent after they heard our latest hold epoch: their configuration of m is
// at least as recent as that moment. The epoch is the proof (a hold
// epoch is never 0, the epoch of a peer not heard yet).
func (n *Node) freshHellos(m *master) int {
	count := 1
	for _, s := range m.sentinels {
		if s.verified() && s.helloAt != never && s.helloAt >= m.regainAt && s.helloEpoch == m.holdEpoch {
			count++
		}
	}
	return count
}

// vipDecision says whether we want the VIP and why (not): the first
// condition that fails names the reason.
func vipDecision(v fenceView, hold holdState) (own bool, reason string) {
	switch {
	case !v.local:
		return false, v.notLocal
	case !v.master:
		return false, "local instance does not report role:master"
	case !v.linkUp:
		return false, "no command link to the local instance"
	case !v.answered:
		return false, "local instance did not answer PING within the lease"
	case v.tilt:
		return false, "TILT mode"
	case v.booting:
		return false, "restarted: configuration not confirmed by the agents yet"
	case v.fence && !v.majority:
		return false, "fenced: no majority of agents heard within the lease"
	case v.fence && hold != holdOff:
		return false, "fenced: waiting for the agents' configurations"
	case v.fence && !v.leased:
		return false, "fenced: no majority of agents granted the lease"
	case v.bound:
		return false, "fenced: bound by a lease or vote this agent gave"
	}
	return true, "local instance is the master"
}

// heldNext records the local address whose lease we hold: set when we
// claim it with other agents known (a claim made before any peer was known,
// at a fresh group's start, held no lease), kept while the master stays on
// this host, forgotten when it moves.
func heldNext(held Addr, v fenceView, own bool, a Addr) Addr {
	switch {
	case !v.local:
		return Addr{}
	case own && v.peers:
		return a
	}
	return held
}

// mustFence says whether the local master must be paused: the fence is
// armed, we held the lease of that address in this run, and we no longer
// may hold it (the majority is not heard, our configuration is not
// confirmed, the grants lapsed, or our own grants or votes bind us).
//
// A master whose lease we never held is never paused: no client was sent
// to it by our VIP, so a pause protects nobody, while at a start, a
// restart or a group built host by host it would stop a healthy master's
// writes (and block the peers' hello PUBLISH to it) until a majority of
// agents is up. The VIP still waits for the grants and the confirmation.
func mustFence(v fenceView, hold holdState) bool {
	return v.armed() && v.held && (!v.majority || hold != holdOff || !v.leased || v.bound)
}

// mustLeasePause says whether the local master must be paused while its
// lease still runs: the fence is armed, we hold the lease and ask for it
// (the local master answers promptly), and no majority of the agents
// answered our requests, granting or not, within renewWindow: we are cut
// off, or about to be. A peer that answers but refuses (it has not heard
// our master for grantSilence, through its own loss) does not cut us off:
// the lease decides then, as before. A stall of our own process is not a
// cut either: the replies that arrived meanwhile may still be queued (the
// stall guard, as for SDOWN). The VIP is not given up for it: either the
// answers resume and the pause is lifted, or the lease ends and the fence
// takes over.
//
// Only a complete group pauses early (every known agent answered within
// the lease): a cut silences all the peers at once, while in a group that
// is still being built host by host, or has lost a member, the bare
// majority left hangs on one peer's reply, and one late reply on a busy
// host is jitter, not a cut (issue 13: a boot must not touch writes). The
// lease fences such a group as before.
func mustLeasePause(v fenceView) bool {
	return v.asks() && v.held && v.steady && v.majority && v.leased && v.reach == v.known && !v.recent
}

// managePause keeps a fenced local master paused for writes, renewing the
// pause before it expires, and lifts it once fencing ends (after a pending
// demotion, so that writes never resume on a stale master).
func (n *Node) managePause(m *master, inst *instance, need bool) {
	now := n.now
	pd := n.pauseDuration(m)
	if need {
		if !m.pause.active || !n.sameAddr(m.pause.addr, inst.addr) || now-m.pause.sentAt >= pd/3 {
			if n.sendOther(inst, purposePause, "CLIENT", "PAUSE", strconv.FormatInt(pd.Milliseconds(), 10), "WRITE") {
				m.pause = pauseState{active: true, addr: inst.addr, sentAt: now}
			}
		}
		return
	}
	if !m.pause.active {
		return
	}
	if m.pause.sentAt != never && now-m.pause.sentAt >= pd {
		m.pause.active = false // expired by itself
		return
	}
	var target *instance
	if n.sameAddr(m.inst.addr, m.pause.addr) {
		target = m.inst
	} else {
		target = n.findReplica(m, m.pause.addr)
	}
	if target == nil {
		m.pause.active = false
		return
	}
	if target.demoteUntil != never && now < target.demoteUntil {
		return // demote first, then let writes (now refused as READONLY) through
	}
	if m.hold.active && n.sameAddr(m.hold.addr, m.pause.addr) {
		m.pause.active = false // a forced failover keeps it paused and will lift it
		return
	}
	if target.link.disconnected() {
		return
	}
	if n.sendOther(target, purposeUnpause, "CLIENT", "UNPAUSE") {
		m.pause.active = false
	}
}

// leaseBacksMaster reports whether our view of m's master is one the group
// backs, as far as the fence can tell: always without fencing or when the
// master is not on this host, and on the master's host only while a
// majority of the agents grants us its lease (or the previous process's
// handed-over lease runs). A master's host that lost the majority may be
// the old master of a failover it has not heard of yet; converting the
// "replica that claims role:master" there demotes the group's new master
// (issue 13's campaign: a fenced old master's agent converted the replica
// promoted 423 ms earlier, and the group failed over a second time).
func (n *Node) leaseBacksMaster(m *master) bool {
	if !m.cfg.Fence || !n.isLocal(m.inst.addr) {
		return true
	}
	_, granted, _, known := n.heard(m)
	return granted >= known/2+1 || n.grantCovers(m.inherited, m.inst.addr)
}
