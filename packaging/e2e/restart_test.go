package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/systemd"
)

// TestClusterRestartBooted restarts the agent with systemd on the master's
// host of a booted three-host cluster while a client on another host writes
// through the VIP, and samples the hosts holding the VIP every 5 ms:
//
//   - `systemctl restart`, then a unit-file change (a drop-in, daemon-reload,
//     restart): systemd's job on the unit is a restart, so the agent hands
//     its lease to the new process; no write fails and the VIP is never on
//     two hosts (nor on none).
//   - a restart whose start fails (a drop-in with ExecStartPre=/bin/false):
//     the handover is left for a successor that never runs, and
//     release-handover (ExecStopPost=) removes the VIP and the firewall
//     table once the start has failed.
//   - `systemctl stop` releases the VIP at once; once the master's Redis is
//     stopped too, another host's agent takes the VIP over.
func TestClusterRestartBooted(t *testing.T) {
	testenv.NeedRoot(t)
	needTools(t, "ip")
	start := time.Now()
	nodes, _, _ := bootCluster(t, build(t, defaultVersion(t)))
	t.Logf("cluster up with the VIP on n1 after %v", time.Since(start).Round(time.Millisecond))
	n1 := nodes[0]
	vip := netip.MustParseAddr(clusterVIP)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := n1.exec("journalctl", "-u", "vipsentinel", "-o", "verbose", "--no-pager", "-n", "150")
			t.Logf("n1's journal:\n%s", out)
		}
	})

	// The lease is a third of down-after-milliseconds. The cluster's 1 s
	// (a 333 ms lease) is shorter than a restart by systemd takes on this
	// loaded test machine: three executions of the agent's binary
	// (ExecStopPost=, ExecCondition=, ExecStart=) between the old process's
	// exit and the new one's adoption, up to 2 s at a load average of 27.
	// Sentinel's default is 30 s; 9 s (a 3 s lease) is applied in place by
	// a reload on every host.
	for _, n := range nodes {
		n.must("sed", "-i", "s|^sentinel down-after-milliseconds mymaster .*|sentinel down-after-milliseconds mymaster 9000|", "/etc/vipsentinel/vipsentinel.conf")
		n.must("systemctl", "reload", "vipsentinel")
	}
	testenv.Eventually(t, 30*time.Second, "down-after-milliseconds 9000 on every agent", func() error {
		for _, n := range nodes {
			out, _ := n.exec("redis-cli", "-p", "26379", "-a", clusterPass, "--no-auth-warning", "sentinel", "master", "mymaster")
			if !strings.Contains(out, "down-after-milliseconds\n9000") {
				return testenv.Pending(false, n.name+": "+out)
			}
		}
		return nil
	})

	restartKeepsWrites(t, nodes, "systemctl restart", 1)

	// A unit-file change that only a restart applies.
	n1.must("mkdir", "-p", "/etc/systemd/system/vipsentinel.service.d")
	n1.writeFile("/etc/systemd/system/vipsentinel.service.d/rst-env.conf", "[Service]\nEnvironment=RST_UNIT_CHANGE=1\n")
	n1.must("systemctl", "daemon-reload")
	pid := restartKeepsWrites(t, nodes, "unit-file change + daemon-reload + restart", 2)
	if env := n1.must("cat", "/proc/"+pid+"/environ"); !strings.Contains(env, "RST_UNIT_CHANGE=1") {
		t.Errorf("the restarted agent (pid %s) runs without the drop-in's environment: %q", pid, env)
	}

	// A restart whose start fails: nobody adopts the handover.
	s := sampleVIPHolders(t, nodes, vip)
	n1.writeFile("/etc/systemd/system/vipsentinel.service.d/rst-fail.conf", "[Service]\nExecStartPre=/bin/false\n")
	n1.must("systemctl", "daemon-reload")
	at := time.Now()
	_, _ = n1.exec("systemctl", "restart", "vipsentinel") // fails: the start does
	var gone time.Duration
	testenv.Eventually(t, 30*time.Second, "release-handover to remove the VIP left for the failed start", func() error {
		h := vipHolders(nodes, vip)
		if len(h) == 0 && gone == 0 {
			gone = time.Since(at)
		}
		_, err := n1.exec("nft", "list", "table", "inet", "vipsentinel")
		return testenv.Pending(len(h) == 0 && err != nil, fmt.Sprint("VIP on ", h, ", table listed: ", err == nil))
	})
	dual, maxHeld, _ := s.stop()
	t.Logf("restart whose start fails: the VIP was removed %v after systemctl restart began; two holders %v (max %d)",
		gone.Round(time.Millisecond), dual, maxHeld)
	if dual > 0 || maxHeld > 1 {
		t.Errorf("VIP on %d hosts at once for %v", maxHeld, dual)
	}
	if n := journalCount(t, n1, "handover: VIP removed: the unit stopped and no successor took the handover", ""); n == 0 {
		t.Errorf("release-handover logged no removal:\n%s", n1.journal("vipsentinel"))
	}
	if n := messageIDCount(t, n1, "-handover"); n == 0 {
		t.Errorf("no -handover event (MESSAGE_ID) in the journal")
	}
	n1.must("rm", "/etc/systemd/system/vipsentinel.service.d/rst-fail.conf")
	n1.must("systemctl", "daemon-reload")
	n1.must("systemctl", "reset-failed", "vipsentinel")
	n1.must("systemctl", "restart", "vipsentinel")
	testenv.Eventually(t, 30*time.Second, "the VIP back on n1", func() error {
		h := vipHolders(nodes, vip)
		return testenv.Pending(len(h) == 1 && h[0] == 0, fmt.Sprint("holders ", h))
	})

	// A stop is a stop: the VIP goes at once and nothing is handed over.
	kept := journalCount(t, n1, "handing over to a new process", "")
	s = sampleVIPHolders(t, nodes, vip)
	n1.must("systemctl", "stop", "vipsentinel")
	if h := vipHolders(nodes, vip); len(h) != 0 {
		t.Errorf("after systemctl stop the VIP is on %v, want nowhere", h)
	}
	if _, err := n1.exec("nft", "list", "table", "inet", "vipsentinel"); err == nil {
		t.Errorf("after systemctl stop the firewall table is still there")
	}
	if n := journalCount(t, n1, "handing over to a new process", ""); n != kept {
		t.Errorf("systemctl stop handed over (%d handovers, %d before):\n%s", n, kept, n1.journal("vipsentinel"))
	}
	if n := journalCount(t, n1, "systemd's job on the unit", "stop"); n == 0 {
		t.Errorf("the stopping agent did not see systemd's stop job:\n%s", n1.journal("vipsentinel"))
	}
	// The master's Redis goes too: the other agents fail over and the new
	// master's host takes the VIP.
	n1.must("systemctl", "stop", "redis-server")
	testenv.Eventually(t, 60*time.Second, "another host to take the VIP", func() error {
		h := vipHolders(nodes, vip)
		return testenv.Pending(len(h) == 1 && h[0] != 0, fmt.Sprint("holders ", h))
	})
	dual, maxHeld, _ = s.stop()
	t.Logf("stop, then failover: VIP on n%d, two holders %v (max %d)", vipHolders(nodes, vip)[0]+1, dual, maxHeld)
	if dual > 0 || maxHeld > 1 {
		t.Errorf("VIP on %d hosts at once for %v", maxHeld, dual)
	}
	t.Logf("restart journey took %v", time.Since(start).Round(time.Millisecond))
}

