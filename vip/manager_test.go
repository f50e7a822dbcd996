package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// harness drives a Manager over a fakeNet with explicit time.
type harness struct {
	t  *testing.T
	n  *fakeNet
	m  *Manager
	t0 time.Time
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newHarness(t *testing.T, cfgs []Config, addrs ...string) *harness {
	t.Helper()
	n := newFakeNet(addrs...)
	m, err := New(cfgs, Options{Addrs: n, Announcer: n, Logger: testLogger(t), OnEvent: n.event})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, n: n, m: m, t0: time.Unix(1_000_000, 0)}
}

// at runs one loop iteration (with reconcile) at t0+d and checks the action
// log since the previous check.
func (h *harness) at(d time.Duration, wantLog string) {
	h.t.Helper()
	h.m.step(h.t0.Add(d), true)
	if got := h.n.take(); got != strings.TrimSpace(wantLog) {
		h.t.Fatalf("at +%v: actions:\n%s\nwant:\n%s", d, got, strings.TrimSpace(wantLog))
	}
}

func (h *harness) state(want string) {
	h.t.Helper()
	if got := h.n.state(); got != strings.TrimSpace(want) {
		h.t.Fatalf("state:\n%s\nwant:\n%s", got, strings.TrimSpace(want))
	}
}

func (h *harness) own(master string, own bool, epoch uint64) {
	h.m.Set([]Intent{{Master: master, Own: own, Epoch: epoch, Reason: "test"}})
}

func (h *harness) status(i int) Status { return h.m.Status()[i] }

// vipAt is a VIP of master installed as prefix on iface in epoch.
type vipAt struct {
	master, prefix, iface string
	epoch                 uint64
}

// acquired is the action log of one step acquiring vips: every address
// added, then announced, then every +vip-acquired event, in vips' order.
func acquired(vips ...vipAt) string {
	var add, announce, event []string
	for _, v := range vips {
		a := netip.MustParsePrefix(v.prefix).Addr()
		add = append(add, fmt.Sprintf("add %s %s", v.iface, v.prefix))
		announce = append(announce, fmt.Sprintf("announce %s %s", v.iface, a))
		event = append(event, fmt.Sprintf("event +vip-acquired %s %s %s epoch %d", v.master, a, v.iface, v.epoch))
	}
	return strings.Join(slices.Concat(add, announce, event), "\n")
}

func cfg(master, prefix, iface string) Config {
	return Config{Master: master, Prefix: netip.MustParsePrefix(prefix), Interface: iface}
}

const s = time.Second
const ms = time.Millisecond

func TestStartupRemovesVIPsNotOwned(t *testing.T) {
	keep := cfg("m3", "198.18.0.11/32", "eth0")
	keep.KeepOnStop = true
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0"), cfg("m2", "fd00::10/128", "eth0"), keep},
		"eth0 198.18.0.1/24",
		"eth0 198.18.0.10/32",          // configured VIP, untagged: still not ours to hold
		"eth0 fd00::10/128 ours nodad", // configured VIP left by a crash
		"eth1 198.18.0.99/32 ours",     // tagged leftover of an older configuration
		"eth0 198.18.0.11/32 ours",     // keep-on-stop VIP: untouched until the first Set
		"eth0 198.18.0.77/32",          // somebody else's address
	)
	h.at(0, `
del eth0 198.18.0.10/32
del eth0 fd00::10/128
del eth1 198.18.0.99/32`)
	h.state(`
eth0 198.18.0.1/24
eth0 198.18.0.11/32 ours
eth0 198.18.0.77/32`)
	h.m.Set(nil)
	h.at(s, `del eth0 198.18.0.11/32`)
	for _, st := range h.m.Status() {
		if st.Held {
			t.Errorf("%s held after start", st.Master)
		}
	}
}

func TestAcquireAnnouncesOnSchedule(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0")}, "eth0 198.18.0.1/24")
	h.own("m1", true, 7)
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 7}))
	h.state(`
eth0 198.18.0.1/24
eth0 198.18.0.10/32 ours`)
	st := h.status(0)
	if !st.Held || st.Epoch != 7 || st.Announcements != 2 || !st.Since.Equal(h.t0) || st.Installed.String() != "198.18.0.10/32" {
		t.Fatalf("status %+v", st)
	}
	// Default: 5 rounds 1 s apart, then silence.
	h.at(999*ms, ``)
	for _, d := range []time.Duration{1 * s, 2 * s, 3 * s, 4 * s} {
		if next := h.m.nextDue(); !next.Equal(h.t0.Add(d)) {
			t.Fatalf("next round at %v, want +%v", next.Sub(h.t0), d)
		}
		h.at(d, `announce eth0 198.18.0.10`)
	}
	if next := h.m.nextDue(); !next.IsZero() {
		t.Fatalf("announcement due at %v after the burst", next.Sub(h.t0))
	}
	h.at(time.Minute, ``)
	if got := h.status(0).Announcements; got != 10 {
		t.Fatalf("announcements = %d, want 10", got)
	}
}

