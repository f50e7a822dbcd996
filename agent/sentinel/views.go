package sentinel

import (
	"strconv"
	"time"
)

// Read-only views for the SENTINEL replies. None of them changes the Node.

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// instanceMap renders ri with exactly Sentinel's fields and order
// (addReplySentinelRedisInstance).
func (n *Node) instanceMap(now Time, ri *instance) []KV {
	l := ri.link
	kv := []KV{
		{"name", ri.name},
		{"ip", n.announceHost(ri.addr.Host)},
		{"port", strconv.Itoa(ri.addr.Port)},
		{"runid", ri.runid},
		{"flags", ri.flagsString()},
		{"link-pending-commands", strconv.Itoa(l.pending)},
		{"link-refcount", strconv.Itoa(l.refcount)},
	}
	m := ri.m
	if ri.kind == KindMaster && ri.flags&fFailoverInProgress != 0 {
		kv = append(kv, KV{"failover-state", stateName(m.failoverState)})
	}
	lastPingSent := time.Duration(0)
	if l.actPing != never {
		lastPingSent = now - l.actPing
	}
	kv = append(kv,
		KV{"last-ping-sent", ms(lastPingSent)},
		KV{"last-ok-ping-reply", ms(now - l.lastAvail)},
		KV{"last-ping-reply", ms(now - l.lastPong)},
	)
	if ri.flags&fSDown != 0 {
		kv = append(kv, KV{"s-down-time", ms(now - ri.sdownSince)})
	}
	if ri.flags&fODown != 0 {
		kv = append(kv, KV{"o-down-time", ms(now - ri.odownSince)})
	}
	kv = append(kv, KV{"down-after-milliseconds", ms(m.cfg.DownAfter)})
	if ri.kind != KindSentinel {
		refresh := time.Duration(0)
		if ri.infoRefresh != never {
			refresh = now - ri.infoRefresh
		}
		kv = append(kv,
			KV{"info-refresh", ms(refresh)},
			KV{"role-reported", ri.roleReported.String()},
			KV{"role-reported-time", ms(now - ri.roleReportedTime)},
		)
	}
	switch ri.kind {
	case KindMaster:
		kv = append(kv,
			KV{"config-epoch", strconv.FormatUint(m.configEpoch, 10)},
			KV{"num-slaves", strconv.Itoa(len(m.replicas))},
			KV{"num-other-sentinels", strconv.Itoa(len(m.sentinels))},
			KV{"quorum", strconv.Itoa(m.cfg.Quorum)},
			KV{"failover-timeout", ms(m.cfg.FailoverTimeout)},
			KV{"parallel-syncs", strconv.Itoa(m.cfg.ParallelSyncs)},
		)
		if m.cfg.NotificationScript != "" {
			kv = append(kv, KV{"notification-script", m.cfg.NotificationScript})
		}
		if m.cfg.ClientReconfigScript != "" {
			kv = append(kv, KV{"client-reconfig-script", m.cfg.ClientReconfigScript})
		}
	case KindReplica:
		status := "err"
		if ri.slaveMasterLinkUp {
			status = "ok"
		}
		host := ri.slaveMasterHost
		if host == "" {
			host = "?"
		}
		announced := "0"
		if ri.replicaAnnounced {
			announced = "1"
		}
		kv = append(kv,
			KV{"master-link-down-time", ms(ri.masterLinkDownTime)},
			KV{"master-link-status", status},
			KV{"master-host", host},
			KV{"master-port", strconv.Itoa(ri.slaveMasterPort)},
			KV{"slave-priority", strconv.Itoa(ri.slavePriority)},
			KV{"slave-repl-offset", strconv.FormatInt(ri.slaveReplOffset, 10)},
			KV{"replica-announced", announced},
		)
	case KindSentinel:
		leader := ri.leader
		if leader == "" {
			leader = "?"
		}
		kv = append(kv,
			KV{"last-hello-message", ms(now - ri.lastHello)},
			KV{"voted-leader", leader},
			KV{"voted-leader-epoch", strconv.FormatUint(ri.leaderEpoch, 10)},
		)
	}
	return kv
}

// Masters is SENTINEL MASTERS: one map per master, sorted by name.
func (n *Node) Masters(now Time) [][]KV {
	t := n.at(now)
	var out [][]KV
	for _, m := range n.sortedMasters() {
		out = append(out, n.instanceMap(t, m.inst))
	}
	return out
}

// Master is SENTINEL MASTER <name>.
func (n *Node) Master(now Time, name string) ([]KV, error) {
	m := n.masters[name]
	if m == nil {
		return nil, ErrNoSuchMaster
	}
	return n.instanceMap(n.at(now), m.inst), nil
}

