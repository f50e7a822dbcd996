package sentinel

import (
	"strings"
	"time"
)

// never is the zero of an optional Time: far enough in the past that now-never
// is larger than any timeout, yet far from overflowing.
const never Time = -1 << 61

// flag is Sentinel's per-instance flag set (SRI_*), minus the kind bits which
// instance.kind carries.
type flag uint32

const (
	fSDown flag = 1 << iota
	fODown
	fMasterDown
	fFailoverInProgress
	fPromoted
	fReconfSent
	fReconfInprog
	fReconfDone
	fForceFailover
	fScriptKillSent
	fMasterReboot
)

// Failover states, as sentinelFailoverStateStr names them.
const (
	stateNone = iota
	stateWaitStart
	stateSelectSlave
	stateSendSlaveofNoone
	stateWaitPromotion
	stateReconfSlaves
	stateUpdateConfig
)

var stateNames = [...]string{"none", "wait_start", "select_slave", "send_slaveof_noone", "wait_promotion", "reconf_slaves", "update_config"}

func stateName(s int) string {
	if s < 0 || s >= len(stateNames) {
		return "unknown"
	}
	return stateNames[s]
}

// connState is the state of one connection of a link.
type connState int

const (
	connDown connState = iota
	connConnecting
	connUp
)

// link is Sentinel's instanceLink: the command and pub/sub connections to one
// instance plus the ping bookkeeping. Links to peers (sentinels) are shared by
// every master that knows the peer at that address.
type link struct {
	ref      Ref  // Ref used for CmdConnect/CmdClose and periodic commands
	pubsub   bool // whether a pub/sub connection is wanted (masters, replicas)
	cc, pc   connState
	ccSince  Time // when cc was connected (or began connecting)
	pcSince  Time
	pcActive Time // last pub/sub activity

	lastAvail  Time // last acceptable PING reply (PONG, LOADING, MASTERDOWN)
	lastPong   Time // last reply of any kind
	lastPing   Time // last PING sent
	actPing    Time // oldest unanswered PING, never if none
	lastReconn Time
	// heardAt is the last round trip that proves the instance hears us: a
	// PONG/LOADING/MASTERDOWN or an is-master-down reply (never at
	// creation). Not lastAvail: an auth failure is available for SDOWN but
	// proves nothing to the fence's majority.
	heardAt Time
	// leaseAt is when we last asked for a lease on this link, and
	// leaseEvery how often we ask: while we ask, the requests stand in for
	// PINGs (grant.go, pingsStandIn).
	leaseAt    Time
	leaseEvery time.Duration

	pending    int
	cmdLosses  uint64 // command connections lost so far (linkCmdLost)
	dialFails  int    // connects failed in a row (dialPeriod's back-off)
	refcount   int
	authFailed bool
	localIP    string
	// carried: the link of a new master instance that took over the
	// promoted replica's INFO and last round trip at the switch
	// (carryOf): it counts as up until its first connection is lost.
	carried bool
}

func newLink(now Time, ref Ref, pubsub bool) *link {
	return &link{
		ref: ref, pubsub: pubsub,
		ccSince: never, pcSince: never, pcActive: now,
		lastAvail: now, lastPong: now, lastPing: never, actPing: now,
		lastReconn: never, heardAt: never, leaseAt: never, refcount: 1,
	}
}

// disconnected is Sentinel's link->disconnected: either wanted connection is
// not up.
func (l *link) disconnected() bool {
	return l.cc != connUp || (l.pubsub && l.pc != connUp)
}

// instance is one monitored master, replica or peer sentinel.
type instance struct {
	kind  Kind
	name  string // master name, replica ip:port, sentinel run id
	addr  Addr
	m     *master // owning master (for a master instance: itself)
	runid string
	flags flag
	link  *link

	sdownSince, odownSince Time

	// INFO
	infoRefresh        Time
	infoSentAt         Time
	forceInfo          bool
	info               *Info
	infoRaw            string
	roleReported       Kind // KindMaster or KindReplica
	roleReportedTime   Time
	slaveConfChange    Time
	masterLinkDownTime time.Duration // master_link_down_time
	slaveMasterHost    string
	slaveMasterPort    int
	slaveMasterLinkUp  bool
	slavePriority      int
	slaveReplOffset    int64
	replicaAnnounced   bool
	reconfSentTime     Time
	rebootSince        Time

	// hello
	lastPub Time
	// helloDue is when a hello owed to a peer that announced an older
	// epoch or configuration goes out, once the rate limit of answers
	// allows (processHello); never if none is owed.
	helloDue  Time
	pubSentAt Time

	// sentinel
	lastHello Time // last hello received (creation time until the first)
	// helloAt is when a trusted hello last came (one that surely comes
	// from the verified peer: processHello), never until one did; only
	// such a hello shows the peer's configuration as of then (freshHellos).
	helloAt    Time
	helloEpoch uint64 // current epoch announced in that hello
	// farEpoch is the current epoch of the peer's last trusted hello
	// that was more than MaxEpochJump above ours (catchUpEpoch), 0 if
	// none since we last caught up.
	farEpoch      uint64
	lastDownReply Time
	askSentAt     Time
	leader        string
	leaderEpoch   uint64
	// VIP leases (grant.go): when we last asked this peer for a grant, the
	// send time of the newest request it granted, and whether its run id
	// is a vipsentinel agent's (cached for agentRunID).
	leaseReqAt Time
	grantAt    Time
	agentOf    string
	agent      bool
	// trust.go: where the peer was last verified (zero: only proposed by
	// a hello), how, and when it was proposed.
	verifiedAddr Addr
	proof        PeerProof
	proposedAt   Time

	// demoteUntil, when in the future, makes a replica that reports
	// role:master be demoted as soon as its INFO says so, until it
	// reports role:slave (refresh.go); demoteSentAt is the last SLAVEOF
	// sent for it.
	demoteUntil  Time
	demoteSentAt Time
	// converted is the +convert-to-slave of a forced failover's old
	// master whose demotion was in flight when the switch reset the
	// master (failover.go): published when this replica's INFO shows the
	// demotion landed, or replaced by the conversion's own event when it
	// shows role:master.
	converted *Event
}

