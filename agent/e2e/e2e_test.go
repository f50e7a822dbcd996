// Package e2e runs the real vipsentinel binary, real redis-server and real
// redis-sentinel processes on lab hosts (network namespaces) and checks
// failovers end to end.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// binary is the vipsentinel binary built once by TestMain.
var binary string

func TestMain(m *testing.M) { os.Exit(scenario.RunWithAgent(m, &binary)) }

const (
	downAfter       = 2000
	failoverTimeout = 15000
	agentPort       = 26379
	redisPort       = 6379
)

// agent is one vipsentinel (or redis-sentinel) process on a lab host.
type agent struct {
	host *lab.Host
	dir  string
	conf string
	proc *lab.Proc
	real bool // a redis-sentinel, not vipsentinel
}

func (a *agent) addr() string { return a.host.IP4.String() + ":" + strconv.Itoa(agentPort) }

// agentConf is the configuration shared by vipsentinel and redis-sentinel.
type agentConf struct {
	master      string // ip of the initial master
	quorum      int
	requirepass string
	authPass    string
	extra       []string
	labName     string // lab.Config.Name, optional
}

func (c agentConf) lines(dir string) []string {
	l := []string{
		"port " + strconv.Itoa(agentPort),
		"dir " + dir,
		fmt.Sprintf("sentinel monitor mymaster %s %d %d", c.master, redisPort, c.quorum),
		fmt.Sprintf("sentinel down-after-milliseconds mymaster %d", downAfter),
		fmt.Sprintf("sentinel failover-timeout mymaster %d", failoverTimeout),
	}
	if c.requirepass != "" {
		l = append(l, "requirepass "+c.requirepass)
	} else {
		// The agents and the test reach the API across namespaces:
		// without a password, protected mode would refuse them.
		l = append(l, "protected-mode no")
	}
	if c.authPass != "" {
		l = append(l, "sentinel auth-pass mymaster "+c.authPass)
	}
	return append(l, c.extra...)
}

