package vip

import (
	"fmt"
	"net/netip"
	"time"
)

// Locktime is the kernel's default neigh/*/locktime. A Linux neighbour
// ignores an ARP update that is not recognised as gratuitous if it arrives
// within locktime of the entry's previous update; the kernel compares with
// time_after, so an update exactly one locktime later is still ignored.
const Locktime = time.Second

// pastLocktime is when the announcement schedule guarantees one round lands
// strictly after Locktime, with margin for jiffies and scheduling (MetalLB's
// 1.1 s).
const pastLocktime = 1100 * time.Millisecond

// GARPConfig says how a VIP is announced after it is acquired: Count rounds,
// Interval apart, the first immediately. A round is an ARP request and an ARP
// reply for an IPv4 VIP, or one unsolicited neighbour advertisement for an
// IPv6 VIP. If all Count rounds fall within Locktime, one more round is sent
// at 1.1 s so that at least one lands past it. Refresh, if non-zero, repeats
// one round that often for as long as the VIP is held (keeps switch FDBs and
// quiet neighbours from ageing the VIP out).
type GARPConfig struct {
	Count    int
	Interval time.Duration
	Refresh  time.Duration
}

// DefaultGARP is used when Config.GARP is nil: 5 rounds 1 s apart, no
// periodic refresh (the defaults of "sentinel vip-garp"). The first round
// leaves at acquisition; both its shapes bypass locktime on Linux. Any update
// a receiver made before the acquisition is more than a locktime older than
// the second round, so that one lands past locktime even for receivers that
// do not recognise our packets as gratuitous.
func DefaultGARP() GARPConfig {
	return GARPConfig{Count: 5, Interval: time.Second}
}

// Limits for GARPConfig, chosen to reject typos (milliseconds given as
// seconds and vice versa) rather than to police taste.
const (
	maxGARPCount    = 100
	minGARPInterval = 10 * time.Millisecond
	maxGARPInterval = time.Minute
	minGARPRefresh  = time.Second
	maxGARPRefresh  = 24 * time.Hour
)

// Validate reports whether g is usable, naming the offending field.
func (g GARPConfig) Validate() error {
	if g.Count < 0 || g.Count > maxGARPCount {
		return fmt.Errorf("garp count %d out of range 0..%d", g.Count, maxGARPCount)
	}
	if g.Count > 1 && (g.Interval < minGARPInterval || g.Interval > maxGARPInterval) {
		return fmt.Errorf("garp interval %v out of range %v..%v", g.Interval, minGARPInterval, maxGARPInterval)
	}
	if g.Refresh != 0 && (g.Refresh < minGARPRefresh || g.Refresh > maxGARPRefresh) {
		return fmt.Errorf("garp refresh %v out of range %v..%v (or 0 to disable)", g.Refresh, minGARPRefresh, maxGARPRefresh)
	}
	return nil
}

// schedule returns the offsets from acquisition at which announcement rounds
// are sent. The first is always 0.
func (g GARPConfig) schedule() []time.Duration {
	if g.Count <= 0 {
		return nil
	}
	offs := make([]time.Duration, 0, g.Count+1)
	for i := range g.Count {
		offs = append(offs, time.Duration(i)*g.Interval)
	}
	if offs[len(offs)-1] < pastLocktime {
		offs = append(offs, pastLocktime)
	}
	return offs
}

// Config is one floating address of a master.
//
// Prefix is the VIP and the prefix length it is installed with. It must never
// become a source address for outgoing connections:
//   - IPv4: a /32 is installed as is. A shorter prefix is honoured only when
//     another (non-VIP) primary address on Interface is in the same prefix, so
//     the VIP becomes a secondary, which inet_select_addr never picks;
//     otherwise the VIP would become the primary and the source of the
//     connected route, so it is installed as a /32 instead and a warning is
//     logged. (A secondary dies with its primary unless promote_secondaries
//     is set; the reconcile loop then re-adds it as a /32.)
//   - IPv6: the prefix as given (normally /128), with preferred_lft 0 so
//     source selection avoids it (RFC 6724 rule 3) and IFA_F_NODAD so it is
//     usable at once and never ends up dadfailed.
type Config struct {
	Master    string
	Prefix    netip.Prefix
	Interface string
	// GARP configures announcements; nil selects DefaultGARP.
	GARP *GARPConfig
	// KeepOnStop leaves the VIP in place when the Manager is closed and,
	// symmetrically, leaves an existing VIP alone at start until the first
	// Set. The default (false) releases it: a stopped agent cannot fence it.
	KeepOnStop bool
}

// VIP returns the floating address itself.
func (c Config) VIP() netip.Addr { return c.Prefix.Addr() }

func (c Config) garp() GARPConfig {
	if c.GARP == nil {
		return DefaultGARP()
	}
	return *c.GARP
}

// maxIfaceName is IFNAMSIZ-1.
const maxIfaceName = 15

// Validate reports whether c is usable, naming the problem.
func (c Config) Validate() error {
	if c.Master == "" {
		return fmt.Errorf("vip: empty master name")
	}
	if !c.Prefix.IsValid() {
		return fmt.Errorf("vip %s: invalid address or prefix", c.Master)
	}
	ip := c.Prefix.Addr()
	switch {
	case ip.Zone() != "":
		return fmt.Errorf("vip %s: %s must not carry a zone", c.Master, c.Prefix)
	case ip.Is4In6():
		return fmt.Errorf("vip %s: %s is IPv4-mapped; write the IPv4 address", c.Master, c.Prefix)
	case ip.IsUnspecified(), ip.IsLoopback(), ip.IsMulticast(), ip.IsLinkLocalUnicast(),
		ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("vip %s: %s is not a usable unicast address", c.Master, ip)
	}
	if c.Interface == "" {
		return fmt.Errorf("vip %s %s: no interface", c.Master, ip)
	}
	if len(c.Interface) > maxIfaceName {
		return fmt.Errorf("vip %s %s: interface name %q longer than %d bytes", c.Master, ip, c.Interface, maxIfaceName)
	}
	if c.GARP != nil {
		if err := c.GARP.Validate(); err != nil {
			return fmt.Errorf("vip %s %s: %w", c.Master, ip, err)
		}
	}
	return nil
}
