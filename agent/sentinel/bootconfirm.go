package sentinel

import (
	"strconv"
	"time"
)

// Boot confirmation.
//
// An agent restores its configuration from its own state, and that state
// can be arbitrarily old: a host powered off while it ran the master boots
// with a configuration that names its own Redis, which itself boots as a
// writable master from its data, while the group failed it over long ago.
// redis-sentinel answers SENTINEL GET-MASTER-ADDR-BY-NAME with that stale
// address until a hello tells it otherwise, and so sends clients to the
// old master for as long as its links to the peers take to come up (the
// 1-hour fault campaign of issue 13: 1 to 4 s, 3.9 s of two writable
// masters, hundreds of writes lost).
//
// So a Node started from state it persisted itself (not the first start's
// import of a configuration file, HardState.Imported: an operator's
// migration, which redis-sentinel would serve as it is) whose configuration
// names a
// master on its own host, with other agents known, holds that
// configuration as unconfirmed (+config-unconfirmed): MasterAddr reports
// the master unknown (the API answers a null, as redis-sentinel does for a
// master it does not know, and clients ask another sentinel), and the VIP
// is not wanted. It ends (-config-unconfirmed, the reason in the Detail):
//
//   - when a newer configuration is adopted that names another master
//     (the stale one is then a replica, demoted at its first INFO);
//   - when a majority of the agents (us included, Config.MinAgents when
//     set) sent us a trusted hello since the start (trustedHello: a
//     verified peer, over an authenticated path). Every such hello
//     carries the sender's configuration as of now; a newer one than ours
//     would have been adopted, so a majority that did not move us holds
//     nothing newer, and no failover can have been elected without it;
//   - when the previous process handed its lease over (InheritLease): it
//     ran until just now, so the configuration is current;
//   - when no known agent answered within bootAloneWait: the agent is
//     alone (a cluster restarting as a whole, a host cut off). It then
//     serves what it has, as redis-sentinel would, rather than nothing;
//     an agent cut off from the majority cannot be confirmed by anyone;
//   - at the latest bootMaxWait after the start, for liveness when some
//     agents answer but not a majority.
//
// The two waits do not apply while the configuration is contested: a
// replica it lists reports role:master (bootContested). That is what a
// failover the agent slept through leaves behind, and the agents that
// could say so may be down as well (the 1-hour campaign's second run: the
// old master's host booted while the other two agents were killed and
// stopped, its agent served the stale master after bootAloneWait, and 56
// writes taken by it were lost). Serving would then be choosing between
// two writable masters with nothing to choose by, so the agent waits for
// a majority or a newer configuration however long that takes, and says
// so once (+config-unconfirmed again, naming the replica). Nothing is
// lost by waiting: the VIP needs a majority's grants when fencing is on,
// and an unconfirmed configuration never demotes the replica that claims
// role:master (refresh.go), which may hold the group's newest writes.
//
// Hellos are still sent meanwhile: they carry our epoch, which a peer with
// a newer configuration ignores, and they make peers answer with theirs.
type bootCheck struct {
	pending bool
	since   Time // the start (the Node's clock origin)
	// contested is the replica last reported as contesting the
	// configuration ("" when none was), so that each is reported once.
	contested string
}

// bootAloneWait is how long an unconfirmed configuration waits when no known
// agent answers at all: long enough for a TCP connect and the peer proof
// (a few round trips) of agents that are up, short against the time a
// host takes to reboot.
func bootAloneWait(m *master) time.Duration {
	return max(2*m.cfg.DownAfter, 2*time.Second)
}

// bootMaxWait bounds an unconfirmed configuration when some agents answer
// but no majority confirms: an agent of a minority keeps serving, as
// redis-sentinel does.
func bootMaxWait(m *master) time.Duration {
	return max(10*m.cfg.DownAfter, 10*time.Second)
}

// startBootCheck marks m's restored configuration unconfirmed when it names
// a master on this host and other agents are known. New calls it after
// restoring m.
func (n *Node) startBootCheck(m *master) {
	if !n.isLocal(n.currentAddr(m)) || n.verifiedPeers(m) == 0 {
		return
	}
	m.boot = bootCheck{pending: true, since: n.now}
	n.instEventDetail(LevelWarning, "+config-unconfirmed", m.inst, "",
		"restarted with this host's instance as master: not served until a majority of agents confirms it (config epoch "+
			strconv.FormatUint(m.configEpoch, 10)+")")
}

// confirmBoot ends m's boot confirmation when one of the conditions above
// holds. It runs after every input, before the VIP decision.
func (n *Node) confirmBoot(m *master) {
	if !m.boot.pending {
		return
	}
	why := ""
	addr := n.currentAddr(m)
	switch since := n.now - m.boot.since; {
	case !n.isLocal(addr):
		why = "a newer configuration names " + addr.String()
	case n.grantCovers(m.inherited, addr):
		why = "lease handed over by the previous process"
	case n.bootConfirmations(m) >= n.voters(m)/2+1:
		why = "confirmed by " + strconv.Itoa(n.bootConfirmations(m)) + "/" + strconv.Itoa(n.voters(m)) + " agents"
	case n.bootContested(m):
		return
	case since >= bootAloneWait(m) && !n.bootAnyAnswer(m):
		why = "no agent answered within " + bootAloneWait(m).String()
	case since >= bootMaxWait(m):
		why = "not confirmed by a majority within " + bootMaxWait(m).String()
	default:
		return
	}
	m.boot.pending = false
	// The runtime republishes the addresses it serves with the state:
	// the answer changes although nothing learnt did.
	n.dirty = true
	n.instEventDetail(LevelWarning, "-config-unconfirmed", n.currentInst(m), "", why)
}

// bootContested reports whether a replica of m, not on this host, reports
// role:master, and reports the first such replica once per replica.
func (n *Node) bootContested(m *master) bool {
	for _, ri := range m.sortedReplicas() {
		if ri.roleReported != KindMaster || n.isLocal(ri.addr) {
			continue
		}
		if m.boot.contested != ri.name {
			m.boot.contested = ri.name
			n.instEventDetail(LevelWarning, "+config-unconfirmed", m.inst, "",
				"replica "+ri.name+" reports role:master: the group may have failed over while this agent was down; "+
					"not served until a majority of agents confirms it or a newer configuration arrives, however long that takes")
		}
		return true
	}
	return false
}

// bootConfirmations counts the agents (us included) that sent a trusted
// hello since the start: helloAt is set by trusted hellos only, and only
// in this run.
func (n *Node) bootConfirmations(m *master) int {
	c := 1
	for _, s := range m.sentinels {
		if s.verified() && s.helloAt != never && s.helloAt >= m.boot.since {
			c++
		}
	}
	return c
}

// bootAnyAnswer reports whether any known agent answered us since the
// start: its link is proven, or it answered a PING.
func (n *Node) bootAnyAnswer(m *master) bool {
	for _, s := range m.sentinels {
		if s.verified() && (n.provenHere(s) && !s.link.disconnected() || s.link.heardAt != never && s.link.heardAt >= m.boot.since) {
			return true
		}
	}
	return false
}

// unconfirmed reports whether m's configuration is not served yet (boot
// confirmation).
func (m *master) unconfirmed() bool { return m.boot.pending }