// Replicas is SENTINEL REPLICAS <name>; replicas reporting
// replica_announced:0 are left out.
func (n *Node) Replicas(now Time, name string) ([][]KV, error) {
	m := n.masters[name]
	if m == nil {
		return nil, ErrNoSuchMaster
	}
	t := n.at(now)
	out := [][]KV{}
	for _, r := range m.sortedReplicas() {
		if r.replicaAnnounced {
			out = append(out, n.instanceMap(t, r))
		}
	}
	return out, nil
}

// Sentinels is SENTINEL SENTINELS <name>.
func (n *Node) Sentinels(now Time, name string) ([][]KV, error) {
	m := n.masters[name]
	if m == nil {
		return nil, ErrNoSuchMaster
	}
	t := n.at(now)
	out := [][]KV{}
	for _, s := range m.sortedSentinels() {
		out = append(out, n.instanceMap(t, s))
	}
	return out, nil
}

// MasterAddr is SENTINEL GET-MASTER-ADDR-BY-NAME: the promoted replica's
// address once the failover reached reconf_slaves.
func (n *Node) MasterAddr(name string) (Addr, bool) {
	m := n.masters[name]
	if m == nil || m.unconfirmed() {
		// An unconfirmed configuration (bootconfirm.go) may name an old
		// master: a null sends the client to another sentinel.
		return Addr{}, false
	}
	return n.announce(n.currentAddr(m)), true
}

// MasterNames returns the monitored master names, sorted (for ROLE).
func (n *Node) MasterNames() []string {
	out := make([]string, 0, len(n.masters))
	for _, m := range n.sortedMasters() {
		out = append(out, m.cfg.Name)
	}
	return out
}

// CachedInfo is one INFO-CACHE item: the age of the cached INFO and its text
// (Has false when no INFO was received yet, a null reply).
type CachedInfo struct {
	Age  time.Duration
	Info string
	Has  bool
}

// InfoCacheEntry is the INFO-CACHE reply for one master: the master's cached
// INFO first, then each replica's.
type InfoCacheEntry struct {
	Master string
	Items  []CachedInfo
}

// InfoCache is SENTINEL INFO-CACHE <name> [...]; unknown names are skipped.
func (n *Node) InfoCache(now Time, names []string) []InfoCacheEntry {
	t := n.at(now)
	item := func(ri *instance) CachedInfo {
		c := CachedInfo{}
		if ri.infoRefresh != never {
			c.Age = t - ri.infoRefresh
		}
		if ri.info != nil {
			c.Info, c.Has = ri.infoRaw, true
		}
		return c
	}
	var out []InfoCacheEntry
	for _, name := range names {
		m := n.masters[name]
		if m == nil {
			continue
		}
		e := InfoCacheEntry{Master: name, Items: []CachedInfo{item(m.inst)}}
		for _, r := range m.sortedReplicas() {
			e.Items = append(e.Items, item(r))
		}
		out = append(out, e)
	}
	return out
}

// SetScriptCounts tells the Node how many scripts the runtime is running
// and has queued, for INFO.
func (n *Node) SetScriptCounts(running, queued int) {
	n.scriptsRunning, n.scriptsQueued = running, queued
}

// InfoSection is the "# Sentinel" section of INFO, in Sentinel's order.
func (n *Node) InfoSection(now Time) []KV {
	t := n.at(now)
	tilt, since := "0", "-1"
	if n.tilt {
		tilt = "1"
		since = strconv.FormatInt(int64((t-n.tiltStart)/time.Second), 10)
	}
	kv := []KV{
		{"sentinel_masters", strconv.Itoa(len(n.masters))},
		{"sentinel_tilt", tilt},
		{"sentinel_tilt_since_seconds", since},
		{"sentinel_running_scripts", strconv.Itoa(n.scriptsRunning)},
		{"sentinel_scripts_queue_length", strconv.Itoa(n.scriptsQueued)},
		{"sentinel_simulate_failure_flags", strconv.FormatUint(uint64(n.simFailure), 10)},
	}
	for i, m := range n.sortedMasters() {
		status := "ok"
		if m.inst.flags&fODown != 0 {
			status = "odown"
		} else if m.inst.flags&fSDown != 0 {
			status = "sdown"
		}
		kv = append(kv, KV{"master" + strconv.Itoa(i),
			"name=" + m.cfg.Name + ",status=" + status + ",address=" + n.announceHost(m.inst.addr.Host) + ":" + strconv.Itoa(m.inst.addr.Port) +
				",slaves=" + strconv.Itoa(len(m.replicas)) + ",sentinels=" + strconv.Itoa(len(m.sentinels)+1)})
	}
	return kv
}

// Tilt reports whether the Node is in TILT mode.
func (n *Node) Tilt() bool { return n.tilt }

// MyID is this agent's 40-hex run id.
func (n *Node) MyID() string { return n.myid }

// CurrentEpoch is the current epoch.
func (n *Node) CurrentEpoch() uint64 { return n.currentEpoch }
