package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/metrics"
	"github.com/vipsentinel/vipsentinel/agent/runtime"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestHandoverEventsCounted checks that the +handover/-handover events the
// agent emits are counted by vipsentinel_handovers_total under the kinds
// the handover file uses.
func TestHandoverEventsCounted(t *testing.T) {
	m := metrics.New(metrics.Options{})
	for _, kind := range []string{runtime.HandoverReexec, runtime.HandoverRestart} {
		m.ObserveEvent(time.Now(), handoverEvent(true, kind, "mymaster", "adopted"))
		m.ObserveEvent(time.Now(), handoverEvent(false, kind, "", "failed: x"))
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "vipsentinel_handovers_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			key := ""
			for _, l := range s.GetLabel() {
				key += l.GetName() + "=" + l.GetValue() + " "
			}
			got[key] = s.GetCounter().GetValue()
		}
	}
	for _, key := range []string{"kind=reexec result=adopted ", "kind=reexec result=failed ",
		"kind=restart result=adopted ", "kind=restart result=failed "} {
		if got[key] != 1 {
			t.Errorf("vipsentinel_handovers_total{%s} = %v, want 1 (all: %v)", key, got[key], got)
		}
	}
}

// TestSuccessorExpires checks that a received handover stops counting as
// unadopted at its first deadline (its VIPs are removed then), and that
// adoption before the deadline keeps them.
func TestSuccessorExpires(t *testing.T) {
	id, err := runtime.BootID()
	if err != nil {
		t.Fatal(err)
	}
	write := func(left time.Duration) string {
		p := runtime.HandoverPath(t.TempDir())
		// 198.18.0.0/15 addresses that no interface holds: removal finds
		// nothing to delete.
		h := runtime.Handover{BootID: id, Kind: runtime.HandoverRestart, Leases: []runtime.HandoverLease{
			{Master: "m", Host: "198.18.0.1", Port: 6379, Until: runtime.BootTime() + int64(left), VIPs: []string{"198.18.0.250"}},
		}}
		if err := runtime.SaveHandover(p, h); err != nil {
			t.Fatal(err)
		}
		return p
	}
	log := slog.New(slog.DiscardHandler)

	s := takeHandover(write(50*time.Millisecond), log)
	if s.kind != runtime.HandoverRestart || len(s.leases) != 1 {
		t.Fatalf("took %+v", s)
	}
	testenv.Eventually(t, 10*time.Second, "the unadopted handover to be released at its deadline", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		return testenv.Pending(s.adopted, "not yet")
	})

	p := write(time.Hour)
	s = takeHandover(p, log)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("handover file %s still there after it was taken", filepath.Base(p))
	}
	s.adopt()
	if s.expire.Stop() {
		t.Errorf("the deadline timer still ran after adoption")
	}
}
