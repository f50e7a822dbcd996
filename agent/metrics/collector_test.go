package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeCore is a CoreSource returning c or err, or blocking until its context
// ends, or panicking.
type fakeCore struct {
	c     Core
	err   error
	block bool
	panic bool
}

func (f *fakeCore) CoreSnapshot(ctx context.Context) (Core, error) {
	switch {
	case f.panic:
		panic("core source exploded")
	case f.block:
		<-ctx.Done()
		return Core{}, ctx.Err()
	}
	return f.c, f.err
}

type fakeVIPs []VIP

func (f fakeVIPs) VIPs() []VIP { return f }

type fakeFirewall Firewall

func (f *fakeFirewall) Firewall() Firewall { return Firewall(*f) }

type panickingVIPs struct{}

func (panickingVIPs) VIPs() []VIP { panic("vip source exploded") }

var (
	t0 = time.Unix(1700000000, 500_000_000)
	t1 = time.Unix(1700000100, 0)
)

func TestCollect(t *testing.T) {
	twoMasters := Core{CurrentEpoch: 9, Masters: []Master{
		{Name: "cache", ConfigEpoch: 2, FailoverState: "none", KnownReplicas: 1, KnownSentinels: 2,
			AgentsReachable: 3, AgentsKnown: 3},
		{Name: "mymaster", ConfigEpoch: 9, FailoverState: "wait_promotion", SDown: true, ODown: true,
			KnownReplicas: 2, KnownSentinels: 1, AgentsReachable: 2, AgentsKnown: 3,
			HasVIP: true, VIPWanted: true, Fenced: false, Local: true, Paused: true},
	}}
	coreNames := []string{"vipsentinel_core_up", "vipsentinel_current_epoch", "vipsentinel_tilt",
		"vipsentinel_master_config_epoch", "vipsentinel_master_sdown", "vipsentinel_master_odown",
		"vipsentinel_master_failover_in_progress", "vipsentinel_master_failover_state",
		"vipsentinel_master_known_replicas", "vipsentinel_master_known_sentinels",
		"vipsentinel_master_agents_reachable", "vipsentinel_master_agents_known",
		"vipsentinel_master_vip_wanted", "vipsentinel_master_fenced", "vipsentinel_master_local", "vipsentinel_master_paused"}
	vipNames := []string{"vipsentinel_vip_held", "vipsentinel_vip_epoch", "vipsentinel_vip_held_change_timestamp_seconds",
		"vipsentinel_vip_error", "vipsentinel_vip_announcements_total", "vipsentinel_vip_repairs_total",
		"vipsentinel_vip_conflicts_total", "vipsentinel_vip_last_conflict_timestamp_seconds"}
	fwNames := []string{"vipsentinel_firewall_open", "vipsentinel_firewall_fenced", "vipsentinel_firewall_conflicts",
		"vipsentinel_firewall_restores_total", "vipsentinel_firewall_error", "vipsentinel_firewall_last_apply_timestamp_seconds"}
	all := append(append(append([]string{"vipsentinel_heartbeat_timestamp_seconds"}, coreNames...), vipNames...), fwNames...)
	all = append(all, "vipsentinel_bad_replies_total", "vipsentinel_panics_recovered_total")

	twoVIPs := fakeVIPs{
		{Master: "mymaster", Addr: "198.18.0.100", Interface: "eth0", Held: true,
			Since: t0, Epoch: 9, Announcements: 10, Repairs: 1, Conflicts: 2, LastConflict: t1},
		{Master: "mymaster", Addr: "fd00::100", Interface: "eth0", Held: false,
			Failing: true},
	}

	tests := []struct {
		name string
		opts Options
		want string
		only []string // metric names compared, default all
	}{
		{
			name: "no sources",
			opts: Options{},
			want: "",
		},
		{
			name: "typed nil sources",
			opts: Options{Core: (*fakeCore)(nil), VIPs: fakeVIPs(nil), Firewall: (*fakeFirewall)(nil)},
			want: "",
		},
		{
			name: "core",
			opts: Options{Core: &fakeCore{c: twoMasters}},
			want: `
# HELP vipsentinel_core_up 1 if the Sentinel core answered this scrape's status request in time, 0 if its loop did not (the core metrics are then missing).
# TYPE vipsentinel_core_up gauge
vipsentinel_core_up 1
# HELP vipsentinel_current_epoch The agent's current epoch (Sentinel's current-epoch).
# TYPE vipsentinel_current_epoch gauge
vipsentinel_current_epoch 9
# HELP vipsentinel_tilt 1 while the agent is in TILT mode (it acts on nothing, VIPs included), 0 otherwise.
# TYPE vipsentinel_tilt gauge
vipsentinel_tilt 0
# HELP vipsentinel_master_config_epoch Config epoch of the master's latest configuration.
# TYPE vipsentinel_master_config_epoch gauge
vipsentinel_master_config_epoch{master="cache"} 2
vipsentinel_master_config_epoch{master="mymaster"} 9
# HELP vipsentinel_master_sdown 1 while this agent sees the master subjectively down (SDOWN).
# TYPE vipsentinel_master_sdown gauge
vipsentinel_master_sdown{master="cache"} 0
vipsentinel_master_sdown{master="mymaster"} 1
# HELP vipsentinel_master_odown 1 while the master is objectively down (ODOWN): a quorum of agents agrees it is down.
# TYPE vipsentinel_master_odown gauge
vipsentinel_master_odown{master="cache"} 0
vipsentinel_master_odown{master="mymaster"} 1
# HELP vipsentinel_master_failover_in_progress 1 while this agent runs a failover of the master.
# TYPE vipsentinel_master_failover_in_progress gauge
vipsentinel_master_failover_in_progress{master="cache"} 0
vipsentinel_master_failover_in_progress{master="mymaster"} 1
# HELP vipsentinel_master_failover_state Always 1; the state label is the master's failover state as Sentinel names it (none, wait_start, select_slave, send_slaveof_noone, wait_promotion, reconf_slaves, update_config).
# TYPE vipsentinel_master_failover_state gauge
vipsentinel_master_failover_state{master="cache",state="none"} 1
vipsentinel_master_failover_state{master="mymaster",state="wait_promotion"} 1
# HELP vipsentinel_master_known_replicas Replicas known for the master.
# TYPE vipsentinel_master_known_replicas gauge
vipsentinel_master_known_replicas{master="cache"} 1
vipsentinel_master_known_replicas{master="mymaster"} 2
# HELP vipsentinel_master_known_sentinels Other agents (sentinels) known for the master, this one excluded.
# TYPE vipsentinel_master_known_sentinels gauge
vipsentinel_master_known_sentinels{master="cache"} 2
vipsentinel_master_known_sentinels{master="mymaster"} 1
# HELP vipsentinel_master_agents_reachable Agents for the master heard within the fencing lease, this one included.
# TYPE vipsentinel_master_agents_reachable gauge
vipsentinel_master_agents_reachable{master="cache"} 3
vipsentinel_master_agents_reachable{master="mymaster"} 2
# HELP vipsentinel_master_agents_known Agents ever seen for the master, this one included.
# TYPE vipsentinel_master_agents_known gauge
vipsentinel_master_agents_known{master="cache"} 3
vipsentinel_master_agents_known{master="mymaster"} 3
# HELP vipsentinel_master_vip_wanted 1 while the core wants this agent to hold the master's floating IP (masters with a vip directive only).
# TYPE vipsentinel_master_vip_wanted gauge
vipsentinel_master_vip_wanted{master="mymaster"} 1
# HELP vipsentinel_master_fenced 1 while fencing pauses writes on the local master because no majority of agents is reachable.
# TYPE vipsentinel_master_fenced gauge
vipsentinel_master_fenced{master="cache"} 0
vipsentinel_master_fenced{master="mymaster"} 0
# HELP vipsentinel_master_local 1 if the master's current address is on this host.
# TYPE vipsentinel_master_local gauge
vipsentinel_master_local{master="cache"} 0
vipsentinel_master_local{master="mymaster"} 1
# HELP vipsentinel_master_paused 1 while the master is in maintenance (vipsentinel pause): this agent starts and votes for no failover of it.
# TYPE vipsentinel_master_paused gauge
vipsentinel_master_paused{master="cache"} 0
vipsentinel_master_paused{master="mymaster"} 1
`,
		},
		{
			name: "core in TILT, duplicate master and empty failover state",
			opts: Options{Core: &fakeCore{c: Core{CurrentEpoch: 4, Tilt: true, Masters: []Master{
				{Name: "m", ConfigEpoch: 4, Fenced: true},
				{Name: "m", ConfigEpoch: 1},
			}}}},
			want: `
# HELP vipsentinel_core_up 1 if the Sentinel core answered this scrape's status request in time, 0 if its loop did not (the core metrics are then missing).
# TYPE vipsentinel_core_up gauge
vipsentinel_core_up 1
# HELP vipsentinel_current_epoch The agent's current epoch (Sentinel's current-epoch).
# TYPE vipsentinel_current_epoch gauge
vipsentinel_current_epoch 4
# HELP vipsentinel_tilt 1 while the agent is in TILT mode (it acts on nothing, VIPs included), 0 otherwise.
# TYPE vipsentinel_tilt gauge
vipsentinel_tilt 1
# HELP vipsentinel_master_config_epoch Config epoch of the master's latest configuration.
# TYPE vipsentinel_master_config_epoch gauge
vipsentinel_master_config_epoch{master="m"} 4
# HELP vipsentinel_master_sdown 1 while this agent sees the master subjectively down (SDOWN).
# TYPE vipsentinel_master_sdown gauge
vipsentinel_master_sdown{master="m"} 0
# HELP vipsentinel_master_odown 1 while the master is objectively down (ODOWN): a quorum of agents agrees it is down.
# TYPE vipsentinel_master_odown gauge
vipsentinel_master_odown{master="m"} 0
# HELP vipsentinel_master_failover_in_progress 1 while this agent runs a failover of the master.
# TYPE vipsentinel_master_failover_in_progress gauge
vipsentinel_master_failover_in_progress{master="m"} 0
# HELP vipsentinel_master_failover_state Always 1; the state label is the master's failover state as Sentinel names it (none, wait_start, select_slave, send_slaveof_noone, wait_promotion, reconf_slaves, update_config).
# TYPE vipsentinel_master_failover_state gauge
vipsentinel_master_failover_state{master="m",state="none"} 1
# HELP vipsentinel_master_known_replicas Replicas known for the master.
# TYPE vipsentinel_master_known_replicas gauge
vipsentinel_master_known_replicas{master="m"} 0
# HELP vipsentinel_master_known_sentinels Other agents (sentinels) known for the master, this one excluded.
# TYPE vipsentinel_master_known_sentinels gauge
vipsentinel_master_known_sentinels{master="m"} 0
# HELP vipsentinel_master_agents_reachable Agents for the master heard within the fencing lease, this one included.
# TYPE vipsentinel_master_agents_reachable gauge
vipsentinel_master_agents_reachable{master="m"} 0
# HELP vipsentinel_master_agents_known Agents ever seen for the master, this one included.
# TYPE vipsentinel_master_agents_known gauge
vipsentinel_master_agents_known{master="m"} 0
# HELP vipsentinel_master_fenced 1 while fencing pauses writes on the local master because no majority of agents is reachable.
# TYPE vipsentinel_master_fenced gauge
vipsentinel_master_fenced{master="m"} 1
# HELP vipsentinel_master_local 1 if the master's current address is on this host.
# TYPE vipsentinel_master_local gauge
vipsentinel_master_local{master="m"} 0
# HELP vipsentinel_master_paused 1 while the master is in maintenance (vipsentinel pause): this agent starts and votes for no failover of it.
# TYPE vipsentinel_master_paused gauge
vipsentinel_master_paused{master="m"} 0
`,
		},
		{
			name: "core error",
			opts: Options{Core: &fakeCore{err: errors.New("runtime stopped")}},
			want: coreDown,
		},
		{
			name: "core stuck",
			opts: Options{Core: &fakeCore{block: true}, CoreTimeout: 20 * time.Millisecond},
			want: coreDown,
		},
		{
			name: "core panics",
			opts: Options{Core: &fakeCore{panic: true}},
			want: coreDown,
		},
		{
			name: "vips",
			opts: Options{VIPs: twoVIPs},
			want: `
# HELP vipsentinel_vip_held 1 while this host holds the floating IP.
# TYPE vipsentinel_vip_held gauge
vipsentinel_vip_held{iface="eth0",master="mymaster",vip="198.18.0.100"} 1
vipsentinel_vip_held{iface="eth0",master="mymaster",vip="fd00::100"} 0
# HELP vipsentinel_vip_epoch Config epoch of the VIP intent the manager last acted on.
# TYPE vipsentinel_vip_epoch gauge
vipsentinel_vip_epoch{iface="eth0",master="mymaster",vip="198.18.0.100"} 9
vipsentinel_vip_epoch{iface="eth0",master="mymaster",vip="fd00::100"} 0
# HELP vipsentinel_vip_held_change_timestamp_seconds Unix time at which vipsentinel_vip_held last changed.
# TYPE vipsentinel_vip_held_change_timestamp_seconds gauge
vipsentinel_vip_held_change_timestamp_seconds{iface="eth0",master="mymaster",vip="198.18.0.100"} 1.7000000005e+09
# HELP vipsentinel_vip_error 1 while the last attempt to add or remove the floating IP failed.
# TYPE vipsentinel_vip_error gauge
vipsentinel_vip_error{iface="eth0",master="mymaster",vip="198.18.0.100"} 0
vipsentinel_vip_error{iface="eth0",master="mymaster",vip="fd00::100"} 1
# HELP vipsentinel_vip_announcements_total Gratuitous ARP / unsolicited neighbour advertisement packets sent for the floating IP.
# TYPE vipsentinel_vip_announcements_total counter
vipsentinel_vip_announcements_total{iface="eth0",master="mymaster",vip="198.18.0.100"} 10
vipsentinel_vip_announcements_total{iface="eth0",master="mymaster",vip="fd00::100"} 0
# HELP vipsentinel_vip_repairs_total Times the held floating IP was found removed by someone else and added back.
# TYPE vipsentinel_vip_repairs_total counter
vipsentinel_vip_repairs_total{iface="eth0",master="mymaster",vip="198.18.0.100"} 1
vipsentinel_vip_repairs_total{iface="eth0",master="mymaster",vip="fd00::100"} 0
# HELP vipsentinel_vip_conflicts_total Claims of the held floating IP by another hardware address seen on the network.
# TYPE vipsentinel_vip_conflicts_total counter
vipsentinel_vip_conflicts_total{iface="eth0",master="mymaster",vip="198.18.0.100"} 2
vipsentinel_vip_conflicts_total{iface="eth0",master="mymaster",vip="fd00::100"} 0
# HELP vipsentinel_vip_last_conflict_timestamp_seconds Unix time of the last claim of the floating IP by another hardware address.
# TYPE vipsentinel_vip_last_conflict_timestamp_seconds gauge
vipsentinel_vip_last_conflict_timestamp_seconds{iface="eth0",master="mymaster",vip="198.18.0.100"} 1.7000001e+09
`,
		},
		{
			name: "duplicate vip",
			opts: Options{VIPs: fakeVIPs{
				{Master: "m", Addr: "198.18.0.1", Interface: "br0", Held: true},
				{Master: "m", Addr: "198.18.0.1", Interface: "br0", Held: false},
			}},
			want: `
# HELP vipsentinel_vip_held 1 while this host holds the floating IP.
# TYPE vipsentinel_vip_held gauge
vipsentinel_vip_held{iface="br0",master="m",vip="198.18.0.1"} 1
`,
			only: []string{"vipsentinel_vip_held"},
		},
		{
			name: "vip source panics",
			opts: Options{VIPs: panickingVIPs{}},
			want: "",
		},
		{
			name: "firewall",
			opts: Options{Firewall: &fakeFirewall{
				Open: true, Fenced: true, Restores: 3, LastApply: t1, Failing: true,
				Conflicts: 3, Handled: 1,
			}},
			want: `
# HELP vipsentinel_firewall_open 1 while vipsentinel's nftables table opening the agent and Redis ports is installed.
# TYPE vipsentinel_firewall_open gauge
vipsentinel_firewall_open 1
# HELP vipsentinel_firewall_fenced 1 while the firewall restricts the Redis ports to the fencing allow-list.
# TYPE vipsentinel_firewall_fenced gauge
vipsentinel_firewall_fenced 1
# HELP vipsentinel_firewall_conflicts Foreign nftables input chains that drop or may drop the opened ports; handled="true" ones are overridden by injected accept rules.
# TYPE vipsentinel_firewall_conflicts gauge
vipsentinel_firewall_conflicts{handled="false"} 2
vipsentinel_firewall_conflicts{handled="true"} 1
# HELP vipsentinel_firewall_restores_total Times vipsentinel's firewall rules were found changed by someone else and re-applied.
# TYPE vipsentinel_firewall_restores_total counter
vipsentinel_firewall_restores_total 3
# HELP vipsentinel_firewall_error 1 while the last firewall operation failed.
# TYPE vipsentinel_firewall_error gauge
vipsentinel_firewall_error 1
# HELP vipsentinel_firewall_last_apply_timestamp_seconds Unix time at which the firewall ruleset was last confirmed or written.
# TYPE vipsentinel_firewall_last_apply_timestamp_seconds gauge
vipsentinel_firewall_last_apply_timestamp_seconds 1.7000001e+09
`,
		},
		{
			name: "firewall closed",
			opts: Options{Firewall: &fakeFirewall{}},
			want: `
# HELP vipsentinel_firewall_open 1 while vipsentinel's nftables table opening the agent and Redis ports is installed.
# TYPE vipsentinel_firewall_open gauge
vipsentinel_firewall_open 0
# HELP vipsentinel_firewall_fenced 1 while the firewall restricts the Redis ports to the fencing allow-list.
# TYPE vipsentinel_firewall_fenced gauge
vipsentinel_firewall_fenced 0
# HELP vipsentinel_firewall_conflicts Foreign nftables input chains that drop or may drop the opened ports; handled="true" ones are overridden by injected accept rules.
# TYPE vipsentinel_firewall_conflicts gauge
vipsentinel_firewall_conflicts{handled="false"} 0
vipsentinel_firewall_conflicts{handled="true"} 0
# HELP vipsentinel_firewall_restores_total Times vipsentinel's firewall rules were found changed by someone else and re-applied.
# TYPE vipsentinel_firewall_restores_total counter
vipsentinel_firewall_restores_total 0
# HELP vipsentinel_firewall_error 1 while the last firewall operation failed.
# TYPE vipsentinel_firewall_error gauge
vipsentinel_firewall_error 0
`,
		},
		{
			name: "faults",
			opts: Options{Faults: fakeFaults{BadReplies: 4, Panics: map[string]uint64{"redislink": 2, "api": 0}}},
			want: `
# HELP vipsentinel_bad_replies_total Replies from Redis instances and peer agents refused as malformed or over a size limit; each closed its link.
# TYPE vipsentinel_bad_replies_total counter
vipsentinel_bad_replies_total 4
# HELP vipsentinel_panics_recovered_total Panics recovered in goroutines serving one connection (a link, an API client); each closed that connection only.
# TYPE vipsentinel_panics_recovered_total counter
vipsentinel_panics_recovered_total{component="api"} 0
vipsentinel_panics_recovered_total{component="redislink"} 2
`,
		},
		{
			name: "heartbeat",
			opts: Options{Heartbeat: func() time.Time { return t1 }},
			want: `
# HELP vipsentinel_heartbeat_timestamp_seconds Unix time at which the agent's main loop last completed an iteration; /healthz fails when it is older than the heartbeat timeout.
# TYPE vipsentinel_heartbeat_timestamp_seconds gauge
vipsentinel_heartbeat_timestamp_seconds 1.7000001e+09
`,
		},
		{
			name: "heartbeat before the loop ran",
			opts: Options{Heartbeat: func() time.Time { return time.Unix(0, 0) }},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(tt.opts)
			names := all
			if tt.only != nil {
				names = tt.only
			}
			if err := testutil.CollectAndCompare(m.coll, strings.NewReader(tt.want), names...); err != nil {
				t.Error(err)
			}
			// The whole registry (Go and process collectors included) must
			// stay consistent and lint-clean whatever the sources do.
			if _, err := m.reg.Gather(); err != nil {
				t.Errorf("Gather: %v", err)
			}
			problems, err := testutil.CollectAndLint(m.coll)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

const coreDown = `
# HELP vipsentinel_core_up 1 if the Sentinel core answered this scrape's status request in time, 0 if its loop did not (the core metrics are then missing).
# TYPE vipsentinel_core_up gauge
vipsentinel_core_up 0
`

// TestCollectBadLabel checks that a label value Prometheus cannot carry (not
// UTF-8) fails only its own series, not the scrape.
func TestCollectBadLabel(t *testing.T) {
	m := New(Options{Core: &fakeCore{c: Core{CurrentEpoch: 3, Masters: []Master{{Name: "bad\xff"}, {Name: "good", ConfigEpoch: 3}}}}})
	mfs, err := m.reg.Gather()
	if err == nil {
		t.Error("Gather did not report the invalid label value")
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "vipsentinel_master_config_epoch" {
			for _, mm := range mf.GetMetric() {
				if mm.GetLabel()[0].GetValue() == "good" && mm.GetGauge().GetValue() == 3 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("the valid master's series is missing")
	}
}

// BenchmarkGather measures a full scrape's collection (Go and process
// collectors included) with 3 masters, 3 VIPs and a firewall.
func BenchmarkGather(b *testing.B) {
	var core Core
	var vips fakeVIPs
	for i := range 3 {
		name := fmt.Sprintf("m%d", i)
		core.Masters = append(core.Masters, Master{Name: name, FailoverState: "none", HasVIP: true})
		vips = append(vips, VIP{Master: name, Addr: netip.AddrFrom4([4]byte{198, 18, 0, byte(i)}).String(), Interface: "eth0"})
	}
	m := New(Options{Core: &fakeCore{c: core}, VIPs: vips, Firewall: &fakeFirewall{Open: true}, Heartbeat: time.Now})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

type fakeFaults Faults

func (f fakeFaults) Faults() Faults { return Faults(f) }
