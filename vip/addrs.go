package vip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// Address flags (IFA_F_*) that the Manager inspects.
const (
	FlagSecondary = 0x01 // IFA_F_SECONDARY
	FlagNoDAD     = 0x02 // IFA_F_NODAD
	FlagDADFailed = 0x08 // IFA_F_DADFAILED
	FlagTentative = 0x40 // IFA_F_TENTATIVE
)

// Addr is an interface address as the Manager sees it.
type Addr struct {
	Iface  string
	Prefix netip.Prefix
	// Flags are the IFA_F_* flags reported by the kernel (List only).
	Flags uint32
	// Ours reports that the address carries the implementation's ownership
	// tag (IFA_PROTO or label), i.e. a previous run of ours installed it.
	Ours bool
}

// String renders a as "<iface> <prefix>" followed by "ours" and the flags
// the Manager cares about.
func (a Addr) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", a.Iface, a.Prefix)
	if a.Ours {
		b.WriteString(" ours")
	}
	if a.Flags&FlagSecondary != 0 {
		b.WriteString(" secondary")
	}
	if a.Flags&FlagNoDAD != 0 {
		b.WriteString(" nodad")
	}
	if a.Flags&FlagTentative != 0 {
		b.WriteString(" tentative")
	}
	if a.Flags&FlagDADFailed != 0 {
		b.WriteString(" dadfailed")
	}
	return b.String()
}

// Addrs manages interface addresses. The production implementation is
// Netlink; tests substitute a fake.
type Addrs interface {
	// List returns the addresses of interface iface, or of every interface
	// when iface is "". A missing interface has no addresses.
	List(iface string) ([]Addr, error)
	// Add installs a.Prefix on a.Iface as a VIP: tagged as ours, and for IPv6
	// with IFA_F_NODAD and preferred lifetime 0. Adding an address that
	// exists succeeds.
	Add(a Addr) error
	// Del removes a.Prefix from a.Iface. Removing an address (or from an
	// interface) that does not exist succeeds.
	Del(a Addr) error
	// Watch calls changed, from any goroutine, whenever addresses may have
	// changed (including when events may have been lost), until ctx is done.
	// It returns once the watch is established, or with the error that
	// prevented it.
	Watch(ctx context.Context, changed func()) error
}
