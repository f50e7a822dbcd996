package sentinel

import (
	"fmt"
	"strconv"
	"strings"
)

// Releasing a lease early.
//
// A grant binds the agent that gives it for grantLen against any other
// address of the master (grant.go). When the master moves off this host (a
// switchover, or a failover while this agent runs), every agent is still
// bound to the old address for up to grantLen, and the new master's host
// can gather no majority of grants until those lapse: at down-after 1 s,
// 375 ms of the write pause of a planned switchover.
//
// The binding exists to protect the holder's count: it counts each grant
// for a lease from its request. Once the holder no longer counts them, and
// its VIP is gone from its interfaces, nothing depends on them: so the old
// holder, once the VIP manager confirms the removal (VIPGone, for the intent
// that dropped the VIP: the manager applies intents asynchronously, and
// the core may not assume a removal it has not seen), stops counting the
// grants it had, frees its own claim, and tells each peer agent it granted
// no longer counts theirs. A peer frees its grant at once, so the new
// master's host is granted at its next request. Why no two hosts hold the
// VIP: the releaser's VIP is gone, it ignores every grant to a request sent
// before the release, and it claims again only on a majority of fresh
// grants, which a peer gives under the usual rules (only for the address
// it knows as the master's, and not while bound to another): two
// majorities share an agent, as before. A peer frees only a grant given to
// the releaser alone (its lease nonce) for requests sent no later than the
// release, so a reordered request, or a grant it gave another requester
// too, is never freed; and only on a release from a verified peer over an
// authenticated path (trustedHello). Releasing twice frees nothing more.
//
// The release travels as a PUBLISH on the hello channel of the peer's API,
// the path hellos take (authenticated with requirepass), with a payload of
// 7 tokens that redis-sentinel peers, which only process 8-token hellos,
// ignore:
//
//	vipsentinel-release,<runid>,<master>,<ip>,<port>,<nonce>,<sent-at>

const releasePrefix = "vipsentinel-release,"

// maxReleaseLen bounds a release payload: a run id, a master name, an
// address (a hostname with resolve-hostnames) and two numbers.
const maxReleaseLen = 512

// VIPGone reports that the VIP manager has applied the intent Gen of
// Master, which does not own the VIP, and that none of the master's
// floating addresses is on this host's interfaces any more. Only the
// manager can know this: the Node lets go of the lease of an address that
// left this host (release.go) only after it.
type VIPGone struct {
	Master string
	Gen    uint64
}

func (VIPGone) isInput() {}

// onVIPGone records a confirmed removal and releases the lease waiting
// for it.
func (n *Node) onVIPGone(v VIPGone) {
	m := n.masters[v.Master]
	if m == nil || v.Gen != m.vip.Gen || m.vip.Own {
		return // stale: a later intent is on its way to the manager
	}
	m.vipGone = v.Gen
	n.release(m)
}

// releaseNext, in the pass that decides m.vip, starts waiting to release
// the lease of the address we held when the master has left this host, and
// stops waiting when it is back. Only fenced masters with a VIP have
// leases; a claim made with no peer known held none (heldNext).
func (n *Node) releaseNext(m *master, v fenceView) {
	switch {
	case v.local:
		m.releasing = Addr{}
	case m.cfg.HasVIP && m.cfg.Fence && !m.held.IsZero():
		m.releasing, m.releaseGen = m.held, m.vipGen
		n.release(m)
	}
}

// release lets go of the lease of m.releasing once the VIP manager has
// confirmed that the intent that dropped the VIP is applied: stop counting
// the grants given so far, free our own claim, and tell the peer agents.
func (n *Node) release(m *master) {
	a := m.releasing
	if a.IsZero() || m.vipGone != m.releaseGen || m.vip.Own || m.vip.Gen != m.releaseGen {
		return
	}
	m.releasing = Addr{}
	m.released, m.releasedAt = true, n.now
	for _, s := range m.sentinels {
		s.grantAt = never
	}
	if n.grantCovers(m.grant, a) && m.grant.by == grantSelf {
		m.grant.until = n.now
	}
	if n.leaseNonce == "" {
		// We never asked anyone: no peer holds a grant to free.
		return
	}
	payload := strings.Join([]string{strings.TrimSuffix(releasePrefix, ","), n.myid, m.cfg.Name,
		n.announceHost(a.Host), strconv.Itoa(a.Port), n.leaseNonce, strconv.FormatInt(int64(n.now), 10)}, ",")
	told := 0
	for _, s := range m.sortedSentinels() {
		if !s.verified() || !agentRunID(s) || s.link.cc != connUp {
			continue
		}
		if n.sendOther(s, purposeOther, "PUBLISH", HelloChannel, payload) {
			told++
		}
	}
	n.masterEvent(LevelNotice, "+lease-release", m, "master "+m.cfg.Name+" "+a.Host+" "+strconv.Itoa(a.Port)+" #agents "+strconv.Itoa(told))
}

// releaseMsg is a parsed release payload (after releasePrefix).
type releaseMsg struct {
	runid, master string
	addr          Addr
	nonce         string
	at            Time
}

// parseRelease reads the tokens of a release after its prefix.
func parseRelease(rest string) (releaseMsg, bool) {
	if len(rest) > maxReleaseLen {
		return releaseMsg{}, false
	}
	tok := strings.Split(rest, ",")
	if len(tok) != 6 {
		return releaseMsg{}, false
	}
	port, err1 := strconv.Atoi(tok[3])
	at, err2 := strconv.ParseInt(tok[5], 10, 64)
	if err1 != nil || err2 != nil || port < 0 || port > 65535 || tok[2] == "" ||
		tok[4] == "" || len(tok[4]) > maxNonceLen {
		return releaseMsg{}, false
	}
	return releaseMsg{runid: strings.ToLower(tok[0]), master: tok[1], addr: Addr{Host: tok[2], Port: port}, nonce: tok[4], at: Time(at)}, true
}

// onRelease handles a peer's release: it frees our grant of the address it
// names if we gave it to that peer's requests alone, none sent after the
// release.
func (n *Node) onRelease(v Hello, rest string) {
	r, ok := parseRelease(rest)
	if !ok {
		n.debug("", "bad-release", fmt.Sprintf("malformed lease release: %.200q", rest))
		return
	}
	m := n.masters[r.master]
	if m == nil {
		return
	}
	si := m.sentinels[r.runid]
	if si == nil || !n.trustedHello(v, si) {
		n.debug(m.cfg.Name, "release-rejected", "lease release from "+r.runid+": not a verified peer on an authenticated path")
		return
	}
	h, err := n.checkHost(r.addr.Host)
	if err != nil {
		n.debug(m.cfg.Name, "bad-release", "lease release from "+r.runid+": "+err.Error())
		return
	}
	a := Addr{Host: h, Port: r.addr.Port}
	g := m.grant
	if !n.grantCovers(g, a) || g.by != r.nonce || g.reqAt > r.at {
		return // nothing of ours to free: already free, or not its alone
	}
	m.grant.until = n.now
	n.masterEvent(LevelVerbose, "+lease-freed", m, "master "+m.cfg.Name+" "+a.Host+" "+strconv.Itoa(a.Port)+" by "+r.runid)
}
