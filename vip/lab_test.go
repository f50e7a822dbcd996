package vip

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// These tests run the production Netlink and Packet implementations inside
// lab namespaces (hosts h1, h2 and client c1 on one bridge). Every frame
// stays on the lab bridge.

// node is a Manager running on a lab host.
type node struct {
	h      *lab.Host
	m      *Manager
	nl     *Netlink
	pk     *Packet
	events chan Event
}

func startNode(t *testing.T, h *lab.Host, cfgs []Config, shapes func(net.HardwareAddr, netip.Addr) ([][]byte, error)) *node {
	t.Helper()
	nl, err := NewNetlink(NetlinkOptions{NetNSPath: h.NetNSPath()})
	if err != nil {
		t.Fatal(err)
	}
	log := testLogger(t).With("host", h.Name)
	pk, err := NewPacket(PacketOptions{NetNSPath: h.NetNSPath(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if shapes != nil {
		pk.shapes = shapes
	}
	n := &node{h: h, nl: nl, pk: pk, events: make(chan Event, 256)}
	n.m, err = New(cfgs, Options{
		Addrs: nl, Announcer: pk, Logger: log,
		OnEvent: func(ev Event) {
			t.Logf("%s: event %s %s", h.Name, ev.Type, ev.Payload)
			select {
			case n.events <- ev:
			default:
			}
		},
		ReconcileInterval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.m.Run(ctx) }()
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := n.m.Close(cctx); err != nil {
			t.Errorf("%s: close: %v", h.Name, err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: run: %v", h.Name, err)
		}
		nl.Close()
		pk.Close()
	})
	return n
}

func (n *node) set(master string, own bool, epoch uint64) {
	n.m.Set([]Intent{{Master: master, Own: own, Epoch: epoch, Reason: "test"}})
}

// wait returns the next event of type typ, skipping others.
func (n *node) wait(t *testing.T, typ string) Event {
	t.Helper()
	timeout := time.After(wait.Default)
	for {
		select {
		case ev := <-n.events:
			if ev.Type == typ {
				return ev
			}
		case <-timeout:
			t.Fatalf("%s: no %s event within %v; status %+v", n.h.Name, typ, wait.Default, n.m.Status())
		}
	}
}

// hasAddr reports whether h has ip on its interface.
func hasAddr(t *testing.T, h *lab.Host, ip netip.Addr) bool {
	t.Helper()
	ps, err := h.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Addr() == ip })
}

// pollNeighbor polls c's neighbour entry for ip until it has mac or timeout
// passes, and returns the time from start.
func pollNeighbor(t *testing.T, c *lab.Host, ip netip.Addr, mac net.HardwareAddr, start time.Time, timeout time.Duration) (time.Duration, bool) {
	t.Helper()
	for {
		got, _, err := c.Neighbor(ip)
		now := time.Now()
		if err == nil && bytes.Equal(got, mac) {
			return now.Sub(start), true
		}
		if now.Sub(start) > timeout {
			return now.Sub(start), false
		}
		time.Sleep(200 * time.Microsecond)
	}
}

func neighborMAC(t *testing.T, c *lab.Host, ip netip.Addr) net.HardwareAddr {
	t.Helper()
	mac, state, err := c.Neighbor(ip)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: neighbour %s is %v %s", c.Name, ip, mac, state)
	return mac
}

// maxMoveLatency is the bound on the client's neighbour entry following
// the VIP: the first announcement round leaves at acquisition.
const maxMoveLatency = 100 * time.Millisecond

// Alternative frame shapes, to show which ones Linux accepts within locktime.
func replyOnly(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error) {
	_, rep, err := garpFrames(mac, ip)
	return [][]byte{rep}, err
}

func requestOnly(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error) {
	req, _, err := garpFrames(mac, ip)
	return [][]byte{req}, err
}

// replyTHABroadcast is MetalLB's reply shape: not a GARP to Linux.
func replyTHABroadcast(mac net.HardwareAddr, ip netip.Addr) ([][]byte, error) {
	f, err := arpFrame(arp.OperationReply, mac, ip, ethernet.Broadcast)
	return [][]byte{f}, err
}

func TestLabMoveIPv4(t *testing.T) {
	tests := []struct {
		name   string
		fresh  bool // entry refreshed less than locktime before the move
		shapes func(net.HardwareAddr, netip.Addr) ([][]byte, error)
		// control: the shape is expected to be ignored within locktime
		control bool
	}{
		{name: "existing entry", fresh: false},
		{name: "entry refreshed within locktime", fresh: true},
		{name: "reply shape alone within locktime", fresh: true, shapes: replyOnly},
		{name: "request shape alone within locktime", fresh: true, shapes: requestOnly},
		{name: "control reply with THA broadcast", fresh: true, shapes: replyTHABroadcast, control: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lab.NewT(t, lab.Config{Hosts: 2, Clients: 1, Name: "vipmove"})
			a, b, c := l.Hosts()[0], l.Hosts()[1], l.Clients()[0]
			ip := l.FreeIP4()
			cfgs := []Config{{Master: "m1", Prefix: netip.PrefixFrom(ip, 32), Interface: a.Iface}}
			na := startNode(t, a, cfgs, nil)
			nb := startNode(t, b, cfgs, tt.shapes)

			na.set("m1", true, 1)
			na.wait(t, EventAcquired)
			ctx := context.Background()
			if err := c.Ping(ctx, ip); err != nil {
				t.Fatal(err)
			}
			if mac := neighborMAC(t, c, ip); !bytes.Equal(mac, a.MAC) {
				t.Fatalf("client resolved %s to %v, want h1's %v", ip, mac, a.MAC)
			}
			var refreshed time.Time
			if tt.fresh {
				if _, err := c.Exec(ctx, "ip", "neigh", "del", ip.String(), "dev", c.Iface); err != nil {
					t.Fatal(err)
				}
				if err := c.Ping(ctx, ip); err != nil {
					t.Fatal(err)
				}
				refreshed = time.Now() // the ARP exchange happened just before
			} else {
				// The condition is the passage of time itself: the entry's
				// last update must be older than locktime.
				time.Sleep(Locktime + 200*time.Millisecond)
			}

			na.set("m1", false, 2)
			na.wait(t, EventReleased)
			start := time.Now()
			nb.set("m1", true, 2)
			if tt.fresh && start.Sub(refreshed) > Locktime/2 {
				t.Fatalf("setup too slow: move %v after the refresh, the locktime case is not exercised", start.Sub(refreshed))
			}
			if tt.control {
				// Ignored until locktime has passed since the refresh, then the
				// 1.1 s round is accepted.
				deadline := refreshed.Add(Locktime - 100*time.Millisecond)
				d, ok := pollNeighbor(t, c, ip, b.MAC, start, time.Until(deadline))
				if ok {
					t.Fatalf("a reply with THA=broadcast updated the entry %v after acquisition, within locktime; the locktime tests prove nothing", d)
				}
				d, ok = pollNeighbor(t, c, ip, b.MAC, start, 3*time.Second)
				if !ok {
					t.Fatalf("entry never moved to h2")
				}
				t.Logf("control: entry moved only %v after acquisition (the round past locktime)", d)
				return
			}
			d, ok := pollNeighbor(t, c, ip, b.MAC, start, 2*time.Second)
			if !ok {
				t.Fatalf("client's entry for %s still %v 2s after h2 acquired it", ip, neighborMAC(t, c, ip))
			}
			ev := nb.wait(t, EventAcquired)
			age := "over locktime"
			if tt.fresh {
				age = start.Sub(refreshed).Round(time.Microsecond).String()
			}
			t.Logf("neighbour update latency: %v after Set (entry last updated %s before the move); event %q", d, age, ev.Payload)
			if d > maxMoveLatency {
				t.Fatalf("client's entry moved %v after acquisition, want within %v", d, maxMoveLatency)
			}
			if hasAddr(t, a, ip) {
				t.Fatalf("h1 still has %s after releasing it", ip)
			}
		})
	}
}

