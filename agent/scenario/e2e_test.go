package scenario

import (
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// binary is the vipsentinel executable built once for the package's tests.
var binary string

func TestMain(m *testing.M) { os.Exit(RunWithAgent(m, &binary)) }

func startCluster(t *testing.T, o Options) *Cluster {
	t.Helper()
	lab.RequireRoot(t)
	if o.Binary == "" {
		o.Binary = binary
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("start deployment: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range c.Agents {
				t.Logf("log of the agent on %s:\n%s", c.Hosts[i].Name, tail(p.Log(), 6000))
			}
		}
		c.Close()
	})
	return c
}

// first returns the time of the first timeline line on host (any host if
// empty) whose text starts with prefix, and whether there is one.
func first(res *Result, host, prefix string) (time.Duration, bool) {
	for _, l := range res.Timeline {
		if (host == "" || l.Host == host) && strings.HasPrefix(l.What, prefix) && l.At >= 0 {
			return l.At, true
		}
	}
	return 0, false
}

// logTimeline logs a failover's timeline and the figures measured on it.
func logTimeline(t *testing.T, res *Result) {
	t.Helper()
	testenv.LogLines(t, "timeline", res.Timeline)
	t.Logf("outage %v, switch %v, acked %d, lost %d, dual %v, max holders %d",
		res.Outage, res.Switch, res.Acked, res.Lost, res.Dual, res.MaxHolders)
}

// runFailover runs c.RunFailover, logs its timeline, and stops the test if
// it failed.
func runFailover(t *testing.T, ctx context.Context, c *Cluster, f Fault, progress func(Line)) *Result {
	t.Helper()
	res, err := c.RunFailover(ctx, f, progress)
	if res != nil {
		logTimeline(t, res)
	}
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return res
}

// checkMove verifies what every failover must give a client of the floating
// IP: one holder at a time, the new master's host holding it at the end, and
// the client's neighbour entry following the acquisition within 100 ms.
func checkMove(t *testing.T, c *Cluster, res *Result) {
	t.Helper()
	if res.MaxHolders > 1 || res.Dual > 0 {
		t.Errorf("floating IP on %d hosts at once for %v", res.MaxHolders, res.Dual)
	}
	ni := c.HostIndex(hostOf(res.NewMaster))
	if ni < 0 {
		t.Fatalf("new master %s is not a lab host", res.NewMaster)
	}
	newHost := c.Hosts[ni].Name
	holders, err := c.VIPHolders()
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != 1 || holders[0] != ni {
		t.Errorf("after the failover the floating IP is held by %v, want only %s", holders, newHost)
	}
	acquired, ok := first(res, "lab", "floating IP held by "+newHost)
	if !ok {
		t.Fatalf("the floating IP never appeared on %s", newHost)
	}
	var arp time.Duration
	ok = false
	for _, l := range res.Timeline {
		if l.Host == "client" && strings.HasSuffix(l.What, "("+newHost+")") {
			arp, ok = l.At, true
			break
		}
	}
	if !ok {
		t.Fatalf("the client's neighbour entry never pointed at %s", newHost)
	}
	// Sampling runs every 2 ms, so the measured delay is exact to a few ms.
	if d := arp - acquired; d > 100*time.Millisecond {
		t.Errorf("client's neighbour entry followed the floating IP after %v, want <= 100ms", d)
	} else {
		t.Logf("client's neighbour entry followed the floating IP %v after it appeared on %s", d, newHost)
	}
}

