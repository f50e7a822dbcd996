package metrics

import (
	"context"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// TestCoreFromNode drives a real sentinel.Node (no I/O: its commands are
// never answered, so its master goes SDOWN) and exports it.
func TestCoreFromNode(t *testing.T) {
	if c := CoreFromNode(0, nil); c.CurrentEpoch != 0 || c.Masters != nil {
		t.Errorf("CoreFromNode(nil) = %+v", c)
	}

	mc := sentinel.MasterConfig{
		Name: "mymaster", Addr: sentinel.Addr{Host: "198.18.0.1", Port: 6379}, Quorum: 2,
		DownAfter: time.Second, HasVIP: true, Fence: true,
	}
	other := sentinel.MasterConfig{Name: "other", Addr: sentinel.Addr{Host: "198.18.0.9", Port: 6380}, Quorum: 2,
		DownAfter: time.Hour}
	st := &sentinel.HardState{
		MyID:         strings.Repeat("a", 40),
		CurrentEpoch: 7,
		Masters: []sentinel.MasterState{{
			Config:        mc,
			ConfigEpoch:   3,
			KnownReplicas: []sentinel.Addr{{Host: "198.18.0.2", Port: 6379}, {Host: "198.18.0.3", Port: 6379}},
			KnownSentinels: []sentinel.SentinelRecord{
				{Addr: sentinel.Addr{Host: "198.18.0.2", Port: 26379}, RunID: strings.Repeat("b", 40)},
				{Addr: sentinel.Addr{Host: "198.18.0.3", Port: 26379}, RunID: strings.Repeat("c", 40)},
			},
		}},
	}
	n, err := sentinel.New(sentinel.Config{
		LocalIPs: []string{"198.18.0.1"},
		Masters:  []sentinel.MasterConfig{mc, other},
		Rand:     rand.New(rand.NewSource(1)),
	}, st)
	if err != nil {
		t.Fatal(err)
	}

	// The node's event stream goes through ObserveEvent as the runtime
	// would send it.
	start := time.Unix(1700000000, 0)
	var now sentinel.Time
	m := New(Options{Core: CoreFunc(func(context.Context) (Core, error) { return CoreFromNode(now, n), nil })})
	sdown := false
	for now = 0; now <= 10*time.Second && !sdown; now += 10 * time.Millisecond {
		n.Step(now, sentinel.Tick{})
		for _, e := range n.Ready().Events {
			m.ObserveEvent(start.Add(now), e)
		}
		for _, s := range n.Status(now) {
			sdown = sdown || (s.Name == "mymaster" && s.SDown)
		}
	}
	if !sdown {
		t.Fatal("the master never went SDOWN")
	}

	c := CoreFromNode(now, n)
	if c.CurrentEpoch != 7 || c.Tilt || len(c.Masters) != 2 {
		t.Fatalf("core %+v", c)
	}
	got := c.Masters[0]
	// The master never answered INFO: no replica lag is known. Both peers
	// are known from the state, never heard from.
	if got.Replicas != nil {
		t.Errorf("replicas without a master INFO: %+v", got.Replicas)
	}
	if len(got.Peers) != 2 || got.Peers[0].Addr != "198.18.0.2:26379" || got.Peers[1].Addr != "198.18.0.3:26379" {
		t.Errorf("peers %+v", got.Peers)
	}
	got.Peers = nil
	want := Master{Name: "mymaster", ConfigEpoch: 3, FailoverState: "none", SDown: true,
		KnownReplicas: 2, KnownSentinels: 2, AgentsReachable: got.AgentsReachable, AgentsKnown: 3,
		HasVIP: true, VIPWanted: false, Fenced: got.Fenced, Local: true, Host: "198.18.0.1", Port: 6379}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mymaster:\n got  %+v\n want %+v", got, want)
	}
	if o := c.Masters[1]; o.Name != "other" || o.SDown || o.HasVIP || o.Local || o.KnownReplicas != 0 {
		t.Errorf("other: %+v", o)
	}

	exp := `
# HELP vipsentinel_master_sdown 1 while this agent sees the master subjectively down (SDOWN).
# TYPE vipsentinel_master_sdown gauge
vipsentinel_master_sdown{master="mymaster"} 1
vipsentinel_master_sdown{master="other"} 0
# HELP vipsentinel_master_known_replicas Replicas known for the master.
# TYPE vipsentinel_master_known_replicas gauge
vipsentinel_master_known_replicas{master="mymaster"} 2
vipsentinel_master_known_replicas{master="other"} 0
# HELP vipsentinel_master_vip_wanted 1 while the core wants this agent to hold the master's floating IP (masters with a vip directive only).
# TYPE vipsentinel_master_vip_wanted gauge
vipsentinel_master_vip_wanted{master="mymaster"} 0
# HELP vipsentinel_current_epoch The agent's current epoch (Sentinel's current-epoch).
# TYPE vipsentinel_current_epoch gauge
vipsentinel_current_epoch 7
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(exp), "vipsentinel_master_sdown",
		"vipsentinel_master_known_replicas", "vipsentinel_master_vip_wanted", "vipsentinel_current_epoch"); err != nil {
		t.Error(err)
	}
	if v := testutil.ToFloat64(m.events.WithLabelValues("+sdown")); v < 1 {
		t.Errorf("+sdown counted %v times, want >= 1", v)
	}
}
