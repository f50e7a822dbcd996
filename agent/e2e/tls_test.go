package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// tlsGroup is three hosts, each with a redis-server (h1 master) and an
// agent, all TLS-only with client certificates required (or all plain, to
// compare), and a floating IP on the master's host.
type tlsGroup struct {
	on     bool
	lab    *lab.Lab
	hosts  []*lab.Host
	cl     *lab.Host
	redis  []*lab.Redis
	agents []*agent
	vip    netip.Prefix

	ca      *tlsca.CA
	files   []tlsca.Files // per host: certificate of its agent and its Redis
	clientF tlsca.Files   // the test's client certificate
	clientC *tls.Config
}

// groupDownAfter is the agents' down-after-milliseconds in these tests.
const groupDownAfter = 1000

// newTLSGroup starts the group. realSentinel marks hosts that run a real
// redis-sentinel (TLS-only as well) instead of vipsentinel; the agents do
// not list it: with tls-auth-clients yes its certificate is its proof.
func newTLSGroup(t *testing.T, name string, on bool, realSentinel map[int]bool) *tlsGroup {
	t.Helper()
	l := lab.NewT(t, lab.Config{Hosts: 3, Clients: 1, Name: name})
	g := &tlsGroup{on: on, lab: l, hosts: l.Hosts(), cl: l.Clients()[0]}
	g.vip = netip.PrefixFrom(l.FreeIP4(), l.Prefix4().Bits())
	if on {
		g.issueAll(t)
	}
	g.redis = startRedisGroup(t, testenv.Context(t, 60*time.Second), g.hosts, g.hosts[0].IP4, func(i int, _ *lab.Host) lab.RedisOptions {
		o := lab.RedisOptions{Bind: []string{"*"}}
		if on {
			o.TLS = &lab.RedisTLS{Cert: g.files[i].Cert, Key: g.files[i].Key, CA: g.files[i].CA, Client: g.clientC}
		}
		return o
	})
	for i, h := range g.hosts {
		g.agents = append(g.agents, g.startAgent(t, i, h, realSentinel[i]))
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, a := range g.agents {
				t.Logf("log of the agent on %s:\n%s", a.host.Name, tailLog(a.proc.Log(), 5000))
			}
		}
	})
	return g
}

