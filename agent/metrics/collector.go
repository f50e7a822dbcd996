package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector reads the sources at scrape time. It keeps no state of its own,
// so a scrape always shows what the components hold at that moment.
type collector struct {
	core      CoreSource
	vips      VIPSource
	fw        FirewallSource
	faults    FaultSource
	heartbeat func() time.Time
	timeout   time.Duration
	log       *slog.Logger

	heartbeatTS *prometheus.Desc

	coreUp, currentEpoch, tilt                *prometheus.Desc
	hellosRejected, votesRejected, unverified *prometheus.Desc
	configEpoch, sdown, odown                 *prometheus.Desc
	failoverRunning, failoverState            *prometheus.Desc
	knownReplicas, knownSentinels             *prometheus.Desc
	agentsReachable, agentsKnown              *prometheus.Desc
	vipWanted, fenced, local                  *prometheus.Desc
	paused                                    *prometheus.Desc
	vipHeld, vipEpoch, vipChanged, vipErr     *prometheus.Desc
	vipAnnounce, vipRepairs, vipConflicts     *prometheus.Desc
	vipLastConflict                           *prometheus.Desc
	fwOpen, fwFenced, fwConflicts, fwRestores *prometheus.Desc
	fwErr, fwLastApply                        *prometheus.Desc
	badReplies, panicsRecovered               *prometheus.Desc
	masterAddr, replicaLag, replicaOnline     *prometheus.Desc
	peerHelloAge, saveFailures                *prometheus.Desc
	allDescs                                  []*prometheus.Desc
}

