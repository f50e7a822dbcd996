package lab

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/wait"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// pingInterval is the gap between echo requests, as in ping(8) with -i 0.2.
const pingInterval = 200 * time.Millisecond

// Ping sends ICMP echo requests to ip from inside h's namespace until one is
// answered (nil) or ctx ends. Like ping(8), which this harness does not rely
// on being installed, it makes the kernel resolve ip and so creates a
// neighbour cache entry for it.
func (h *Host) Ping(ctx context.Context, ip netip.Addr) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait.Default)
		defer cancel()
	}
	ip = ip.Unmap()
	network, proto := "ip4:icmp", 1
	var req, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if ip.Is6() {
		network, proto = "ip6:ipv6-icmp", 58
		req, reply = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var c *icmp.PacketConn
	if err := h.Do(func() error {
		var err error
		c, err = icmp.ListenPacket(network, "")
		return err
	}); err != nil {
		return fmt.Errorf("%s: ping %s: %w", h.Name, ip, err)
	}
	defer c.Close()
	id := rand.IntN(1 << 16)
	buf := make([]byte, 1500)
	var lastErr error
	for seq := 1; ; seq++ {
		// For IPv6 the kernel fills in the checksum on raw ICMPv6 sockets.
		b, err := (&icmp.Message{Type: req, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("vipsentinel-lab")}}).Marshal(nil)
		if err != nil {
			return fmt.Errorf("%s: ping %s: %w", h.Name, ip, err)
		}
		if _, err := c.WriteTo(b, &net.IPAddr{IP: ip.AsSlice()}); err != nil {
			lastErr = err // e.g. EHOSTUNREACH once neighbour resolution failed; keep trying
		}
		next := time.Now().Add(pingInterval)
		if d, _ := ctx.Deadline(); d.Before(next) {
			next = d
		}
		c.SetReadDeadline(next)
		for {
			n, peer, err := c.ReadFrom(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: ping %s: %w", h.Name, ip, err)
			}
			m, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || m.Type != reply {
				continue
			}
			e, ok := m.Body.(*icmp.Echo)
			from, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
			if ok && e.ID == id && from.Unmap() == ip {
				return nil
			}
		}
		if ctx.Err() != nil {
			if lastErr != nil {
				return fmt.Errorf("%s: ping %s: no reply: %w (last send error: %v)", h.Name, ip, ctx.Err(), lastErr)
			}
			return fmt.Errorf("%s: ping %s: no reply: %w", h.Name, ip, ctx.Err())
		}
	}
}
