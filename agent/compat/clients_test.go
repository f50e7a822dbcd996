package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// cluster is a master, its replica and n vipsentinel agents monitoring it.
type cluster struct {
	name            string
	master, replica *redistest.Server
	agents          []*agent
}

func newCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{name: "compat"}
	c.master = redistest.Start(t)
	c.replica = redistest.Start(t, fmt.Sprintf("replicaof 127.0.0.1 %d", c.master.Port))
	quorum := min(n, 2)
	for i := 0; i < n; i++ {
		c.agents = append(c.agents, startAgent(t, sentinelLines(c.name, c.master, quorum)...))
	}
	for _, a := range c.agents {
		testenv.Eventually(t, 20*time.Second, a.Addr()+" to see the replica and the other agents", func() error {
			return settled(a.Addr(), c.name, 1, n-1)
		})
	}
	return c
}

func (c *cluster) agentAddrs() []string {
	var out []string
	for _, a := range c.agents {
		out = append(out, a.Addr())
	}
	return out
}

// checkFailedOver checks, independently of the client, that the replica is
// now the master and that every agent says so.
func (c *cluster) checkFailedOver(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "every agent to report the promoted replica", func() error {
		for _, a := range c.agents {
			got, err := masterAddr(a.Addr(), c.name)
			if err != nil {
				return err
			}
			if got != c.replica.Addr() {
				return fmt.Errorf("%s says the master is %s", a.Addr(), got)
			}
		}
		return nil
	})
	if role := c.replica.CLI(t, "ROLE"); !strings.HasPrefix(role, "master") {
		t.Errorf("promoted replica's ROLE: %q", role)
	}
}

