package firewall

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/defaults"
)

// TableName is the name of the nftables table (family inet) that vipsentinel owns.
const TableName = "vipsentinel"

// Mode selects how the manager deals with other firewalls on the host.
type Mode int

const (
	// ModeOwn keeps every rule in vipsentinel's own table and only reports
	// foreign chains that would still drop the traffic (see Conflict).
	ModeOwn Mode = iota
	// ModeInject additionally inserts accept rules at the top of each
	// conflicting foreign input chain and removes exactly those rules on Close.
	ModeInject
)

// String returns the configuration spelling of m ("own" or "inject").
func (m Mode) String() string {
	switch m {
	case ModeOwn:
		return "own"
	case ModeInject:
		return "inject"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode parses the value of the firewall-mode directive: "own" (also
// "own-table") or "inject".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "own", "own-table":
		return ModeOwn, nil
	case "inject":
		return ModeInject, nil
	}
	return 0, fmt.Errorf("firewall-mode %q: want \"own\" or \"inject\"", s)
}

// Config is what the firewall is asked to do. It comes from the agent's
// configuration file (firewall-* directives).
type Config struct {
	// AgentPort is the TCP port of the agent's Sentinel-compatible API
	// (26379): its plain port, or its TLS port when it serves only TLS.
	AgentPort int
	// AgentTLSPort is the agent's TLS port when it serves its API on both
	// a plain and a TLS port (port and tls-port); 0 means none. It is opened
	// and analysed exactly like AgentPort.
	AgentTLSPort int
	// RedisPort is the TCP port of the local Redis server (6379).
	RedisPort int
	// Allow restricts the opened ports to these sources (firewall-allow).
	// Empty means any source. It only limits what vipsentinel opens: it never
	// closes anything, so on a host without another firewall every source can
	// connect anyway.
	Allow []netip.Prefix
	// Mode is firewall-mode.
	Mode Mode
	// KeepOnStop leaves the table (and injected rules) in place on Close
	// (firewall-keep-on-stop), so the ports stay open while the agent is down.
	KeepOnStop bool
	// Fence enables SetFenced (firewall-fence).
	Fence bool
}

// Validate reports the first problem with c, naming the directive.
func (c Config) Validate() error {
	ps := c.namedPorts()
	for i, p := range ps {
		if p.port < 1 || p.port > 65535 {
			return fmt.Errorf("firewall: %s %d out of range 1-65535", p.name, p.port)
		}
		for _, q := range ps[:i] {
			if q.port == p.port {
				return fmt.Errorf("firewall: %s and %s are both %d", q.name, p.name, p.port)
			}
		}
	}
	if c.Mode != ModeOwn && c.Mode != ModeInject {
		return fmt.Errorf("firewall: unknown %v", c.Mode)
	}
	for _, p := range c.Allow {
		if !p.IsValid() {
			return fmt.Errorf("firewall-allow: invalid prefix %v", p)
		}
		if p.Addr().Is4In6() {
			return fmt.Errorf("firewall-allow %v: IPv4-mapped IPv6 prefix; write it as an IPv4 prefix", p)
		}
		if p.Addr().Zone() != "" {
			return fmt.Errorf("firewall-allow %v: zones are not supported", p)
		}
	}
	return nil
}

// namedPort is an opened port with the name errors give it.
type namedPort struct {
	name string
	port int
}

// namedPorts returns the opened ports in the order of ports.
func (c Config) namedPorts() []namedPort {
	ps := []namedPort{{"agent port", c.AgentPort}}
	if c.AgentTLSPort != 0 {
		ps = append(ps, namedPort{"agent TLS port", c.AgentTLSPort})
	}
	return append(ps, namedPort{"redis port", c.RedisPort})
}

// ports returns the opened ports: the agent's (plain, then TLS), then
// Redis's. The conflict analysis indexes its flows by this order.
func (c Config) ports() []uint16 {
	var out []uint16
	for _, p := range c.namedPorts() {
		out = append(out, uint16(p.port))
	}
	return out
}

// openFlows returns the traffic the opened ports receive: every port over
// both address families without firewall-allow, else over the families
// present in it.
func (c Config) openFlows() flows {
	if len(c.Allow) == 0 {
		return portsFlows(len(c.ports()))
	}
	var f flows
	for _, p := range c.Allow {
		if p.Addr().Is4() {
			f |= v4Flows
		} else {
			f |= v6Flows
		}
	}
	return f & portsFlows(len(c.ports()))
}

// allowOf returns the firewall-allow prefixes of one family, masked.
func (c Config) allowOf(v6 bool) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.Allow {
		if p.Addr().Is6() == v6 {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Options are the process-level settings of a Manager; none of them changes
// what is filtered.
type Options struct {
	// NetNS is an open file descriptor of the network namespace to manage;
	// 0 means the caller's namespace. The caller keeps it open for the
	// Manager's lifetime.
	NetNS int
	// Logger receives warnings about conflicts and restores; nil discards.
	Logger *slog.Logger
	// ReconcileInterval is the period of the fallback full check in Run
	// (default 30s). Changes seen by the nftables monitor are handled at once.
	ReconcileInterval time.Duration
	// Timeout bounds every netlink request (default 5s).
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	o.ReconcileInterval = defaults.Positive(o.ReconcileInterval, 30*time.Second)
	o.Timeout = defaults.Positive(o.Timeout, 5*time.Second)
	return o
}

// sortedAddrs returns addrs unmapped, deduplicated and sorted.
func sortedAddrs(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IsValid() {
			out = append(out, a.Unmap().WithZone(""))
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}
