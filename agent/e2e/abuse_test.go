package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestFailoverUnderAPIAbuse: while anonymous clients hold thousands of
// connections to every agent's API, half-send requests, flood it with
// failed AUTHs and garbage, and a subscriber stops reading, a kill -9 of the
// master is still failed over in the usual time, clients that know the
// password still get in, the agents' memory stays bounded and their logs
// quiet.
func TestFailoverUnderAPIAbuse(t *testing.T) {
	const (
		pass      = "agentpw"
		idle      = 3000 // anonymous connections per agent
		halfSent  = 300  // of which with a request sent up to the pre-AUTH cap
		floodConn = 5    // connections per agent pipelining failed AUTHs
		floodAuth = 4000 // failed AUTHs per flood connection
		garbage   = 200  // connections per agent sending a malformed request
	)
	cl := newCluster(t, agentConf{quorum: 2, requirepass: pass}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	oldMaster, best := cl.redis[0], cl.redis[1]

	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	keep := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	half := "*2\r\n$4\r\nAUTH\r\n$4000\r\n" + strings.Repeat("p", 3990)
	start := time.Now()
	// Dial inside the client's namespace once for all connections.
	err := cl.cl.Do(func() error {
		for _, a := range cl.agents {
			for i := 0; i < idle; i++ {
				c, err := net.Dial("tcp", a.addr())
				if err != nil {
					return fmt.Errorf("dial %s #%d: %w", a.addr(), i, err)
				}
				keep(c)
				if i < halfSent {
					_, _ = io.WriteString(c, half)
				}
			}
			for i := 0; i < garbage; i++ {
				c, err := net.Dial("tcp", a.addr())
				if err != nil {
					return err
				}
				keep(c)
				go func() { _, _ = io.WriteString(c, "*1\r\n$x\r\n"); _, _ = io.Copy(io.Discard, c) }()
			}
			for i := 0; i < floodConn; i++ {
				c, err := net.Dial("tcp", a.addr())
				if err != nil {
					return err
				}
				keep(c)
				go func() { _, _ = io.WriteString(c, strings.Repeat("*2\r\n$4\r\nAUTH\r\n$5\r\nguess\r\n", floodAuth)) }()
				go func() { _, _ = io.Copy(io.Discard, c) }()
			}
			// A subscriber that never reads its events.
			c, err := net.Dial("tcp", a.addr())
			if err != nil {
				return err
			}
			keep(c)
			_, _ = io.WriteString(c, "AUTH "+pass+"\r\nPSUBSCRIBE *\r\n")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d anonymous connections per agent opened in %v", idle+garbage+floodConn, time.Since(start).Round(time.Millisecond))

	// Clients with the password still get in, on every agent.
	ctx := testenv.Context(t, 90*time.Second)
	for _, a := range cl.agents {
		c := a.client(cl.cl, pass)
		if _, err := masterAddr(ctx, c); err != nil {
			t.Fatalf("%s: authenticated client during the abuse: %v", a.host.Name, err)
		}
		c.Close()
	}

	killed := time.Now()
	if err := oldMaster.Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	cl.waitAllReport(t, best.Addr, 60*time.Second)
	took := time.Since(killed)
	t.Logf("failover time under API abuse (kill -9 of the master until all 3 agents report the new master): %v", took.Round(time.Millisecond))
	// As without abuse: down-after, then an election and a promotion in
	// well under a second; the slack covers a loaded test machine.
	if limit := downAfter*time.Millisecond + 3*time.Second; took > limit {
		t.Errorf("failover took %v under API abuse, want at most %v", took, limit)
	}

	elapsed := time.Since(start)
	for _, a := range cl.agents {
		if !a.proc.Running() {
			t.Fatalf("%s: agent exited", a.host.Name)
		}
		rss := vmRSS(t, a.proc.Pid())
		auth, proto := logLines(t, a.proc.LogPath(), "client authentication failed"), logLines(t, a.proc.LogPath(), "protocol error from client")
		t.Logf("%s: RSS %d MiB; %d failed-AUTH and %d protocol-error log lines for %d and %d events in %v",
			a.host.Name, rss>>20, auth, proto, floodConn*floodAuth, garbage, elapsed.Round(time.Second))
		// 10,000 anonymous connections peak at 45 MiB against an
		// agent run by hand; 3,200 here.
		if rss > 64<<20 {
			t.Errorf("%s: RSS %d MiB, want at most 64", a.host.Name, rss>>20)
		}
		// At most one line per second of each kind.
		if limit := int(elapsed/time.Second) + 1; auth > limit || proto > limit {
			t.Errorf("%s: %d failed-AUTH and %d protocol-error log lines in %v, want at most %d each", a.host.Name, auth, proto, elapsed, limit)
		}
	}
}

// vmRSS returns the resident set size of process pid, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// logLines counts the lines of the log file at path that contain msg.
func logLines(t *testing.T, path, msg string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), msg) {
			n++
		}
	}
	return n
}
