package sentinel

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// mapCmd applies the master's rename-command table to the command name
// (sentinelInstanceMapCommand). It returns nil when the command was renamed
// to the empty string, i.e. disabled. Commands to peer sentinels are not
// renamed: rename-command describes the Redis instances, and a peer
// sentinel does not know their renamed names.
func (n *Node) mapCmd(ri *instance, args ...string) []string {
	if ri.kind == KindSentinel || len(ri.m.cfg.RenamedCommands) == 0 {
		return args
	}
	nv, ok := ri.m.cfg.RenamedCommands[strings.ToLower(args[0])]
	if !ok {
		return args
	}
	if nv == "" {
		return nil
	}
	out := append([]string{nv}, args[1:]...)
	return out
}

// cmds builds a command list, dropping disabled commands.
func cmdList(cmds ...[]string) [][]string {
	out := make([][]string, 0, len(cmds))
	for _, c := range cmds {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// cmdRef is the Ref a command to ri carries. For a peer sentinel the link is
// shared by all masters, and Master names the one the command is about.
func (n *Node) cmdRef(ri *instance) Ref {
	if ri.kind == KindSentinel {
		return Ref{Master: ri.m.cfg.Name, Kind: KindSentinel, Addr: ri.addr, RunID: ri.runid}
	}
	return ri.link.ref
}

// send queues a command on ri's command link.
func (n *Node) send(ri *instance, kind CmdKind, cmds [][]string) uint64 {
	id := n.newID()
	n.cmds = append(n.cmds, Command{ID: id, Kind: kind, To: n.cmdRef(ri), Link: LinkCmd, Cmds: cmds})
	ri.link.pending++
	return id
}

// authCmd returns the AUTH command for ri's links, or nil.
func (n *Node) authCmd(ri *instance) []string {
	var user, pass string
	switch ri.kind {
	case KindMaster, KindReplica:
		user, pass = ri.m.cfg.AuthUser, ri.m.cfg.AuthPass
	default:
		if n.sentinelUser != "" {
			user, pass = n.sentinelUser, n.sentinelPass
		} else {
			pass = n.sentinelPass
			if pass == "" {
				pass = n.cfg.RequirePass
			}
		}
	}
	if pass == "" {
		return nil
	}
	if user != "" {
		return n.mapCmd(ri, "AUTH", user, pass)
	}
	return n.mapCmd(ri, "AUTH", pass)
}

func (n *Node) connectCmd(ri *instance, lk Link) Command {
	suffix := "cmd"
	if lk == LinkPubSub {
		suffix = "pubsub"
	}
	cmds := cmdList(
		n.authCmd(ri),
		n.mapCmd(ri, "CLIENT", "SETNAME", "sentinel-"+n.myid[:8]+"-"+suffix),
	)
	if lk == LinkPubSub {
		cmds = cmdList(append(cmds, n.mapCmd(ri, "SUBSCRIBE", HelloChannel))...)
	}
	return Command{ID: n.newID(), Kind: CmdConnect, To: ri.link.ref, Link: lk, Cmds: cmds}
}

// reconnect is sentinelReconnectInstance: at most one attempt per ping
// period, for whichever connections are down.
func (n *Node) reconnect(ri *instance) {
	l := ri.link
	now := n.now
	// A connect the runtime never reported on is abandoned after the
	// period Sentinel protects young links for.
	if l.cc == connConnecting && now-l.ccSince > n.t.MinLinkReconnectPeriod {
		n.closeConn(l, LinkCmd)
	}
	if l.pubsub && l.pc == connConnecting && now-l.pcSince > n.t.MinLinkReconnectPeriod {
		n.closeConn(l, LinkPubSub)
	}
	if !l.disconnected() || ri.addr.Port == 0 {
		return
	}
	if l.cc != connDown && (!l.pubsub || l.pc != connDown) {
		return // whatever is down is already connecting
	}
	if now-l.lastReconn < n.dialPeriod(ri) {
		return
	}
	l.lastReconn = now
	if l.cc == connDown {
		n.cmds = append(n.cmds, n.connectCmd(ri, LinkCmd))
		l.cc = connConnecting
		l.ccSince = now
		l.pending = 0
	}
	if l.pubsub && l.pc == connDown {
		n.cmds = append(n.cmds, n.connectCmd(ri, LinkPubSub))
		l.pc = connConnecting
		l.pcSince = now
	}
}

// closeConn closes one connection of l (no report expected).
func (n *Node) closeConn(l *link, lk Link) {
	st := &l.cc
	if lk == LinkPubSub {
		st = &l.pc
	}
	if *st == connDown {
		return
	}
	n.cmds = append(n.cmds, Command{ID: n.newID(), Kind: CmdClose, To: l.ref, Link: lk})
	*st = connDown
	if lk == LinkCmd {
		n.linkCmdLost(l)
	}
}

// closeLink closes the selected connections of l.
func (n *Node) closeLink(l *link, cc, pc bool) {
	if cc {
		n.closeConn(l, LinkCmd)
	}
	if pc && l.pubsub {
		n.closeConn(l, LinkPubSub)
	}
}

// linkCmdLost forgets what was in flight on l's command link.
func (n *Node) linkCmdLost(l *link) {
	l.pending = 0
	l.carried = false
	l.cmdLosses++
	n.forEachInstance(func(ri *instance) {
		if ri.link == l {
			ri.infoSentAt = never
			ri.pubSentAt = never
			ri.askSentAt = never
		}
	})
}

// forEachInstance calls f for every instance in deterministic order.
func (n *Node) forEachInstance(f func(*instance)) {
	for _, m := range n.sortedMasters() {
		f(m.inst)
		for _, r := range m.sortedReplicas() {
			f(r)
		}
		for _, s := range m.sortedSentinels() {
			f(s)
		}
	}
}

// sendPeriodic is sentinelSendPeriodicCommands: INFO, PING and hello.
func (n *Node) sendPeriodic(ri *instance) {
	l := ri.link
	if l.disconnected() || l.pending >= maxPending*max(l.refcount, 1) {
		return
	}
	now := n.now
	if ri.kind != KindSentinel {
		period := n.infoPeriod(ri)
		due := ri.forceInfo || ri.infoRefresh == never || now-ri.infoRefresh > period
		inflight := ri.infoSentAt != never && now-ri.infoSentAt < max(period, ri.m.cfg.DownAfter)
		if due && !inflight {
			n.sendInfo(ri)
		}
	}
	// Sentinel pings when now-last_pong > period and now-last_ping >
	// period/2. With a reply in hand that drifts the period by an RTT plus
	// a tick each time, so an answered link is pinged once in every
	// period-long slot of the Node's clock instead: at most a period and a
	// tick apart, and every link with that period in the same tick, so
	// that the agent wakes once per period for all of them (with many
	// masters, one burst instead of a wake-up every few milliseconds).
	pp := n.linkPingPeriod(ri)
	if ri.kind == KindSentinel && n.pingsStandIn(l) {
		// Our lease requests ping this peer (grant.go).
	} else if (l.actPing == never && now/pp != l.lastPing/pp) || (now-l.lastPong > pp && now-l.lastPing > pp/2) {
		n.sendPing(ri)
	}
	if now-ri.lastPub > n.t.PublishPeriod &&
		(ri.pubSentAt == never || now-ri.pubSentAt > n.t.PublishPeriod) ||
		ri.helloDue != never && now >= ri.helloDue && ri.pubSentAt == never {
		n.sendHello(ri)
	}
}

func (n *Node) sendInfo(ri *instance) {
	c := n.mapCmd(ri, "INFO")
	if c == nil {
		return
	}
	n.send(ri, CmdInfo, [][]string{c})
	ri.infoSentAt = n.now
	ri.forceInfo = false
}

func (n *Node) sendPing(ri *instance) {
	c := n.mapCmd(ri, "PING")
	if c == nil {
		return
	}
	l := ri.link
	n.send(ri, CmdPing, [][]string{c})
	l.lastPing = n.now
	if l.actPing == never {
		l.actPing = n.now
	}
}

// helloIP is the address we announce to ri.
func (n *Node) helloIP(ri *instance) string {
	if n.announceIP != "" {
		return n.announceIP
	}
	if ri.link.localIP != "" {
		return ri.link.localIP
	}
	return fallbackHelloIP(n.localIPs, ri.addr.Host)
}

// fallbackHelloIP picks the address to announce to an instance at host
// before a link has told us which of ours reaches it (a link the switch
// carried over to the new master has not): the lowest of the instance's
// address family that is not loopback, since peers on other hosts cannot
// reach us there and announcing an address another peer's link verified
// gets the hello rejected as an address clash. Failing that, the lowest
// address not loopback, then the lowest.
func fallbackHelloIP(local map[string]bool, host string) string {
	v4 := true
	if a, err := netip.ParseAddr(host); err == nil {
		v4 = a.Unmap().Is4()
	}
	rank := func(ip string) int {
		a, err := netip.ParseAddr(ip)
		switch {
		case err != nil || a.Unmap().IsLoopback():
			return 2
		case a.Unmap().Is4() != v4:
			return 1
		}
		return 0
	}
	ips := make([]string, 0, len(local))
	for ip := range local {
		ips = append(ips, ip)
	}
	sort.Slice(ips, func(i, j int) bool {
		if ri, rj := rank(ips[i]), rank(ips[j]); ri != rj {
			return ri < rj
		}
		return ips[i] < ips[j]
	})
	if len(ips) > 0 {
		return ips[0]
	}
	return ""
}

// helloPort is the port we announce.
func (n *Node) helloPort() int {
	if n.announcePort != 0 {
		return n.announcePort
	}
	return n.cfg.Port
}

// sendHello publishes our hello about ri's master to ri.
func (n *Node) sendHello(ri *instance) {
	m := ri.m
	if ri.kind != KindSentinel && n.writesPaused(m, ri.addr) {
		// PUBLISH is a write for CLIENT PAUSE WRITE: it would block the
		// command link of the master we keep paused.
		return
	}
	ip := n.helloIP(ri)
	if ip == "" {
		n.debug(m.cfg.Name, "hello-skipped", "no address to announce: set announce-ip or LocalIPs")
		return
	}
	h := HelloMsg{
		Addr:         Addr{Host: ip, Port: n.helloPort()},
		RunID:        n.myid,
		CurrentEpoch: n.currentEpoch,
		Master:       m.cfg.Name,
		MasterAddr:   n.announce(n.currentAddr(m)),
		ConfigEpoch:  m.configEpoch,
	}
	c := n.mapCmd(ri, "PUBLISH", HelloChannel, FormatHello(h))
	if c == nil {
		return
	}
	n.send(ri, CmdPublish, [][]string{c})
	ri.pubSentAt = n.now
	ri.helloDue = never
}

// forceHello is sentinelForceHelloUpdateForMaster, made immediate: hellos
// about m go to its master, replicas and sentinels now.
func (n *Node) forceHello(m *master) {
	all := append([]*instance{m.inst}, m.sortedReplicas()...)
	all = append(all, m.sortedSentinels()...)
	for _, ri := range all {
		ri.lastPub = never
		ri.pubSentAt = never
		if !ri.link.disconnected() {
			n.sendHello(ri)
		}
	}
}

// sendSlaveOf sends Sentinel's reconfiguration transaction to ri: SLAVEOF
// to (NO ONE when to is zero), CONFIG REWRITE, and the client kills, in
// MULTI/EXEC. It reports false when ri's link is not usable.
func (n *Node) sendSlaveOf(ri *instance, to Addr, purpose cmdPurpose) bool {
	_, ok := n.sendSlaveOfID(ri, to, purpose)
	return ok
}

// sendSlaveOfID is sendSlaveOf, also returning the transaction's id.
func (n *Node) sendSlaveOfID(ri *instance, to Addr, purpose cmdPurpose) (uint64, bool) {
	if ri.link.disconnected() {
		return 0, false
	}
	host, port := "NO", "ONE"
	if !to.IsZero() {
		host, port = n.announceHost(to.Host), strconv.Itoa(to.Port)
	}
	cmds := cmdList(
		n.mapCmd(ri, "MULTI"),
		n.mapCmd(ri, "SLAVEOF", host, port),
		n.mapCmd(ri, "CONFIG", "REWRITE"),
		n.mapCmd(ri, "CLIENT", "KILL", "TYPE", "normal"),
		n.mapCmd(ri, "CLIENT", "KILL", "TYPE", "pubsub"),
		n.mapCmd(ri, "EXEC"),
	)
	id := n.send(ri, CmdTransaction, cmds)
	n.pending[id] = pendingCmd{purpose: purpose, ref: n.cmdRef(ri), lnk: ri.link}
	// Ask for INFO right behind the transaction on the same connection:
	// its reply already shows the new role, saving a round trip.
	ri.infoSentAt = never
	n.sendInfo(ri)
	return id, true
}

// sendOther sends a single command expecting a CommandDone.
func (n *Node) sendOther(ri *instance, purpose cmdPurpose, args ...string) bool {
	_, ok := n.sendOtherID(ri, purpose, args...)
	return ok
}

// sendOtherID is sendOther, also returning the command's id.
func (n *Node) sendOtherID(ri *instance, purpose cmdPurpose, args ...string) (uint64, bool) {
	if ri.link.disconnected() {
		return 0, false
	}
	c := n.mapCmd(ri, args...)
	if c == nil {
		return 0, false
	}
	id := n.send(ri, CmdOther, [][]string{c})
	n.pending[id] = pendingCmd{purpose: purpose, ref: n.cmdRef(ri), lnk: ri.link}
	return id, true
}
