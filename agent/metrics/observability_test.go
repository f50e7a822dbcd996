package metrics

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// TestOperatorMetrics covers the series an operator alerts on besides the
// core's state: the master's address, replica lag, peer hello age, state
// and script failures.
func TestOperatorMetrics(t *testing.T) {
	core := Core{Masters: []Master{{
		Name: "mymaster", FailoverState: "none", Host: "198.18.0.1", Port: 6379,
		Replicas: []Replica{
			{Addr: "198.18.0.2:6379", State: "online", LagBytes: 0},
			{Addr: "198.18.0.3:6379", State: "send_bulk", LagBytes: 1500},
			{Addr: "198.18.0.3:6379", State: "online", LagBytes: 9}, // a duplicate is dropped
		},
		Peers: []Peer{{Addr: "198.18.0.2:26379", HelloAge: 1500 * time.Millisecond}},
	}}}
	m := New(Options{Core: &fakeCore{c: core}, Faults: fakeFaults{StateSaveFailures: 3}})
	m.ObserveEvent(t0, sentinel.Event{Type: "-script-error", Master: "mymaster", Payload: "/x 0 1"})
	m.ObserveEvent(t0, sentinel.Event{Type: "-script-error", Master: "mymaster", Payload: "/x 0 1"})
	m.ObserveEvent(t0, sentinel.Event{Type: "-script-timeout", Master: "mymaster", Payload: "/x 42"})

	exp := `
# HELP vipsentinel_master_address_info Always 1; the ip and port labels are the master's current address (the promoted replica's once a failover reaches reconf_slaves).
# TYPE vipsentinel_master_address_info gauge
vipsentinel_master_address_info{ip="198.18.0.1",master="mymaster",port="6379"} 1
# HELP vipsentinel_replica_lag_bytes Bytes of replication stream the replica has not acknowledged: the master's master_repl_offset minus the replica's offset, both from the master's latest INFO (missing while that INFO is unknown).
# TYPE vipsentinel_replica_lag_bytes gauge
vipsentinel_replica_lag_bytes{master="mymaster",replica="198.18.0.2:6379"} 0
vipsentinel_replica_lag_bytes{master="mymaster",replica="198.18.0.3:6379"} 1500
# HELP vipsentinel_replica_online 1 while the master's latest INFO shows the replica online (state=online), 0 while it syncs or waits.
# TYPE vipsentinel_replica_online gauge
vipsentinel_replica_online{master="mymaster",replica="198.18.0.2:6379"} 1
vipsentinel_replica_online{master="mymaster",replica="198.18.0.3:6379"} 0
# HELP vipsentinel_peer_hello_age_seconds Seconds since the last hello from another agent known for the master (SENTINEL SENTINELS' last-hello-message).
# TYPE vipsentinel_peer_hello_age_seconds gauge
vipsentinel_peer_hello_age_seconds{master="mymaster",peer="198.18.0.2:26379"} 1.5
# HELP vipsentinel_state_save_failures_total Failed writes of the state file; while writes fail the agent holds commands, replies and VIP changes, and stops once they have failed for too long.
# TYPE vipsentinel_state_save_failures_total counter
vipsentinel_state_save_failures_total 3
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(exp), "vipsentinel_master_address_info",
		"vipsentinel_replica_lag_bytes", "vipsentinel_replica_online", "vipsentinel_peer_hello_age_seconds",
		"vipsentinel_state_save_failures_total"); err != nil {
		t.Error(err)
	}
	if v := testutil.ToFloat64(m.scripts.WithLabelValues("error")); v != 2 {
		t.Errorf("script failures (error) = %v, want 2", v)
	}
	if v := testutil.ToFloat64(m.scripts.WithLabelValues("timeout")); v != 1 {
		t.Errorf("script failures (timeout) = %v, want 1", v)
	}
	// Both reasons exist before any failure, so that an alert on an
	// increase fires at the first one.
	fresh := New(Options{})
	if n := testutil.CollectAndCount(fresh.scripts); n != 2 {
		t.Errorf("a new Metrics has %d script failure series, want 2", n)
	}
}

// TestReplicasFromInfo reads replica lag from a master's INFO as Redis
// writes it.
func TestReplicasFromInfo(t *testing.T) {
	info := "# Replication\r\nrole:master\r\nconnected_slaves:2\r\n" +
		"slave0:ip=198.18.0.2,port=6379,state=online,offset=1000,lag=0\r\n" +
		"slave1:ip=198.18.0.3,port=6380,state=wait_bgsave,offset=0,lag=1\r\n" +
		"master_repl_offset:1200\r\n"
	got := replicasFromInfo([]sentinel.InfoCacheEntry{{Master: "m", Items: []sentinel.CachedInfo{{Info: info, Has: true}}}})
	want := []Replica{{Addr: "198.18.0.2:6379", State: "online", LagBytes: 200}, {Addr: "198.18.0.3:6380", State: "wait_bgsave", LagBytes: 1200}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("replica %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	for name, cache := range map[string][]sentinel.InfoCacheEntry{
		"no entry":      nil,
		"no INFO yet":   {{Master: "m", Items: []sentinel.CachedInfo{{}}}},
		"no items":      {{Master: "m"}},
		"unparseable":   {{Master: "m", Items: []sentinel.CachedInfo{{Info: strings.Repeat("x", 10), Has: true}}}},
		"two masters??": {{Master: "a"}, {Master: "b"}},
	} {
		if r := replicasFromInfo(cache); len(r) != 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}
}

func TestRoleEndpoints(t *testing.T) {
	master := Master{Name: "m1", Local: true, LocalRole: "master"}
	replica := Master{Name: "m2", LocalReplica: true}
	tests := []struct {
		name string
		core *fakeCore
		path string
		code int
		body string
	}{
		{"master here", &fakeCore{c: Core{Masters: []Master{master}}}, "/master", 200, "m1: master"},
		{"master asked on replica", &fakeCore{c: Core{Masters: []Master{replica}}}, "/master", 503, "the master is on another host"},
		{"replica here", &fakeCore{c: Core{Masters: []Master{replica}}}, "/replica", 200, "m2: replica"},
		{"replica asked on master", &fakeCore{c: Core{Masters: []Master{master}}}, "/replica", 503, "the master is on this host"},
		{"any of two masters", &fakeCore{c: Core{Masters: []Master{master, replica}}}, "/replica", 200, "m2: replica"},
		{"named master", &fakeCore{c: Core{Masters: []Master{master, replica}}}, "/replica?master=m1", 503, "m1: not replica"},
		{"unknown master", &fakeCore{c: Core{Masters: []Master{master}}}, "/master?master=nope", 404, `no master named "nope"`},
		{"no masters", &fakeCore{}, "/master", 503, "no master is monitored"},
		{"demoted, not yet seen", &fakeCore{c: Core{Masters: []Master{{Name: "m1", Local: true, LocalRole: "slave"}}}}, "/master", 503, `reports role "slave"`},
		{"local master down", &fakeCore{c: Core{Masters: []Master{{Name: "m1", Local: true, LocalRole: "master", SDown: true}}}}, "/master", 503, "down"},
		{"fenced", &fakeCore{c: Core{Masters: []Master{{Name: "m1", Local: true, LocalRole: "master", Fenced: true}}}}, "/master", 503, "fenced"},
		{"replica link down", &fakeCore{c: Core{Masters: []Master{{Name: "m2"}}}}, "/replica", 503, "link to the master up"},
		{"tilt", &fakeCore{c: Core{Tilt: true, Masters: []Master{master}}}, "/master", 503, "TILT"},
		{"core stuck", &fakeCore{block: true}, "/master", 503, "did not answer"},
		{"core panics", &fakeCore{panic: true}, "/replica", 503, "did not answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{Core: tt.core, CoreTimeout: 50 * time.Millisecond})
			code, body := get(t, http.MethodGet, ServeForTest(t, m)+tt.path)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("GET %s: %d %q, want %d with %q", tt.path, code, body, tt.code, tt.body)
			}
		})
	}
	// Without a core the checks fail rather than guess.
	code, _ := get(t, http.MethodGet, ServeForTest(t, New(Options{}))+"/master")
	if code != http.StatusServiceUnavailable {
		t.Errorf("no core: %d", code)
	}
}
