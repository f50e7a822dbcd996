package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/systemd"
)

const (
	clusterVIP = "198.18.0.100"
	// clusterPass is the agents' requirepass: without one, protected mode
	// keeps the agents from reaching each other.
	clusterPass   = "e2e-agent-pw"
	clusterConfig = `# vipsentinel e2e: three hosts, identical configuration
port 26379
requirepass ` + clusterPass + `
dir /var/lib/vipsentinel
sentinel monitor mymaster 198.18.0.11 6379 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 10000
sentinel vip mymaster ` + clusterVIP + `/24 eth0
firewall yes
`
)

// node is one booted host of the cluster test.
type node struct {
	*container
	ip    string
	mac   string
	netns string // the network namespace (under /run/netns) the host runs in
}

// labNetwork creates the cluster's network without touching the host's
// network namespace: a "switch" namespace holding a bridge and, per node, a
// namespace whose eth0 is a veth to that bridge, with a lab address. The
// containers then run in those namespaces (--network-namespace-path).
func labNetwork(t *testing.T, n int) (netns, ips []string) {
	t.Helper()
	sweepLeftovers(t)
	prefix := fmt.Sprintf("vse2e%d", os.Getpid())
	sw := prefix + "sw"
	ipc := func(args ...string) { t.Helper(); host(t, nil, append([]string{"ip"}, args...)...) }
	ipc("netns", "add", sw)
	t.Cleanup(func() { hostCmd(nil, "ip", "netns", "del", sw) })
	ipc("-n", sw, "link", "add", "br0", "type", "bridge")
	ipc("-n", sw, "link", "set", "br0", "up")
	for i := 1; i <= n; i++ {
		ns := fmt.Sprintf("%sn%d", prefix, i)
		ip := fmt.Sprintf("198.18.0.%d", 10+i)
		ipc("netns", "add", ns)
		t.Cleanup(func() { hostCmd(nil, "ip", "netns", "del", ns) })
		port := fmt.Sprintf("p%d", i)
		ipc("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", sw)
		ipc("-n", sw, "link", "set", port, "master", "br0", "up")
		ipc("-n", ns, "link", "set", "lo", "up")
		ipc("-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
		ipc("-n", ns, "link", "set", "eth0", "up")
		netns, ips = append(netns, ns), append(ips, ip)
	}
	return netns, ips
}

// TestClusterFailoverBooted is the whole user journey on three booted Debian
// hosts: redis-server master and two replicas, the package installed and
// configured identically on each, the VIP on the master's host; then the
// master's redis-server stops, the agents fail over, the VIP moves to the
// promoted replica (announced by gratuitous ARP), clients write through the
// VIP again, and the old master rejoins as a replica.
func TestClusterFailoverBooted(t *testing.T) {
	testenv.NeedRoot(t)
	needTools(t, "ip")
	start := time.Now()
	pkg := build(t, defaultVersion(t))
	nodes, ips, holders := bootCluster(t, pkg)
	// The replicas talk to the VIP once, so that their neighbour caches hold
	// n1's MAC: after the failover only a gratuitous ARP can change that.
	for _, n := range nodes[1:] {
		if out := strings.TrimSpace(n.must("redis-cli", "-h", clusterVIP, "role")); !strings.HasPrefix(out, "master") {
			t.Fatalf("%s: ROLE through the VIP = %q, want master", n.name, out)
		}
	}
	t.Logf("cluster up with the VIP on n1 after %v", time.Since(start).Round(time.Millisecond))

	// Failover: the master's redis-server goes away.
	failAt := time.Now()
	nodes[0].must("systemctl", "stop", "redis-server")
	var promoted int
	testenv.Eventually(t, 60*time.Second, "the agents to promote a replica", func() error {
		out, _ := nodes[1].exec("redis-cli", "-p", "26379", "-a", clusterPass, "--no-auth-warning", "sentinel", "get-master-addr-by-name", "mymaster")
		addr := strings.Fields(out)
		for i := 1; i < 3; i++ {
			if len(addr) == 2 && addr[0] == ips[i] {
				promoted = i
				return nil
			}
		}
		return testenv.Pending(false, out)
	})
	other := 3 - promoted
	var holderSamples [][]int
	testenv.Eventually(t, 30*time.Second, "the VIP to move to the promoted replica", func() error {
		h := holders()
		holderSamples = append(holderSamples, h)
		return testenv.Pending(len(h) == 1 && h[0] == promoted, fmt.Sprintf("holders %v", h))
	})
	for _, h := range holderSamples {
		if len(h) > 1 {
			t.Errorf("VIP seen on several hosts at once: %v (samples %v)", h, holderSamples)
		}
	}
	// Clients write through the VIP again (from n1: its agent stays up).
	testenv.Eventually(t, 30*time.Second, "a write through the VIP", func() error {
		out, err := nodes[0].exec("redis-cli", "-h", clusterVIP, "set", "e2e-key", "after-failover")
		return testenv.Pending(err == nil && strings.TrimSpace(out) == "OK", fmt.Sprint(out, err))
	})
	t.Logf("failover: n%d promoted, VIP moved, write through the VIP OK %v after the master stopped",
		promoted+1, time.Since(failAt).Round(time.Millisecond))
	// The untouched replica learnt the VIP's new MAC from the gratuitous ARP.
	neigh := nodes[other].must("ip", "neigh", "show", clusterVIP, "dev", "eth0")
	if !strings.Contains(neigh, nodes[promoted].mac) {
		t.Errorf("n%d's neighbour entry for the VIP: %q, want the MAC %s of n%d", other+1, neigh, nodes[promoted].mac, promoted+1)
	}
	if out := nodes[other].must("redis-cli", "info", "replication"); !strings.Contains(out, "master_host:"+ips[promoted]) {
		t.Errorf("n%d not reconfigured to replicate from n%d:\n%s", other+1, promoted+1, out)
	}
	// The journals carry the events with their MESSAGE_IDs.
	hasEvent := func(n *node, id string) bool {
		for _, e := range journalEntries(t, n.container, "vipsentinel") {
			if e["MESSAGE_ID"] == id {
				return true
			}
		}
		return false
	}
	if !hasEvent(nodes[promoted], systemd.MessageIDVIPAcquired) {
		t.Errorf("n%d's journal has no +vip-acquired entry", promoted+1)
	}
	if !hasEvent(nodes[0], systemd.MessageIDVIPReleased) {
		t.Error("n1's journal has no +vip-released entry")
	}
	if !hasEvent(nodes[promoted], systemd.MessageIDSwitchMaster) {
		t.Errorf("n%d's journal has no +switch-master entry", promoted+1)
	}

	// The old master comes back and is turned into a replica; the VIP stays.
	nodes[0].must("systemctl", "start", "redis-server")
	testenv.Eventually(t, 60*time.Second, "the old master to rejoin as a replica", func() error {
		out, _ := nodes[0].exec("redis-cli", "info", "replication")
		return testenv.Pending(strings.Contains(out, "role:slave") && strings.Contains(out, "master_host:"+ips[promoted]), out)
	})
	if h := holders(); len(h) != 1 || h[0] != promoted {
		t.Errorf("after the old master rejoined: VIP holders %v, want only n%d", h, promoted+1)
	}
	for _, n := range nodes {
		if p := n.show("vipsentinel", "ActiveState", "NRestarts"); p["ActiveState"] != "active" || p["NRestarts"] != "0" {
			t.Errorf("%s: agent %v", n.name, p)
		}
	}
	clusterOperations(t, nodes, ips, promoted, holders)
	t.Logf("cluster journey took %v", time.Since(start).Round(time.Millisecond))
}

// bootCluster boots three Debian hosts on a lab network, with redis-server
// (n1 the master, n2 and n3 replicas) and the package pkg installed,
// configured identically (clusterConfig) and started on each; it returns
// once the VIP is on n1 only and the agents know each other, with a
// function listing the hosts holding the VIP. extra are more nspawn
// arguments for every host (--bind-ro of other packages).
func bootCluster(t *testing.T, pkg packages, extra ...string) (nodes []*node, ips []string, holders func() []int) {
	t.Helper()
	start := time.Now()
	base := newRootfs(t)
	netns, ips := labNetwork(t, 3)
	args := append([]string{"--volatile=overlay", "--capability=CAP_NET_ADMIN", "--bind-ro=" + filepath.Dir(pkg.Deb) + ":/srv/pkg"}, extra...)

	nodes = make([]*node, 3)
	for i := range nodes {
		// nspawn grants CAP_NET_ADMIN only with --private-network; in a
		// namespace of our own the agent needs it too (netlink, nftables).
		c := startContainer(t, base, fmt.Sprintf("vse2e%dn%d", os.Getpid(), i+1),
			append([]string{"--network-namespace-path=/run/netns/" + netns[i]}, args...)...)
		nodes[i] = &node{container: c, ip: ips[i], netns: netns[i]}
	}
	for _, n := range nodes {
		n.waitRunning()
		// Not /sys/class/net: nspawn's /sys shows the host's network namespace.
		link := strings.Fields(n.must("ip", "-o", "link", "show", "dev", "eth0"))
		for j := 0; j+1 < len(link); j++ {
			if link[j] == "link/ether" {
				n.mac = link[j+1]
			}
		}
		if n.mac == "" {
			t.Fatalf("%s: no MAC address in %q", n.name, link)
		}
	}
	t.Logf("3 hosts booted in %v", time.Since(start).Round(time.Millisecond))

	// Redis: n1 master, n2 and n3 replicas, reachable on the lab network.
	for i, n := range nodes {
		extra := "bind 0.0.0.0\nprotected-mode no\n"
		if i > 0 {
			extra += "replicaof " + ips[0] + " 6379\n"
		}
		if _, err := n.execCtxStdin(extra, "sh", "-c", "cat >> /etc/redis/redis.conf"); err != nil {
			t.Fatal(err)
		}
		n.must("systemctl", "restart", "redis-server")
	}
	testenv.Eventually(t, 30*time.Second, "both replicas to sync", func() error {
		out, _ := nodes[0].exec("redis-cli", "info", "replication")
		return testenv.Pending(strings.Contains(out, "connected_slaves:2") && strings.Count(out, "state=online") == 2, out)
	})

	// The package, as an operator installs it on each host.
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.exec("dpkg", "-i", "/srv/pkg/"+filepath.Base(pkg.Deb)); err != nil {
				errs[i] = err
				return
			}
			if _, err := n.execCtxStdin(clusterConfig, "sh", "-c", "cat > /etc/vipsentinel/vipsentinel.conf"); err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = n.exec("systemctl", "start", "vipsentinel")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("n%d: %v\n%s", i+1, err, nodes[i].journal("vipsentinel"))
		}
	}
	holders = func() []int { return vipHolders(nodes, netip.MustParseAddr(clusterVIP)) }
	testenv.Eventually(t, 30*time.Second, "the VIP on n1 only", func() error {
		h := holders()
		return testenv.Pending(len(h) == 1 && h[0] == 0, fmt.Sprintf("holders %v", h))
	})
	testenv.Eventually(t, 30*time.Second, "the agents to discover each other", func() error {
		out, _ := nodes[0].exec("redis-cli", "-p", "26379", "-a", clusterPass, "--no-auth-warning", "sentinel", "sentinels", "mymaster")
		return testenv.Pending(countLines(out, "name") == 2, out)
	})
	return nodes, ips, holders
}