// restartKeepsWrites runs `systemctl restart vipsentinel` on n1, the VIP's
// host, while a client on n2 writes through the VIP, and checks that the
// new process adopted the lease (the nth handover of the test) with no
// failed write and the VIP on exactly one host throughout. It returns the
// new main PID.
func restartKeepsWrites(t *testing.T, nodes []*node, what string, nth int) string {
	t.Helper()
	const unit = "vipsentinel.service"
	n1 := nodes[0]
	before := n1.show(unit, "MainPID", "NRestarts")
	keepsWrites(t, nodes, what, func() error {
		n := journalCount(t, n1, "handover: the core holds the lease again", "")
		return testenv.Pending(n >= nth, fmt.Sprint(n, " times"))
	}, "systemctl", "restart", "vipsentinel")
	after := n1.show(unit, "MainPID", "NRestarts", "ActiveState")
	if after["MainPID"] == before["MainPID"] || after["ActiveState"] != "active" {
		t.Errorf("%s: %v, want a new MainPID (was %v), active", what, after, before)
	}
	// What systemd 252 reports during the stop half of a restart, seen by
	// the agent and by release-handover in ExecStopPost=.
	if n := journalCount(t, n1, "systemd's job on the unit", "restart"); n < 2*nth {
		t.Errorf("%s: %d journal entries with systemd's job = restart, want %d (the agent's and ExecStopPost's):\n%s", what, n, 2*nth, n1.journal("vipsentinel"))
	}
	if n := messageIDCount(t, n1, "+handover"); n < nth {
		t.Errorf("%s: %d +handover events (MESSAGE_ID), want %d", what, n, nth)
	}
	return after["MainPID"]
}

