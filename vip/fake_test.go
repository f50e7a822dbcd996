package vip

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
)

// fakeNet is an in-memory Addrs and Announcer that records what it is asked
// to do as text, so tests assert on the resulting state and action log.
type fakeNet struct {
	mu      sync.Mutex
	addrs   []Addr
	log     []string
	changed []func()
	claims  map[string]func(Claim)
	listens map[string]int
	failAdd error
	failDel error
}

func newFakeNet(addrs ...string) *fakeNet {
	n := &fakeNet{claims: map[string]func(Claim){}, listens: map[string]int{}}
	for _, a := range addrs {
		n.addrs = append(n.addrs, parseFakeAddr(a))
	}
	return n
}

// parseFakeAddr reads "iface prefix [ours] [secondary] [nodad] [dadfailed]".
func parseFakeAddr(s string) Addr {
	f := strings.Fields(s)
	a := Addr{Iface: f[0], Prefix: netip.MustParsePrefix(f[1])}
	for _, w := range f[2:] {
		switch w {
		case "ours":
			a.Ours = true
		case "secondary":
			a.Flags |= FlagSecondary
		case "nodad":
			a.Flags |= FlagNoDAD
		case "dadfailed":
			a.Flags |= FlagDADFailed
		default:
			panic("bad fake address word " + w)
		}
	}
	return a
}

func (n *fakeNet) List(iface string) ([]Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Addr
	for _, a := range n.addrs {
		if iface == "" || a.Iface == iface {
			out = append(out, a)
		}
	}
	return out, nil
}

func (n *fakeNet) find(iface string, p netip.Prefix) int {
	return slices.IndexFunc(n.addrs, func(a Addr) bool { return a.Iface == iface && a.Prefix == p })
}

// change applies the address operation op on a with apply, under the
// lock, and logs it; while the injected failure *fail (failAdd, failDel)
// is set, it logs and returns that instead.
func (n *fakeNet) change(op string, a Addr, fail *error, apply func()) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if *fail != nil {
		n.log = append(n.log, fmt.Sprintf("%s %s %s: %v", op, a.Iface, a.Prefix, *fail))
		return *fail
	}
	n.log = append(n.log, fmt.Sprintf("%s %s %s", op, a.Iface, a.Prefix))
	apply()
	return nil
}

func (n *fakeNet) Add(a Addr) error {
	return n.change("add", a, &n.failAdd, func() {
		na := Addr{Iface: a.Iface, Prefix: a.Prefix, Ours: true}
		if a.Prefix.Addr().Is6() {
			na.Flags |= FlagNoDAD
		} else {
			// Like the kernel: secondary when a primary covers the prefix.
			for _, o := range n.addrs {
				if o.Iface == a.Iface && o.Flags&FlagSecondary == 0 && o.Prefix.Bits() == a.Prefix.Bits() &&
					o.Prefix.Masked() == a.Prefix.Masked() && o.Prefix.Bits() < 32 {
					na.Flags |= FlagSecondary
				}
			}
		}
		if i := n.find(a.Iface, a.Prefix); i >= 0 {
			n.addrs[i] = na
			return
		}
		n.addrs = append(n.addrs, na)
	})
}

func (n *fakeNet) Del(a Addr) error {
	return n.change("del", a, &n.failDel, func() {
		if i := n.find(a.Iface, a.Prefix); i >= 0 {
			n.addrs = slices.Delete(n.addrs, i, i+1)
		}
	})
}

func (n *fakeNet) Watch(ctx context.Context, changed func()) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.changed = append(n.changed, changed)
	return nil
}

func (n *fakeNet) Announce(iface string, ip netip.Addr) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, fmt.Sprintf("announce %s %s", iface, ip))
	if ip.Is4() {
		return 2, nil
	}
	return 1, nil
}

func (n *fakeNet) Listen(ctx context.Context, iface string, claim func(Claim)) error {
	n.mu.Lock()
	n.claims[iface] = claim
	n.listens[iface]++
	n.mu.Unlock()
	<-ctx.Done()
	return nil
}

// external changes, as another program would make them.

func (n *fakeNet) extDel(iface, prefix string) {
	n.mu.Lock()
	if i := n.find(iface, netip.MustParsePrefix(prefix)); i >= 0 {
		n.addrs = slices.Delete(n.addrs, i, i+1)
	}
	fns := slices.Clone(n.changed)
	n.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

func (n *fakeNet) extSet(addr string) {
	a := parseFakeAddr(addr)
	n.mu.Lock()
	if i := n.find(a.Iface, a.Prefix); i >= 0 {
		n.addrs[i] = a
	} else {
		n.addrs = append(n.addrs, a)
	}
	fns := slices.Clone(n.changed)
	n.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

func (n *fakeNet) claim(c Claim) bool {
	n.mu.Lock()
	fn := n.claims[c.Iface]
	n.mu.Unlock()
	if fn == nil {
		return false
	}
	fn(c)
	return true
}

func (n *fakeNet) event(ev Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.log = append(n.log, fmt.Sprintf("event %s %s", ev.Type, ev.Payload))
}

// state renders the addresses, sorted.
func (n *fakeNet) state() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var lines []string
	for _, a := range n.addrs {
		lines = append(lines, a.String())
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// take returns the action log since the previous take.
func (n *fakeNet) take() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := strings.Join(n.log, "\n")
	n.log = nil
	return s
}
