package firewall

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/nftables"
)

func TestValidate(t *testing.T) {
	ok := Config{AgentPort: 26379, RedisPort: 6379}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string // substring of the error, "" for none
	}{
		{"ok", func(*Config) {}, ""},
		{"ok allow", func(c *Config) {
			c.Allow = []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("fd00::/64")}
		}, ""},
		{"agent port zero", func(c *Config) { c.AgentPort = 0 }, "agent port 0 out of range"},
		{"redis port too big", func(c *Config) { c.RedisPort = 70000 }, "redis port 70000 out of range"},
		{"same ports", func(c *Config) { c.RedisPort = 26379 }, "agent port and redis port are both 26379"},
		{"ok TLS port", func(c *Config) { c.AgentTLSPort = 26380 }, ""},
		{"TLS port too big", func(c *Config) { c.AgentTLSPort = 65536 }, "agent TLS port 65536 out of range"},
		{"TLS port negative", func(c *Config) { c.AgentTLSPort = -1 }, "agent TLS port -1 out of range"},
		{"TLS port is the agent port", func(c *Config) { c.AgentTLSPort = 26379 }, "agent port and agent TLS port are both 26379"},
		{"TLS port is the redis port", func(c *Config) { c.AgentTLSPort = 6379 }, "agent TLS port and redis port are both 6379"},
		{"redis port is the agent port with TLS", func(c *Config) { c.AgentTLSPort, c.RedisPort = 26380, 26379 },
			"agent port and redis port are both 26379"},
		{"bad mode", func(c *Config) { c.Mode = 7 }, "unknown Mode(7)"},
		{"invalid prefix", func(c *Config) { c.Allow = []netip.Prefix{{}} }, "firewall-allow: invalid prefix"},
		{"mapped", func(c *Config) { c.Allow = []netip.Prefix{netip.MustParsePrefix("::ffff:198.18.0.1/128")} }, "IPv4-mapped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want error containing %q", err, tc.want)
			}
			if _, err := New(c, Options{}); err == nil {
				t.Fatalf("New accepted an invalid config")
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"own": ModeOwn, "own-table": ModeOwn, "inject": ModeInject} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMode("firewalld"); err == nil || !strings.Contains(err.Error(), `firewall-mode "firewalld"`) {
		t.Errorf("ParseMode(firewalld) error = %v", err)
	}
	if ModeInject.String() != "inject" || ModeOwn.String() != "own" {
		t.Errorf("String: %v %v", ModeOwn, ModeInject)
	}
}

func TestSetFencedDisabled(t *testing.T) {
	m, err := New(Config{AgentPort: 26379, RedisPort: 6379}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetFenced(true, nil); err != ErrFenceDisabled {
		t.Fatalf("SetFenced without firewall-fence = %v, want ErrFenceDisabled", err)
	}
}

func TestMergedRanges(t *testing.T) {
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, tc := range []struct {
		in   []netip.Prefix
		want string // rendered ranges
	}{
		{pp("198.18.0.7/24"), "198.18.0.0/24"},
		{pp("198.18.1.0/24", "198.18.0.0/24"), "198.18.0.0/23"},         // adjacent: merged
		{pp("198.18.0.0/16", "198.18.5.0/24"), "198.18.0.0/16"},         // contained
		{pp("198.18.0.1/32", "198.18.0.3/32"), "198.18.0.1 198.18.0.3"}, // disjoint
		{pp("198.18.0.1/32", "198.18.0.2/31"), "198.18.0.1-198.18.0.3"}, // range, not a prefix
		{pp("0.0.0.0/0"), "0.0.0.0/0"},                                  // reaches the top
		{pp("fd00::/64", "fd00:0:0:1::/64"), "fd00::/63"},               // IPv6
		{pp("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"},
	} {
		var got []string
		for _, r := range mergedRanges(tc.in) {
			got = append(got, renderRange(r.first, r.last))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("mergedRanges(%v) = %v, want %s", tc.in, got, tc.want)
		}
		// The set elements render back to the same ranges.
		s := setSpec{set: setOf(tc.in[0].Addr().Is6())}
		s.elems = intervalElements(tc.in)
		if got := strings.Join(renderElems(s.set, s.elems), " "); got != tc.want {
			t.Errorf("elements of %v render as %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestSortedAddrs(t *testing.T) {
	in := []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("::ffff:198.18.0.1"),
		netip.MustParseAddr("198.18.0.2"), {}, netip.MustParseAddr("fd00::1")}
	got := sortedAddrs(in)
	want := []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("fd00::1")}
	if len(got) != len(want) {
		t.Fatalf("sortedAddrs = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sortedAddrs = %v, want %v", got, want)
		}
	}
}

func setOf(v6 bool) *nftables.Set {
	return &nftables.Set{Name: "s", KeyType: addrType(v6), Interval: true}
}
