package runtime

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
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