func TestScheduleRefreshAndLateRounds(t *testing.T) {
	c := cfg("m1", "fd00::10/128", "eth0")
	c.GARP = &GARPConfig{Count: 2, Interval: 200 * ms, Refresh: 30 * s}
	h := newHarness(t, []Config{c})
	h.own("m1", true, 1)
	h.at(0, acquired(vipAt{"m1", "fd00::10/128", "eth0", 1}))
	h.state(`eth0 fd00::10/128 ours nodad`)
	// Rounds at 0.2 s and, since both fell inside locktime, 1.1 s. A loop
	// that wakes late sends one round for all the overdue ones.
	h.at(1500*ms, `announce eth0 fd00::10`)
	if next := h.m.nextDue(); !next.Equal(h.t0.Add(31500 * ms)) {
		t.Fatalf("refresh due at %v, want +31.5s", next.Sub(h.t0))
	}
	h.at(31500*ms, `announce eth0 fd00::10`)
	h.at(61500*ms, `announce eth0 fd00::10`)
}

func TestReleaseCancelsAnnouncements(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0")})
	h.own("m1", true, 7)
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 7}))
	h.own("m1", false, 8)
	h.at(500*ms, `
del eth0 198.18.0.10/32
event +vip-released m1 198.18.0.10 eth0 epoch 8`)
	if next := h.m.nextDue(); !next.IsZero() {
		t.Fatalf("announcement still due at +%v after release", next.Sub(h.t0))
	}
	h.at(1100*ms, ``)
	h.at(5*s, ``)
	h.state(``)
	st := h.status(0)
	if st.Held || st.Epoch != 8 || !st.Since.Equal(h.t0.Add(500*ms)) {
		t.Fatalf("status %+v", st)
	}
}

func TestMissingIntentReleases(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0"), cfg("m2", "198.18.0.20/32", "eth0")})
	h.m.Set([]Intent{{Master: "m1", Own: true, Epoch: 3}, {Master: "m2", Own: true, Epoch: 4}})
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 3}, vipAt{"m2", "198.18.0.20/32", "eth0", 4}))
	h.m.Set([]Intent{{Master: "m2", Own: true, Epoch: 4}})
	h.at(500*ms, `
del eth0 198.18.0.10/32
event +vip-released m1 198.18.0.10 eth0 epoch 3`)
	if r := h.status(0).Reason; r != "no intent for this master" {
		t.Fatalf("reason %q", r)
	}
}

func TestExternalRemovalIsRepaired(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0")})
	h.own("m1", true, 7)
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 7}))
	h.at(1100*ms, `announce eth0 198.18.0.10`)
	h.n.extDel("eth0", "198.18.0.10/32")
	h.at(2*s, `
add eth0 198.18.0.10/32
announce eth0 198.18.0.10`)
	st := h.status(0)
	if st.Repairs != 1 || !st.Held || !st.Since.Equal(h.t0) {
		t.Fatalf("status %+v", st)
	}
	// The schedule restarted at the repair.
	if next := h.m.nextDue(); !next.Equal(h.t0.Add(3 * s)) {
		t.Fatalf("next round at +%v, want +3s", next.Sub(h.t0))
	}
}

func TestEpochChangeWhileHeldReannounces(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0")})
	h.own("m1", true, 7)
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 7}))
	h.at(10*s, `announce eth0 198.18.0.10`) // the late rounds, as one
	h.at(20*s, ``)
	h.own("m1", true, 9)
	h.at(21*s, `announce eth0 198.18.0.10`)
	if st := h.status(0); st.Epoch != 9 || !st.Since.Equal(h.t0) {
		t.Fatalf("status %+v", st)
	}
}

func TestIPv4PrefixNeverPrimary(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/24", "eth0")}, "eth0 198.18.1.1/24")
	h.own("m1", true, 1)
	// No primary in 198.18.0.0/24: a /24 VIP would become the primary and
	// the source of the connected route, so it goes in as a /32.
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 1}))
	if got := h.status(0).Installed.String(); got != "198.18.0.10/32" {
		t.Fatalf("installed %s", got)
	}
	// Once a primary covers the prefix, the configured prefix is installed
	// (as a secondary) before the /32 goes.
	h.n.extSet("eth0 198.18.0.1/24")
	h.at(s, `
add eth0 198.18.0.10/24
del eth0 198.18.0.10/32
announce eth0 198.18.0.10`)
	h.state(`
eth0 198.18.0.1/24
eth0 198.18.0.10/24 ours secondary
eth0 198.18.1.1/24`)
	if st := h.status(0); st.Repairs != 0 || st.Installed.String() != "198.18.0.10/24" {
		t.Fatalf("status %+v", st)
	}
}

