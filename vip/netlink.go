package vip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultProto is the IFA_PROTO value that tags our addresses
// ("ip addr show proto 0x76"; packaging may name it in
// /etc/iproute2/rt_addrprotos.d). Values 0-3 belong to the kernel.
const DefaultProto = 0x76

// ifaProto is the IFA_PROTO attribute (Linux >= 5.18; older kernels ignore
// it, which is why IPv4 VIPs also carry a label).
const ifaProto = 0xb

// labelSuffix is appended to the interface name to form the IPv4 label
// ("eth0:vip") when the result fits in IFNAMSIZ.
const labelSuffix = ":vip"

// infinityLft is the "forever" lifetime. It must be sent explicitly:
// IFA_CACHEINFO with preferred 0 alone would mean "valid 0", expired.
const infinityLft = 0xFFFFFFFF

// NetlinkOptions configures Netlink.
type NetlinkOptions struct {
	// NetNSPath names the network namespace to manage (for example
	// /run/netns/x or /proc/<pid>/ns/net); "" means the caller's.
	NetNSPath string
	// Proto is the IFA_PROTO tag; 0 selects DefaultProto.
	Proto uint8
}

// Netlink is the production Addrs: rtnetlink in one network namespace.
//
// Adds and dumps go through our own rtnetlink socket because the netlink
// library (v1.3.1) neither sets nor reports IFA_PROTO; everything else uses
// the library.
type Netlink struct {
	ns    netns.NsHandle
	proto uint8
	h     *netlink.Handle

	mu   sync.Mutex // serialises requests on sock
	sock *nl.SocketHandle
}

// NewNetlink opens rtnetlink sockets in opts.NetNS.
func NewNetlink(opts NetlinkOptions) (*Netlink, error) {
	ns, err := openNetns(opts.NetNSPath)
	if err != nil {
		return nil, err
	}
	n := &Netlink{ns: ns, proto: opts.Proto}
	if n.proto == 0 {
		n.proto = DefaultProto
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("open netlink handle: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		ns.Close()
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	tv := unix.NsecToTimeval((5 * time.Second).Nanoseconds())
	if err := errors.Join(s.SetSendTimeout(&tv), s.SetReceiveTimeout(&tv)); err != nil {
		s.Close()
		h.Close()
		ns.Close()
		return nil, fmt.Errorf("set rtnetlink timeouts: %w", err)
	}
	_ = s.SetExtAck(true) // better error messages when the kernel has them
	n.h = h
	n.sock = &nl.SocketHandle{Socket: s}
	return n, nil
}

// Close releases the sockets. Watches end with their contexts.
func (n *Netlink) Close() error {
	n.h.Close()
	n.mu.Lock()
	n.sock.Close()
	n.mu.Unlock()
	if n.ns.IsOpen() {
		return n.ns.Close()
	}
	return nil
}

// Proto returns the IFA_PROTO tag in use.
func (n *Netlink) Proto() uint8 { return n.proto }

func (n *Netlink) request(typ, flags int) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(typ, flags)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: n.sock}
	return req
}

func (n *Netlink) label(iface string) string {
	if len(iface)+len(labelSuffix) > maxIfaceName {
		return ""
	}
	return iface + labelSuffix
}

// Add implements Addrs. It uses NLM_F_REPLACE, so it is idempotent.
func (n *Netlink) Add(a Addr) error {
	link, err := n.h.LinkByName(a.Iface)
	if err != nil {
		return fmt.Errorf("add %s on %s: %w", a.Prefix, a.Iface, err)
	}
	req := n.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	n.addrMsg(req, link.Attrs().Index, a.Prefix)
	var flags uint32
	ip := a.Prefix.Addr()
	if ip.Is6() {
		flags |= unix.IFA_F_NODAD
		// preferred_lft 0: deprecated, so never chosen as a source.
		ci := nl.IfaCacheInfo{IfaCacheinfo: unix.IfaCacheinfo{Prefered: 0, Valid: infinityLft}}
		req.AddData(nl.NewRtAttr(unix.IFA_CACHEINFO, ci.Serialize()))
	} else if l := n.label(a.Iface); l != "" {
		req.AddData(nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(l)))
	}
	req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, nl.Uint32Attr(flags)))
	req.AddData(nl.NewRtAttr(ifaProto, nl.Uint8Attr(n.proto)))
	if err := n.exec(req); err != nil {
		return fmt.Errorf("add %s on %s: %w", a.Prefix, a.Iface, err)
	}
	return nil
}

// Del implements Addrs.
func (n *Netlink) Del(a Addr) error {
	link, err := n.h.LinkByName(a.Iface)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil // gone with its interface
		}
		return fmt.Errorf("delete %s from %s: %w", a.Prefix, a.Iface, err)
	}
	req := n.request(unix.RTM_DELADDR, unix.NLM_F_ACK)
	n.addrMsg(req, link.Attrs().Index, a.Prefix)
	if err := n.exec(req); err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			return nil
		}
		return fmt.Errorf("delete %s from %s: %w", a.Prefix, a.Iface, err)
	}
	return nil
}

func (n *Netlink) addrMsg(req *nl.NetlinkRequest, index int, p netip.Prefix) {
	ip := p.Addr()
	fam := unix.AF_INET
	if ip.Is6() {
		fam = unix.AF_INET6
	}
	msg := nl.NewIfAddrmsg(fam)
	msg.Index = uint32(index)
	msg.Prefixlen = uint8(p.Bits())
	msg.Scope = unix.RT_SCOPE_UNIVERSE
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip.AsSlice()))
}