func newCollector(opts Options, log *slog.Logger) *collector {
	c := &collector{
		core:      opts.Core,
		vips:      opts.VIPs,
		fw:        opts.Firewall,
		faults:    opts.Faults,
		heartbeat: opts.Heartbeat,
		timeout:   opts.CoreTimeout,
		log:       log,
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		desc := prometheus.NewDesc(name, help, labels, nil)
		c.allDescs = append(c.allDescs, desc)
		return desc
	}
	c.heartbeatTS = d("vipsentinel_heartbeat_timestamp_seconds",
		"Unix time at which the agent's main loop last completed an iteration; /healthz fails when it is older than the heartbeat timeout.")

	c.coreUp = d("vipsentinel_core_up",
		"1 if the Sentinel core answered this scrape's status request in time, 0 if its loop did not (the core metrics are then missing).")
	c.currentEpoch = d("vipsentinel_current_epoch", "The agent's current epoch (Sentinel's current-epoch).")
	c.hellosRejected = d("vipsentinel_hellos_rejected_total",
		"Hellos that changed nothing for lack of evidence (unverified sender, unauthenticated path, epoch too far ahead) or proposed a peer beyond the bound.")
	c.votesRejected = d("vipsentinel_votes_rejected_total",
		"Vote requests refused: epoch too far ahead, or a candidate that is not a verified peer.")
	c.unverified = d("vipsentinel_peers_unverified_expired_total",
		"Peers proposed by hellos and forgotten because they were not verified in time.")
	c.tilt = d("vipsentinel_tilt", "1 while the agent is in TILT mode (it acts on nothing, VIPs included), 0 otherwise.")
	c.configEpoch = d("vipsentinel_master_config_epoch", "Config epoch of the master's latest configuration.", "master")
	c.sdown = d("vipsentinel_master_sdown", "1 while this agent sees the master subjectively down (SDOWN).", "master")
	c.odown = d("vipsentinel_master_odown", "1 while the master is objectively down (ODOWN): a quorum of agents agrees it is down.", "master")
	c.failoverRunning = d("vipsentinel_master_failover_in_progress", "1 while this agent runs a failover of the master.", "master")
	c.failoverState = d("vipsentinel_master_failover_state",
		"Always 1; the state label is the master's failover state as Sentinel names it (none, wait_start, select_slave, send_slaveof_noone, wait_promotion, reconf_slaves, update_config).",
		"master", "state")
	c.knownReplicas = d("vipsentinel_master_known_replicas", "Replicas known for the master.", "master")
	c.knownSentinels = d("vipsentinel_master_known_sentinels", "Other agents (sentinels) known for the master, this one excluded.", "master")
	c.agentsReachable = d("vipsentinel_master_agents_reachable", "Agents for the master heard within the fencing lease, this one included.", "master")
	c.agentsKnown = d("vipsentinel_master_agents_known", "Agents ever seen for the master, this one included.", "master")
	c.vipWanted = d("vipsentinel_master_vip_wanted", "1 while the core wants this agent to hold the master's floating IP (masters with a vip directive only).", "master")
	c.fenced = d("vipsentinel_master_fenced", "1 while fencing pauses writes on the local master because no majority of agents is reachable.", "master")
	c.local = d("vipsentinel_master_local", "1 if the master's current address is on this host.", "master")
	c.paused = d("vipsentinel_master_paused", "1 while the master is in maintenance (vipsentinel pause): this agent starts and votes for no failover of it.", "master")

	vl := []string{"master", "vip", "iface"}
	c.vipHeld = d("vipsentinel_vip_held", "1 while this host holds the floating IP.", vl...)
	c.vipEpoch = d("vipsentinel_vip_epoch", "Config epoch of the VIP intent the manager last acted on.", vl...)
	c.vipChanged = d("vipsentinel_vip_held_change_timestamp_seconds", "Unix time at which vipsentinel_vip_held last changed.", vl...)
	c.vipErr = d("vipsentinel_vip_error", "1 while the last attempt to add or remove the floating IP failed.", vl...)
	c.vipAnnounce = d("vipsentinel_vip_announcements_total", "Gratuitous ARP / unsolicited neighbour advertisement packets sent for the floating IP.", vl...)
	c.vipRepairs = d("vipsentinel_vip_repairs_total", "Times the held floating IP was found removed by someone else and added back.", vl...)
	c.vipConflicts = d("vipsentinel_vip_conflicts_total", "Claims of the held floating IP by another hardware address seen on the network.", vl...)
	c.vipLastConflict = d("vipsentinel_vip_last_conflict_timestamp_seconds", "Unix time of the last claim of the floating IP by another hardware address.", vl...)

	c.fwOpen = d("vipsentinel_firewall_open", "1 while vipsentinel's nftables table opening the agent and Redis ports is installed.")
	c.fwFenced = d("vipsentinel_firewall_fenced", "1 while the firewall restricts the Redis ports to the fencing allow-list.")
	c.fwConflicts = d("vipsentinel_firewall_conflicts",
		"Foreign nftables input chains that drop or may drop the opened ports; handled=\"true\" ones are overridden by injected accept rules.",
		"handled")
	c.fwRestores = d("vipsentinel_firewall_restores_total", "Times vipsentinel's firewall rules were found changed by someone else and re-applied.")
	c.fwErr = d("vipsentinel_firewall_error", "1 while the last firewall operation failed.")
	c.badReplies = d("vipsentinel_bad_replies_total",
		"Replies from Redis instances and peer agents refused as malformed or over a size limit; each closed its link.")
	c.panicsRecovered = d("vipsentinel_panics_recovered_total",
		"Panics recovered in goroutines serving one connection (a link, an API client); each closed that connection only.", "component")
	c.masterAddr = d("vipsentinel_master_address_info",
		"Always 1; the ip and port labels are the master's current address (the promoted replica's once a failover reaches reconf_slaves).",
		"master", "ip", "port")
	c.replicaLag = d("vipsentinel_replica_lag_bytes",
		"Bytes of replication stream the replica has not acknowledged: the master's master_repl_offset minus the replica's offset, both from the master's latest INFO (missing while that INFO is unknown).",
		"master", "replica")
	c.replicaOnline = d("vipsentinel_replica_online",
		"1 while the master's latest INFO shows the replica online (state=online), 0 while it syncs or waits.",
		"master", "replica")
	c.peerHelloAge = d("vipsentinel_peer_hello_age_seconds",
		"Seconds since the last hello from another agent known for the master (SENTINEL SENTINELS' last-hello-message).",
		"master", "peer")
	c.saveFailures = d("vipsentinel_state_save_failures_total",
		"Failed writes of the state file; while writes fail the agent holds commands, replies and VIP changes, and stops once they have failed for too long.")
	c.fwLastApply = d("vipsentinel_firewall_last_apply_timestamp_seconds", "Unix time at which the firewall ruleset was last confirmed or written.")
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if c.heartbeat != nil {
		if hb, ok := read(c, "heartbeat source", c.heartbeat); ok && !hb.IsZero() && hb.UnixNano() > 0 {
			emit(ch, c.heartbeatTS, prometheus.GaugeValue, unixSeconds(hb))
		}
	}
	if c.core != nil {
		c.collectCore(ch)
	}
	if c.vips != nil {
		c.collectVIPs(ch)
	}
	if c.fw != nil {
		c.collectFirewall(ch)
	}
	if c.faults != nil {
		c.collectFaults(ch)
	}
}

