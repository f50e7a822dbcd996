package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vipsentinel/vipsentinel/internal/defaults"
	"github.com/vipsentinel/vipsentinel/internal/panics"
)

// Announcer tells the link about addresses. The production implementation
// is Packet; tests substitute a fake.
type Announcer interface {
	// Announce sends one round of announcements for ip on iface: a
	// gratuitous ARP request and reply for IPv4, an unsolicited neighbour
	// advertisement for IPv6. It returns the number of packets sent.
	Announce(iface string, ip netip.Addr) (int, error)
	// Listen calls claim, from any goroutine, for every ARP packet or
	// neighbour advertisement on iface in which another hardware address
	// claims an IP, until ctx is done or the interface fails; it returns nil
	// only when ctx is done.
	Listen(ctx context.Context, iface string, claim func(Claim)) error
}

// PacketOptions configures Packet.
type PacketOptions struct {
	// NetNSPath names the network namespace whose interfaces are used; ""
	// means the caller's.
	NetNSPath string
	// Logger receives debug logs of malformed packets; nil discards.
	Logger *slog.Logger
}

// Packet is the production Announcer: AF_PACKET sockets (mdlayher/packet)
// carrying frames built with mdlayher/arp, mdlayher/ndp and
// mdlayher/ethernet. Unlike arp.Dial it needs no IPv4 address on the
// interface. The interface is resolved by name on every call, and each round
// uses a fresh send-only socket, so a recreated interface (new ifindex) or a
// link flap never leaves a stale socket behind.
type Packet struct {
	ns  netns.NsHandle
	h   *netlink.Handle
	log *slog.Logger

	// shapes selects the frames sent (tests of receiver behaviour).
	shapes func(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error)

	panics panics.Counter
}

// writeTimeout bounds one send, so a wedged device cannot stall the
// Manager's loop.
const writeTimeout = 500 * time.Millisecond

// NewPacket returns a Packet announcer for the namespace in opts.
func NewPacket(opts PacketOptions) (*Packet, error) {
	ns, err := openNetns(opts.NetNSPath)
	if err != nil {
		return nil, err
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		if ns.IsOpen() {
			ns.Close()
		}
		return nil, fmt.Errorf("open netlink handle: %w", err)
	}
	log := defaults.Logger(opts.Logger)
	return &Packet{ns: ns, h: h, log: log, shapes: defaultShapes}, nil
}

// Close releases the netlink handle and namespace.
func (p *Packet) Close() error {
	p.h.Close()
	if p.ns.IsOpen() {
		return p.ns.Close()
	}
	return nil
}

func defaultShapes(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error) {
	if ip.Is4() {
		req, rep, err := garpFrames(mac, ip)
		if err != nil {
			return nil, err
		}
		return [][]byte{req, rep}, nil
	}
	f, err := naFrame(mac, ip)
	if err != nil {
		return nil, err
	}
	return [][]byte{f}, nil
}

func (p *Packet) link(iface string, ip netip.Addr) (link, error) {
	l, err := linkByName(p.h, iface)
	if err != nil {
		return link{}, err
	}
	switch {
	case len(l.mac) != 6:
		return link{}, fmt.Errorf("interface %s has no Ethernet address (%v)", iface, l.mac)
	case l.flags&unix.IFF_UP == 0:
		return link{}, fmt.Errorf("interface %s is down", iface)
	case ip.Is4() && l.flags&unix.IFF_NOARP != 0:
		return link{}, fmt.Errorf("interface %s has ARP disabled (NOARP)", iface)
	}
	return l, nil
}

func (p *Packet) listen(l link, proto int, cfg *packet.Config) (*packet.Conn, error) {
	var c *packet.Conn
	err := inNetns(p.ns, func() error {
		var err error
		c, err = packet.Listen(&net.Interface{Index: l.index, Name: l.name, HardwareAddr: l.mac, MTU: l.mtu}, packet.Raw, proto, cfg)
		return err
	})
	return c, err
}

// Announce implements Announcer.
func (p *Packet) Announce(iface string, ip netip.Addr) (int, error) {
	l, err := p.link(iface, ip)
	if err != nil {
		return 0, fmt.Errorf("announce %s on %s: %w", ip, iface, err)
	}
	frames, err := p.shapes(l.mac, ip)
	if err != nil {
		return 0, fmt.Errorf("announce %s on %s: %w", ip, iface, err)
	}
	// Protocol 0: a send-only socket, never queues received frames.
	c, err := p.listen(l, 0, nil)
	if err != nil {
		return 0, fmt.Errorf("announce %s on %s: open packet socket: %w", ip, iface, err)
	}
	defer c.Close()
	sent := 0
	for _, f := range frames {
		if err := c.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return sent, fmt.Errorf("announce %s on %s: %w", ip, iface, err)
		}
		var dst ethernet.Frame
		if err := dst.UnmarshalBinary(f); err != nil {
			return sent, fmt.Errorf("announce %s on %s: %w", ip, iface, err)
		}
		if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: dst.Destination}); err != nil {
			return sent, fmt.Errorf("announce %s on %s: send: %w", ip, iface, err)
		}
		sent++
	}
	return sent, nil
}

// Listen implements Announcer with two receive sockets on iface: one for ARP
// and one for IPv6 restricted by a BPF filter to neighbour advertisements.
// Frames whose claimed hardware address is iface's own (including those we
// send) are skipped.
func (p *Packet) Listen(ctx context.Context, iface string, claim func(Claim)) error {
	l, err := linkByName(p.h, iface)
	if err != nil {
		return fmt.Errorf("watch %s: %w", iface, err)
	}
	if len(l.mac) != 6 {
		return fmt.Errorf("watch %s: no Ethernet address (%v)", iface, l.mac)
	}
	filter, err := naFilter()
	if err != nil {
		return fmt.Errorf("watch %s: %w", iface, err)
	}
	arpc, err := p.listen(l, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return fmt.Errorf("watch %s: open ARP socket: %w", iface, err)
	}
	nac, err := p.listen(l, int(ethernet.EtherTypeIPv6), &packet.Config{Filter: filter})
	if err != nil {
		arpc.Close()
		return fmt.Errorf("watch %s: open IPv6 socket: %w", iface, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []*packet.Conn{arpc, nac} {
		wg.Go(func() {
			defer cancel()
			errs[i] = p.read(ctx, c, l, claim)
		})
	}
	<-ctx.Done()
	arpc.Close()
	nac.Close()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("watch %s: %w", iface, err)
	}
	return nil
}

func (p *Packet) read(ctx context.Context, c *packet.Conn, l link, claim func(Claim)) error {
	buf := make([]byte, max(l.mtu, 1500)+64)
	for {
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		p.frame(buf[:n], l, claim)
	}
}

// frame reports the claim frame b carries, if any. Frames come from
// anyone on the link: a panic while handling one (a parser bug) drops that
// frame, is logged and counted, and the watch goes on.
func (p *Packet) frame(b []byte, l link, claim func(Claim)) {
	defer panics.Recover(p.log, &p.panics, "panic while handling a received frame; frame dropped", nil, "iface", l.name)
	cl, err := parseClaim(b)
	if err != nil {
		if !errors.Is(err, errNotClaim) {
			p.log.Debug("ignored malformed frame", "iface", l.name, "err", err)
		}
		return
	}
	if sameMAC(cl.MAC, l.mac) {
		return
	}
	cl.Iface = l.name
	claim(cl)
}

// PanicsRecovered returns how many panics handling received frames were
// recovered (each dropped its frame).
func (p *Packet) PanicsRecovered() uint64 { return p.panics.Load() }
