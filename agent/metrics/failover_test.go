package metrics

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// ev is one synthetic event at a time offset.
type ev struct {
	at     time.Duration
	typ    string
	master string
}

func TestFailoverTracker(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		window time.Duration
		events []ev
		want   []string // "master=duration" for each observation, in order
	}{
		{
			name: "leader: try, elected, failover-end, switch-master",
			events: []ev{
				{0, "+sdown", "m"}, {1 * time.Second, "+odown", "m"},
				{1010 * time.Millisecond, "+try-failover", "m"},
				{1030 * time.Millisecond, "+elected-leader", "m"},
				{1200 * time.Millisecond, "+failover-end", "m"},
				{1201 * time.Millisecond, "+switch-master", "m"},
			},
			want: []string{"m=190ms"},
		},
		{
			name: "lost elections, then a peer's switch-master through hellos",
			events: []ev{
				{0, "+try-failover", "m"},
				{100 * time.Millisecond, "-failover-abort-not-elected", "m"},
				{300 * time.Millisecond, "+try-failover", "m"},
				{400 * time.Millisecond, "-failover-abort-not-elected", "m"},
				{2 * time.Second, "+switch-master", "m"},
			},
			want: []string{"m=2s"},
		},
		{
			name: "elected-leader alone starts the clock",
			events: []ev{
				{time.Second, "+elected-leader", "m"},
				{3 * time.Second, "+switch-master", "m"},
			},
			want: []string{"m=2s"},
		},
		{
			name: "failover-end-for-timeout ends it once",
			events: []ev{
				{0, "+try-failover", "m"},
				{3 * time.Minute, "+failover-end-for-timeout", "m"},
				{3 * time.Minute, "+failover-end", "m"},
				{3*time.Minute + time.Millisecond, "+switch-master", "m"},
			},
			want: []string{"m=3m0s"},
		},
		{
			name: "switch-master without an attempt of ours is not timed",
			events: []ev{
				{0, "+sdown", "m"},
				{time.Second, "+switch-master", "m"},
			},
		},
		{
			name: "abandoned attempts are dropped",
			events: []ev{
				{0, "+try-failover", "m"}, {time.Second, "-failover-abort-no-good-slave", "m"},
				{10 * time.Second, "+switch-master", "m"},
				{20 * time.Second, "+try-failover", "m"}, {21 * time.Second, "-failover-abort-slave-timeout", "m"},
				{22 * time.Second, "+failover-end", "m"},
				{30 * time.Second, "+try-failover", "m"}, {31 * time.Second, "-monitor", "m"},
				{32 * time.Second, "+switch-master", "m"},
				{33 * time.Second, "+try-failover", "m"}, {33500 * time.Millisecond, "-failover-abort-replica-lagging", "m"},
				{34 * time.Second, "+switch-master", "m"},
				{35 * time.Second, "+try-failover", "m"}, {35 * time.Second, "-failover-abort-pause-failed", "m"},
				{36 * time.Second, "+failover-end", "m"},
				{40 * time.Second, "+try-failover", "m"}, {40500 * time.Millisecond, "+switch-master", "m"},
			},
			want: []string{"m=500ms"},
		},
		{
			name:   "an attempt older than the window is not paired",
			window: time.Minute,
			events: []ev{
				{0, "+try-failover", "m"},
				{2 * time.Minute, "+switch-master", "m"},
				{3 * time.Minute, "+try-failover", "m"},
				{5 * time.Minute, "+try-failover", "m"}, // the stale start is replaced
				{5*time.Minute + 250*time.Millisecond, "+switch-master", "m"},
			},
			want: []string{"m=250ms"},
		},
		{
			name: "masters are independent",
			events: []ev{
				{0, "+try-failover", "a"},
				{100 * time.Millisecond, "+try-failover", "b"},
				{300 * time.Millisecond, "+switch-master", "b"},
				{time.Second, "+switch-master", "a"},
			},
			want: []string{"b=200ms", "a=1s"},
		},
		{
			name: "events without a master or with time going backwards",
			events: []ev{
				{0, "+try-failover", ""},
				{time.Second, "+switch-master", ""},
				{10 * time.Second, "+try-failover", "m"},
				{5 * time.Second, "+switch-master", "m"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := tt.window
			if w == 0 {
				w = DefaultFailoverWindow
			}
			tr := newFailoverTracker(w)
			var got []string
			for _, e := range tt.events {
				if d, ok := tr.observe(base.Add(e.at), sentinel.Event{Type: e.typ, Master: e.master}); ok {
					got = append(got, fmt.Sprintf("%s=%v", e.master, d))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("observations %v, want %v", got, tt.want)
			}
		})
	}
}

// TestObserveEvent feeds a synthetic event sequence and checks the exported
// counters and histogram.
func TestObserveEvent(t *testing.T) {
	m := New(Options{})
	base := time.Unix(1700000000, 0)
	seq := []ev{
		{0, "+sdown", "mymaster"},
		{900 * time.Millisecond, "+odown", "mymaster"},
		{910 * time.Millisecond, "+new-epoch", "mymaster"},
		{910 * time.Millisecond, "+try-failover", "mymaster"},
		{920 * time.Millisecond, "+vote-for-leader", "mymaster"},
		{950 * time.Millisecond, "+elected-leader", "mymaster"},
		{1060 * time.Millisecond, "+failover-end", "mymaster"},
		{1060 * time.Millisecond, "+switch-master", "mymaster"},
		{1070 * time.Millisecond, "+vip-released", "mymaster"},
		// A second failover, slower.
		{time.Minute, "+try-failover", "mymaster"},
		{time.Minute + 3*time.Second, "+switch-master", "mymaster"},
		{time.Minute + 4*time.Second, "", ""},
	}
	for _, e := range seq {
		m.ObserveEvent(base.Add(e.at), sentinel.Event{Type: e.typ, Master: e.master})
	}
	want := `
# HELP vipsentinel_failover_duration_seconds Time from this agent's first +try-failover or +elected-leader for a master to the +switch-master or +failover-end that completed the failover.
# TYPE vipsentinel_failover_duration_seconds histogram
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="0.05"} 0
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="0.1"} 0
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="0.25"} 1
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="0.5"} 1
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="1"} 1
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="2.5"} 1
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="5"} 2
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="10"} 2
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="30"} 2
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="60"} 2
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="180"} 2
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="600"} 2
vipsentinel_failover_duration_seconds_bucket{master="mymaster",le="+Inf"} 2
vipsentinel_failover_duration_seconds_sum{master="mymaster"} 3.15
vipsentinel_failover_duration_seconds_count{master="mymaster"} 2
# HELP vipsentinel_events_total Events emitted by the agent (Sentinel's +sdown, +switch-master, ... and vipsentinel's +vip-acquired, +fence, ...), by type.
# TYPE vipsentinel_events_total counter
vipsentinel_events_total{type="+elected-leader"} 1
vipsentinel_events_total{type="+failover-end"} 1
vipsentinel_events_total{type="+fence"} 0
vipsentinel_events_total{type="+new-epoch"} 1
vipsentinel_events_total{type="+odown"} 1
vipsentinel_events_total{type="+quorum-lost"} 0
vipsentinel_events_total{type="+sdown"} 1
vipsentinel_events_total{type="+switch-master"} 2
vipsentinel_events_total{type="+tilt"} 0
vipsentinel_events_total{type="+try-failover"} 2
vipsentinel_events_total{type="+vip-acquired"} 0
vipsentinel_events_total{type="+vip-conflict"} 0
vipsentinel_events_total{type="+vip-released"} 1
vipsentinel_events_total{type="+vote-for-leader"} 1
vipsentinel_events_total{type="unknown"} 1
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want),
		"vipsentinel_failover_duration_seconds", "vipsentinel_events_total"); err != nil {
		t.Error(err)
	}
}

// TestEventTypesBounded checks that a flood of distinct event types cannot
// grow the label set without bound.
func TestEventTypesBounded(t *testing.T) {
	m := New(Options{})
	for i := range 2 * maxEventTypes {
		m.ObserveEvent(time.Now(), sentinel.Event{Type: fmt.Sprintf("+t%d", i)})
	}
	m.ObserveEvent(time.Now(), sentinel.Event{Type: "+sdown"}) // known before the flood
	if n := testutil.CollectAndCount(m.events); n != maxEventTypes+1 {
		t.Errorf("%d event series, want %d (the bound plus \"other\")", n, maxEventTypes+1)
	}
	if v := testutil.ToFloat64(m.events.WithLabelValues("other")); v != maxEventTypes+11 {
		// 11 types were pre-created, so 2*256-(256-11) fell into "other".
		t.Errorf("other = %v, want %v", v, maxEventTypes+11)
	}
	if v := testutil.ToFloat64(m.events.WithLabelValues("+sdown")); v != 1 {
		t.Errorf("+sdown = %v after the flood, want 1", v)
	}
}

// TestObserveEventNil checks that a nil *Metrics (metrics off) accepts
// events: the runtime calls ObserveEvent without checking.
func TestObserveEventNil(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("ObserveEvent on a nil *Metrics panicked: %v", r)
		}
	}()
	var m *Metrics
	m.ObserveEvent(time.Now(), sentinel.Event{Type: "+try-failover", Master: "m"})
}

// BenchmarkObserveEvent measures the cost the runtime pays per event.
func BenchmarkObserveEvent(b *testing.B) {
	m := New(Options{})
	at := time.Unix(1700000000, 0)
	types := []string{"+sdown", "+odown", "+try-failover", "+elected-leader", "+failover-end", "+switch-master"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.ObserveEvent(at.Add(time.Duration(i)*time.Millisecond), sentinel.Event{Type: types[i%len(types)], Master: "mymaster"})
	}
}

// TestHandoverCounter checks that +handover and -handover events count by
// the kind their payload starts with, and that an unknown kind cannot add
// series beyond "other".
func TestHandoverCounter(t *testing.T) {
	m := New(Options{})
	for _, e := range []sentinel.Event{
		{Type: "+handover", Payload: "restart mymaster adopted"},
		{Type: "+handover", Payload: "restart other adopted"},
		{Type: "-handover", Payload: "reexec * failed: no executable"},
		{Type: "+handover", Payload: "bogus x"},
		{Type: "-handover", Payload: ""},
	} {
		m.ObserveEvent(time.Now(), e)
	}
	for _, c := range []struct {
		kind, result string
		want         float64
	}{
		{"restart", "adopted", 2}, {"restart", "failed", 0}, {"reexec", "adopted", 0}, {"reexec", "failed", 1},
		{"other", "adopted", 1}, {"other", "failed", 1},
	} {
		if v := testutil.ToFloat64(m.handover.WithLabelValues(c.kind, c.result)); v != c.want {
			t.Errorf("handovers{kind=%q,result=%q} = %v, want %v", c.kind, c.result, v, c.want)
		}
	}
}