func (c *collector) collectFaults(ch chan<- prometheus.Metric) {
	f, ok := read(c, "fault counters", c.faults.Faults)
	if !ok {
		return
	}
	emit(ch, c.badReplies, prometheus.CounterValue, float64(f.BadReplies))
	emit(ch, c.saveFailures, prometheus.CounterValue, float64(f.StateSaveFailures))
	for _, comp := range slices.Sorted(maps.Keys(f.Panics)) {
		emit(ch, c.panicsRecovered, prometheus.CounterValue, float64(f.Panics[comp]), comp)
	}
}

func (c *collector) collectCore(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	core, err := guard(func() (Core, error) { return c.core.CoreSnapshot(ctx) })
	if err != nil {
		c.log.Warn("metrics: no status from the sentinel core", "err", err)
		emit(ch, c.coreUp, prometheus.GaugeValue, 0)
		return
	}
	emit(ch, c.coreUp, prometheus.GaugeValue, 1)
	emit(ch, c.currentEpoch, prometheus.GaugeValue, float64(core.CurrentEpoch))
	emit(ch, c.tilt, prometheus.GaugeValue, b2f(core.Tilt))
	emit(ch, c.hellosRejected, prometheus.CounterValue, float64(core.Trust.HellosRejected))
	emit(ch, c.votesRejected, prometheus.CounterValue, float64(core.Trust.VotesRejected))
	emit(ch, c.unverified, prometheus.CounterValue, float64(core.Trust.UnverifiedExpired))
	seen := map[string]bool{}
	for _, m := range core.Masters {
		if seen[m.Name] {
			continue // one series per master, whatever the source says
		}
		seen[m.Name] = true
		g := func(d *prometheus.Desc, v float64) { emit(ch, d, prometheus.GaugeValue, v, m.Name) }
		g(c.configEpoch, float64(m.ConfigEpoch))
		g(c.sdown, b2f(m.SDown))
		g(c.odown, b2f(m.ODown))
		state := m.FailoverState
		if state == "" {
			state = "none"
		}
		g(c.failoverRunning, b2f(state != "none"))
		emit(ch, c.failoverState, prometheus.GaugeValue, 1, m.Name, state)
		g(c.knownReplicas, float64(m.KnownReplicas))
		g(c.knownSentinels, float64(m.KnownSentinels))
		g(c.agentsReachable, float64(m.AgentsReachable))
		g(c.agentsKnown, float64(m.AgentsKnown))
		if m.HasVIP {
			g(c.vipWanted, b2f(m.VIPWanted))
		}
		g(c.fenced, b2f(m.Fenced))
		g(c.local, b2f(m.Local))
		g(c.paused, b2f(m.Paused))
		if m.Host != "" {
			emit(ch, c.masterAddr, prometheus.GaugeValue, 1, m.Name, m.Host, strconv.Itoa(m.Port))
		}
		seenReplica := map[string]bool{}
		for _, r := range m.Replicas {
			if seenReplica[r.Addr] {
				continue
			}
			seenReplica[r.Addr] = true
			emit(ch, c.replicaLag, prometheus.GaugeValue, float64(r.LagBytes), m.Name, r.Addr)
			emit(ch, c.replicaOnline, prometheus.GaugeValue, b2f(r.State == "online"), m.Name, r.Addr)
		}
		seenPeer := map[string]bool{}
		for _, p := range m.Peers {
			if seenPeer[p.Addr] {
				continue
			}
			seenPeer[p.Addr] = true
			emit(ch, c.peerHelloAge, prometheus.GaugeValue, p.HelloAge.Seconds(), m.Name, p.Addr)
		}
	}
}