func tailLog(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// issueAll makes the group's CA, a certificate per host (its IP address
// and the floating IP: clients reach the master there), and the test's
// client certificate.
func (g *tlsGroup) issueAll(t *testing.T) {
	t.Helper()
	ca, err := tlsca.New("vipsentinel e2e CA")
	if err != nil {
		t.Fatal(err)
	}
	g.ca = ca
	dir := filepath.Join(g.lab.Dir(), "pki")
	for _, h := range g.hosts {
		g.files = append(g.files, g.issue(t, dir, h.Name, h.IP4.String(), g.vip.Addr().String(), "127.0.0.1"))
	}
	g.clientF = g.issue(t, dir, "client")
	cert, err := tls.LoadX509KeyPair(g.clientF.Cert, g.clientF.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	g.clientC = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}
}

func (g *tlsGroup) issue(t *testing.T, dir, name string, hosts ...string) tlsca.Files {
	t.Helper()
	l, err := g.ca.Issue(tlsca.Spec{Name: name, Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	f, err := g.ca.WriteFiles(dir, name, l)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (g *tlsGroup) startAgent(t *testing.T, i int, h *lab.Host, real bool) *agent {
	t.Helper()
	dir := filepath.Join(g.lab.Dir(), "agent-"+h.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a := &agent{host: h, dir: dir, conf: filepath.Join(dir, "sentinel.conf"), real: real}
	lines := []string{
		"dir " + dir,
		fmt.Sprintf("sentinel monitor mymaster %s %d 2", g.hosts[0].IP4, redisPort),
		fmt.Sprintf("sentinel down-after-milliseconds mymaster %d", groupDownAfter),
		fmt.Sprintf("sentinel failover-timeout mymaster %d", failoverTimeout),
	}
	if g.on {
		f := g.files[i]
		lines = append(lines, "port 0", "tls-port "+strconv.Itoa(agentPort),
			"tls-cert-file "+f.Cert, "tls-key-file "+f.Key, "tls-ca-cert-file "+f.CA,
			"tls-auth-clients yes", "tls-replication yes")
		if !real {
			// Protected mode stays on: the agents and the test get in
			// with their certificates, not by a password.
			lines = append(lines, "protected-mode yes")
		}
	} else {
		lines = append(lines, "port "+strconv.Itoa(agentPort), "protected-mode no")
	}
	if real {
		lines = append(lines, "logfile \"\"", "protected-mode no", "sentinel myid "+realSentinelID(i))
	} else {
		lines = append(lines, fmt.Sprintf("sentinel vip mymaster %s %s", g.vip, h.Iface), "min-agents 3")
	}
	if err := os.WriteFile(a.conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.start(t)
	return a
}

// client returns a go-redis client of agent i's API from the client host,
// over TLS with the test's certificate when the group uses TLS.
func (g *tlsGroup) client(i int) *redis.Client {
	o := &redis.Options{Addr: g.agents[i].addr(), Protocol: 2, MaxRetries: -1}
	if g.on {
		o.TLSConfig = g.clientC
	}
	return g.cl.RedisClient(o)
}

// clients returns a client of every agent, in order.
func (g *tlsGroup) clients() []*redis.Client {
	clients := make([]*redis.Client, len(g.agents))
	for i := range g.agents {
		clients[i] = g.client(i)
	}
	return clients
}

// waitReady waits until every agent knows both replicas and the two other
// agents, and the floating IP is on h1.
func (g *tlsGroup) waitReady(t *testing.T) {
	t.Helper()
	waitDiscovered(t, g.agents, g.clients())
	g.waitVIP(t, testenv.Context(t, 60*time.Second), 0)
}

// vipHolders returns the hosts that have the floating IP.
func (g *tlsGroup) vipHolders() ([]int, error) {
	var held []int
	for i, h := range g.hosts {
		addrs, err := h.Addrs()
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if a.Addr() == g.vip.Addr() {
				held = append(held, i)
			}
		}
	}
	return held, nil
}

func (g *tlsGroup) waitVIP(t *testing.T, ctx context.Context, i int) {
	t.Helper()
	lab.Eventually(ctx, t, g.vipOnlyOn(i), "floating IP on "+g.hosts[i].Name)
}

// vipOnlyOn is the condition that host i, and no other, has the floating IP.
func (g *tlsGroup) vipOnlyOn(i int) func() error {
	return func() error {
		held, err := g.vipHolders()
		if err != nil {
			return err
		}
		if len(held) != 1 || held[0] != i {
			return fmt.Errorf("floating IP held by %v, want host %d", held, i)
		}
		return nil
	}
}

// failover kills -9 the master and returns how long until every agent
// reported h2's Redis as the master, and until the floating IP moved there.
func (g *tlsGroup) failover(t *testing.T) (reported, moved time.Duration) {
	t.Helper()
	ctx := testenv.Context(t, 60*time.Second)
	clients := g.clients()
	want := g.redis[1].Addr
	killed := time.Now()
	if err := g.redis[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	vipMoved := make(chan time.Duration, 1)
	go func() {
		if err := wait.For(ctx, 5*time.Millisecond, g.vipOnlyOn(1)); err != nil {
			vipMoved <- -1
			return
		}
		vipMoved <- time.Since(killed)
	}()
	if err := wait.For(ctx, 10*time.Millisecond, allReport(ctx, g.agents, clients, want)); err != nil {
		t.Fatalf("agents never all reported %s: %v", want, err)
	}
	reported = time.Since(killed)
	if moved = <-vipMoved; moved < 0 {
		t.Fatal("the floating IP never moved to h2")
	}
	return reported, moved
}

// TestTLSFailover runs the same kill -9 of the master in a plaintext group
// and in a TLS-only one (Redis and agents TLS-only, client certificates
// required, protected mode on) and prints both failover times. In the TLS
// group, go-redis, redis-cli --tls and redis-py (when installed) then find
// the new master through the agents; clients without a valid certificate
// are refused with the reason in the agent's log; a certificate rotated on
// disk is used after SIGHUP while the floating IP and the links stay.
func TestTLSFailover(t *testing.T) {
	var times [2][2]time.Duration
	for k, on := range []bool{false, true} {
		name := map[bool]string{false: "tlsoff", true: "tlson"}[on]
		t.Run(name, func(t *testing.T) {
			g := newTLSGroup(t, name, on, nil)
			g.waitReady(t)
			if on {
				g.checkRotation(t)
				g.checkStatus(t)
			}
			reported, moved := g.failover(t)
			times[k] = [2]time.Duration{reported, moved}
			t.Logf("%s: kill -9 of the master -> all agents report the new master %v, floating IP on the new master's host %v (down-after %dms)",
				name, reported.Round(time.Millisecond), moved.Round(time.Millisecond), groupDownAfter)
			if on {
				g.checkClients(t)
				g.checkRefusals(t)
			}
		})
	}
	if times[0][0] > 0 && times[1][0] > 0 {
		t.Logf("failover times in this run: plaintext %v (VIP %v), TLS %v (VIP %v)",
			times[0][0].Round(time.Millisecond), times[0][1].Round(time.Millisecond),
			times[1][0].Round(time.Millisecond), times[1][1].Round(time.Millisecond))
	}
}

// checkClients: go-redis's FailoverClient, redis-cli --tls and redis-py
// reach the new master (h2) through the agents, over TLS.
func (g *tlsGroup) checkClients(t *testing.T) {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	var sentinels []string
	for _, a := range g.agents {
		sentinels = append(sentinels, a.addr())
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: "mymaster", SentinelAddrs: sentinels, Protocol: 2, DisableIdentity: true,
		Dialer: g.cl.TLSDialer(g.clientC), MaxRetries: 3,
	})
	defer fc.Close()
	lab.Eventually(ctx, t, func() error { return fc.Set(ctx, "tls:go-redis", "1", 0).Err() }, "go-redis FailoverClient writes to the new master over TLS")
	if v, err := g.redis[1].Client().Get(ctx, "tls:go-redis").Result(); err != nil || v != "1" {
		t.Fatalf("write through go-redis not on h2: %q %v", v, err)
	}

	cli := func(addr string, args ...string) string {
		host, port, _ := net.SplitHostPort(addr)
		full := append([]string{"--tls", "--cacert", g.clientF.CA, "--cert", g.clientF.Cert, "--key", g.clientF.Key, "-h", host, "-p", port}, args...)
		out, err := g.cl.Exec(ctx, "redis-cli", full...)
		if err != nil {
			t.Fatalf("redis-cli %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	got := strings.Fields(cli(g.agents[2].addr(), "SENTINEL", "get-master-addr-by-name", "mymaster"))
	if len(got) != 2 || net.JoinHostPort(got[0], got[1]) != g.redis[1].Addr {
		t.Fatalf("redis-cli --tls: master %v, want %s", got, g.redis[1].Addr)
	}
	if out := cli(g.redis[1].Addr, "SET", "tls:redis-cli", "1"); out != "OK" {
		t.Fatalf("redis-cli --tls SET on the new master: %q", out)
	}
	// Through the floating IP, which the new master's certificate names.
	if out := cli(net.JoinHostPort(g.vip.Addr().String(), strconv.Itoa(redisPort)), "GET", "tls:redis-cli"); out != "1" {
		t.Fatalf("redis-cli --tls GET through the floating IP: %q", out)
	}

	py := pythonWithRedis()
	if py == "" {
		t.Log("redis-py not installed (python3 -c 'import redis' fails): its check is left out")
		return
	}
	script := `
import sys
from redis.sentinel import Sentinel
hosts = [(h.split(":")[0], int(h.split(":")[1])) for h in sys.argv[1].split(",")]
tls = dict(ssl=True, ssl_ca_certs=sys.argv[2], ssl_certfile=sys.argv[3], ssl_keyfile=sys.argv[4])
s = Sentinel(hosts, sentinel_kwargs=tls, socket_timeout=2, **tls)
host, port = s.discover_master("mymaster")
m = s.master_for("mymaster", socket_timeout=2)
m.set("tls:redis-py", "1")
print("%s:%d" % (host, port))
`
	out, err := g.cl.Exec(ctx, py, "-c", script, strings.Join(sentinels, ","), g.clientF.CA, g.clientF.Cert, g.clientF.Key)
	if err != nil {
		t.Fatalf("redis-py: %v: %s", err, out)
	}
	if strings.TrimSpace(string(out)) != g.redis[1].Addr {
		t.Fatalf("redis-py found master %q, want %s", out, g.redis[1].Addr)
	}
}

// pythonWithRedis returns a python3 that can import redis (redis-py), or "".
func pythonWithRedis() string {
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import redis").Run() == nil {
			return p
		}
	}
	return ""
}

// checkRefusals: a client with a certificate from another CA, one with
// none, and a plaintext one are refused; the agent logs why.
func (g *tlsGroup) checkRefusals(t *testing.T) {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	other, err := tlsca.New("intruder CA")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := other.Issue(tlsca.Spec{Name: "intruder"})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// An expired certificate from the group's own CA.
	expiredLeaf, err := g.ca.Issue(tlsca.Spec{Name: "expired", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	expiredCert, err := tls.X509KeyPair(expiredLeaf.CertPEM, expiredLeaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	expired := g.clientC.Clone()
	expired.Certificates = []tls.Certificate{expiredCert}
	forged := g.clientC.Clone()
	// Sent whatever CAs the server asks for (a Go client otherwise keeps
	// a certificate the server's CA list does not match to itself).
	forged.Certificates = nil
	forged.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	none := g.clientC.Clone()
	none.Certificates = nil
	for _, c := range []struct {
		name string
		cfg  *tls.Config
		log  string // what the agent's log must say (failures are logged once a second)
	}{
		{"certificate from another CA", forged, "certificate signed by unknown authority"},
		{"expired certificate", expired, "certificate has expired"},
		{"no certificate", none, "didn't provide a certificate"},
		{"plaintext", nil, ""},
	} {
		lab.Eventually(ctx, t, func() error {
			cl := g.cl.RedisClient(&redis.Options{Addr: g.agents[0].addr(), Protocol: 2, MaxRetries: -1, TLSConfig: c.cfg})
			defer cl.Close()
			if err := cl.Ping(ctx).Err(); err == nil {
				t.Fatalf("%s: PING answered", c.name)
			}
			if c.log != "" && !strings.Contains(g.agents[0].proc.Log(), c.log) {
				return fmt.Errorf("no log line saying %q", c.log)
			}
			return nil
		}, c.name+": refused, and the agent logs why")
	}
}

// checkRotation replaces h1's certificate on disk, sends SIGHUP, and
// checks that new connections get the new certificate while the floating
// IP and the peer links stay.
func (g *tlsGroup) checkRotation(t *testing.T) {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	serial := func() string {
		cfg := g.clientC.Clone()
		cfg.ServerName = g.hosts[0].IP4.String()
		c, err := g.cl.TLSDialer(cfg)(ctx, "tcp", g.agents[0].addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	g.issue(t, filepath.Dir(g.files[0].Cert), g.hosts[0].Name, g.hosts[0].IP4.String(), g.vip.Addr().String(), "127.0.0.1")
	if err := g.agents[0].proc.Hup(); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(ctx, t, func() error {
		if s := serial(); s == before {
			return fmt.Errorf("still the old certificate (serial %s)", s)
		}
		return nil
	}, "the rotated certificate is served after SIGHUP")
	held, err := g.vipHolders()
	if err != nil || len(held) != 1 || held[0] != 0 {
		t.Fatalf("floating IP after the reload: %v %v", held, err)
	}
	m, err := masterMap(ctx, g.client(0))
	if err != nil || m["num-other-sentinels"] != "2" || m["flags"] != "master" {
		t.Fatalf("after the reload: %v %v", m, err)
	}
}

// TestTLSMixedWithRedisSentinel: two vipsentinel agents and a real
// redis-sentinel, all TLS-only with client certificates required, over
// TLS-only Redis. The agents verify the redis-sentinel by its certificate
// (it is not listed), and after a kill -9 of the master all three report
// the same new master.
func TestTLSMixedWithRedisSentinel(t *testing.T) {
	g := newTLSGroup(t, "tlsmix", true, map[int]bool{2: true})
	g.waitReady(t)
	ctx := testenv.Context(t, 60*time.Second)
	reported, moved := g.failover(t)
	t.Logf("mixed TLS group: all report the new master after %v, floating IP moved after %v", reported.Round(time.Millisecond), moved.Round(time.Millisecond))
	lab.Eventually(ctx, t, func() error {
		var epochs []string
		for i := range g.agents {
			m, err := masterMap(ctx, g.client(i))
			if err != nil {
				return err
			}
			epochs = append(epochs, m["config-epoch"])
		}
		if epochs[0] == "0" || epochs[0] != epochs[1] || epochs[1] != epochs[2] {
			return fmt.Errorf("config epochs %v", epochs)
		}
		return nil
	}, "agreement between vipsentinel and redis-sentinel over TLS")
}

// checkStatus: vipsentinel status on h1, given only the configuration,
// reaches the TLS-only agent over TLS and lists the certificates' expiry.
func (g *tlsGroup) checkStatus(t *testing.T) {
	t.Helper()
	out, err := g.hosts[0].Exec(testenv.Context(t, 20*time.Second), binary, "status", "--config", g.agents[0].conf)
	if err != nil {
		t.Fatalf("vipsentinel status: %v\n%s", err, out)
	}
	for _, want := range []string{"127.0.0.1:" + strconv.Itoa(agentPort), "mymaster", "TLS certificates", "notAfter", "CN=h1"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("vipsentinel status lacks %q:\n%s", want, out)
		}
	}
}