func TestIPv4SecondaryWhenPrimaryExists(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/24", "eth0")}, "eth0 198.18.0.1/24")
	h.own("m1", true, 1)
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/24", "eth0", 1}))
	h.state(`
eth0 198.18.0.1/24
eth0 198.18.0.10/24 ours secondary`)
}

func TestUntaggedVIPIsTakenOver(t *testing.T) {
	c := cfg("m1", "fd00::10/128", "eth0")
	c.KeepOnStop = true // so it survives until the first Set
	h := newHarness(t, []Config{c}, "eth0 fd00::10/128")
	h.at(0, ``)
	h.own("m1", true, 2)
	h.at(s, acquired(vipAt{"m1", "fd00::10/128", "eth0", 2}))
	h.state(`eth0 fd00::10/128 ours nodad`)
	if st := h.status(0); st.Repairs != 0 || !st.Held {
		t.Fatalf("status %+v", st)
	}
}

func TestDADFailedIsReadded(t *testing.T) {
	h := newHarness(t, []Config{cfg("m2", "fd00::10/128", "eth0")})
	h.own("m2", true, 5)
	h.at(0, acquired(vipAt{"m2", "fd00::10/128", "eth0", 5}))
	h.n.extSet("eth0 fd00::10/128 ours dadfailed")
	h.at(s, `
del eth0 fd00::10/128
add eth0 fd00::10/128
announce eth0 fd00::10`)
	h.state(`eth0 fd00::10/128 ours nodad`)
}

func TestAddFailureIsRetried(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth9")})
	h.n.failAdd = errors.New("Link not found")
	h.own("m1", true, 2)
	h.at(0, `add eth9 198.18.0.10/32: Link not found`)
	st := h.status(0)
	if st.Held || !strings.Contains(st.Err, "Link not found") || !strings.Contains(st.Err, "epoch 2") {
		t.Fatalf("status %+v", st)
	}
	h.n.failAdd = nil
	h.at(3*s, acquired(vipAt{"m1", "198.18.0.10/32", "eth9", 2}))
	if st := h.status(0); st.Err != "" || !st.Held {
		t.Fatalf("status %+v", st)
	}
}

func TestDeleteFailureKeepsHeld(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0")})
	h.own("m1", true, 2)
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 2}))
	h.n.failDel = errors.New("operation not permitted")
	h.own("m1", false, 3)
	h.at(500*ms, `del eth0 198.18.0.10/32: operation not permitted`)
	// Still held (it is still on the interface), but never announced again.
	if st := h.status(0); !st.Held || st.Err == "" {
		t.Fatalf("status %+v", st)
	}
	if next := h.m.nextDue(); !next.IsZero() {
		t.Fatalf("announcement due at +%v for a VIP no longer owned", next.Sub(h.t0))
	}
	h.m.step(h.t0.Add(1*s), false) // the timer path, no reconcile
	if got := h.n.take(); got != "" {
		t.Fatalf("actions after ownership was lost: %s", got)
	}
	// Owned again before the delete succeeded: announced again.
	h.own("m1", true, 3)
	h.at(1500*ms, `announce eth0 198.18.0.10`)
	h.own("m1", false, 4)
	h.n.failDel = nil
	h.at(2*s, `
del eth0 198.18.0.10/32
event +vip-released m1 198.18.0.10 eth0 epoch 4`)
}

func TestConflictCountedAndRateLimited(t *testing.T) {
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0")})
	other := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	c := Claim{Iface: "eth0", IP: netip.MustParseAddr("198.18.0.10"), MAC: other, Kind: "arp-reply"}
	h.m.onClaim(c) // not held: ignored
	h.own("m1", true, 4)
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 4}))
	h.m.onClaim(c)
	h.m.onClaim(c)                                                                        // within a second: counted, no second event
	h.m.onClaim(Claim{Iface: "eth1", IP: c.IP, MAC: other})                               // other interface
	h.m.onClaim(Claim{Iface: "eth0", IP: netip.MustParseAddr("198.18.0.11"), MAC: other}) // other address
	if len(h.m.conflicts) != 1 {
		t.Fatalf("%d conflict events queued, want 1", len(h.m.conflicts))
	}
	h.m.pending = append(h.m.pending, <-h.m.conflicts)
	h.at(500*ms, `event +vip-conflict m1 198.18.0.10 eth0 epoch 4 from 02:00:00:00:00:09 arp-reply`)
	st := h.status(0)
	if st.Conflicts != 2 || st.LastConflictMAC != other.String() {
		t.Fatalf("status %+v", st)
	}
}