func (c *collector) collectVIPs(ch chan<- prometheus.Metric) {
	vips, ok := read(c, "VIP status", c.vips.VIPs)
	if !ok {
		return
	}
	seen := map[[3]string]bool{}
	for _, v := range vips {
		key := [3]string{v.Master, v.Addr, v.Interface}
		if seen[key] {
			continue
		}
		seen[key] = true
		lv := key[:]
		emit(ch, c.vipHeld, prometheus.GaugeValue, b2f(v.Held), lv...)
		emit(ch, c.vipEpoch, prometheus.GaugeValue, float64(v.Epoch), lv...)
		if !v.Since.IsZero() {
			emit(ch, c.vipChanged, prometheus.GaugeValue, unixSeconds(v.Since), lv...)
		}
		emit(ch, c.vipErr, prometheus.GaugeValue, b2f(v.Failing), lv...)
		emit(ch, c.vipAnnounce, prometheus.CounterValue, float64(v.Announcements), lv...)
		emit(ch, c.vipRepairs, prometheus.CounterValue, float64(v.Repairs), lv...)
		emit(ch, c.vipConflicts, prometheus.CounterValue, float64(v.Conflicts), lv...)
		if !v.LastConflict.IsZero() {
			emit(ch, c.vipLastConflict, prometheus.GaugeValue, unixSeconds(v.LastConflict), lv...)
		}
	}
}

func (c *collector) collectFirewall(ch chan<- prometheus.Metric) {
	s, ok := read(c, "firewall status", c.fw.Firewall)
	if !ok {
		return
	}
	emit(ch, c.fwOpen, prometheus.GaugeValue, b2f(s.Open))
	emit(ch, c.fwFenced, prometheus.GaugeValue, b2f(s.Fenced))
	emit(ch, c.fwConflicts, prometheus.GaugeValue, float64(s.Conflicts-s.Handled), "false")
	emit(ch, c.fwConflicts, prometheus.GaugeValue, float64(s.Handled), "true")
	emit(ch, c.fwRestores, prometheus.CounterValue, float64(s.Restores))
	emit(ch, c.fwErr, prometheus.GaugeValue, b2f(s.Failing))
	if !s.LastApply.IsZero() {
		emit(ch, c.fwLastApply, prometheus.GaugeValue, unixSeconds(s.LastApply))
	}
}

// emit sends a constant metric, or an invalid one naming the problem (such
// as a label value that is not UTF-8) so that the scrape reports it and
// still serves everything else.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, lv ...string) {
	m, err := prometheus.NewConstMetric(d, t, v, lv...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}

// guard runs fn and returns its results, turning a panic into an error
// (with the zero value): the registry collects in goroutines of its own,
// where a panicking source would kill the agent.
func guard[T any](fn func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}

// read asks a status source that reports no error of its own through
// guard. A panic in it is logged as "metrics: <what> failed" and read
// returns false: that scrape goes without the source's series.
func read[T any](c *collector, what string, get func() T) (T, bool) {
	v, err := guard(func() (T, error) { return get(), nil })
	if err != nil {
		c.log.Warn("metrics: "+what+" failed", "err", err)
	}
	return v, err == nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
