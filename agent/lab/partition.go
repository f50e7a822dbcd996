package lab

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Partitions are drop rules in the switch namespace: a bridge-family table
// "lab" with a forward chain matching (input port, output port). Working on
// ports rather than addresses means a cut host loses everything, including a
// VIP it holds or acquires later, ARP and neighbour discovery, exactly as if
// the cable between two switch ports were cut. The hosts' own nftables
// rulesets are never touched, so firewall tests can run under partitions.
const (
	nftTable = "lab"
	nftChain = "partition"
)

// Cut drops all frames between a and b in both directions.
func (l *Lab) Cut(a, b *Host) error { return l.setCut(a, b, true, true) }

// CutOneWay drops frames from `from` to `to` only. Note that ARP and
// neighbour replies are frames too: a host whose neighbour entry for the
// other side has expired cannot resolve it across a one-way cut, so the
// reverse direction keeps working only while entries are cached (or static).
func (l *Lab) CutOneWay(from, to *Host) error { return l.setCut(from, to, false, true) }

// Isolate cuts h from every other member of the lab, servers and clients.
func (l *Lab) Isolate(h *Host) error {
	return l.cutFromAll(h, l.members())
}

// IsolateFromHosts cuts h from the other server hosts only; clients still
// reach it (the classic split brain: the old master keeps its clients).
func (l *Lab) IsolateFromHosts(h *Host) error {
	return l.cutFromAll(h, l.hosts)
}

func (l *Lab) cutFromAll(h *Host, others []*Host) error {
	return l.editCuts(fmt.Sprintf("isolate %s", h), func() error {
		if err := l.checkMember(h); err != nil {
			return err
		}
		for _, o := range others {
			if o != h {
				l.cuts[[2]string{h.Port, o.Port}] = true
				l.cuts[[2]string{o.Port, h.Port}] = true
			}
		}
		return nil
	})
}

// Partition cuts every pair of hosts that are in different groups. Hosts in
// no group keep all their links.
func (l *Lab) Partition(groups ...[]*Host) error {
	return l.editCuts("partition", func() error {
		for i, g := range groups {
			for _, a := range g {
				if err := l.checkMember(a); err != nil {
					return err
				}
				for _, other := range groups[i+1:] {
					for _, b := range other {
						if err := l.checkPair(a, b); err != nil {
							return err
						}
						l.cuts[[2]string{a.Port, b.Port}] = true
						l.cuts[[2]string{b.Port, a.Port}] = true
					}
				}
			}
		}
		return nil
	})
}

// Heal removes the cuts between a and b in both directions.
func (l *Lab) Heal(a, b *Host) error { return l.setCut(a, b, true, false) }

// HealOneWay removes the cut from `from` to `to`, leaving the reverse
// direction as it is.
func (l *Lab) HealOneWay(from, to *Host) error { return l.setCut(from, to, false, false) }

// setCut drops (cut) or lets through again (!cut) the frames from `from` to
// `to` and, with both, those from `to` to `from`, in one ruleset change.
func (l *Lab) setCut(from, to *Host, both, cut bool) error {
	verb, arrow := "heal", "->"
	if cut {
		verb = "cut"
	}
	if both {
		arrow = "<->"
	}
	return l.editCuts(fmt.Sprintf("%s %s%s%s", verb, from, arrow, to), func() error {
		if err := l.checkPair(from, to); err != nil {
			return err
		}
		dirs := [][2]string{{from.Port, to.Port}}
		if both {
			dirs = append(dirs, [2]string{to.Port, from.Port})
		}
		for _, d := range dirs {
			if cut {
				l.cuts[d] = true
			} else {
				delete(l.cuts, d)
			}
		}
		return nil
	})
}

// HealAll removes every cut and all packet loss.
func (l *Lab) HealAll() error {
	return l.editCuts("heal all", func() error {
		clear(l.cuts)
		clear(l.loss)
		return nil
	})
}