func TestLabMoveIPv6(t *testing.T) {
	tests := []struct {
		name      string
		untracked bool // client has no entry but accepts untracked NAs
	}{
		{name: "existing entry"},
		{name: "untracked NA creates entry", untracked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := lab.NewT(t, lab.Config{Hosts: 2, Clients: 1, IPv6: true, Name: "vipmove6"})
			a, b, c := l.Hosts()[0], l.Hosts()[1], l.Clients()[0]
			ip := l.FreeIP6()
			cfgs := []Config{{Master: "m1", Prefix: netip.PrefixFrom(ip, 128), Interface: a.Iface}}
			na := startNode(t, a, cfgs, nil)
			nb := startNode(t, b, cfgs, nil)
			ctx := context.Background()

			na.set("m1", true, 1)
			na.wait(t, EventAcquired)
			checkV6Flags(t, a, ip)
			if tt.untracked {
				// RFC 9131 behaviour (Linux >= 5.19): only for routers.
				for _, kv := range [][2]string{{"net.ipv6.conf.eth0.forwarding", "1"}, {"net.ipv6.conf.eth0.accept_untracked_na", "1"}} {
					if err := c.SetSysctl(kv[0], kv[1]); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				if err := c.Ping(ctx, ip); err != nil {
					t.Fatal(err)
				}
				if mac := neighborMAC(t, c, ip); !bytes.Equal(mac, a.MAC) {
					t.Fatalf("client resolved %s to %v, want h1's %v", ip, mac, a.MAC)
				}
			}

			na.set("m1", false, 2)
			na.wait(t, EventReleased)
			start := time.Now()
			nb.set("m1", true, 2)
			d, ok := pollNeighbor(t, c, ip, b.MAC, start, 2*time.Second)
			if !ok {
				t.Fatalf("client's entry for %s does not point to h2 2s after it acquired it", ip)
			}
			nb.wait(t, EventAcquired)
			t.Logf("IPv6 neighbour update latency: %v after Set", d)
			if d > maxMoveLatency {
				t.Fatalf("client's entry moved %v after acquisition, want within %v", d, maxMoveLatency)
			}
			checkV6Flags(t, b, ip)
			if hasAddr(t, a, ip) {
				t.Fatalf("h1 still has %s after releasing it", ip)
			}
		})
	}
}

