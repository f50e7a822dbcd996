package runtime

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

func TestHandoverFile(t *testing.T) {
	dir := t.TempDir()
	path := HandoverPath(dir)
	if got, err := TakeHandover(path); err != nil || got.Leases != nil || got.Kind != "" {
		t.Fatalf("no file: %v, %v; want nothing", got, err)
	}
	id, err := BootID()
	if err != nil {
		t.Fatal(err)
	}
	now := BootTime()
	h := Handover{BootID: id, PID: 1, Kind: HandoverRestart, Leases: []HandoverLease{
		{Master: "a", Host: "198.18.0.1", Port: 6379, Epoch: 3, Until: now + int64(time.Second), VIPs: []string{"198.18.0.100"}},
		{Master: "b", Host: "198.18.0.2", Port: 6379, Until: now - 1},
	}}
	if err := SaveHandover(path, h); err != nil {
		t.Fatal(err)
	}
	got, err := TakeHandover(path)
	if err != nil || got.KindOrDefault() != HandoverRestart || !slices.EqualFunc(got.Leases, h.Leases, func(a, b HandoverLease) bool {
		return a.Master == b.Master && a.Until == b.Until && slices.Equal(a.VIPs, b.VIPs)
	}) {
		t.Fatalf("took %+v, %v; want %+v", got, err, h.Leases)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the handover file is still there after it was taken: %v", err)
	}
	// Another boot's file, or garbage, is removed and ignored.
	for name, content := range map[string]string{
		"other boot": `{"boot_id":"not-this-boot","kind":"restart","leases":[{"master":"a","until_boottime_ns":1}]}`,
		"garbage":    "{",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := TakeHandover(path); err == nil || got.Leases != nil {
			t.Errorf("%s: took %+v, %v; want an error", name, got, err)
		}
		if _, err := os.Stat(filepath.Join(dir, HandoverFile)); !os.IsNotExist(err) {
			t.Errorf("%s: file not removed", name)
		}
	}
}

type recordSetter struct {
	mu  sync.Mutex
	got [][]sentinel.VIPIntent
}

func (r *recordSetter) Set(in []sentinel.VIPIntent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, slices.Clone(in))
}

func (r *recordSetter) last() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	if len(r.got) == 0 {
		return nil
	}
	for _, in := range r.got[len(r.got)-1] {
		out[in.Master] = in.Own
	}
	return out
}

// TestAdopter: an inherited lease keeps its master's VIP owned until the
// core claims it (then the core's intents rule, also to release) or until
// the lease ends; a master without a lease follows the core at once.
func TestAdopter(t *testing.T) {
	var clock int64 = 1000
	rec := &recordSetter{}
	a := newAdopter(rec, []HandoverLease{
		{Master: "a", Until: 2000},
		{Master: "b", Until: 3000},
		{Master: "over", Until: 1000},
	}, nil, func() int64 { return clock })
	if got := a.Adopted(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("adopted %v, want a b (a lease already over is not)", got)
	}
	a.Set(nil)
	if got := rec.last(); !got["a"] || !got["b"] || len(got) != 2 {
		t.Fatalf("before the core's intents: %v, want a and b owned", got)
	}
	core := []sentinel.VIPIntent{{Master: "a"}, {Master: "b"}, {Master: "c"}}
	a.Set(core)
	if got := rec.last(); !got["a"] || !got["b"] || got["c"] {
		t.Fatalf("core wants none: %v, want a and b kept on their leases, c not owned", got)
	}
	// The core claims a: from then on a follows the core, also to release.
	a.Set([]sentinel.VIPIntent{{Master: "a", Own: true}, {Master: "b"}, {Master: "c"}})
	a.Set(core)
	if got := rec.last(); got["a"] || !got["b"] {
		t.Fatalf("after the core claimed and released a: %v, want a released, b kept", got)
	}
	// b's lease ends: released at the next intents.
	clock = 3000
	a.Set(core)
	if got := rec.last(); got["b"] {
		t.Fatalf("after b's lease ended: %v, want b released", got)
	}
	if got := a.Adopted(); len(got) != 0 {
		t.Errorf("still adopted: %v", got)
	}
}

// TestAdopterRunReleasesAtDeadline: without new intents, Run applies the
// core's last intents when the inherited lease ends.
func TestAdopterRunReleasesAtDeadline(t *testing.T) {
	rec := &recordSetter{}
	until := BootTime() + int64(50*time.Millisecond)
	a := NewAdopter(rec, []HandoverLease{{Master: "a", Until: until}}, nil)
	a.Set([]sentinel.VIPIntent{{Master: "a", Reason: "waiting"}})
	if !rec.last()["a"] {
		t.Fatal("not owned on the inherited lease")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Run did not return after the lease ended")
	}
	if BootTime() < until {
		t.Error("released before the deadline")
	}
	if got := rec.last(); got["a"] {
		t.Errorf("after the deadline: %v, want a released", got)
	}
}
