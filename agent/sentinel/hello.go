package sentinel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// HelloMsg is the content of a hello message, the 8 comma-separated tokens
// sentinels publish on HelloChannel:
//
//	<ip>,<port>,<runid>,<current_epoch>,<master_name>,<master_ip>,<master_port>,<master_config_epoch>
type HelloMsg struct {
	Addr         Addr // the announcing sentinel
	RunID        string
	CurrentEpoch uint64
	Master       string
	MasterAddr   Addr // the master's address in the sender's latest config
	ConfigEpoch  uint64
}

// FormatHello renders h as the wire payload.
func FormatHello(h HelloMsg) string {
	return h.Addr.Host + "," + strconv.Itoa(h.Addr.Port) + "," + h.RunID + "," +
		strconv.FormatUint(h.CurrentEpoch, 10) + "," + h.Master + "," +
		h.MasterAddr.Host + "," + strconv.Itoa(h.MasterAddr.Port) + "," +
		strconv.FormatUint(h.ConfigEpoch, 10)
}

// ErrHello is wrapped by every ParseHello error.
var ErrHello = errors.New("sentinel: malformed hello")

// ParseHello parses a hello payload. It requires exactly 8 tokens, numeric
// ports in 0..65535 and numeric epochs; it does not check that addresses
// are valid IPs (the Node does, with its resolve-hostnames setting).
func ParseHello(payload string) (HelloMsg, error) {
	tok := strings.Split(payload, ",")
	if len(tok) != 8 {
		return HelloMsg{}, fmt.Errorf("%w: %d tokens, want 8", ErrHello, len(tok))
	}
	port := func(i int, what string) (int, error) {
		p, err := strconv.Atoi(tok[i])
		if err != nil || p < 0 || p > 65535 {
			return 0, fmt.Errorf("%w: %s %q", ErrHello, what, tok[i])
		}
		return p, nil
	}
	epoch := func(i int, what string) (uint64, error) {
		e, err := strconv.ParseUint(tok[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s %q", ErrHello, what, tok[i])
		}
		return e, nil
	}
	var h HelloMsg
	var err error
	if h.Addr.Port, err = port(1, "sentinel port"); err != nil {
		return HelloMsg{}, err
	}
	if h.CurrentEpoch, err = epoch(3, "current epoch"); err != nil {
		return HelloMsg{}, err
	}
	if h.MasterAddr.Port, err = port(6, "master port"); err != nil {
		return HelloMsg{}, err
	}
	if h.ConfigEpoch, err = epoch(7, "master config epoch"); err != nil {
		return HelloMsg{}, err
	}
	h.Addr.Host, h.RunID, h.Master, h.MasterAddr.Host = tok[0], tok[2], tok[4], tok[5]
	for _, f := range []struct {
		i    int
		what string
	}{{0, "sentinel address"}, {2, "run id"}, {4, "master name"}, {5, "master address"}} {
		if tok[f.i] == "" {
			return HelloMsg{}, fmt.Errorf("%w: empty %s", ErrHello, f.what)
		}
	}
	return h, nil
}

// onHello handles a hello received through a pub/sub link or a PUBLISH.
func (n *Node) onHello(v Hello) {
	if v.Via.Kind == KindMaster || v.Via.Kind == KindReplica {
		if ri := n.lookup(v.Via); ri != nil {
			ri.link.pcActive = n.now // our own hellos count as activity too
		}
	}
	n.processHello(v)
}

// processHello is sentinelProcessHelloMessage, with the trust rules of
// trust.go: the hello proposes its sender, and changes our configuration
// or epoch only with evidence.
func (n *Node) processHello(v Hello) {
	payload := v.Payload
	if strings.Contains(strings.ToLower(payload), n.myid) {
		return
	}
	if rest, ok := strings.CutPrefix(payload, releasePrefix); ok {
		n.onRelease(v, rest)
		return
	}
	h, err := ParseHello(payload)
	if err != nil {
		n.debug("", "bad-hello", fmt.Sprintf("%v: %.200q", err, payload))
		return
	}
	m := n.masters[h.Master]
	if m == nil {
		return
	}
	saddr, err := n.checkAddr(h.Addr)
	if err != nil || !redisrule.IsRunID(h.RunID) {
		n.debug(m.cfg.Name, "bad-hello", fmt.Sprintf("invalid sentinel address or run id: %.200q", payload))
		return
	}
	maddr, err := n.checkAddr(h.MasterAddr)
	if err != nil {
		n.debug(m.cfg.Name, "bad-hello", fmt.Sprintf("invalid master address: %.200q", payload))
		return
	}
	runid := strings.ToLower(h.RunID)
	if (n.epochTooFar(h.CurrentEpoch) || n.epochTooFar(h.ConfigEpoch)) && !n.catchUpEpoch(m, v, h, runid) {
		n.rejectHello(m, runid, fmt.Sprintf("epoch %d / config epoch %d more than %d above our epoch %d",
			h.CurrentEpoch, h.ConfigEpoch, MaxEpochJump, n.currentEpoch))
		return
	}
	si := n.proposePeer(m, saddr, runid)
	if si == nil {
		return
	}
	trusted := n.trustedHello(v, si)
	n.redialOnHello(v, si)
	epochNews := false
	// A higher current epoch from a hello without evidence is ignored
	// silently: the peer's own hellos to us carry it too.
	if h.CurrentEpoch > n.currentEpoch && trusted {
		n.adoptEpoch(h.CurrentEpoch, "")
		epochNews = true
	}
	// Only the hello itself, over an authenticated path, is evidence of
	// a configuration: nothing we can observe without one ties a config
	// epoch to an address. A vote we know of for the sender says it ran
	// in that epoch, not that it won (it may have lost, or tallied too
	// few replies); a replica reporting role:master may have been
	// promoted in an older epoch. A forged pub/sub hello pairing the two
	// made a configuration nobody elected (sim seed 1000689: a replayed
	// run id with the epoch of an election that never completed, and the
	// replica our own failover had promoted one epoch before). The real
	// configuration still reaches us from every verified peer that holds
	// it, over its own link to us, and sooner when we ask (below).
	newer := m.configEpoch < h.ConfigEpoch
	if newer && !trusted {
		why := fmt.Sprintf("config epoch %d for %s not adopted: %s", h.ConfigEpoch, maddr, n.untrustedWhy(v, si))
		if si.verified() && v.Via.Kind != KindSentinel {
			// The common race: a verified peer's hello through Redis
			// before its own hello to us.
			n.trust.HellosRejected++
			n.debug(m.cfg.Name, "hello-rejected", runid+" "+why)
		} else {
			n.rejectHello(m, runid, why)
		}
	}
	if newer && trusted {
		m.configEpoch = h.ConfigEpoch
		if h.ConfigEpoch > n.currentEpoch {
			// A configuration is never newer than our epoch.
			n.adoptEpoch(h.ConfigEpoch, "")
			epochNews = true
		}
		n.dirty = true
		// The configuration we hold is the current address: the promoted
		// replica once our own failover reached reconf_slaves (Sentinel
		// compares with the old master's address there, and so keeps a
		// newer epoch under the address its own failover produced: one
		// epoch, two masters). A failover of ours that the newer
		// configuration overtakes ends in its favour.
		cur := n.currentAddr(m)
		if over := n.overtaken(m, h.ConfigEpoch); over || !n.sameAddr(maddr, cur) {
			if over {
				n.instEventDetail(LevelWarning, "-failover-abort-newer-config", m.inst, "",
					fmt.Sprintf("config epoch %d from %s overtakes our failover epoch %d", h.ConfigEpoch, runid, m.failoverEpoch))
			}
			// Clients last heard of the old master, or of our promoted
			// replica when the newer configuration names the old master.
			old := m.inst.addr
			if n.sameAddr(old, maddr) {
				old = cur
			}
			n.instEvent(LevelWarning, "+config-update-from", si, "")
			if !n.sameAddr(old, maddr) {
				n.masterEvent(LevelWarning, "+switch-master", m, n.switchPayload(m.cfg.Name, old, maddr))
			}
			n.resetMasterAndChangeAddress(m, maddr)
			if !n.sameAddr(old, maddr) {
				n.reconfScript(m, "observer", old, maddr)
			}
		}
	}
	si.lastHello = n.now
	if trusted {
		// Only a hello that surely comes from the peer tells us its
		// configuration as of now (freshHellos), or restarts a
		// confirmation.
		si.helloAt = n.now
		si.helloEpoch = h.CurrentEpoch
		for _, mm := range n.sortedMasters() {
			if mm.fenceHold != holdOff && mm.quorumOK && h.CurrentEpoch > mm.holdEpoch {
				n.holdBump(mm, h.CurrentEpoch)
			}
		}
	}
	// Answer with our own hello now rather than at the next publish period
	// when the peer announces an older configuration or epoch (an agent back
	// from a partition or a restart, or one that verified us only after our
	// last hello, learns ours within a round trip), when
	// its hello raised our epoch (an agent confirming its configuration
	// before taking a VIP back gets a recognisably fresh answer), or when we
	// have not told it ours for half a period. Hellos that cross within
	// half a period are not answered, so periodic hellos do not multiply.
	//
	// A verified peer's untrusted hello announcing a newer configuration
	// is answered too: our hello tells the peer we are behind, and it
	// answers with its own over its link to us, which is evidence. A
	// forged one costs the real peer at most a hello per half ping period.
	behind := h.ConfigEpoch < m.configEpoch || h.CurrentEpoch < n.currentEpoch
	ahead := newer && !trusted && si.verified()
	if !si.link.disconnected() && si.pubSentAt == never &&
		((behind || epochNews || ahead) && n.now-si.lastPub >= n.pingPeriod(m)/2 ||
			n.now-si.lastPub > n.t.PublishPeriod/2) {
		n.sendHello(si)
	} else if (behind || epochNews || ahead) && si.helloDue == never {
		// Owed, not dropped: a peer that verified us only after our last
		// hello ignored it, and a confirmation waits for an answer
		// carrying its epoch.
		si.helloDue = max(n.now, si.lastPub+n.pingPeriod(m)/2)
	}
}

// untrustedWhy says why a hello from si carries no evidence.
func (n *Node) untrustedWhy(v Hello, si *instance) string {
	switch {
	case !si.verified():
		return "sender not verified"
	case !n.provenHere(si):
		return "sender not verified at " + si.addr.String()
	case v.Via.Kind != KindSentinel:
		return "received through pub/sub, not from the peer"
	case n.cfg.RequirePass != "":
		return "PUBLISHed without authentication"
	default:
		return "PUBLISHed from " + v.Via.Addr.Host + ", not the peer's address"
	}
}

// overtaken reports whether a configuration with config epoch e makes our
// failover of m moot: once it is in reconf_slaves our configuration has the
// failover epoch, so any newer one wins; before that, only one at least as
// new as the failover epoch (a peer elected in our epoch or later).
func (n *Node) overtaken(m *master, e uint64) bool {
	if m.inst.flags&fFailoverInProgress == 0 {
		return false
	}
	return m.failoverState >= stateReconfSlaves || e >= m.failoverEpoch
}

func (n *Node) switchPayload(name string, from, to Addr) string {
	from, to = n.announce(from), n.announce(to)
	return name + " " + from.Host + " " + strconv.Itoa(from.Port) + " " + to.Host + " " + strconv.Itoa(to.Port)
}

// updateSentinelAddressInAllMasters moves every other master's record of
// si's run id to si's new address and link.
func (n *Node) updateSentinelAddressInAllMasters(si *instance) {
	count := 0
	for _, mm := range n.sortedMasters() {
		s := mm.sentinels[si.runid]
		if s == nil || s == si || n.sameAddr(s.addr, si.addr) && s.link == si.link {
			continue
		}
		old := s.link
		old.refcount--
		if old.refcount <= 0 {
			n.closeLink(old, true, true)
			if key := s.addr.String(); n.peerLinks[key] == old {
				delete(n.peerLinks, key)
			}
		}
		s.addr = si.addr
		s.link = si.link
		si.link.refcount++
		count++
	}
	if count > 0 {
		n.instEvent(LevelNotice, "+sentinel-address-update", si, fmt.Sprintf(" %d additional matching instances", count))
	}
}

// redialOnHello restarts our connect to the verified peer si when its
// hello reached us directly while that connect has been pending for a ping
// period: the peer is up (it just sent us this), and a connect sent while
// its host was down (SYNs lost to a powered-off host) would otherwise wait
// for a SYN retransmission, 1 to 3 s later, or its timeout. Our answers to
// a rebooted peer, its newer configuration among them (bootconfirm.go), go
// over that link. At most once per ping period, as reconnect paces
// connects.
//
// A connection that is up but silent is left to checkSDown's forced close:
// closing it on a hello also fires in one-way partitions, where the
// silence is ours, and perturbs the elections there.
func (n *Node) redialOnHello(v Hello, si *instance) {
	l := si.link
	if !si.verified() || v.Via.Kind != KindSentinel || l.cc != connConnecting || n.now-l.ccSince < n.pingPeriod(si.m) {
		return
	}
	n.debug(si.m.cfg.Name, "sentinel-redial", n.describe(si)+" announced itself while our connect to it was pending")
	n.closeConn(l, LinkCmd)
	n.reconnect(si)
}