// ipAddr is the part of "ip -j addr show" the tests read.
type ipAddr struct {
	AddrInfo []struct {
		Family     string `json:"family"`
		Local      string `json:"local"`
		Prefixlen  int    `json:"prefixlen"`
		Label      string `json:"label"`
		Secondary  bool   `json:"secondary"`
		NoDAD      bool   `json:"nodad"`
		Deprecated bool   `json:"deprecated"`
		Tentative  bool   `json:"tentative"`
		DADFailed  bool   `json:"dadfailed"`
		Preferred  uint64 `json:"preferred_life_time"`
		Valid      uint64 `json:"valid_life_time"`
	} `json:"addr_info"`
}

func ipAddrInfo(t *testing.T, h *lab.Host, ip netip.Addr) string {
	t.Helper()
	out, err := h.Exec(context.Background(), "ip", "-j", "addr", "show", "dev", h.Iface)
	if err != nil {
		t.Fatal(err)
	}
	var links []ipAddr
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("parse ip -j addr: %v\n%s", err, out)
	}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Local == ip.String() {
				return fmt.Sprintf("/%d label=%q secondary=%v nodad=%v deprecated=%v tentative=%v dadfailed=%v preferred=%d valid=%d",
					a.Prefixlen, a.Label, a.Secondary, a.NoDAD, a.Deprecated, a.Tentative, a.DADFailed, a.Preferred, a.Valid)
			}
		}
	}
	return "absent"
}

func checkV6Flags(t *testing.T, h *lab.Host, ip netip.Addr) {
	t.Helper()
	want := `/128 label="" secondary=false nodad=true deprecated=true tentative=false dadfailed=false preferred=0 valid=4294967295`
	if got := ipAddrInfo(t, h, ip); got != want {
		t.Fatalf("%s on %s: %s\nwant %s", ip, h.Name, got, want)
	}
}

// TestLabNeverSourceAddress checks that neither VIP becomes the source for
// traffic from the host: the IPv4 one goes in as a secondary of the host's
// /24, the IPv6 one deprecated.
func TestLabNeverSourceAddress(t *testing.T) {
	l := lab.NewT(t, lab.Config{Hosts: 1, Clients: 1, IPv6: true, Name: "vipsrc"})
	a, c := l.Hosts()[0], l.Clients()[0]
	ip4, ip6 := l.FreeIP4(), l.FreeIP6()
	n := startNode(t, a, []Config{
		{Master: "m1", Prefix: netip.PrefixFrom(ip4, 24), Interface: a.Iface},
		{Master: "m1", Prefix: netip.PrefixFrom(ip6, 128), Interface: a.Iface},
	}, nil)
	n.set("m1", true, 3)
	n.wait(t, EventAcquired)
	n.wait(t, EventAcquired)
	if got, want := ipAddrInfo(t, a, ip4), `/24 label="eth0:vip" secondary=true nodad=false deprecated=false tentative=false dadfailed=false preferred=4294967295 valid=4294967295`; got != want {
		t.Fatalf("%s: %s\nwant %s", ip4, got, want)
	}
	checkV6Flags(t, a, ip6)
	for _, dst := range []netip.Addr{c.IP4, c.IP6} {
		args := []string{"-j", "route", "get", dst.String()}
		if dst.Is6() {
			args = append([]string{"-6"}, args...)
		}
		out, err := a.Exec(context.Background(), "ip", args...)
		if err != nil {
			t.Fatal(err)
		}
		var routes []struct {
			Prefsrc string `json:"prefsrc"`
		}
		if err := json.Unmarshal(out, &routes); err != nil || len(routes) == 0 {
			t.Fatalf("parse ip route get: %v\n%s", err, out)
		}
		want := a.IP4
		if dst.Is6() {
			want = a.IP6
		}
		if routes[0].Prefsrc != want.String() {
			t.Fatalf("source for %s is %s, want the host's %s (not a VIP)", dst, routes[0].Prefsrc, want)
		}
	}
}