// runScript runs a client script and decodes the JSON object it prints as
// its last line of output.
func runScript(t *testing.T, timeout time.Duration, env []string, name string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %s: %v", filepath.Base(name), filepath.Base(args[0]), time.Since(start).Round(time.Millisecond))
	if ctx.Err() != nil {
		t.Fatalf("%s timed out after %v\nstdout:\n%s\nstderr:\n%s", name, timeout, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out map[string]any
	if jerr := json.Unmarshal([]byte(lines[len(lines)-1]), &out); jerr != nil {
		t.Fatalf("%s: %v (run error %v)\nstdout:\n%s\nstderr:\n%s", name, jerr, err, stdout.String(), stderr.String())
	}
	if err != nil || out["fatal"] != nil {
		t.Fatalf("%s failed: %v %v\nstderr:\n%s", name, err, out["fatal"], stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", name, stderr.String())
	}
	pretty, _ := json.MarshalIndent(out, "", "  ")
	t.Logf("%s output:\n%s", filepath.Base(args[0]), pretty)
	return out
}

// expectJSON compares out[key] with want, both as JSON values.
func expectJSON(t *testing.T, out map[string]any, key string, want any) {
	t.Helper()
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var w any
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if got, ok := out[key]; !ok || !reflect.DeepEqual(got, w) {
		gb, _ := json.Marshal(got)
		t.Errorf("%s: got %s, want %s", key, gb, b)
	}
}

func noErrors(t *testing.T, out map[string]any) {
	t.Helper()
	if errs, _ := out["errors"].([]any); len(errs) > 0 {
		for _, e := range errs {
			t.Errorf("client step failed: %v", e)
		}
	}
}

func hostPort(addr string) (string, int) {
	i := strings.LastIndexByte(addr, ':')
	p, _ := strconv.Atoi(addr[i+1:])
	return addr[:i], p
}

func sortedAddrs(addrs ...string) []string {
	out := append([]string(nil), addrs...)
	sort.Strings(out)
	return out
}

func TestRedisPy(t *testing.T) {
	t.Parallel()
	py := "/usr/bin/python3" // Debian's, where python3-redis installs
	_, err := os.Stat(py)
	need(t, err == nil, "/usr/bin/python3")
	need(t, exec.Command(py, "-c", "import redis.sentinel").Run() == nil, "redis-py (Debian package python3-redis)")

	c := newCluster(t, 3)
	out := runScript(t, 45*time.Second, nil, py, "testdata/redispy.py", strings.Join(c.agentAddrs(), ","), c.name)
	noErrors(t, out)
	m, r := c.master.Addr(), c.replica.Addr()
	_, mport := hostPort(m)
	_, rport := hostPort(r)
	expectJSON(t, out, "master_before", m)
	expectJSON(t, out, "slaves_before", []string{r})
	expectJSON(t, out, "masters", map[string]any{
		"ip": "127.0.0.1", "port": mport, "is_master": true, "is_sdown": false, "is_odown": false,
		"num_other_sentinels": 2, "num_slaves": 1, "quorum": 2, "int_fields_are_int": true,
	})
	expectJSON(t, out, "master", map[string]any{"name": c.name, "ip": "127.0.0.1", "port": mport, "flags": "master", "is_master": true})
	expectJSON(t, out, "slaves", []any{map[string]any{
		"name": r, "port": rport, "is_slave": true, "master_port": mport, "master_link_status": "ok",
	}})
	expectJSON(t, out, "sentinels", sortedAddrs(c.agentAddrs()[1:]...))
	expectJSON(t, out, "get_master_addr", []any{"127.0.0.1", mport})
	expectJSON(t, out, "get_master_addr_unknown", nil)
	expectJSON(t, out, "ckquorum", "OK 3 usable Sentinels. Quorum and failover authorization can be reached")
	expectJSON(t, out, "flushconfig", true)
	expectJSON(t, out, "reset_nomatch", 0)
	expectJSON(t, out, "set1", true)
	expectJSON(t, out, "replicas_acked", 1)
	expectJSON(t, out, "get1", "v1")
	expectJSON(t, out, "failover", true)
	expectJSON(t, out, "master_after", r)
	expectJSON(t, out, "get2", out["k2_written"])
	expectJSON(t, out, "get1_after", "v1")
	expectJSON(t, out, "discover_after", r)
	if s, _ := out["slaves_after"].([]any); !slices.Contains(s, any(m)) {
		t.Errorf("slaves_after %v: the old master %s is not listed as a replica", s, m)
	}
	c.checkFailedOver(t)
}

func TestPHPRedis(t *testing.T) {
	t.Parallel()
	php, err := exec.LookPath("php")
	need(t, err == nil, "php (Debian package php-cli)")
	need(t, exec.Command(php, "-r", `exit(class_exists("RedisSentinel") ? 0 : 1);`).Run() == nil, "phpredis (Debian package php-redis)")

	c := newCluster(t, 3)
	out := runScript(t, 45*time.Second, nil, php, "testdata/phpredis.php", strings.Join(c.agentAddrs(), ","), c.name)
	noErrors(t, out)
	m, r := c.master.Addr(), c.replica.Addr()
	_, mport := hostPort(m)
	expectJSON(t, out, "ping", true)
	if out["myid_supported"] == true {
		if id, _ := out["myid"].(string); len(id) != 40 {
			t.Errorf("myid: %q, want 40 hex digits", id)
		}
	} else {
		t.Logf("phpredis %v has no RedisSentinel::myid (it came with phpredis 6)", out["phpredis"])
	}
	expectJSON(t, out, "master_before", m)
	// phpredis returns *-1 (what Redis sends for an unknown master) as an
	// empty array.
	expectJSON(t, out, "unknown_master_addr", []any{})
	expectJSON(t, out, "master", map[string]any{
		"name": c.name, "ip": "127.0.0.1", "port": strconv.Itoa(mport), "flags": "master",
		"num-slaves": "1", "num-other-sentinels": "2", "quorum": "2", "fields": 20,
	})
	expectJSON(t, out, "unknown_master", false)
	expectJSON(t, out, "masters", []string{c.name + "@" + m})
	expectJSON(t, out, "slaves", []string{r + " slave ok"})
	expectJSON(t, out, "sentinels", sortedAddrs(c.agentAddrs()[1:]...))
	expectJSON(t, out, "ckquorum", true)
	expectJSON(t, out, "ckquorum_unknown", false)
	expectJSON(t, out, "flushconfig", true)
	// phpredis 5.3 reads RESET's integer reply as a status and returns
	// false, against redis-sentinel too; phpredis 6 returns the integer.
	resetWant := func(n int) any {
		if v, _ := out["phpredis"].(string); strings.HasPrefix(v, "5.") {
			return false
		}
		return n
	}
	expectJSON(t, out, "reset_nomatch", resetWant(0))
	expectJSON(t, out, "set1", map[string]any{"set": true, "replicas_acked": 1})
	expectJSON(t, out, "failover", true)
	expectJSON(t, out, "failover_unknown", false)
	after := map[string]string{}
	for _, a := range c.agentAddrs() {
		after[a] = r
	}
	expectJSON(t, out, "master_after", after)
	expectJSON(t, out, "set2", map[string]any{"set": true, "php1": "v1", "php2": "v2", "role": "master"})
	expectJSON(t, out, "reset", resetWant(1))
	expectJSON(t, out, "master_after_reset", r)
	c.checkFailedOver(t)
}

// ioredisDir installs ioredis 5 from npm into a cache directory outside the
// repository (once; later runs reuse it) and returns its node_modules.
func ioredisDir(t *testing.T) string {
	t.Helper()
	base := "/var/cache/vipsentinel-compat"
	if err := os.MkdirAll(base, 0o755); err != nil {
		dir, derr := os.UserCacheDir()
		need(t, derr == nil, "a writable cache directory for npm packages")
		base = filepath.Join(dir, "vipsentinel-compat")
	}
	mods := filepath.Join(base, "node_modules")
	if _, err := os.Stat(filepath.Join(mods, "ioredis", "package.json")); err == nil {
		return mods
	}
	npm, err := exec.LookPath("npm")
	need(t, err == nil, "npm (Debian package npm)")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "install", "--prefix", base, "--no-audit", "--no-fund",
		"--no-package-lock", "--loglevel=error", "ioredis@5").CombinedOutput()
	need(t, err == nil, fmt.Sprintf("ioredis from npm (npm install failed: %v: %s)", err, out))
	return mods
}

func TestIORedis(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	need(t, err == nil, "node (Debian package nodejs)")
	mods := ioredisDir(t)

	c := newCluster(t, 3)
	out := runScript(t, 45*time.Second, nil, node, "testdata/ioredis.js", strings.Join(c.agentAddrs(), ","), c.name, mods)
	noErrors(t, out)
	m, r := c.master.Addr(), c.replica.Addr()
	mhost, mport := hostPort(m)
	rhost, rport := hostPort(r)
	expectJSON(t, out, "set1", "OK")
	expectJSON(t, out, "get1", "v1")
	expectJSON(t, out, "replicas_acked", 1)
	expectJSON(t, out, "master_before", m)
	expectJSON(t, out, "detector_subscribed", true)
	expectJSON(t, out, "replica_role", "slave")
	expectJSON(t, out, "replica_addr", r)
	expectJSON(t, out, "failover", "OK")
	expectJSON(t, out, "master_after", r)
	expectJSON(t, out, "get2", out["k2_written"])
	expectJSON(t, out, "get1_after", "v1")
	expectJSON(t, out, "detector_saw_switch", true)
	// Every agent publishes +switch-master with the five tokens clients
	// split on.
	want := fmt.Sprintf("%s %s %d %s %d", c.name, mhost, mport, rhost, rport)
	var sw []string
	for range c.agents {
		sw = append(sw, want)
	}
	expectJSON(t, out, "switch_master", sw)
	c.checkFailedOver(t)
}
