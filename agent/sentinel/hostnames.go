package sentinel

import (
	"net/netip"
	"sort"
	"strings"
)

// Hostnames (resolve-hostnames, announce-hostnames).
//
// Sentinel resolves a hostname when it creates an address and again before
// every reconnection, compares instances by resolved IP or by name, and
// reports an address by its name only with announce-hostnames (otherwise by
// the IP it resolved to): in replies, events, hellos, is-master-down-by-addr
// and the SLAVEOF it sends. The Node does the same without resolving
// anything itself: the runtime resolves the names an input carries
// (Hostnames) and feeds the answers in as Resolved inputs before that input,
// and again whenever an answer changes. A name with no answer yet compares
// and is reported by its text, as Sentinel compares an unresolvable name.

// Resolved reports what a hostname resolves to. IP is empty when the name
// no longer resolves. It is ignored with resolve-hostnames off, where the
// Node refuses hostnames anyway.
type Resolved struct {
	Host string
	IP   string
}

func (Resolved) isInput() {}

// Hostnames lists the hostnames (not IP addresses) that in names, which the
// runtime resolves before handing in over when resolve-hostnames is on: a
// hello's sentinel and master addresses, and the master and replica
// addresses in an INFO reply.
func Hostnames(in Input) []string {
	var out []string
	add := func(h string) {
		if h != "" && !isIP(h) {
			out = append(out, h)
		}
	}
	switch v := in.(type) {
	case Hello:
		if h, err := ParseHello(v.Payload); err == nil {
			add(h.Addr.Host)
			add(h.MasterAddr.Host)
		}
	case InfoReply:
		if v.Info != nil {
			add(v.Info.MasterHost)
			for _, r := range v.Info.Replicas {
				add(r.Addr.Host)
			}
		}
	}
	return out
}

func isIP(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}

// onResolved records r.
func (n *Node) onResolved(r Resolved) {
	if !n.resolveHostnames || r.Host == "" || isIP(r.Host) {
		return
	}
	key := strings.ToLower(r.Host)
	ip, err := netip.ParseAddr(r.IP)
	if err != nil {
		delete(n.hostIPs, key)
		return
	}
	if n.hostIPs == nil {
		n.hostIPs = map[string]netip.Addr{}
	}
	n.hostIPs[key] = ip.Unmap()
}

// ipOf is h itself when h is an IP address, else what h last resolved to
// (false when unknown). It does not allocate: it runs on every comparison.
func (n *Node) ipOf(h string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap(), true
	}
	if !n.resolveHostnames || len(n.hostIPs) == 0 {
		return netip.Addr{}, false
	}
	ip, ok := n.hostIPs[strings.ToLower(h)]
	return ip, ok
}

// sameHost is Sentinel's address comparison: the same name (case
// insensitively) or, with resolve-hostnames, the same resolved IP, so an
// instance named by hostname in one place and by IP in another is one
// instance.
func (n *Node) sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	ia, ok := n.ipOf(a)
	if !ok {
		return false
	}
	ib, ok := n.ipOf(b)
	return ok && ia == ib
}

// sameAddr is sameHost with equal ports.
func (n *Node) sameAddr(a, b Addr) bool {
	return a.Port == b.Port && n.sameHost(a.Host, b.Host)
}

// announceHost is how h is reported to others: by name with
// announce-hostnames, else by the IP it resolves to (by name while it does
// not resolve).
func (n *Node) announceHost(h string) string {
	if n.announceHostnames || isIP(h) {
		return h
	}
	if ip, ok := n.ipOf(h); ok {
		return ip.String()
	}
	return h
}

// announce is announceHost for an address.
func (n *Node) announce(a Addr) Addr {
	if a.IsZero() {
		return a
	}
	return Addr{Host: n.announceHost(a.Host), Port: a.Port}
}

// knownIPs reports whether both a and b are, or resolve to, IP addresses: a
// name that does not resolve may still name the same instance as an
// address, so only two known IPs prove that two addresses differ.
func (n *Node) knownIPs(a, b string) bool {
	_, okA := n.ipOf(a)
	_, okB := n.ipOf(b)
	return okA && okB
}

// KnownHostnames lists, sorted and without repeats, the hostnames among the
// addresses of every monitored instance: what the runtime keeps resolved.
func (n *Node) KnownHostnames() []string {
	seen := map[string]bool{}
	var out []string
	add := func(h string) {
		if k := strings.ToLower(h); h != "" && !isIP(h) && !seen[k] {
			seen[k] = true
			out = append(out, h)
		}
	}
	for _, m := range n.sortedMasters() {
		add(m.inst.addr.Host)
		for _, r := range m.sortedReplicas() {
			add(r.addr.Host)
		}
		for _, s := range m.sortedSentinels() {
			add(s.addr.Host)
		}
	}
	sort.Strings(out)
	return out
}

// ResolvesHostnames reports whether resolve-hostnames is on (it can be
// changed with SENTINEL CONFIG SET).
func (n *Node) ResolvesHostnames() bool { return n.resolveHostnames }