// SetLoss makes the switch drop each frame to or from h at random with the
// given probability in percent (an nftables "numgen random mod 100" rule on
// h's port), as a bad cable or an overloaded switch would; 0 removes it.
func (l *Lab) SetLoss(h *Host, percent int) error {
	return l.editCuts(fmt.Sprintf("loss %d%% on %s", percent, h), func() error {
		if err := l.checkMember(h); err != nil {
			return err
		}
		if percent < 0 || percent > 100 {
			return fmt.Errorf("loss %d%%: want 0..100", percent)
		}
		if percent == 0 {
			delete(l.loss, h.Port)
		} else {
			l.loss[h.Port] = percent
		}
		return nil
	})
}

// Cuts lists the dropped directions as "from->to" pairs, and the ports
// with packet loss as "port~<percent>%", sorted.
func (l *Lab) Cuts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for c := range l.cuts {
		out = append(out, c[0]+"->"+c[1])
	}
	for p, pct := range l.loss {
		out = append(out, fmt.Sprintf("%s~%d%%", p, pct))
	}
	slices.Sort(out)
	return out
}

func (l *Lab) checkMember(h *Host) error {
	if h == nil || h.lab != l || h == l.sw {
		return fmt.Errorf("%v is not a host of lab %s", h, l.id)
	}
	return nil
}

func (l *Lab) checkPair(a, b *Host) error {
	if err := l.checkMember(a); err != nil {
		return err
	}
	if err := l.checkMember(b); err != nil {
		return err
	}
	if a == b {
		return fmt.Errorf("cannot cut %s from itself", a)
	}
	return nil
}

// editCuts applies edit to the cut set and rewrites the chain from it in one
// nftables transaction, so the rules always equal the set. On failure the set
// is restored.
func (l *Lab) editCuts(what string, edit func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("lab: %s: %w", what, errors.New("closed"))
	}
	saved, savedLoss := maps.Clone(l.cuts), maps.Clone(l.loss)
	if err := edit(); err != nil {
		l.cuts, l.loss = saved, savedLoss
		return fmt.Errorf("lab: %s: %w", what, err)
	}
	if err := l.applyCuts(); err != nil {
		l.cuts, l.loss = saved, savedLoss
		return fmt.Errorf("lab: %s: %w", what, err)
	}
	return nil
}

func (l *Lab) applyCuts() error {
	ns, err := netns.GetFromPath(l.sw.NetNSPath())
	if err != nil {
		return fmt.Errorf("open switch namespace: %w", err)
	}
	defer ns.Close()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyBridge, Name: nftTable})
	ch := c.AddChain(&nftables.Chain{
		Name:     nftChain,
		Table:    t,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookForward,
		Priority: nftables.ChainPriorityFilter,
	})
	c.FlushChain(ch)
	pairs := make([][2]string, 0, len(l.cuts))
	for p := range l.cuts {
		pairs = append(pairs, p)
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
	})
	for _, p := range pairs {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(p[0])},
			&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(p[1])},
			&expr.Counter{},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	ports := slices.Sorted(maps.Keys(l.loss))
	for _, p := range ports {
		// numgen writes a host-order number; cmp compares bytes, so the
		// number is turned into network order first, as nft(8) does.
		threshold := binaryutil.BigEndian.PutUint32(uint32(l.loss[p]))
		for _, dir := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
				&expr.Meta{Key: dir, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(p)},
				&expr.Numgen{Register: 1, Modulus: 100, Type: unix.NFT_NG_RANDOM},
				&expr.Byteorder{SourceRegister: 1, DestRegister: 1, Op: expr.ByteorderHton, Len: 4, Size: 4},
				&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: threshold},
				&expr.Counter{},
				&expr.Verdict{Kind: expr.VerdictDrop},
			}})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables in %s: %w", l.sw.NS, err)
	}
	return nil
}

// ifname is an interface name as the kernel compares it: NUL-padded to
// IFNAMSIZ.
func ifname(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}