// keepsWrites runs the command args on n1, the VIP's host, once a client on
// n2 writes through the VIP, while the VIP's holders are sampled every
// 5 ms; it waits up to 30 s for adopted (n1's new agent holds the lease
// itself) and a second more, and checks that no write failed and that
// every sample found the VIP on exactly one host. what names the step in
// the log and in failures.
func keepsWrites(t *testing.T, nodes []*node, what string, adopted func() error, args ...string) {
	t.Helper()
	w := startVIPWriter(t, nodes[1].netns, net.JoinHostPort(clusterVIP, "6379"))
	s := sampleVIPHolders(t, nodes, netip.MustParseAddr(clusterVIP))
	testenv.Eventually(t, 30*time.Second, "writes through the VIP", func() error {
		n, _, _ := w.counts()
		return testenv.Pending(n >= 200, fmt.Sprint(n, " writes acknowledged"))
	})
	at := time.Now()
	nodes[0].must(args...)
	took := time.Since(at)
	testenv.Eventually(t, 30*time.Second, "the new agent to hold the lease itself", adopted)
	time.Sleep(time.Second)
	acked, failed, gap := w.stop()
	dual, maxHeld, unheld := s.stop()
	t.Logf("%s on the VIP host (%s took %v): writes %d, failed %d, max write gap %v, two holders %v (max %d), samples without the VIP %d",
		what, strings.Join(args, " "), took.Round(time.Millisecond), acked, failed, gap.Round(100*time.Microsecond), dual, maxHeld, unheld)
	if failed > 0 {
		t.Errorf("%s: %d writes through the VIP failed (first error: %s, last: %s)", what, failed, w.firstErr, w.lastErr)
	}
	if dual > 0 || maxHeld > 1 {
		t.Errorf("%s: VIP on %d hosts at once for %v", what, maxHeld, dual)
	}
	if unheld > 0 {
		t.Errorf("%s: the VIP was on no host in %d samples (5 ms apart)", what, unheld)
	}
}

// journalCount counts the unit's journal entries whose message contains msg
// and, unless job is "", whose JOB field is job.
func journalCount(t *testing.T, c *node, msg, job string) int {
	t.Helper()
	n := 0
	for _, e := range journalEntries(t, c.container, "vipsentinel") {
		m, _ := e["MESSAGE"].(string)
		if !strings.Contains(m, msg) {
			continue
		}
		if j, _ := e["JOB"].(string); job != "" && j != job {
			continue
		}
		n++
	}
	return n
}

// messageIDCount counts the journal entries of event's MESSAGE_ID.
func messageIDCount(t *testing.T, c *node, event string) int {
	t.Helper()
	id, ok := systemd.MessageID(event)
	if !ok {
		t.Fatalf("%s has no MESSAGE_ID", event)
	}
	out, _ := c.exec("journalctl", "-q", "-o", "cat", "--no-pager", "MESSAGE_ID="+id)
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}
