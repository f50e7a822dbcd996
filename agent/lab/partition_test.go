package lab_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vishvananda/netlink"
)

// blocked is how long a negative reachability check waits. A working cut
// fails the check whatever the value; it only bounds the test's run time.
const blocked = 300 * time.Millisecond

func reach(t *testing.T, from, to *lab.Host, ip netip.Addr) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), blocked)
	defer cancel()
	return from.Ping(ctx, ip)
}

func mustReach(t *testing.T, from, to *lab.Host) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := from.Ping(ctx, to.IP4); err != nil {
		t.Errorf("%s -> %s: %v (cuts %v)", from, to, err, to.String())
	}
}

func mustNotReach(t *testing.T, from, to *lab.Host) {
	t.Helper()
	if err := reach(t, from, to, to.IP4); err == nil {
		t.Errorf("%s reached %s through a cut", from, to)
	}
}

func TestCutHeal(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 3, Clients: 1, Name: "cut"})
	ctx := testenv.Context(t, 15*time.Second)
	h1, h2, h3, c1 := l.Host("h1"), l.Host("h2"), l.Host("h3"), l.Host("c1")

	ln, err := h1.Listen("tcp", netip.AddrPortFrom(h1.IP4, 7000).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dial := func(from *lab.Host, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		c, err := from.DialContext(ctx, "tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(h2, 2*time.Second); err != nil {
		t.Fatalf("connect before cut: %v", err)
	}

	// A VIP on h1 is cut with h1: partitions follow ports, not addresses.
	vip := l.FreeIP4()
	if err := h1.Do(func() error {
		link, err := netlink.LinkByName(h1.Iface)
		if err != nil {
			return err
		}
		return netlink.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: vip.AsSlice(), Mask: net.CIDRMask(32, 32)}})
	}); err != nil {
		t.Fatal(err)
	}

	if err := l.Cut(h1, h2); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Cuts(), []string{"h1->h2", "h2->h1"}; !slices.Equal(got, want) {
		t.Errorf("Cuts() = %v, want %v", got, want)
	}
	if err := dial(h2, blocked); err == nil {
		t.Error("TCP connect h2->h1 succeeded through a cut")
	}
	mustNotReach(t, h1, h2)
	if err := reach(t, h2, h1, vip); err == nil {
		t.Error("h2 reached h1's VIP through a cut")
	}
	if err := dial(h3, 2*time.Second); err != nil {
		t.Errorf("h3 -> h1 while only h1<->h2 is cut: %v", err)
	}
	if err := h3.Ping(ctx, vip); err != nil {
		t.Errorf("h3 -> VIP: %v", err)
	}

	if err := l.Heal(h2, h1); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(ctx, t, func() error { return dial(h2, time.Second) }, "connect after heal")
	if err := h2.Ping(ctx, vip); err != nil {
		t.Errorf("h2 -> VIP after heal: %v", err)
	}
	if len(l.Cuts()) != 0 {
		t.Errorf("cuts left after heal: %v", l.Cuts())
	}

	if err := l.Cut(h1, h1); err == nil {
		t.Error("cut of a host from itself accepted")
	}
	other := lab.NewT(t, lab.Config{Hosts: 1})
	if err := l.Cut(h1, other.Hosts()[0]); err == nil {
		t.Error("cut with a host of another lab accepted")
	}

	// Isolate: alone against servers and clients; others unaffected.
	if err := l.Isolate(h1); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, h1, h2)
	mustNotReach(t, c1, h1)
	mustReach(t, h2, c1)
	mustReach(t, h3, h2)
	if err := l.HealAll(); err != nil {
		t.Fatal(err)
	}
	mustReach(t, c1, h1)

	// IsolateFromHosts: the old master keeps its clients.
	if err := l.IsolateFromHosts(h1); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, h2, h1)
	mustNotReach(t, h1, h3)
	mustReach(t, c1, h1)
	if err := l.HealAll(); err != nil {
		t.Fatal(err)
	}

	// Partition: minority {h1} against majority {h2,h3}; c1 sees both.
	if err := l.Partition([]*lab.Host{h1}, []*lab.Host{h2, h3}); err != nil {
		t.Fatal(err)
	}
	mustNotReach(t, h1, h3)
	mustReach(t, h2, h3)
	mustReach(t, c1, h1)
	mustReach(t, c1, h3)
	if err := l.HealAll(); err != nil {
		t.Fatal(err)
	}
	mustReach(t, h1, h3)
}