func startAgent(t *testing.T, l *lab.Lab, h *lab.Host, c agentConf, real bool) *agent {
	t.Helper()
	dir := filepath.Join(l.Dir(), "agent-"+h.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &agent{host: h, dir: dir, conf: filepath.Join(dir, "sentinel.conf"), real: real}
	lines := c.lines(dir)
	if real {
		lines = append(lines, "logfile \"\"", "protected-mode no")
	}
	if err := os.WriteFile(a.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.start(t)
	return a
}

func (a *agent) start(t *testing.T) {
	t.Helper()
	var err error
	if a.real {
		a.proc, err = a.host.Start("redis-sentinel", a.conf)
	} else {
		a.proc, err = a.host.Start(binary, a.conf)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// client returns a go-redis client for the agent's API, dialled from c.
func (a *agent) client(c *lab.Host, pass string) *redis.Client {
	return c.RedisClient(&redis.Options{Addr: a.addr(), Password: pass, Protocol: 2, MaxRetries: -1})
}

// masterAddr asks an agent for the master's address.
func masterAddr(ctx context.Context, c *redis.Client) (string, error) {
	res, err := c.Do(ctx, "SENTINEL", "get-master-addr-by-name", "mymaster").StringSlice()
	if err != nil {
		return "", err
	}
	if len(res) != 2 {
		return "", fmt.Errorf("reply %v", res)
	}
	return net.JoinHostPort(res[0], res[1]), nil
}

func masterMap(ctx context.Context, c *redis.Client) (map[string]string, error) {
	arr, err := c.Do(ctx, "SENTINEL", "master", "mymaster").Slice()
	if err != nil {
		return nil, err
	}
	return flatMap(arr), nil
}

// flatMap turns a RESP2 flat key/value array into a map.
func flatMap(arr []any) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(arr); i += 2 {
		m[fmt.Sprint(arr[i])] = fmt.Sprint(arr[i+1])
	}
	return m
}

// cluster is three hosts, each with a redis-server (h1 master) and an agent.
type cluster struct {
	lab    *lab.Lab
	hosts  []*lab.Host
	cl     *lab.Host
	redis  []*lab.Redis
	agents []*agent
	pass   string // agents' requirepass
}

// startRedisGroup starts a redis-server on every host with the options
// opts returns: h1 the master at master (one of h1's addresses), the others
// its replicas, h2 preferred by replica-priority 10. It returns once every
// replica's link is up.
func startRedisGroup(t *testing.T, ctx context.Context, hosts []*lab.Host, master netip.Addr, opts func(i int, h *lab.Host) lab.RedisOptions) []*lab.Redis {
	t.Helper()
	var rs []*lab.Redis
	for i, h := range hosts {
		o := opts(i, h)
		o.Port = redisPort
		if i > 0 {
			o.ReplicaOf = netip.AddrPortFrom(master, redisPort)
		}
		prio := "100"
		if i == 1 {
			prio = "10"
		}
		o.Extra = append(slices.Clone(o.Extra), "replica-priority "+prio)
		r, err := h.StartRedis(o)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	for _, r := range rs[1:] {
		if err := r.WaitLinkUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return rs
}

// newCluster starts redis on every host (h1 master; h2 with the best
// replica priority), then the agents; realSentinel marks hosts that run
// redis-sentinel instead of vipsentinel.
func newCluster(t *testing.T, c agentConf, redisOpts lab.RedisOptions, realSentinel map[int]bool) *cluster {
	t.Helper()
	l := lab.NewT(t, lab.Config{Hosts: 3, Clients: 1, Name: c.labName})
	cl := &cluster{lab: l, hosts: l.Hosts(), cl: l.Clients()[0], pass: c.requirepass}
	cl.redis = startRedisGroup(t, testenv.Context(t, 60*time.Second), cl.hosts, cl.hosts[0].IP4, func(_ int, h *lab.Host) lab.RedisOptions {
		o := redisOpts
		o.Bind = []string{h.IP4.String(), "127.0.0.1"}
		return o
	})
	c.master = cl.hosts[0].IP4.String()
	// A redis-sentinel cannot prove the group's secret: vipsentinel admits
	// it only at an address its configuration lists (known-sentinel), by
	// SENTINEL MYID, so each gets a fixed run id.
	var listed []string
	for i, h := range cl.hosts {
		if realSentinel[i] {
			listed = append(listed, fmt.Sprintf("sentinel known-sentinel mymaster %s %d %s", h.IP4, agentPort, realSentinelID(i)))
		}
	}
	for i, h := range cl.hosts {
		hc := c
		hc.extra = slices.Clone(c.extra)
		if realSentinel[i] {
			hc.extra = append(hc.extra, "sentinel myid "+realSentinelID(i))
		} else {
			hc.extra = append(hc.extra, listed...)
		}
		cl.agents = append(cl.agents, startAgent(t, l, h, hc, realSentinel[i]))
	}
	return cl
}

// realSentinelID is the run id of the redis-sentinel on host i.
func realSentinelID(i int) string { return strings.Repeat(strconv.Itoa(i%10), 39) + "f" }

// clients returns a client of every agent, in order.
func (cl *cluster) clients() []*redis.Client {
	clients := make([]*redis.Client, len(cl.agents))
	for i, a := range cl.agents {
		clients[i] = a.client(cl.cl, cl.pass)
	}
	return clients
}

// waitDiscovered waits until every agent knows both replicas and the two
// other agents.
func (cl *cluster) waitDiscovered(t *testing.T) {
	t.Helper()
	waitDiscovered(t, cl.agents, cl.clients())
}

// waitDiscovered waits until every agent, asked through its client, knows
// both replicas and the two other agents.
func waitDiscovered(t *testing.T, agents []*agent, clients []*redis.Client) {
	t.Helper()
	ctx := testenv.Context(t, 60*time.Second)
	for i, a := range agents {
		c := clients[i]
		lab.Eventually(ctx, t, func() error {
			m, err := masterMap(ctx, c)
			if err != nil {
				return err
			}
			if m["num-slaves"] != "2" || m["num-other-sentinels"] != "2" || m["flags"] != "master" {
				return fmt.Errorf("%s sees slaves=%s sentinels=%s flags=%s", a.host.Name, m["num-slaves"], m["num-other-sentinels"], m["flags"])
			}
			// Known from the master's INFO is not enough for a failover:
			// the agent selects only replicas whose own INFO it holds,
			// with their link to the master up.
			rs, err := c.Do(ctx, "SENTINEL", "replicas", "mymaster").Slice()
			if err != nil {
				return err
			}
			for _, r := range rs {
				arr, _ := r.([]any)
				rm := flatMap(arr)
				if rm["flags"] != "slave" || rm["master-link-status"] != "ok" {
					return fmt.Errorf("%s sees replica %s flags=%s master-link-status=%s", a.host.Name, rm["name"], rm["flags"], rm["master-link-status"])
				}
			}
			return nil
		}, "discovery by "+a.host.Name)
	}
}

// eventRecorder subscribes to every event of every agent.
type eventRecorder struct {
	mu     sync.Mutex
	events []string // "<host> <channel> <payload>"
}

func (cl *cluster) recordEvents(t *testing.T) *eventRecorder {
	t.Helper()
	rec := &eventRecorder{}
	for _, a := range cl.agents {
		c := a.client(cl.cl, cl.pass)
		ctx := context.Background()
		ps := c.PSubscribe(ctx, "*")
		t.Cleanup(func() { ps.Close() })
		if _, err := ps.Receive(testenv.Context(t, 10*time.Second)); err != nil {
			t.Fatalf("subscribe to %s: %v", a.host.Name, err)
		}
		name := a.host.Name
		go func() {
			for msg := range ps.Channel() {
				rec.mu.Lock()
				rec.events = append(rec.events, name+" "+msg.Channel+" "+msg.Payload)
				rec.mu.Unlock()
			}
		}()
	}
	return rec
}

func (r *eventRecorder) count(channel string) (n int, lines []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if strings.Fields(e)[1] == channel {
			n++
			lines = append(lines, e)
		}
	}
	return n, lines
}

// allReport is the condition that every agent, asked through its client,
// reports want as the master address.
func allReport(ctx context.Context, agents []*agent, clients []*redis.Client, want string) func() error {
	return func() error {
		for i, c := range clients {
			got, err := masterAddr(ctx, c)
			if err != nil {
				return fmt.Errorf("%s: %w", agents[i].host.Name, err)
			}
			if got != want {
				return fmt.Errorf("%s reports %s", agents[i].host.Name, got)
			}
		}
		return nil
	}
}

// waitAllReport waits until every agent reports want as the master address
// and returns when the last one did.
func (cl *cluster) waitAllReport(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	ctx := testenv.Context(t, timeout)
	if err := wait.For(ctx, 20*time.Millisecond, allReport(ctx, cl.agents, cl.clients(), want)); err != nil {
		t.Fatalf("agents do not all report %s: %v", want, err)
	}
}

func role(ctx context.Context, r *lab.Redis) (map[string]string, error) {
	return r.Info(ctx, "replication")
}

// replicaOf returns nil once r is a replica of master (an IP address), with
// its replication link up if linkUp, else what r is.
func replicaOf(ctx context.Context, r *lab.Redis, master string, linkUp bool) error {
	info, err := role(ctx, r)
	if err != nil {
		return fmt.Errorf("%s: %w", r.Addr, err)
	}
	if info["role"] != "slave" || info["master_host"] != master || (linkUp && info["master_link_status"] != "up") {
		return fmt.Errorf("%s: role=%v master_host=%v link=%v", r.Addr, info["role"], info["master_host"], info["master_link_status"])
	}
	return nil
}

func TestFailoverKillMaster(t *testing.T) {
	cl := newCluster(t, agentConf{quorum: 2}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	rec := cl.recordEvents(t)
	oldMaster, best, other := cl.redis[0], cl.redis[1], cl.redis[2]

	killed := time.Now()
	if err := oldMaster.Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	cl.waitAllReport(t, best.Addr, 60*time.Second)
	t.Logf("failover time (kill -9 of the master until all 3 agents report the new master): %v", time.Since(killed).Round(time.Millisecond))

	ctx := testenv.Context(t, 90*time.Second)
	// The best replica (priority 10) was promoted, the other follows it.
	lab.Eventually(ctx, t, func() error {
		info, err := role(ctx, best)
		if err != nil || info["role"] != "master" {
			return fmt.Errorf("new master role %v (%v)", info["role"], err)
		}
		return replicaOf(ctx, other, best.Host.IP4.String(), true)
	}, "promotion and reconfiguration")

	// Every agent agrees on the epoch; exactly one was elected.
	var epoch string
	for _, a := range cl.agents {
		m, err := masterMap(ctx, a.client(cl.cl, ""))
		if err != nil {
			t.Fatal(err)
		}
		if epoch == "" {
			epoch = m["config-epoch"]
		}
		if m["config-epoch"] != epoch || epoch == "0" {
			t.Fatalf("%s config-epoch %s, others %s", a.host.Name, m["config-epoch"], epoch)
		}
	}
	lab.Eventually(ctx, t, func() error {
		if n, _ := rec.count("+switch-master"); n < 3 {
			return fmt.Errorf("%d +switch-master events", n)
		}
		return nil
	}, "+switch-master on every agent")
	if n, lines := rec.count("+elected-leader"); n != 1 {
		t.Fatalf("%d leaders elected, want 1: %v", n, lines)
	}
	if n, lines := rec.count("+promoted-slave"); n != 1 {
		t.Fatalf("%d promotions, want 1: %v", n, lines)
	}

	// The old master comes back (empty, as a master) and is converted.
	back, err := oldMaster.Host.StartRedis(lab.RedisOptions{Port: redisPort, Bind: []string{oldMaster.Host.IP4.String(), "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	lab.Eventually(ctx, t, func() error { return replicaOf(ctx, back, best.Host.IP4.String(), false) }, "old master converted to a replica")
	t.Logf("old master converted %v after the kill", time.Since(killed).Round(time.Millisecond))
	if n, _ := rec.count("+convert-to-slave"); n < 1 {
		t.Fatal("no +convert-to-slave event")
	}

	// Restart an agent that voted (not the leader): epoch and vote survive.
	_, leaderLines := rec.count("+elected-leader")
	leaderHost := strings.Fields(leaderLines[0])[0]
	// The vote an agent other than the leader holds in the failover's
	// epoch. Sentinel reveals a vote only to a vote request, so ask for one
	// for a made-up candidate: an agent that already voted in that epoch
	// answers with its vote (the leader, or itself after a split vote), one
	// that did not votes for the made-up candidate. Either way, the same
	// vote must come back after a restart.
	ep, _ := strconv.Atoi(epoch)
	vote := func(c *redis.Client, candidate string) []any {
		res, err := c.Do(ctx, "SENTINEL", "is-master-down-by-addr", best.Host.IP4.String(), strconv.Itoa(redisPort), strconv.Itoa(ep), candidate).Slice()
		if err != nil || len(res) != 3 {
			t.Fatalf("is-master-down-by-addr: %v %v", res, err)
		}
		return res
	}
	var voter *agent
	for _, a := range cl.agents {
		if a.host.Name != leaderHost {
			voter = a
			break
		}
	}
	vc := voter.client(cl.cl, "")
	voteBefore := vote(vc, strings.Repeat("d", 40))
	before, err := masterMap(ctx, vc)
	if err != nil {
		t.Fatal(err)
	}
	if err := voter.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	voter.start(t)
	lab.Eventually(ctx, t, func() error {
		m, err := masterMap(ctx, vc)
		if err != nil {
			return err
		}
		if m["config-epoch"] != before["config-epoch"] || m["ip"] != best.Host.IP4.String() {
			return fmt.Errorf("after restart: epoch %s ip %s, before %s %s", m["config-epoch"], m["ip"], before["config-epoch"], before["ip"])
		}
		return nil
	}, "restarted agent keeps the configuration")
	// A request for a vote in that epoch from a new candidate must not
	// change it either.
	res := vote(vc, strings.Repeat("e", 40))
	t.Logf("restarted %s: vote in epoch %d before %v, after %v", voter.host.Name, ep, voteBefore, res)
	if res[1] != voteBefore[1] || res[2] != voteBefore[2] {
		t.Fatalf("vote after restart = %v in epoch %v, want %v in epoch %v (votes must survive restarts)", res[1], res[2], voteBefore[1], voteBefore[2])
	}
}

// TestMixedWithRedisSentinel runs two vipsentinel agents and one real
// redis-sentinel on the same master: they discover each other, and the
// failover completes with all three agreeing.
func TestMixedWithRedisSentinel(t *testing.T) {
	cl := newCluster(t, agentConf{quorum: 2}, lab.RedisOptions{}, map[int]bool{2: true})
	cl.waitDiscovered(t)
	// The views have the same fields in the same order as redis-sentinel's.
	ours, theirs := cl.agents[0].client(cl.cl, ""), cl.agents[2].client(cl.cl, "")
	for _, req := range [][]any{{"SENTINEL", "master", "mymaster"}, {"SENTINEL", "replicas", "mymaster"}, {"SENTINEL", "sentinels", "mymaster"}, {"SENTINEL", "debug"}} {
		a, errA := ours.Do(testenv.Context(t, 5*time.Second), req...).Slice()
		b, errB := theirs.Do(testenv.Context(t, 5*time.Second), req...).Slice()
		if errA != nil || errB != nil {
			t.Fatalf("%v: %v / %v", req, errA, errB)
		}
		if ka, kb := keysOf(a), keysOf(b); ka != kb {
			t.Errorf("%v fields differ:\n vipsentinel    %s\n redis-sentinel %s", req, ka, kb)
		}
	}
	killed := time.Now()
	if err := cl.redis[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	cl.waitAllReport(t, cl.redis[1].Addr, 60*time.Second)
	t.Logf("mixed group failover time: %v", time.Since(killed).Round(time.Millisecond))
	ctx := testenv.Context(t, 60*time.Second)
	lab.Eventually(ctx, t, func() error {
		var epochs []string
		for _, a := range cl.agents {
			m, err := masterMap(ctx, a.client(cl.cl, ""))
			if err != nil {
				return err
			}
			epochs = append(epochs, m["config-epoch"])
		}
		if epochs[0] == "0" || epochs[0] != epochs[1] || epochs[1] != epochs[2] {
			return fmt.Errorf("config epochs %v", epochs)
		}
		return replicaOf(ctx, cl.redis[2], cl.hosts[1].IP4.String(), false)
	}, "agreement between vipsentinel and redis-sentinel")
}

// keysOf lists the keys of a flat map reply, or of the first map of an array
// of maps.
func keysOf(reply []any) string {
	if len(reply) > 0 {
		if inner, ok := reply[0].([]any); ok {
			reply = inner
		}
	}
	var keys []string
	for i := 0; i < len(reply); i += 2 {
		keys = append(keys, fmt.Sprint(reply[i]))
	}
	return strings.Join(keys, ",")
}

// TestFailoverClientKeepsWriting drives go-redis's FailoverClient against the
// agents while the master is killed: writes resume on the new master.
func TestFailoverClientKeepsWriting(t *testing.T) {
	cl := newCluster(t, agentConf{quorum: 2}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	ctx := testenv.Context(t, 120*time.Second)
	w := cl.startWriter(t, ctx, "", 5*time.Millisecond)
	w.waitAcked(t, ctx, 20, "writes before the failover")
	killed := time.Now()
	if err := cl.redis[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(ctx, t, func() error {
		acked, failed, lastOK := w.counts()
		if lastOK.Before(killed.Add(time.Second)) || !lastOK.After(killed) {
			return fmt.Errorf("no write since the kill (%d ok, %d failed)", acked, failed)
		}
		return nil
	}, "writes after the failover")
	acked, failed, lastOK := w.counts()
	t.Logf("client writes: %d ok, %d failed; writes resumed %v after the kill", acked, failed, lastOK.Sub(killed).Round(time.Millisecond))
	info, err := role(ctx, cl.redis[1])
	if err != nil || info["role"] != "master" {
		t.Fatalf("writes resumed but h2 is %v (%v)", info["role"], err)
	}
	last := w.stop()
	if n, err := cl.redis[1].Client().Exists(ctx, last[len(last)-1]).Result(); err != nil || n != 1 {
		t.Fatalf("the last acknowledged write is not on the new master: %d, %v", n, err)
	}
}

// writer writes w:0, w:1, ... through go-redis's FailoverClient of the
// agents, every interval, until stop; it records what was acknowledged.
type writer struct {
	mu     sync.Mutex
	acked  []string
	failed int
	lastOK time.Time
	quit   chan struct{}
	done   chan struct{}
}

// startWriter starts a writer; pass is the agents' requirepass.
func (cl *cluster) startWriter(t *testing.T, ctx context.Context, pass string, interval time.Duration) *writer {
	t.Helper()
	var addrs []string
	for _, a := range cl.agents {
		addrs = append(addrs, a.addr())
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: "mymaster", SentinelAddrs: addrs, SentinelPassword: pass, Dialer: cl.cl.DialContext,
		DialTimeout: 500 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, MaxRetries: -1,
	})
	w := &writer{quit: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { w.stop(); _ = fc.Close() })
	go func() {
		defer close(w.done)
		for i := 0; ctx.Err() == nil; i++ {
			select {
			case <-w.quit:
				return
			default:
			}
			k := fmt.Sprintf("w:%d", i)
			err := fc.Set(ctx, k, i, 0).Err()
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, k)
				w.lastOK = time.Now()
			} else {
				w.failed++
			}
			w.mu.Unlock()
			time.Sleep(interval)
		}
	}()
	return w
}

// counts returns how many writes were acknowledged and failed so far, and
// when the last acknowledged one was.
func (w *writer) counts() (acked, failed int, lastOK time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked), w.failed, w.lastOK
}

// waitAcked waits for n more acknowledged writes.
func (w *writer) waitAcked(t *testing.T, ctx context.Context, n int, what string) {
	t.Helper()
	from, _, _ := w.counts()
	lab.Eventually(ctx, t, func() error {
		if acked, _, _ := w.counts(); acked < from+n {
			return fmt.Errorf("%d writes", acked-from)
		}
		return nil
	}, what)
}

// stop stops the writer and returns the acknowledged writes.
func (w *writer) stop() []string {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

// TestRedisCLIAndAuth checks redis-cli against the agents' port with
// requirepass, and that an unauthenticated client is refused.
func TestRedisCLIAndAuth(t *testing.T) {
	cl := newCluster(t, agentConf{quorum: 2, requirepass: "agentpw"}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	ctx := testenv.Context(t, 30*time.Second)
	a := cl.agents[0]
	cli := func(args ...string) string {
		full := append([]string{"-h", a.host.IP4.String(), "-p", strconv.Itoa(agentPort)}, args...)
		out, err := cl.cl.Exec(ctx, "redis-cli", full...)
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := cli("PING"); !strings.Contains(got, "NOAUTH Authentication required.") {
		t.Fatalf("unauthenticated PING = %q", got)
	}
	if got := cli("AUTH", "wrong"); got != "WRONGPASS invalid username-password pair or user is disabled." {
		t.Fatalf("AUTH wrong = %q", got)
	}
	// redis-cli -a with a wrong password carries on unauthenticated.
	if got := cli("--no-auth-warning", "-a", "wrong", "SENTINEL", "masters"); got != "NOAUTH Authentication required." {
		t.Fatalf("wrong password SENTINEL MASTERS = %q", got)
	}
	auth := []string{"--no-auth-warning", "-a", "agentpw"}
	if got := cli(append(auth, "SENTINEL", "get-master-addr-by-name", "mymaster")...); got != cl.hosts[0].IP4.String()+"\n6379" {
		t.Fatalf("get-master-addr-by-name = %q", got)
	}
	if got := cli(append(auth, "ROLE")...); got != "sentinel\nmymaster" {
		t.Fatalf("ROLE = %q", got)
	}
	if got := cli(append(auth, "INFO", "sentinel")...); !strings.Contains(got, "master0:name=mymaster,status=ok,address="+cl.hosts[0].IP4.String()+":6379,slaves=2,sentinels=3") {
		t.Fatalf("INFO sentinel = %q", got)
	}
	// CKQUORUM counts verified peers only: a peer announced but not yet
	// proven on our link to it (INFO's sentinels=3 counts it) comes a
	// moment later.
	testenv.Until(t, 10*time.Second, "CKQUORUM to count 3 verified agents", func() bool {
		return cli(append(auth, "SENTINEL", "ckquorum", "mymaster")...) == "OK 3 usable Sentinels. Quorum and failover authorization can be reached"
	})
	if got := cli(append(auth, "VIPSENTINEL", "STATUS")...); !strings.Contains(got, `"name":"mymaster"`) {
		t.Fatalf("VIPSENTINEL STATUS = %q", got)
	}
}

// TestWrongAuthPassNeverFailsOver: the Redis instances require a password
// and the agents are configured with a wrong one. They must report the
// authentication error and must not fail the (healthy) master over.
func TestWrongAuthPassNeverFailsOver(t *testing.T) {
	ro := lab.RedisOptions{RequirePass: "redispw", MasterAuth: "redispw"}
	cl := newCluster(t, agentConf{quorum: 2, authPass: "not-the-password"}, ro, nil)
	ctx := testenv.Context(t, 60*time.Second)
	for _, a := range cl.agents {
		lab.Eventually(ctx, t, func() error {
			log := a.proc.Log()
			if !strings.Contains(log, "+auth-error master mymaster "+cl.hosts[0].IP4.String()) || !strings.Contains(log, "WRONGPASS") {
				return fmt.Errorf("no +auth-error for the master in %s's log yet", a.host.Name)
			}
			if strings.Contains(log, "not-the-password") {
				return wait.Permanent(fmt.Errorf("%s logged the password", a.host.Name))
			}
			return nil
		}, "auth error reported by "+a.host.Name)
	}
	// Several down-after periods: no SDOWN, no failover.
	deadline := time.Now().Add(4 * downAfter * time.Millisecond)
	for time.Now().Before(deadline) {
		for _, a := range cl.agents {
			m, err := masterMap(ctx, a.client(cl.cl, ""))
			if err != nil {
				t.Fatal(err)
			}
			if m["ip"] != cl.hosts[0].IP4.String() || strings.Contains(m["flags"], "o_down") || m["config-epoch"] != "0" {
				t.Fatalf("%s: %v", a.host.Name, m)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	info, err := role(ctx, cl.redis[0])
	if err != nil || info["role"] != "master" {
		t.Fatalf("master role %v (%v)", info["role"], err)
	}
	for _, a := range cl.agents {
		if log := a.proc.Log(); strings.Contains(log, "+sdown master") || strings.Contains(log, "+try-failover") || strings.Contains(log, "+switch-master") {
			t.Fatalf("%s tried to fail over:\n%s", a.host.Name, log)
		}
	}
}

// vipHolders returns the hosts that have vip on an interface.
func vipHolders(t *testing.T, hosts []*lab.Host, vip string) []string {
	t.Helper()
	var out []string
	for _, h := range hosts {
		addrs, err := h.Addrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if a.Addr().String() == vip {
				out = append(out, h.Name)
			}
		}
	}
	return out
}

// waitVIPOn waits until vip is on the host named host and on no other, and
// stops the test, naming what it waited for, if ctx ends first.
func waitVIPOn(ctx context.Context, t *testing.T, hosts []*lab.Host, vip, host, what string) {
	t.Helper()
	lab.Eventually(ctx, t, func() error {
		if got := vipHolders(t, hosts, vip); len(got) != 1 || got[0] != host {
			return fmt.Errorf("VIP %s held by %v", vip, got)
		}
		return nil
	}, what)
}

// TestVIPFollowsMaster: the agent on the master's host holds the VIP; after
// the master is killed the VIP moves to the promoted replica's host, and a
// client connecting to the VIP reaches the new master.
func TestVIPFollowsMaster(t *testing.T) {
	cl, vip := newClusterVIP(t)
	ctx := testenv.Context(t, 90*time.Second)
	waitVIPOn(ctx, t, cl.hosts, vip, "h1", "VIP on the master's host")
	viaVIP := cl.cl.RedisClient(&redis.Options{Addr: vip + ":6379", MaxRetries: -1})
	if err := viaVIP.Set(ctx, "x", "1", 0).Err(); err != nil {
		t.Fatalf("write through the VIP: %v", err)
	}
	killed := time.Now()
	if err := cl.redis[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	waitVIPOn(ctx, t, cl.hosts, vip, "h2", "VIP moved to the new master's host")
	moved := time.Since(killed)
	lab.Eventually(ctx, t, func() error {
		return viaVIP.Set(ctx, "x", "2", 0).Err()
	}, "write through the VIP to the new master")
	t.Logf("VIP moved %v after the kill; writes through the VIP resumed after %v", moved.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if got := vipHolders(t, cl.hosts, vip); len(got) != 1 {
		t.Fatalf("VIP held by %v", got)
	}
}

// newClusterVIP is newCluster with Redis bound to every address (so it
// answers on the VIP) and a sentinel vip directive for a free lab address,
// which it returns.
func newClusterVIP(t *testing.T) (*cluster, string) {
	t.Helper()
	l := lab.NewT(t, lab.Config{Hosts: 3, Clients: 1})
	vip := l.FreeIP4().String()
	cl := &cluster{lab: l, hosts: l.Hosts(), cl: l.Clients()[0]}
	cl.redis = startRedisGroup(t, testenv.Context(t, 60*time.Second), cl.hosts, cl.hosts[0].IP4, func(int, *lab.Host) lab.RedisOptions {
		return lab.RedisOptions{Bind: []string{"*"}}
	})
	c := agentConf{quorum: 2, master: cl.hosts[0].IP4.String(), extra: []string{
		fmt.Sprintf("sentinel vip mymaster %s/%d eth0", vip, l.Prefix4().Bits()),
		"sentinel vip-garp mymaster 3 100",
	}}
	for _, h := range cl.hosts {
		cl.agents = append(cl.agents, startAgent(t, l, h, c, false))
	}
	cl.waitDiscovered(t)
	return cl, vip
}

// TestPartitionMasterHost isolates the master's host: the majority fails
// over and takes the VIP, the isolated agent lets the VIP go (it cannot hear
// a majority), and after healing the old master rejoins as a replica. The
// time during which two hosts held the VIP is measured and bounded.
func TestPartitionMasterHost(t *testing.T) {
	cl, vip := newClusterVIP(t)
	ctx := testenv.Context(t, 120*time.Second)
	waitVIPOn(ctx, t, cl.hosts, vip, "h1", "VIP on the master's host")

	// Watch the holders every 10 ms from now on.
	var (
		mu      sync.Mutex
		dual    time.Duration
		dualAt  time.Time
		holders []string
	)
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			got := vipHolders(t, cl.hosts, vip)
			mu.Lock()
			holders = got
			if len(got) > 1 {
				if dualAt.IsZero() {
					dualAt = time.Now()
				}
			} else if !dualAt.IsZero() {
				dual += time.Since(dualAt)
				dualAt = time.Time{}
			}
			mu.Unlock()
		}
	}()
	defer func() { close(stop); <-watched }()

	cut := time.Now()
	if err := cl.lab.Isolate(cl.hosts[0]); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(ctx, t, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(holders) != 1 || holders[0] != "h2" {
			return fmt.Errorf("VIP held by %v", holders)
		}
		return nil
	}, "VIP only on the new master's host during the partition")
	t.Logf("partition: VIP on h2 alone %v after the cut", time.Since(cut).Round(time.Millisecond))
	for _, a := range cl.agents[1:] {
		got, err := masterAddr(ctx, a.client(cl.cl, ""))
		if err != nil || got != cl.redis[1].Addr {
			t.Fatalf("%s reports %s (%v)", a.host.Name, got, err)
		}
	}

	if err := cl.lab.HealAll(); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(ctx, t, func() error {
		if err := replicaOf(ctx, cl.redis[0], cl.hosts[1].IP4.String(), false); err != nil {
			return err
		}
		got, err := masterAddr(ctx, cl.agents[0].client(cl.cl, ""))
		if err != nil || got != cl.redis[1].Addr {
			return fmt.Errorf("h1's agent reports %s (%v)", got, err)
		}
		return nil
	}, "old master rejoins as a replica after healing")
	mu.Lock()
	d := dual
	if !dualAt.IsZero() {
		d += time.Since(dualAt)
	}
	final := holders
	mu.Unlock()
	t.Logf("VIP held by two hosts for %v in total", d.Round(time.Millisecond))
	if len(final) != 1 || final[0] != "h2" {
		t.Fatalf("VIP held by %v after healing", final)
	}
	// Both sides of the partition were cut off from each other, so a dual
	// holding is invisible to clients on one side; still, the isolated
	// agent must have let go within a few lease periods.
	if d > 10*time.Second {
		t.Fatalf("VIP on two hosts for %v", d)
	}
}

// TestFailoverHungMaster freezes the master with SIGSTOP (connections stay
// open but nothing answers): the agents must still fail over, and convert
// the old master once it resumes.
func TestFailoverHungMaster(t *testing.T) {
	cl := newCluster(t, agentConf{quorum: 2}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	stopped := time.Now()
	if err := cl.redis[0].Proc.Stop(); err != nil {
		t.Fatal(err)
	}
	cl.waitAllReport(t, cl.redis[1].Addr, 60*time.Second)
	t.Logf("failover time for a hung (SIGSTOP) master: %v", time.Since(stopped).Round(time.Millisecond))
	if err := cl.redis[0].Proc.Cont(); err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 60*time.Second)
	lab.Eventually(ctx, t, func() error { return replicaOf(ctx, cl.redis[0], cl.hosts[1].IP4.String(), false) }, "resumed old master converted to a replica")
}

// TestManualFailover: SENTINEL FAILOVER on one agent promotes the best
// replica without the master being down; every agent follows, and the old
// master becomes a replica.
func TestManualFailover(t *testing.T) {
	cl := newCluster(t, agentConf{quorum: 2}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	ctx := testenv.Context(t, 60*time.Second)
	c := cl.agents[2].client(cl.cl, "")
	if err := c.Do(ctx, "SENTINEL", "FAILOVER", "mymaster").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "SENTINEL", "FAILOVER", "mymaster").Err(); err == nil || !strings.HasPrefix(err.Error(), "INPROG") {
		t.Fatalf("second FAILOVER: %v, want INPROG", err)
	}
	cl.waitAllReport(t, cl.redis[1].Addr, 60*time.Second)
	lab.Eventually(ctx, t, func() error {
		for _, r := range []*lab.Redis{cl.redis[0], cl.redis[2]} {
			if err := replicaOf(ctx, r, cl.hosts[1].IP4.String(), true); err != nil {
				return err
			}
		}
		return nil
	}, "old master and other replica follow the new master")
}

// TestFailoverIPv6 monitors the master by its IPv6 address: links, hellos
// and replies must all carry IPv6 addresses correctly.
func TestFailoverIPv6(t *testing.T) {
	l := lab.NewT(t, lab.Config{Hosts: 3, Clients: 1, IPv6: true})
	cl := &cluster{lab: l, hosts: l.Hosts(), cl: l.Clients()[0]}
	ctx := testenv.Context(t, 90*time.Second)
	addr6 := func(h *lab.Host) string { return net.JoinHostPort(h.IP6.String(), strconv.Itoa(redisPort)) }
	cl.redis = startRedisGroup(t, ctx, cl.hosts, cl.hosts[0].IP6, func(_ int, h *lab.Host) lab.RedisOptions {
		return lab.RedisOptions{Bind: []string{h.IP4.String(), h.IP6.String(), "127.0.0.1"}, Extra: []string{"replica-announce-ip " + h.IP6.String()}}
	})
	c := agentConf{quorum: 2, master: cl.hosts[0].IP6.String()}
	for _, h := range cl.hosts {
		cl.agents = append(cl.agents, startAgent(t, l, h, c, false))
	}
	cl.waitDiscovered(t)
	killed := time.Now()
	if err := cl.redis[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	cl.waitAllReport(t, addr6(cl.hosts[1]), 60*time.Second)
	t.Logf("IPv6 failover time: %v", time.Since(killed).Round(time.Millisecond))
	lab.Eventually(ctx, t, func() error { return replicaOf(ctx, cl.redis[2], cl.hosts[1].IP6.String(), true) }, "other replica follows the new master over IPv6")
}

// TestLeaderCrashAfterPromotion: every agent is armed with SENTINEL
// SIMULATE-FAILURE crash-after-promotion, so the elected leader exits (99)
// right after the replica acknowledged its promotion. Restarted, it must
// finish the job from its persisted state; all agents converge.
func TestLeaderCrashAfterPromotion(t *testing.T) {
	cl := newCluster(t, agentConf{quorum: 2}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	ctx := testenv.Context(t, 90*time.Second)
	for _, a := range cl.agents {
		if err := a.client(cl.cl, "").Do(ctx, "SENTINEL", "SIMULATE-FAILURE", "crash-after-promotion").Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.redis[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	var leader *agent
	lab.Eventually(ctx, t, func() error {
		for _, a := range cl.agents {
			if !a.proc.Running() {
				leader = a
				return nil
			}
		}
		return fmt.Errorf("no agent exited yet")
	}, "the leader's simulated crash")
	err := leader.proc.Wait(ctx)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 99 {
		t.Fatalf("leader %s exited with %v, want status 99", leader.host.Name, err)
	}
	leader.start(t)
	cl.waitAllReport(t, cl.redis[1].Addr, 60*time.Second)
	lab.Eventually(ctx, t, func() error { return replicaOf(ctx, cl.redis[2], cl.hosts[1].IP4.String(), true) }, "other replica reconfigured after the leader restarted")
}