// arpWatch collects gratuitous ARPs for ip seen by h.
type arpWatch struct {
	mu   sync.Mutex
	seen []Claim
	c    *packet.Conn
}

func watchARP(t *testing.T, h *lab.Host) *arpWatch {
	t.Helper()
	w := &arpWatch{}
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		w.c, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, _, err := w.c.ReadFrom(buf)
			if err != nil {
				return
			}
			if cl, err := parseClaim(buf[:n]); err == nil {
				w.mu.Lock()
				w.seen = append(w.seen, cl)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

func (w *arpWatch) count(ip netip.Addr, mac net.HardwareAddr) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, c := range w.seen {
		if c.IP == ip && bytes.Equal(c.MAC, mac) {
			n++
		}
	}
	return n
}

// TestLabRepairAndLeftovers: leftovers of a "crashed run" are removed at
// start (tagged ones anywhere, configured VIPs), a foreign address is kept;
// an external "ip addr del" of a held VIP is repaired and re-announced;
// Close releases.
func TestLabRepairAndLeftovers(t *testing.T) {
	l := lab.NewT(t, lab.Config{Hosts: 1, Clients: 1, IPv6: true, Name: "viprepair"})
	a, c := l.Hosts()[0], l.Clients()[0]
	vip4, stale4, foreign4, stale6 := l.FreeIP4(), l.FreeIP4(), l.FreeIP4(), l.FreeIP6()

	// The crashed run: our tagged VIP, a tagged VIP of an older
	// configuration (both families); and someone else's address.
	crashed, err := NewNetlink(NetlinkOptions{NetNSPath: a.NetNSPath()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []netip.Prefix{netip.PrefixFrom(vip4, 32), netip.PrefixFrom(stale4, 32), netip.PrefixFrom(stale6, 128)} {
		if err := crashed.Add(Addr{Iface: a.Iface, Prefix: p}); err != nil {
			t.Fatal(err)
		}
		// Idempotent.
		if err := crashed.Add(Addr{Iface: a.Iface, Prefix: p}); err != nil {
			t.Fatalf("second add: %v", err)
		}
	}
	list, err := crashed.List(a.Iface)
	if err != nil {
		t.Fatal(err)
	}
	crashed.Close()
	ours := 0
	for _, x := range list {
		if x.Ours {
			ours++
		}
	}
	if ours != 3 {
		t.Fatalf("%d tagged addresses listed, want 3: %v", ours, list)
	}
	if _, err := a.Exec(context.Background(), "ip", "addr", "add", foreign4.String()+"/32", "dev", a.Iface); err != nil {
		t.Fatal(err)
	}

	n := startNode(t, a, []Config{{Master: "m1", Prefix: netip.PrefixFrom(vip4, 32), Interface: a.Iface}}, nil)
	lab.Eventually(context.Background(), t, func() error {
		for _, ip := range []netip.Addr{vip4, stale4, stale6} {
			if hasAddr(t, a, ip) {
				return fmt.Errorf("%s still present", ip)
			}
		}
		return nil
	}, "leftovers removed at start")
	if !hasAddr(t, a, foreign4) {
		t.Fatalf("untagged foreign address %s was removed", foreign4)
	}

	n.set("m1", true, 4)
	n.wait(t, EventAcquired)
	w := watchARP(t, c)
	before := n.m.Status()[0].Announcements
	start := time.Now()
	if _, err := a.Exec(context.Background(), "ip", "addr", "del", vip4.String()+"/32", "dev", a.Iface); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(context.Background(), t, func() error {
		if !hasAddr(t, a, vip4) {
			return fmt.Errorf("%s not back", vip4)
		}
		if st := n.m.Status()[0]; st.Repairs != 1 || st.Announcements <= before {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	}, "VIP re-added")
	t.Logf("repair latency (ip addr del to re-added and announced): %v", time.Since(start))
	lab.Eventually(context.Background(), t, func() error {
		if w.count(vip4, a.MAC) < 2 {
			return fmt.Errorf("client saw %d GARPs from h1", w.count(vip4, a.MAC))
		}
		return nil
	}, "re-announcement on the wire (request and reply)")

	if err := n.m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ev := n.wait(t, EventReleased); ev.Epoch != 4 {
		t.Fatalf("released event %+v", ev)
	}
	if hasAddr(t, a, vip4) {
		t.Fatalf("%s still present after Close", vip4)
	}
}

// TestLabConflict: two managers both claim the VIPs (split brain); the first
// holder sees the second's announcements and reports them.
func TestLabConflict(t *testing.T) {
	l := lab.NewT(t, lab.Config{Hosts: 2, IPv6: true, Name: "vipconflict"})
	a, b := l.Hosts()[0], l.Hosts()[1]
	ip4, ip6 := l.FreeIP4(), l.FreeIP6()
	cfgs := []Config{
		{Master: "m1", Prefix: netip.PrefixFrom(ip4, 32), Interface: a.Iface},
		{Master: "m1", Prefix: netip.PrefixFrom(ip6, 128), Interface: a.Iface},
	}
	na := startNode(t, a, cfgs, nil)
	nb := startNode(t, b, cfgs, nil)
	na.set("m1", true, 5)
	na.wait(t, EventAcquired)
	na.wait(t, EventAcquired)
	nb.set("m1", true, 5)

	seen := map[netip.Addr]bool{}
	for len(seen) < 2 {
		ev := na.wait(t, EventConflict)
		if !strings.Contains(ev.Payload, "from "+b.MAC.String()) || ev.Epoch != 5 {
			t.Fatalf("conflict event %+v, want one naming h2's %v", ev, b.MAC)
		}
		for _, ip := range []netip.Addr{ip4, ip6} {
			if strings.HasPrefix(ev.Payload, "m1 "+ip.String()+" ") {
				seen[ip] = true
			}
		}
	}
	for _, st := range na.m.Status() {
		if st.Conflicts == 0 || st.LastConflictMAC != b.MAC.String() {
			t.Fatalf("h1 status %+v", st)
		}
	}
}

// TestLabTakeOver: a VIP installed by someone else (here "ip addr add", as
// the replaced client-reconfig-script would) and kept over the start by
// KeepOnStop is taken over on the first Set: tagged, and for IPv6 made
// deprecated so it is never a source address.
func TestLabTakeOver(t *testing.T) {
	l := lab.NewT(t, lab.Config{Hosts: 1, IPv6: true, Name: "viptakeover"})
	a := l.Hosts()[0]
	ip4, ip6 := l.FreeIP4(), l.FreeIP6()
	ctx := context.Background()
	for _, args := range [][]string{
		{"addr", "add", ip4.String() + "/32", "dev", a.Iface},
		{"addr", "add", ip6.String() + "/128", "dev", a.Iface, "nodad"},
	} {
		if _, err := a.Exec(ctx, "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	cfgs := []Config{
		{Master: "m1", Prefix: netip.PrefixFrom(ip4, 32), Interface: a.Iface, KeepOnStop: true},
		{Master: "m1", Prefix: netip.PrefixFrom(ip6, 128), Interface: a.Iface, KeepOnStop: true},
	}
	n := startNode(t, a, cfgs, nil)
	n.set("m1", true, 6)
	n.wait(t, EventAcquired)
	n.wait(t, EventAcquired)
	checkV6Flags(t, a, ip6)
	list, err := n.nl.List(a.Iface)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{ip4, ip6} {
		if !slices.ContainsFunc(list, func(x Addr) bool { return x.Prefix.Addr() == ip && x.Ours }) {
			t.Fatalf("%s not tagged after take-over: %v", ip, list)
		}
	}
	if st := n.m.Status(); st[0].Repairs+st[1].Repairs != 0 {
		t.Fatalf("take-over counted as repair: %+v", st)
	}
}