func (n *Node) newInstance(kind Kind, name string, addr Addr, m *master) *instance {
	now := n.now
	ri := &instance{
		kind: kind, name: name, addr: addr, m: m,
		sdownSince: never, odownSince: never,
		infoRefresh: never, infoSentAt: never,
		roleReported: kind, roleReportedTime: now, slaveConfChange: now,
		slavePriority: 100, replicaAnnounced: true,
		reconfSentTime: never, rebootSince: never,
		lastPub: never, pubSentAt: never, helloDue: never,
		lastHello: now, helloAt: never, lastDownReply: now, askSentAt: never,
		demoteUntil: never, demoteSentAt: never,
		leaseReqAt: never, grantAt: never,
	}
	if kind == KindSentinel {
		ri.roleReported = KindSentinel
	}
	return ri
}

// master is a monitored master and everything Sentinel keeps about it.
type master struct {
	cfg       MasterConfig
	inst      *instance
	replicas  map[string]*instance // by Addr.String()
	sentinels map[string]*instance // by run id
	monitored bool                 // created by SENTINEL MONITOR

	configEpoch uint64
	leader      string
	leaderEpoch uint64

	failoverState     int
	failoverEpoch     uint64
	failoverStartTime Time
	stateChangeTime   Time
	promoted          *instance
	// selectWaitLogged: this select_slave's wait for unheard replicas
	// was logged (select.go, awaitedReplicas).
	selectWaitLogged bool

	// vipsentinel scheduling of failover attempts (see timing.go).
	startAt    Time // when the jittered start is due, never if not scheduled
	blockUntil Time // no failover start before this
	blockLog   Time // blockUntil value already logged
	attempts   int  // consecutive failed attempts

	// fencing and VIP
	fencing // fence.go
	pause   pauseState
	// maint is the operator's maintenance mode, maintLogged set once its
	// first suppressed failover was reported (maintenance.go); target is
	// the replica an operator's switchover must promote (switchover.go).
	maint       Maintenance
	maintLogged bool
	target      Addr
	// sync and hold are the catch-up of a forced failover and the pause it
	// keeps on the old master (sync.go).
	sync failoverSync
	hold pauseState
	// repl watches the replicas of a local master (replwatch.go).
	repl replWatch
	// grant is the exclusive VIP lease this agent last gave (to a peer or
	// to itself) for this master, and guard the address we voted to
	// depose and until when we refuse to back its VIP (grant.go).
	grant      grantState
	guard      grantState
	inherited  grantState // a lease handed over by this agent's previous process (handover.go)
	boot       bootCheck  // a restored configuration not confirmed yet (bootconfirm.go)
	leaseAddr  Addr       // persisted: the last address granted (grant.go)
	vip        VIPIntent
	vipLocal   bool
	reachable  int
	knownAgent int
	sorted     sortedCache // sorted.go
}

// pauseState tracks the CLIENT PAUSE we keep on a fenced local master.
type pauseState struct {
	active bool
	addr   Addr
	sentAt Time
}

// flagsString renders ri's flags in Sentinel's fixed order.
func (ri *instance) flagsString() string {
	var b []string
	f := ri.flags
	add := func(cond bool, s string) {
		if cond {
			b = append(b, s)
		}
	}
	add(f&fSDown != 0, "s_down")
	add(f&fODown != 0, "o_down")
	add(ri.kind == KindMaster, "master")
	add(ri.kind == KindReplica, "slave")
	add(ri.kind == KindSentinel, "sentinel")
	add(ri.link.disconnected(), "disconnected")
	add(f&fMasterDown != 0, "master_down")
	add(f&fFailoverInProgress != 0, "failover_in_progress")
	add(f&fPromoted != 0, "promoted")
	add(f&fReconfSent != 0, "reconf_sent")
	add(f&fReconfInprog != 0, "reconf_inprog")
	add(f&fReconfDone != 0, "reconf_done")
	add(f&fForceFailover != 0, "force_failover")
	add(f&fScriptKillSent != 0, "script_kill_sent")
	add(f&fMasterReboot != 0, "master_reboot")
	return strings.Join(b, ",")
}
