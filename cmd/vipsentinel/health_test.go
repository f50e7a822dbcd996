package main

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/runtime"
)

func healthyStatus() runtime.Status {
	return runtime.Status{
		MyID: strings.Repeat("a", 40), Version: "1", CurrentEpoch: 3, StateSaved: true,
		Masters: []runtime.MasterStatus{{
			Name: "m", Address: "198.18.0.1:6379", ConfigEpoch: 3, FailoverState: "none", Local: true,
			HasVIP: true, VIPHeld: true, AgentsReachable: 3, AgentsKnown: 3,
			Replicas: []runtime.ReplicaStatus{{Address: "198.18.0.2:6379", Eligible: true}},
		}},
		HostStatus: runtime.HostStatus{
			VIPs:     []runtime.VIPStatus{{Master: "m", Address: "198.18.0.100/24", Interface: "eth0", Held: true}},
			Firewall: &runtime.FirewallStatus{Mode: "inject", Open: true, Conflicts: []runtime.FirewallConflict{{Description: "ip filter input", Handled: true}}},
		},
	}
}

// TestAssess: each condition alone makes the agent degraded, with a reason
// naming it; exit statuses follow.
func TestAssess(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*runtime.Status)
		reason string // substring of the only reason; "" for healthy
	}{
		{"healthy", func(*runtime.Status) {}, ""},
		{"tilt", func(s *runtime.Status) { s.Tilt = true }, "TILT"},
		{"state not saved", func(s *runtime.Status) { s.StateSaved = false }, "state file"},
		{"paused", func(s *runtime.Status) { s.Masters[0].Paused = true }, "master m is paused (maintenance, until resumed)"},
		{"paused until", func(s *runtime.Status) {
			s.Masters[0].Paused, s.Masters[0].PausedUntil = true, "2027-01-15T09:00:00Z"
		}, "until 2027-01-15T09:00:00Z"},
		{"fenced", func(s *runtime.Status) { s.Masters[0].Fenced = true }, "fenced"},
		{"no quorum", func(s *runtime.Status) { s.Masters[0].AgentsReachable = 1 }, "no majority of agents reachable (1 of 3)"},
		{"half is no majority", func(s *runtime.Status) { s.Masters[0].AgentsReachable, s.Masters[0].AgentsKnown = 2, 4 }, "(2 of 4)"},
		{"sdown", func(s *runtime.Status) { s.Masters[0].SDown = true }, "s_down"},
		{"odown", func(s *runtime.Status) { s.Masters[0].SDown, s.Masters[0].ODown = true, true }, "o_down"},
		{"failover", func(s *runtime.Status) { s.Masters[0].FailoverState = "wait_promotion" }, "failover in progress (wait_promotion)"},
		{"no eligible replica", func(s *runtime.Status) {
			s.Masters[0].Replicas[0].Eligible, s.Masters[0].Replicas[0].Rejected = false, "s_down"
		}, "no replica could be promoted (1 known)"},
		{"no replica", func(s *runtime.Status) { s.Masters[0].Replicas = nil }, "no replica could be promoted (0 known)"},
		{"VIP not held on the master's host", func(s *runtime.Status) {
			s.Masters[0].VIPHeld, s.Masters[0].VIPReason = false, "no lease"
		}, "not wanted here (no lease)"},
		{"VIP error", func(s *runtime.Status) { s.VIPs[0].Error = "netlink: permission denied" }, "VIP 198.18.0.100/24 on eth0: netlink"},
		{"firewall error", func(s *runtime.Status) { s.Firewall.Error = "nft: EPERM" }, "firewall: nft: EPERM"},
		{"firewall conflict", func(s *runtime.Status) { s.Firewall.Conflicts[0].Handled = false }, "firewall conflict: ip filter input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := healthyStatus()
			tt.edit(&st)
			h := assess(&st)
			if tt.reason == "" {
				if h.State != "healthy" || len(h.Reasons) != 0 || h.exitCode() != exitHealthy {
					t.Fatalf("%+v", h)
				}
				return
			}
			if h.State != "degraded" || h.exitCode() != exitDegraded || len(h.Reasons) != 1 || !strings.Contains(h.Reasons[0], tt.reason) {
				t.Fatalf("%+v, want one reason containing %q", h, tt.reason)
			}
		})
	}
	if c := (Health{State: "unreachable"}).exitCode(); c != exitUnreachable {
		t.Errorf("unreachable: exit %d", c)
	}
}

// TestStatusJSONSchema pins the field names of `status --json` to the ones
// docs/status-json.md documents: a rename breaks operators' scripts.
func TestStatusJSONSchema(t *testing.T) {
	st := healthyStatus()
	st.Masters[0].Paused, st.Masters[0].PausedUntil = true, "2027-01-15T09:00:00Z"
	st.Masters[0].Replicas[0].Rejected, st.Masters[0].Replicas[0].Unsynced = "x", true
	st.VIPs[0].Since, st.VIPs[0].Reason, st.VIPs[0].Error = "t", "r", "e"
	st.Firewall.Error, st.Firewall.Conflicts[0].Fix = "e", "f"
	b, err := json.Marshal(StatusDocument{Status: st, Health: assess(&st)})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"":          {"current_epoch", "firewall", "health", "masters", "myid", "state_saved", "tilt", "version", "vips"},
		"health":    {"reasons", "state"},
		"masters":   {"address", "agents_known", "agents_reachable", "config_epoch", "failover_state", "fence", "fenced", "has_vip", "local", "name", "odown", "paused", "paused_until", "replicas", "sdown", "vip_held"},
		"replicas":  {"address", "eligible", "lag_bytes", "offset", "priority", "rejected", "unsynced"},
		"vips":      {"address", "conflicts", "epoch", "error", "held", "interface", "master", "reason", "since"},
		"firewall":  {"conflicts", "error", "fenced", "mode", "open", "restores"},
		"conflicts": {"description", "fix", "handled"},
	}
	obj := func(v any) map[string]any {
		if a, ok := v.([]any); ok {
			v = a[0]
		}
		return v.(map[string]any)
	}
	m := obj(doc["masters"])
	objs := map[string]map[string]any{"": doc, "health": obj(doc["health"]), "masters": m, "replicas": obj(m["replicas"]),
		"vips": obj(doc["vips"]), "firewall": obj(doc["firewall"]), "conflicts": obj(obj(doc["firewall"])["conflicts"])}
	for name, keys := range want {
		var got []string
		for k := range objs[name] {
			got = append(got, k)
		}
		sort.Strings(got)
		// local_role and vip_reason are omitted when empty.
		got = slices.DeleteFunc(got, func(k string) bool { return k == "local_role" || k == "vip_reason" })
		if !reflect.DeepEqual(got, keys) {
			t.Errorf("%s fields:\n got %q\nwant %q", name, got, keys)
		}
	}
}
