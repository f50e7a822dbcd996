package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestClusterUpgradeBooted upgrades the package on the master's host of a
// booted three-host cluster (dpkg -i of a newer build over the running one)
// while a client on another host writes through the VIP, and samples the
// hosts holding the VIP every 5 ms. The agent re-executes the new version
// in place and keeps the VIP: no write fails and the VIP is never on two
// hosts. Then the VIP is changed in every host's configuration and
// reloaded: the new address comes up on the master's host, never on two.
func TestClusterUpgradeBooted(t *testing.T) {
	testenv.NeedRoot(t)
	needTools(t, "ip")
	start := time.Now()
	v1, v2 := upgradeBuilds(t)
	nodes, _, _ := bootCluster(t, v1, "--bind-ro="+filepath.Dir(v2.Deb)+":/srv/v2")
	t.Logf("cluster up with the VIP on n1 after %v", time.Since(start).Round(time.Millisecond))
	const unit = "vipsentinel.service"
	before := nodes[0].show(unit, "MainPID", "NRestarts")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("n1's journal:\n%s", nodes[0].journal("vipsentinel"))
		}
	})

	keepsWrites(t, nodes, "upgrade", func() error {
		j := nodes[0].journal("vipsentinel")
		return testenv.Pending(strings.Contains(j, "handover: the core holds the lease again"), "")
	}, "dpkg", "-i", "/srv/v2/"+filepath.Base(v2.Deb))
	var lines []string
	for _, l := range strings.Split(nodes[0].journal("vipsentinel"), "\n") {
		if strings.Contains(l, "handover") || strings.Contains(l, "re-exec") {
			lines = append(lines, l)
		}
	}
	t.Logf("n1's journal:\n%s", strings.Join(lines, "\n"))
	after := nodes[0].show(unit, "MainPID", "NRestarts", "ActiveState")
	if after["MainPID"] != before["MainPID"] || after["NRestarts"] != before["NRestarts"] || after["ActiveState"] != "active" {
		t.Errorf("after the upgrade: %v, want the same MainPID and NRestarts as %v, active", after, before)
	}
	if exe := strings.TrimSpace(nodes[0].must("readlink", "/proc/"+after["MainPID"]+"/exe")); exe != "/usr/bin/vipsentinel" {
		t.Errorf("the agent runs %q after the upgrade, want the new /usr/bin/vipsentinel", exe)
	}
	// The watchdog carries on: the re-executed process pings it (systemd
	// moves WatchdogTimestamp at each WATCHDOG=1).
	wd := nodes[0].show(unit, "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"]
	testenv.Eventually(t, 30*time.Second, "a watchdog ping from the re-executed agent", func() error {
		p := nodes[0].show(unit, "WatchdogTimestampMonotonic", "MainPID")
		return testenv.Pending(p["WatchdogTimestampMonotonic"] != wd && p["MainPID"] == before["MainPID"], fmt.Sprint(p, " was ", wd))
	})

	// A VIP change, reloaded on every host, the master's last: its agent
	// hands its lease over to a re-executed copy that installs the new
	// address at once.
	vip, newVIP := netip.MustParseAddr(clusterVIP), netip.MustParseAddr("198.18.0.101")
	s := sampleVIPHolders(t, nodes, vip, newVIP)
	for _, n := range nodes {
		n.must("sed", "-i", "s|^sentinel vip mymaster "+clusterVIP+"/|sentinel vip mymaster "+newVIP.String()+"/|", "/etc/vipsentinel/vipsentinel.conf")
	}
	for _, n := range []*node{nodes[2], nodes[1]} {
		n.must("systemctl", "reload", "vipsentinel")
	}
	reloadAt := time.Now()
	nodes[0].must("systemctl", "reload", "vipsentinel")
	var up time.Duration
	testenv.Eventually(t, 30*time.Second, "the new VIP on n1 only, the old one gone", func() error {
		h := vipHolders(nodes, newVIP)
		if up == 0 && len(h) > 0 {
			up = time.Since(reloadAt)
		}
		old := vipHolders(nodes, vip)
		return testenv.Pending(len(h) == 1 && h[0] == 0 && len(old) == 0, fmt.Sprint("new VIP on ", h, ", old on ", old))
	})
	time.Sleep(500 * time.Millisecond)
	dual, maxHeld, _ := s.stop()
	t.Logf("reload with a VIP change on the VIP host: new VIP up %v after systemctl reload, two holders %v (max %d)",
		up.Round(time.Millisecond), dual, maxHeld)
	if dual > 0 || maxHeld > 1 {
		t.Errorf("a VIP on %d hosts at once for %v", maxHeld, dual)
	}
	if p := nodes[0].show(unit, "MainPID", "NRestarts"); p["MainPID"] != before["MainPID"] || p["NRestarts"] != before["NRestarts"] {
		t.Errorf("after the reload: %v, want the same MainPID and NRestarts as %v", p, before)
	}
}