func TestCloseReleasesPerPolicy(t *testing.T) {
	keep := cfg("m2", "198.18.0.20/32", "eth0")
	keep.KeepOnStop = true
	h := newHarness(t, []Config{cfg("m1", "198.18.0.10/32", "eth0"), keep})
	h.m.Set([]Intent{{Master: "m1", Own: true, Epoch: 3}, {Master: "m2", Own: true, Epoch: 3}})
	h.at(0, acquired(vipAt{"m1", "198.18.0.10/32", "eth0", 3}, vipAt{"m2", "198.18.0.20/32", "eth0", 3}))
	if err := h.m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.n.take(); got != "del eth0 198.18.0.10/32\nevent +vip-released m1 198.18.0.10 eth0 epoch 3" {
		t.Fatalf("close actions:\n%s", got)
	}
	h.state(`eth0 198.18.0.20/32 ours`)
	if err := h.m.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	n := newFakeNet()
	tests := []struct {
		name string
		cfgs []Config
		want string
	}{
		{"duplicate", []Config{cfg("a", "198.18.0.10/32", "eth0"), cfg("b", "198.18.0.10/32", "eth1")}, "already configured for master a"},
		{"loopback", []Config{cfg("a", "127.0.0.2/32", "lo")}, "not a usable unicast"},
		{"link-local", []Config{cfg("a", "fe80::1/128", "eth0")}, "not a usable unicast"},
		{"no iface", []Config{cfg("a", "198.18.0.10/32", "")}, "no interface"},
		{"long iface", []Config{cfg("a", "198.18.0.10/32", "abcdefghijklmnop")}, "longer than 15"},
		{"no master", []Config{cfg("", "198.18.0.10/32", "eth0")}, "empty master"},
		{"mapped", []Config{cfg("a", "::ffff:198.18.0.10/128", "eth0")}, "IPv4-mapped"},
		{"bad garp", []Config{{Master: "a", Prefix: netip.MustParsePrefix("198.18.0.10/32"), Interface: "eth0", GARP: &GARPConfig{Count: 3, Interval: time.Hour}}}, "garp interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfgs, Options{Addrs: n, Announcer: n})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Fatal("New without Addrs/Announcer succeeded")
	}
}

// TestRunWiring exercises the real loop: Set, address events, conflict
// listeners and Close, over the fake.
func TestRunWiring(t *testing.T) {
	n := newFakeNet()
	events := make(chan Event, 16)
	m, err := New([]Config{cfg("m1", "198.18.0.10/32", "eth0")}, Options{
		Addrs: n, Announcer: n, Logger: testLogger(t),
		OnEvent:           func(ev Event) { events <- ev },
		ReconcileInterval: time.Hour, // only events and Set drive it here
	})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- m.Run(context.Background()) }()
	t.Cleanup(func() { _ = m.Close(context.Background()) })

	next := func(typ string) Event {
		t.Helper()
		ev := testenv.Receive(t, events, 10*time.Second, typ+" event")
		if ev.Type != typ {
			t.Fatalf("event %s %q, want %s", ev.Type, ev.Payload, typ)
		}
		return ev
	}
	m.Set([]Intent{{Master: "m1", Own: true, Epoch: 11}})
	if ev := next(EventAcquired); ev.Epoch != 11 || ev.Master != "m1" || ev.Payload != "m1 198.18.0.10 eth0 epoch 11" {
		t.Fatalf("acquired event %+v", ev)
	}

	// An address event (the fake calls the Watch callback) triggers repair.
	n.extDel("eth0", "198.18.0.10/32")
	testenv.Until(t, 10*time.Second, "repair", func() bool { return m.Status()[0].Repairs == 1 && strings.Contains(n.state(), "198.18.0.10/32") })

	testenv.Until(t, 10*time.Second, "conflict listener", func() bool {
		return n.claim(Claim{Iface: "eth0", IP: netip.MustParseAddr("198.18.0.10"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, Kind: "na"})
	})
	if ev := next(EventConflict); !strings.Contains(ev.Payload, "from 02:00:00:00:00:02") || !ev.Warning {
		t.Fatalf("conflict event %+v", ev)
	}

	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ev := next(EventReleased); ev.Epoch != 11 {
		t.Fatalf("released event %+v", ev)
	}
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st := n.state(); st != "" {
		t.Fatalf("addresses after Close: %s", st)
	}
}