// clusterOperations runs the operator's group commands on the booted
// cluster, from the current master's host (its configuration holds the
// agents' password): pause and resume reach all three agents, and
// `vipsentinel failover --to` moves the master and its VIP back to n1, the
// replica Sentinel's order would not pick over the other.
func clusterOperations(t *testing.T, nodes []*node, ips []string, promoted int, holders func() []int) {
	t.Helper()
	n := nodes[promoted]
	if out := n.must("vipsentinel", "pause", "--for", "10m"); !strings.Contains(out, "* paused on 3 of 3 agents") {
		t.Errorf("pause: %s", out)
	}
	if out := n.must("vipsentinel", "resume"); !strings.Contains(out, "* resumed on 3 of 3 agents") {
		t.Errorf("resume: %s", out)
	}
	target := ips[0] + ":6379"
	// Eligible and caught up in the agent's view: a forced failover waits
	// at most down-after/2 (500 ms here) for the replica to reach the
	// paused master's offset, and n1 has just rejoined.
	waitEligible := func() {
		testenv.Eventually(t, 60*time.Second, "n1 eligible and caught up", func() error {
			out, _ := n.exec("vipsentinel", "status", "--json")
			var st struct {
				Masters []struct {
					Replicas []struct {
						Address  string `json:"address"`
						Eligible bool   `json:"eligible"`
						Offset   int64  `json:"offset"`
						LagBytes int64  `json:"lag_bytes"`
					} `json:"replicas"`
				} `json:"masters"`
			}
			_ = json.Unmarshal([]byte(out), &st)
			for _, m := range st.Masters {
				for _, r := range m.Replicas {
					if r.Address == target && r.Eligible && r.Offset > 0 && r.LagBytes == 0 {
						return nil
					}
				}
			}
			return testenv.Pending(false, out)
		})
	}
	// A switchover aborted because n1 did not reach the paused master's
	// offset within down-after/2 (-failover-abort-replica-lagging; seen
	// here once in several runs, not in the lab's TestSwitchoverTo) is
	// the safe outcome, and the operator's answer is to run it again:
	// so does the test, at most three times.
	var switchAt time.Time
	for attempt := 1; ; attempt++ {
		waitEligible()
		switchAt = time.Now()
		out, err := n.exec("vipsentinel", "failover", "mymaster", "--to", target)
		if err == nil && strings.Contains(out, "mymaster is now at "+target) {
			break
		}
		j := n.journal("vipsentinel")
		if attempt < 3 && strings.Contains(j, "-failover-abort-replica-lagging") {
			t.Logf("failover --to %s attempt %d aborted (replica lagging); again", target, attempt)
			continue
		}
		st, _ := n.exec("vipsentinel", "status")
		t.Fatalf("failover --to %s: %v\n%s\n%s\n%s", target, err, out, st, j)
	}
	var samples [][]int
	testenv.Eventually(t, 30*time.Second, "the VIP back on n1", func() error {
		h := holders()
		samples = append(samples, h)
		return testenv.Pending(len(h) == 1 && h[0] == 0, fmt.Sprintf("holders %v", h))
	})
	for _, h := range samples {
		if len(h) > 1 {
			t.Errorf("VIP on several hosts at once during the switchover: %v", samples)
		}
	}
	testenv.Eventually(t, 30*time.Second, "a write through the VIP after the switchover", func() error {
		out, err := nodes[1].exec("redis-cli", "-h", clusterVIP, "set", "e2e-key", "after-switchover")
		return testenv.Pending(err == nil && strings.TrimSpace(out) == "OK", fmt.Sprint(out, err))
	})
	t.Logf("switchover --to n1: VIP moved and a write through it OK %v after the command", time.Since(switchAt).Round(time.Millisecond))
	// The write went to n1, the new master.
	if out := strings.TrimSpace(nodes[0].must("redis-cli", "get", "e2e-key")); out != "after-switchover" {
		t.Errorf("e2e-key on n1 = %q", out)
	}
}

// countLines counts the lines of s equal to line (redis-cli prints a
// reply's map keys on lines of their own).
func countLines(s, line string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == line {
			n++
		}
	}
	return n
}