// vipHolders lists the nodes with ip on eth0.
func vipHolders(nodes []*node, ip netip.Addr) []int {
	var h []int
	for i, n := range nodes {
		out, _ := n.exec("ip", "-o", "addr", "show", "dev", "eth0")
		if strings.Contains(out, " "+ip.String()+"/") {
			h = append(h, i)
		}
	}
	return h
}

// writeTimeout bounds each write. A VIP that goes away shows as refused or
// reset connections and in the sampler's count of samples without the VIP;
// a write that a starved test machine (load average above 20 on two cores
// while dpkg unpacks and syncs) merely delays shows as the longest gap. Real
// clients wait longer (go-redis: 3 s).
const writeTimeout = time.Second

// vipWriter writes through an address from inside a network namespace, one
// SET at a time, every 2 ms, counting failed writes and the longest time
// between two acknowledged ones.
type vipWriter struct {
	stopc chan struct{}
	done  chan struct{}

	mu                sync.Mutex
	acked, failed     int
	last              time.Time
	gap               time.Duration
	firstErr, lastErr string
}

func startVIPWriter(t *testing.T, ns, addr string) *vipWriter {
	t.Helper()
	w := &vipWriter{stopc: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(w.done)
		// This thread enters the namespace for good; the runtime
		// discards it when the goroutine ends locked.
		runtime.LockOSThread()
		h, err := netns.GetFromName(ns)
		if err == nil {
			err = netns.Set(h)
			h.Close()
		}
		ready <- err
		if err != nil {
			return
		}
		var conn net.Conn
		var rd *bufio.Reader
		for seq := 0; ; seq++ {
			select {
			case <-w.stopc:
				if conn != nil {
					conn.Close()
				}
				return
			case <-time.After(2 * time.Millisecond):
			}
			err := func() error {
				if conn == nil {
					c, err := net.DialTimeout("tcp", addr, writeTimeout)
					if err != nil {
						return err
					}
					conn, rd = c, bufio.NewReader(c)
				}
				key, val := fmt.Sprint("upgrade:", seq), fmt.Sprint(seq)
				_ = conn.SetDeadline(time.Now().Add(writeTimeout))
				if _, err := fmt.Fprintf(conn, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(val), val); err != nil {
					return err
				}
				line, err := rd.ReadString('\n')
				if err != nil {
					return err
				}
				if line != "+OK\r\n" {
					return fmt.Errorf("reply %q", strings.TrimSpace(line))
				}
				return nil
			}()
			now := time.Now()
			w.mu.Lock()
			if err != nil {
				w.failed++
				w.lastErr = err.Error()
				if w.firstErr == "" {
					w.firstErr = err.Error()
				}
				if conn != nil {
					conn.Close()
					conn = nil
				}
			} else {
				if !w.last.IsZero() {
					w.gap = max(w.gap, now.Sub(w.last))
				}
				w.acked++
				w.last = now
			}
			w.mu.Unlock()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("writer: enter namespace %s: %v", ns, err)
	}
	return w
}

func (w *vipWriter) counts() (acked, failed int, gap time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked, w.failed, w.gap
}

func (w *vipWriter) stop() (acked, failed int, gap time.Duration) {
	close(w.stopc)
	<-w.done
	return w.counts()
}

// vipSampler looks every 5 ms at which hosts hold each VIP, through
// netlink handles in their namespaces (no process per sample).
type vipSampler struct {
	stopc   chan struct{}
	done    chan struct{}
	dual    time.Duration
	maxHeld int
	unheld  int // samples in which a VIP was on no host
}

func sampleVIPHolders(t *testing.T, nodes []*node, vips ...netip.Addr) *vipSampler {
	t.Helper()
	var handles []*netlink.Handle
	for _, n := range nodes {
		ns, err := netns.GetFromName(n.netns)
		if err != nil {
			t.Fatal(err)
		}
		h, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		handles = append(handles, h)
	}
	s := &vipSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		last, prevDual := time.Now(), false
		for {
			// The most hosts holding one of the VIPs.
			holders := map[netip.Addr]int{}
			complete := true
			for _, h := range handles {
				addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
				if err != nil {
					complete = false
					continue
				}
				for _, a := range addrs {
					if ip, ok := netip.AddrFromSlice(a.IP); ok && slices.Contains(vips, ip.Unmap()) {
						holders[ip.Unmap()]++
					}
				}
			}
			held := 0
			for _, n := range holders {
				held = max(held, n)
			}
			if complete && len(holders) < len(vips) {
				s.unheld++
			}
			now := time.Now()
			s.maxHeld = max(s.maxHeld, held)
			if held > 1 && prevDual {
				s.dual += now.Sub(last)
			}
			prevDual, last = held > 1, now
			select {
			case <-s.stopc:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *vipSampler) stop() (dual time.Duration, maxHeld, unheld int) {
	close(s.stopc)
	<-s.done
	return s.dual, s.maxHeld, s.unheld
}
