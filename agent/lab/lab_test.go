package lab_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vishvananda/netlink"
)

func TestTopology(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 2, Clients: 1, IPv6: true, Name: "topo"})
	ctx := testenv.Context(t, 10*time.Second)

	if !lab.Range4.Contains(l.Prefix4().Addr()) || l.Prefix4().Bits() != 24 {
		t.Errorf("Prefix4 %v not a /24 in %v", l.Prefix4(), lab.Range4)
	}
	if !netip.MustParsePrefix("fd00::/8").Contains(l.Prefix6().Addr()) {
		t.Errorf("Prefix6 %v not in fd00::/8", l.Prefix6())
	}
	all := append(l.Hosts(), l.Clients()...)
	if len(all) != 3 || l.Host("h2") != l.Hosts()[1] || l.Host("c1") != l.Clients()[0] || l.Host("h9") != nil {
		t.Fatalf("hosts: %v, clients: %v", l.Hosts(), l.Clients())
	}
	seen := map[netip.Addr]bool{}
	for _, h := range all {
		if !l.Prefix4().Contains(h.IP4) || !l.Prefix6().Contains(h.IP6) {
			t.Errorf("%s: %v %v outside %v %v", h.Name, h.IP4, h.IP6, l.Prefix4(), l.Prefix6())
		}
		if len(h.Port) > 15 || len(h.Iface) > 15 {
			t.Errorf("%s: interface names too long: %q %q", h.Name, h.Port, h.Iface)
		}
		seen[h.IP4], seen[h.IP6] = true, true
		addrs, err := h.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []netip.Prefix{netip.PrefixFrom(h.IP4, 24), netip.PrefixFrom(h.IP6, 64)} {
			if !slices.Contains(addrs, want) {
				t.Errorf("%s: addresses %v lack %v", h.Name, addrs, want)
			}
		}
		var mac net.HardwareAddr
		if err := h.Do(func() error {
			link, err := netlink.LinkByName(h.Iface)
			if err != nil {
				return err
			}
			mac = link.Attrs().HardwareAddr
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mac, h.MAC) {
			t.Errorf("%s: MAC %v, want %v", h.Name, mac, h.MAC)
		}
		if v, err := h.Sysctl("net.ipv4.conf.all.arp_accept"); err != nil || v != "0" {
			t.Errorf("%s: arp_accept = %q, %v", h.Name, v, err)
		}
	}
	v4, v6 := l.FreeIP4(), l.FreeIP6()
	if seen[v4] || seen[v6] || !l.Prefix4().Contains(v4) || !l.Prefix6().Contains(v6) || l.FreeIP4() == v4 {
		t.Errorf("free addresses %v %v clash or are outside the lab", v4, v6)
	}

	// Every host reaches every other over IPv4 and IPv6 (no DAD wait).
	for _, a := range all {
		for _, b := range all {
			if a == b {
				continue
			}
			for _, ip := range []netip.Addr{b.IP4, b.IP6} {
				if err := a.Ping(ctx, ip); err != nil {
					t.Error(err)
				}
			}
		}
	}

	// Exec runs inside the namespace and reports failures with stderr.
	out, err := l.Hosts()[0].Exec(ctx, "ip", "-o", "addr", "show", "dev", "eth0")
	if err != nil || !strings.Contains(string(out), l.Hosts()[0].IP4.String()) {
		t.Errorf("exec ip addr: %v\n%s", err, out)
	}
	if _, err := l.Hosts()[0].Exec(ctx, "sh", "-c", "echo oops >&2; exit 3"); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("failing exec: err = %v, want exit status with stderr", err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := l.Hosts()[0].Exec(short, "sleep", "30"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled exec: err = %v after %v", err, time.Since(start))
	}
}

// TestNoDNSDial checks that host names are refused rather than resolved from
// the caller's namespace.
func TestNoDNSDial(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 1})
	if _, err := l.Hosts()[0].DialContext(context.Background(), "tcp", "example.com:80"); err == nil {
		t.Fatal("dial by name succeeded")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []lab.Config{{Hosts: -1}, {Hosts: 100}, {Clients: 100}, {Name: "Bad"}, {Name: "1abc"}, {Name: "a-b"}} {
		if l, err := lab.New(cfg); err == nil {
			l.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// TestCloseLeavesNothing checks that Close removes every namespace and kills
// tracked and untracked (daemonised) processes, and that no link appears in
// the caller's namespace at any point.
func TestCloseLeavesNothing(t *testing.T) {
	t.Parallel()
	lab.RequireRoot(t)
	ctx := testenv.Context(t, 10*time.Second)
	before := rootLinks(t)
	l, err := lab.New(lab.Config{Hosts: 2, Clients: 1, Name: "close"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var names []string
	for _, h := range append(append(l.Hosts(), l.Clients()...), l.Switch()) {
		names = append(names, h.NS)
	}
	for n := range rootLinks(t) {
		if !before[n] && (n == "eth0" || n == "br0" || strings.HasPrefix(n, "h") || strings.HasPrefix(n, "c")) {
			t.Errorf("lab created link %q in the caller's namespace", n)
		}
	}
	p, err := l.Hosts()[0].Start("sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	// A daemonised grandchild in its own session escapes the process group.
	if _, err := l.Hosts()[1].Exec(ctx, "sh", "-c", "setsid sleep 301 >/dev/null 2>&1 < /dev/null &"); err != nil {
		t.Fatal(err)
	}
	var orphan int
	lab.Eventually(ctx, t, func() error {
		orphan = findProc("sleep 301")
		if orphan == 0 {
			return errors.New("no orphan yet")
		}
		return nil
	}, "daemonised sleep")
	dir := l.Dir()

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if p.Running() {
		t.Error("tracked process still running")
	}
	if findProc("sleep 301") != 0 {
		t.Errorf("daemonised process %d survived Close", orphan)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(string(out), n) {
			t.Errorf("namespace %s still listed after Close", n)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("lab dir %s: %v", dir, err)
	}
	if _, err := l.Hosts()[0].Start("true"); err == nil {
		t.Error("Start after Close succeeded")
	}
	if err := l.Cut(l.Hosts()[0], l.Hosts()[1]); err == nil {
		t.Error("Cut after Close succeeded")
	}
}

func rootLinks(t *testing.T) map[string]bool {
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, l := range links {
		m[l.Attrs().Name] = true
	}
	return m
}

// findProc returns the pid of a live process whose command line is exactly
// cmdline (arguments joined by spaces), or 0.
func findProc(cmdline string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ") == cmdline {
			var pid int
			fmt.Sscan(e.Name(), &pid)
			if st, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
				return pid
			}
		}
	}
	return 0
}

type redisOpts = redis.Options

// procState checks the state letter in /proc/<pid>/stat.
func procState(pid int, want string) error {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return fmt.Errorf("bad stat %q", s)
	}
	if got := s[i+2 : i+3]; got != want {
		return fmt.Errorf("state %s, want %s", got, want)
	}
	return nil
}

// TestPartialNew makes New fail half-way (the third "ip" call fails, after
// the switch and h1 exist) and checks that everything already made is gone.
func TestPartialNew(t *testing.T) {
	lab.RequireRoot(t)
	real, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	calls := bin + "/calls"
	script := fmt.Sprintf(`#!/bin/sh
echo "$*" >> %s
n=$(wc -l < %s)
[ "$n" -le 2 ] || { echo "injected failure" >&2; exit 1; }
exec %s "$@"
`, calls, calls, real)
	if err := os.WriteFile(bin+"/ip", []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	tmpBefore, _ := os.ReadDir(os.TempDir())

	l, err := lab.New(lab.Config{Hosts: 3, Name: "partial"})
	if err == nil {
		l.Close()
		t.Fatal("New succeeded despite the injected failure")
	}
	if !strings.Contains(err.Error(), "injected failure") {
		t.Errorf("error %q does not carry the cause", err)
	}
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "netns" && f[1] == "add" {
			made = append(made, f[2])
		}
	}
	if len(made) != 3 {
		t.Fatalf("ip calls %q: want three netns add", b)
	}
	out, err := exec.Command(real, "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range made {
		if strings.Contains(string(out), ns) {
			t.Errorf("namespace %s left after failed New", ns)
		}
	}
	id := strings.TrimSuffix(made[0], "-sw")
	tmpAfter, _ := os.ReadDir(os.TempDir())
	for _, e := range tmpAfter {
		if strings.HasPrefix(e.Name(), id) && !slices.ContainsFunc(tmpBefore, func(d os.DirEntry) bool { return d.Name() == e.Name() }) {
			t.Errorf("temp dir %s left after failed New", e.Name())
		}
	}
}
