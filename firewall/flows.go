package firewall

import (
	"net/netip"
	"slices"

	"github.com/google/nftables"
)

// maxPorts is the most ports a Config opens: the agent's plain and TLS
// ports and Redis's.
const maxPorts = 3

// flows is a set of the traffic classes vipsentinel opens: {IPv4, IPv6} x
// the opened ports, indexed as in Config.ports. Conflict analysis tracks
// which of them a foreign rule can match. Bit i is IPv4 to port i, bit
// maxPorts+i IPv6 to port i.
type flows uint8

const (
	v4Flows  flows = 1<<maxPorts - 1
	v6Flows        = v4Flows << maxPorts
	allFlows       = v4Flows | v6Flows
)

// portFlow returns the flows (both families) to the port at index i of
// Config.ports.
func portFlow(i int) flows { return (1 | 1<<maxPorts) << i }

// portsFlows returns the flows to the first n ports, over both families.
func portsFlows(n int) flows {
	var f flows
	for i := range n {
		f |= portFlow(i)
	}
	return f
}

// portFlows returns the flows whose destination port is p.
func portFlows(ports []uint16, p uint16) flows {
	var f flows
	for i, q := range ports {
		if q == p {
			f |= portFlow(i)
		}
	}
	return f
}

// ports lists the destination ports of f, in the order of ports.
func (f flows) ports(ports []uint16) []int {
	var out []int
	for i, p := range ports {
		if f&portFlow(i) != 0 {
			out = append(out, int(p))
		}
	}
	return out
}

// addrRange is an inclusive range of addresses of one family.
type addrRange struct{ first, last netip.Addr }

// mergedRanges turns prefixes into sorted, disjoint, non-adjacent ranges, the
// form an nftables interval set accepts (the kernel rejects overlaps).
func mergedRanges(prefixes []netip.Prefix) []addrRange {
	rs := make([]addrRange, 0, len(prefixes))
	for _, p := range prefixes {
		p = p.Masked()
		rs = append(rs, addrRange{p.Addr(), lastAddr(p)})
	}
	slices.SortFunc(rs, func(a, b addrRange) int { return a.first.Compare(b.first) })
	var out []addrRange
	for _, r := range rs {
		if n := len(out); n > 0 {
			cur := &out[n-1]
			next := cur.last.Next()
			if !next.IsValid() || r.first.Compare(next) <= 0 {
				if r.last.Compare(cur.last) > 0 {
					cur.last = r.last
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// lastAddr returns the highest address in p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		bits := p.Bits() - i*8
		switch {
		case bits >= 8:
		case bits <= 0:
			b[i] = 0xff
		default:
			b[i] |= 0xff >> bits
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// intervalElements returns the elements of an interval set matching
// prefixes: a start element per range and an interval-end element one past
// its last address (none when the range reaches the top of the space).
func intervalElements(prefixes []netip.Prefix) []nftables.SetElement {
	var out []nftables.SetElement
	for _, r := range mergedRanges(prefixes) {
		out = append(out, nftables.SetElement{Key: r.first.AsSlice()})
		if next := r.last.Next(); next.IsValid() {
			out = append(out, nftables.SetElement{Key: next.AsSlice(), IntervalEnd: true})
		}
	}
	return out
}