// TestCutOneWay checks that a one-way cut drops exactly one direction. The
// dropped datagram is proven lost, not late: after healing, a second
// datagram on the same path arrives first.
func TestCutOneWay(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 2, Name: "oneway"})
	ctx := testenv.Context(t, 10*time.Second)
	h1, h2 := l.Host("h1"), l.Host("h2")
	listen := func(h *lab.Host) net.PacketConn {
		pc, err := h.ListenPacket("udp", netip.AddrPortFrom(h.IP4, 7001).String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		return pc
	}
	u1, u2 := listen(h1), listen(h2)
	send := func(from net.PacketConn, to *lab.Host, msg string) {
		t.Helper()
		if _, err := from.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(netip.AddrPortFrom(to.IP4, 7001))); err != nil {
			t.Fatalf("send %q: %v", msg, err)
		}
	}
	recv := func(pc net.PacketConn) (string, error) {
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, _, err := pc.ReadFrom(buf)
		return string(buf[:n]), err
	}
	// Resolve neighbours both ways first: across a one-way cut the reverse
	// direction cannot resolve addresses (its ARP replies would be dropped).
	if err := h1.Ping(ctx, h2.IP4); err != nil {
		t.Fatal(err)
	}
	if err := h2.Ping(ctx, h1.IP4); err != nil {
		t.Fatal(err)
	}

	if err := l.CutOneWay(h1, h2); err != nil {
		t.Fatal(err)
	}
	if got := l.Cuts(); !slices.Equal(got, []string{"h1->h2"}) {
		t.Errorf("Cuts() = %v", got)
	}
	send(u2, h1, "h2->h1 during cut")
	if got, err := recv(u1); err != nil || got != "h2->h1 during cut" {
		t.Fatalf("reverse direction across a one-way cut: %q, %v", got, err)
	}
	send(u1, h2, "h1->h2 during cut")
	if err := l.HealAll(); err != nil {
		t.Fatal(err)
	}
	send(u1, h2, "h1->h2 after heal")
	if got, err := recv(u2); err != nil || got != "h1->h2 after heal" {
		t.Fatalf("first datagram at h2 = %q, %v; want only the one sent after heal", got, err)
	}
}

func TestNeighbor(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 1, Clients: 1, IPv6: true})
	ctx := testenv.Context(t, 10*time.Second)
	h, c := l.Host("h1"), l.Host("c1")
	if _, _, err := c.Neighbor(h.IP4); !errors.Is(err, lab.ErrNoNeighbor) {
		t.Fatalf("neighbour before any traffic: err = %v, want ErrNoNeighbor", err)
	}
	for _, ip := range []netip.Addr{h.IP4, h.IP6} {
		if err := c.Ping(ctx, ip); err != nil {
			t.Fatal(err)
		}
		mac, state, err := c.Neighbor(ip)
		if err != nil {
			t.Fatal(err)
		}
		if mac.String() != h.MAC.String() {
			t.Errorf("neighbour %s: MAC %v, want %v", ip, mac, h.MAC)
		}
		if !slices.Contains([]string{"REACHABLE", "STALE", "DELAY", "PROBE"}, state) {
			t.Errorf("neighbour %s: state %s", ip, state)
		}
	}
	if _, _, err := c.Neighbor(l.FreeIP4()); !errors.Is(err, lab.ErrNoNeighbor) {
		t.Errorf("unused address: err = %v", err)
	}
}

