package firewall

import (
	"net/netip"
	"slices"

	"github.com/google/nftables"
)

// flows is a set of the traffic classes vipsentinel opens: {IPv4, IPv6} x
// {agent port, redis port}. Conflict analysis tracks which of them a foreign
// rule can match.
type flows uint8

const (
	flowV4Agent flows = 1 << iota
	flowV4Redis
	flowV6Agent
	flowV6Redis

	v4Flows  = flowV4Agent | flowV4Redis
	v6Flows  = flowV6Agent | flowV6Redis
	allFlows = v4Flows | v6Flows
)

// portFlows returns the flows whose destination port is p.
func portFlows(ports [2]uint16, p uint16) flows {
	var f flows
	if ports[0] == p {
		f |= flowV4Agent | flowV6Agent
	}
	if ports[1] == p {
		f |= flowV4Redis | flowV6Redis
	}
	return f
}

// ports lists the destination ports of f, agent port first.
func (f flows) ports(ports [2]uint16) []int {
	var out []int
	if f&(flowV4Agent|flowV6Agent) != 0 {
		out = append(out, int(ports[0]))
	}
	if f&(flowV4Redis|flowV6Redis) != 0 {
		out = append(out, int(ports[1]))
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