// killMasterMoves starts a deployment with o, kills its master (KillMaster:
// redis-server and agent at once), stops the test if the failover fails,
// checks the floating IP's move (checkMove) and returns the failover's
// result for the caller's own checks.
func killMasterMoves(t *testing.T, o Options) *Result {
	t.Helper()
	c := startCluster(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res := runFailover(t, ctx, c, KillMaster, nil)
	checkMove(t, c, res)
	return res
}

func TestKillMasterMovesVIP(t *testing.T) {
	res := killMasterMoves(t, Options{Name: "kill"})
	// Exactly one failover: one elected leader, one promotion.
	elected, promoted := 0, 0
	for _, l := range res.Timeline {
		switch {
		case strings.HasPrefix(l.What, "+elected-leader"):
			elected++
		case strings.HasPrefix(l.What, "+promoted-slave"):
			promoted++
		}
	}
	if elected != 1 || promoted != 1 {
		t.Errorf("%d leaders elected and %d replicas promoted, want exactly one failover", elected, promoted)
	}
}

func TestIsolatedMasterReleasesVIPFirst(t *testing.T) {
	c := startCluster(t, Options{Name: "isol", Firewall: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// While the old master is fenced, the firewall refuses new client
	// connections to it (firewall-fence): probe from the client, which the
	// partition leaves connected to it.
	var refusedAt time.Duration = -1
	var mu sync.Mutex
	progress := func(l Line) {
		if l.Host == "h1" && strings.HasPrefix(l.What, "+fence") {
			go func(fencedAt time.Duration) {
				addr := net.JoinHostPort(c.Hosts[0].IP4.String(), "6379")
				for i := 0; i < 100; i++ {
					dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
					conn, err := c.Client.DialContext(dctx, "tcp", addr)
					cancel()
					if err != nil && strings.Contains(err.Error(), "refused") {
						mu.Lock()
						refusedAt = fencedAt
						mu.Unlock()
						return
					}
					if conn != nil {
						conn.Close()
					}
					time.Sleep(10 * time.Millisecond)
				}
			}(l.At)
		}
	}
	res := runFailover(t, ctx, c, IsolateMaster, progress)
	old := c.Hosts[c.HostIndex(hostOf(res.OldMaster))].Name
	released, ok := first(res, old, "+vip-released")
	if !ok {
		t.Fatalf("%s never released the floating IP", old)
	}
	fenced, ok := first(res, old, "+fence")
	if !ok {
		t.Errorf("%s never fenced (paused writes on) its Redis", old)
	}
	promoted, ok := first(res, "", "+promoted-slave")
	if !ok {
		t.Fatal("no replica was promoted")
	}
	if released >= promoted {
		t.Errorf("isolated %s released the floating IP at %v, after the promotion at %v", old, released, promoted)
	}
	if fenced >= promoted {
		t.Errorf("isolated %s fenced at %v, after the promotion at %v", old, fenced, promoted)
	}
	mu.Lock()
	if refusedAt < 0 {
		t.Errorf("new client connections to the fenced old master were never refused by its firewall")
	}
	mu.Unlock()
	checkMove(t, c, res)
}

func TestIPv6VIPMoves(t *testing.T) {
	killMasterMoves(t, Options{Name: "six", IPv6: true})
}

// TestLockedDownHosts runs the deployment on hosts whose own firewall drops
// every new connection: the agents must open their ports in it (inject
// mode) for the failover to work, and remove exactly what they added when
// stopped, releasing the floating IP first.
func TestLockedDownHosts(t *testing.T) {
	c := startCluster(t, Options{Name: "fw", Firewall: true})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, h := range c.Hosts {
		out, err := h.Exec(ctx, "nft", "list", "table", "inet", "vipsentinel")
		if err != nil || !strings.Contains(string(out), "26379") || !strings.Contains(string(out), "6379") {
			t.Fatalf("%s: table inet vipsentinel: %v\n%s", h, err, out)
		}
		out, err = h.Exec(ctx, "nft", "list", "chain", "inet", "filter", "input")
		if err != nil || !strings.Contains(string(out), "vipsentinel") {
			t.Fatalf("%s: no vipsentinel rule injected in inet filter input: %v\n%s", h, err, out)
		}
	}
	res := runFailover(t, ctx, c, KillMaster, nil)
	checkMove(t, c, res)

	// Stopping the agent that holds the floating IP releases it (a stopped
	// agent cannot fence it), then closes the ports, leaving no trace.
	ni := c.HostIndex(hostOf(res.NewMaster))
	h := c.Hosts[ni]
	if err := c.Agents[ni].Term(); err != nil {
		t.Fatal(err)
	}
	if err := c.Agents[ni].Wait(ctx); err != nil {
		t.Errorf("agent on %s after SIGTERM: %v", h, err)
	}
	holders, err := c.VIPHolders()
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != 0 {
		t.Errorf("floating IP still held by %v after the holder's agent stopped", holders)
	}
	if out, err := h.Exec(ctx, "nft", "list", "tables"); err != nil || strings.Contains(string(out), "vipsentinel") {
		t.Errorf("%s: tables after stop: %v\n%s", h, err, out)
	}
	if out, err := h.Exec(ctx, "nft", "list", "chain", "inet", "filter", "input"); err != nil || strings.Contains(string(out), "vipsentinel") {
		t.Errorf("%s: injected rules left after stop: %v\n%s", h, err, out)
	}
}
