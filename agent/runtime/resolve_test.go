package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestHostnamesCache checks what the runtime feeds the core for a name:
// the first answer, "" for none, and a change only when the answer changes.
func TestHostnamesCache(t *testing.T) {
	answers := map[string][]netip.Addr{"a.test": {netip.MustParseAddr("::ffff:198.18.0.1"), netip.MustParseAddr("198.18.0.2")}}
	h := newHostnames()
	h.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		if a, ok := answers[strings.ToLower(host)]; ok { // names are case-insensitive
			return a, nil
		}
		return nil, errors.New("no such host")
	}
	steps := []struct {
		host, wantIP string
		wantChanged  bool
	}{
		{"a.test", "198.18.0.1", true}, // first answer, unmapped
		{"A.TEST", "198.18.0.1", false},
		{"b.test", "", true}, // does not resolve: "" is fed once
		{"b.test", "", false},
	}
	for _, s := range steps {
		known := h.known(s.host)
		ip := h.resolve(s.host)
		if ip != s.wantIP {
			t.Errorf("resolve(%s) = %q, want %q", s.host, ip, s.wantIP)
		}
		if changed := h.changed(s.host, ip); changed != s.wantChanged {
			t.Errorf("changed(%s, %q) = %v, want %v (known before: %v)", s.host, ip, changed, s.wantChanged, known)
		}
	}
	answers["a.test"] = []netip.Addr{netip.MustParseAddr("198.18.0.9")}
	if ip := h.resolve("a.test"); !h.changed("a.test", ip) || ip != "198.18.0.9" {
		t.Errorf("a new answer for a.test (%q) is not a change", ip)
	}
}

// TestHostnamesBounded: names carried by inputs (hellos anyone may publish)
// hold the loop at most blockBudget per blockWindow, however many there
// are and however slow the resolver; and the background pass forgets the
// names the core does not keep, so the cache does not grow with them.
func TestHostnamesBounded(t *testing.T) {
	clock := testenv.NewClock()
	h := newHostnames()
	lookups := 0
	h.lookup = func(context.Context, string) ([]netip.Addr, error) {
		lookups++
		clock.Advance(resolveTimeout) // a resolver that never answers
		return nil, context.DeadlineExceeded
	}
	var blocked time.Duration
	for i := range 1000 {
		start := clock.Now()
		if !h.mayBlock(start) {
			continue
		}
		h.changed(fmt.Sprintf("hostile-%d.test", i), h.resolve(fmt.Sprintf("hostile-%d.test", i)))
		h.blocked(clock.Now().Sub(start))
		blocked += clock.Now().Sub(start)
	}
	if want := blockBudget; blocked > want || lookups != int(blockBudget/resolveTimeout) {
		t.Errorf("1000 names: %d lookups blocked the loop %v in one window, want at most %v", lookups, blocked, want)
	}
	clock.Advance(blockWindow)
	if !h.mayBlock(clock.Now()) {
		t.Error("no budget in the next window")
	}
	h.changed("kept.test", "198.18.0.1")
	dropped := h.retain([]string{"KEPT.test"})
	if len(dropped) != lookups || !h.known("kept.test") || h.known("hostile-0.test") {
		t.Errorf("retain dropped %d names (want %d), kept.test known %v, hostile-0.test known %v",
			len(dropped), lookups, h.known("kept.test"), h.known("hostile-0.test"))
	}
}