// TestParallelLabs runs two labs at once, each with Redis on the default
// port, and checks that nothing they are named or numbered by collides.
func TestParallelLabs(t *testing.T) {
	t.Parallel()
	type seen struct {
		id, ns string
		prefix netip.Prefix
	}
	got := make([]seen, 2)
	t.Run("group", func(t *testing.T) {
		for i := range got {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				l := lab.NewT(t, lab.Config{Hosts: 2, Name: "par"})
				ctx := testenv.Context(t, 10*time.Second)
				r, err := l.Hosts()[0].StartRedis(lab.RedisOptions{})
				if err != nil {
					t.Fatal(err)
				}
				c := l.Hosts()[1].RedisClient(&redisOpts{Addr: r.Addr})
				if err := c.Set(ctx, "lab", l.ID(), 0).Err(); err != nil {
					t.Fatal(err)
				}
				if v := c.Get(ctx, "lab").Val(); v != l.ID() {
					t.Errorf("read %q from %s, want this lab's id %q", v, r.Addr, l.ID())
				}
				got[i] = seen{l.ID(), l.Hosts()[0].NS, l.Prefix4()}
			})
		}
	})
	if got[0].id == got[1].id || got[0].ns == got[1].ns || got[0].prefix == got[1].prefix {
		t.Errorf("labs collide: %+v", got)
	}
}

// udpDelivered sends n datagrams from one host to another and counts how
// many arrive within a short grace period after the last one.
func udpDelivered(t *testing.T, from, to *lab.Host, n int) int {
	t.Helper()
	pc, err := to.ListenPacket("udp", netip.AddrPortFrom(to.IP4, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx := testenv.Context(t, 5*time.Second)
	c, err := from.DialContext(ctx, "udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < n; i++ {
		c.Write([]byte("x")) // errors (ICMP feedback) are irrelevant: only arrivals count
	}
	got := 0
	buf := make([]byte, 16)
	for {
		pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := pc.ReadFrom(buf); err != nil {
			return got
		}
		got++
	}
}

func TestLossAndHealOneWay(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 3, Name: "loss"})
	h1, h2, h3 := l.Host("h1"), l.Host("h2"), l.Host("h3")
	mustReach(t, h1, h2) // neighbour entries in place: ARP is subject to loss too

	if err := l.SetLoss(h2, 100); err != nil {
		t.Fatal(err)
	}
	if got := udpDelivered(t, h1, h2, 50); got != 0 {
		t.Errorf("100%% loss on h2: %d of 50 datagrams arrived", got)
	}
	if err := l.SetLoss(h2, 50); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Cuts(), []string{"h2~50%"}; !slices.Equal(got, want) {
		t.Errorf("Cuts() = %v, want %v", got, want)
	}
	// 400 frames at 50 %: the count is binomial (sd 10); 100..300 is ten
	// standard deviations wide, so the test fails only if the rule is wrong.
	if got := udpDelivered(t, h1, h2, 400); got < 100 || got > 300 {
		t.Errorf("50%% loss on h2: %d of 400 datagrams arrived", got)
	}
	if got := udpDelivered(t, h1, h3, 100); got != 100 {
		t.Errorf("h3 has no loss, but %d of 100 datagrams arrived", got)
	}
	if err := l.SetLoss(h2, 101); err == nil {
		t.Error("loss of 101% accepted")
	}

	if err := l.SetLoss(h2, 0); err != nil {
		t.Fatal(err)
	}
	if got := udpDelivered(t, h1, h2, 100); got != 100 {
		t.Errorf("loss removed: %d of 100 datagrams arrived", got)
	}

	// HealOneWay lifts one direction of a cut only.
	if err := l.Cut(h1, h3); err != nil {
		t.Fatal(err)
	}
	if err := l.HealOneWay(h3, h1); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Cuts(), []string{"h1->h3"}; !slices.Equal(got, want) {
		t.Errorf("after HealOneWay(h3, h1): Cuts() = %v, want %v", got, want)
	}
	if got := udpDelivered(t, h3, h1, 20); got != 20 {
		t.Errorf("h3 -> h1 healed, but %d of 20 datagrams arrived", got)
	}
	if got := udpDelivered(t, h1, h3, 20); got != 0 {
		t.Errorf("h1 -> h3 still cut, but %d of 20 datagrams arrived", got)
	}
}