func (n *Netlink) exec(req *nl.NetlinkRequest) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// List implements Addrs.
func (n *Netlink) List(iface string) ([]Addr, error) {
	names := map[int]string{}
	if iface != "" {
		link, err := n.h.LinkByName(iface)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				return nil, nil
			}
			return nil, fmt.Errorf("list addresses of %s: %w", iface, err)
		}
		names[link.Attrs().Index] = iface
	} else {
		links, err := n.h.LinkList()
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nil, fmt.Errorf("list links: %w", err)
		}
		for _, l := range links {
			names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	req := n.request(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
	var msgs [][]byte
	var err error
	for range 3 { // a dump interrupted by a concurrent change is retried
		n.mu.Lock()
		msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
		n.mu.Unlock()
		if !errors.Is(err, nl.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	var out []Addr
	for _, m := range msgs {
		a, idx, ok := n.parseAddr(m)
		if !ok {
			continue
		}
		name, known := names[idx]
		if !known {
			continue // not the interface asked for, or appeared after LinkList
		}
		a.Iface = name
		if l := n.label(name); l != "" && a.label == l {
			a.Ours = true
		}
		out = append(out, a.Addr)
	}
	return out, nil
}

type parsedAddr struct {
	Addr
	label string
}

func (n *Netlink) parseAddr(m []byte) (parsedAddr, int, bool) {
	if len(m) < unix.SizeofIfAddrmsg {
		return parsedAddr{}, 0, false
	}
	msg := nl.DeserializeIfAddrmsg(m)
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return parsedAddr{}, 0, false
	}
	var a parsedAddr
	a.Flags = uint32(msg.Flags)
	var local, address netip.Addr
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_FLAGS:
			if len(at.Value) >= 4 {
				a.Flags = binary.NativeEndian.Uint32(at.Value)
			}
		case unix.IFA_LABEL:
			a.label = unix.ByteSliceToString(at.Value)
		case ifaProto:
			if len(at.Value) >= 1 && at.Value[0] == n.proto {
				a.Ours = true
			}
		}
	}
	// IPv4 sends IFA_LOCAL (ours) and IFA_ADDRESS (the peer on point-to-point
	// links); IPv6 sends only IFA_ADDRESS unless there is a peer.
	ip := local
	if !ip.IsValid() {
		ip = address
	}
	if !ip.IsValid() {
		return parsedAddr{}, 0, false
	}
	p, err := ip.Unmap().Prefix(int(msg.Prefixlen))
	if err != nil {
		return parsedAddr{}, 0, false
	}
	a.Prefix = netip.PrefixFrom(ip.Unmap(), p.Bits())
	return a, int(msg.Index), true
}

// Watch implements Addrs with an RTNLGRP_IPV4_IFADDR/IPV6_IFADDR
// subscription. On a receive error (ENOBUFS after an event storm) it
// resubscribes and reports a change, since events were lost.
func (n *Netlink) Watch(ctx context.Context, changed func()) error {
	sub, err := n.subscribe()
	if err != nil {
		return err
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				sub.stop()
				return
			case _, ok := <-sub.ch:
				if ok {
					changed()
					continue
				}
			}
			// The subscription died: resubscribe with a small backoff.
			sub.stop()
			for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				if sub, err = n.subscribe(); err == nil {
					break
				}
			}
			changed()
		}
	}()
	return nil
}

type addrSub struct {
	ch   chan netlink.AddrUpdate
	done chan struct{}
	once sync.Once
}

func (s *addrSub) stop() {
	s.once.Do(func() {
		close(s.done)
		go func() { // let the library's reader exit
			for range s.ch {
			}
		}()
	})
}

func (n *Netlink) subscribe() (*addrSub, error) {
	s := &addrSub{ch: make(chan netlink.AddrUpdate, 256), done: make(chan struct{})}
	ns := n.ns
	err := netlink.AddrSubscribeWithOptions(s.ch, s.done, netlink.AddrSubscribeOptions{
		Namespace:         &ns,
		ErrorCallback:     func(error) {}, // the closed channel is what we act on
		ReceiveBufferSize: 1 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to address events: %w", err)
	}
	return s, nil
}

// link is what the announcer needs to know about an interface.
type link struct {
	index int
	name  string
	mac   net.HardwareAddr
	mtu   int
	flags uint32 // IFF_*
}

func linkByName(h *netlink.Handle, name string) (link, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		return link{}, err
	}
	at := l.Attrs()
	return link{index: at.Index, name: at.Name, mac: at.HardwareAddr, mtu: at.MTU, flags: at.RawFlags}, nil
}

// openNetns opens the namespace at path, or returns netns.None() for "".
func openNetns(path string) (netns.NsHandle, error) {
	if path == "" {
		return netns.None(), nil
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), fmt.Errorf("open netns %s: %w", path, err)
	}
	return ns, nil
}

// inNetns runs fn with the calling goroutine's thread in ns (when ns is
// open), for system calls that create sockets in the current namespace.
func inNetns(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("get current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns: %w", err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it exits with the goroutine instead of
		// running other goroutines in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("restore netns: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}
