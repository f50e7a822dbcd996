package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// BuildAgent builds the vipsentinel executable into dir, for tests that run
// deployments of it, and returns its path.
func BuildAgent(dir string) (string, error) {
	bin := filepath.Join(dir, "vipsentinel")
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go" // where .ci/deps expects Go
	}
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/vipsentinel/vipsentinel/cmd/vipsentinel").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build vipsentinel: %w\n%s", err, out)
	}
	return bin, nil
}

// RunWithAgent is a test package's TestMain body: it builds the agent once
// into a temporary folder, sets *bin to it, runs the tests (m is the
// *testing.M) and removes the folder, returning the exit code.
func RunWithAgent(m interface{ Run() int }, bin *string) int {
	dir, err := os.MkdirTemp("", "vipsentinel-agent-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if *bin, err = BuildAgent(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Stack selects what moves the floating IP.
type Stack int

const (
	// Vipsentinel runs one vipsentinel agent per host.
	Vipsentinel Stack = iota
	// Classic runs one redis-sentinel per host with a client-reconfig-script
	// that moves the address with "ip addr" and announces it with "arping".
	Classic
)

// String names the stack in reports.
func (s Stack) String() string {
	if s == Classic {
		return "redis-sentinel+script"
	}
	return "vipsentinel"
}

// MasterName is the name every deployment monitors its master under.
const MasterName = "demo"

// AgentPort is the Sentinel API port of every agent.
const AgentPort = 26379

// Options describes a deployment.
type Options struct {
	Stack           Stack
	Hosts           int           // server hosts, each with redis-server and an agent (default 3)
	DownAfter       time.Duration // down-after-milliseconds (default 1s)
	FailoverTimeout time.Duration // failover-timeout (default 10s)
	IPv6            bool          // the floating IP is an IPv6 address
	Binary          string        // the vipsentinel executable (Vipsentinel stack)
	Name            string        // lab name prefix
	// Firewall turns on vipsentinel's nftables management (firewall yes,
	// with firewall-fence) on every host, with a policy-drop input chain of the host's own in
	// front of it, as a locked-down host would have. The agents must open
	// their ports in that chain (firewall-mode inject) for anything to work.
	Firewall bool
	// Password is Redis's requirepass and masterauth on every server, and
	// the agents' auth-pass for them.
	Password string
	// AgentPassword is the agents' requirepass, which they also use to
	// authenticate to each other (sentinel-pass); API clients use it too.
	AgentPassword string
	// MinAgents is the agents' min-agents (0: not set).
	MinAgents int
	// Persist gives every redis-server RDB and AOF persistence (fsync at
	// every write), so a killed or restarted server keeps what it
	// acknowledged.
	Persist bool
	// RedisExtra is appended to every redis-server's configuration.
	RedisExtra []string
	// Clients is the number of client namespaces (default 1). Cluster.Client
	// is the first; the others (Lab.Clients) are for tests that need a
	// second party on the network, such as an attacker.
	Clients int
	// ExtraMasters adds this many extra monitored masters (without a
	// floating IP) to every agent, for idle-cost measurements. Each is a
	// group of its own, as in a real deployment: a redis-server on the
	// first host with a replica on each other host, all on port
	// ExtraPort(k) (see startExtraGroups for why they cannot share one).
	ExtraMasters int
	// TLS runs everything TLS-only (vipsentinel stack): redis-server and
	// the agents with port 0 and client certificates required, replication
	// and agent links over TLS, certificates from a throw-away CA (tls.go).
	TLS bool
	// OnStartError, if set, is called when Start fails after the lab was
	// built, with the deployment still running as far as it got: a
	// benchmark's chance to keep the evidence (logs, what the agents
	// report) before Start removes everything.
	OnStartError func(c *Cluster, err error)
}

func (o *Options) defaults() {
	if o.Hosts == 0 {
		o.Hosts = 3
	}
	if o.DownAfter == 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout == 0 {
		o.FailoverTimeout = 10 * time.Second
	}
	if o.Name == "" {
		o.Name = "scen"
	}
	if o.Clients == 0 {
		o.Clients = 1
	}
}

// Cluster is a running deployment: hosts h1..hN with redis-server (h1 the
// first master) and an agent each, plus one client namespace.
type Cluster struct {
	Opts   Options
	Lab    *lab.Lab
	Hosts  []*lab.Host
	Client *lab.Host
	Redis  []*lab.Redis
	Agents []*lab.Proc
	VIP    netip.Addr
	Prefix netip.Prefix // the floating IP with the lab subnet's prefix length

	agentCmd [][]string // per host: the agent's command line
	pki      *pki       // Options.TLS

	mu      sync.Mutex
	clients []*redis.Client
}

// Start builds the lab and starts Redis and the agents. It returns once the
// replicas are in sync and the floating IP answers on the first host.
func Start(ctx context.Context, o Options) (_ *Cluster, err error) {
	c, err := newCluster(o)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if c.Opts.OnStartError != nil {
				c.Opts.OnStartError(c, err)
			}
			c.Close()
		}
	}()
	for i := range c.Hosts {
		if err := c.startRedis(i); err != nil {
			return nil, err
		}
	}
	for _, r := range c.Redis[1:] {
		if err := r.WaitLinkUp(ctx); err != nil {
			return nil, fmt.Errorf("scenario: replica %s: %w", r.Addr, err)
		}
	}
	if err := c.waitStreaming(ctx); err != nil {
		return nil, err
	}
	if err := c.startExtraGroups(ctx); err != nil {
		return nil, err
	}

	for i := range c.Hosts {
		if err := c.startAgent(i); err != nil {
			return nil, err
		}
	}
	if c.Opts.Stack == Classic {
		// The classic stack has nobody to place the address at start: the
		// operator does it by hand once.
		if err := classicTakeVIP(ctx, c.Hosts[0], c.Prefix); err != nil {
			return nil, err
		}
	}
	for i := range c.Hosts {
		if err := c.waitAgent(ctx, i); err != nil {
			return nil, err
		}
	}
	if err := wait.For(ctx, 10*time.Millisecond, func() error {
		holders, err := c.VIPHolders()
		if err != nil {
			return err
		}
		if len(holders) != 1 || holders[0] != 0 {
			return fmt.Errorf("floating IP %s held by hosts %v, want only h1", c.VIP, holders)
		}
		return c.Client.Ping(ctx, c.VIP)
	}); err != nil {
		return nil, fmt.Errorf("scenario: floating IP never settled on h1: %w", err)
	}
	return c, nil
}

// newCluster builds the lab and picks the floating IP; nothing runs yet.
func newCluster(o Options) (*Cluster, error) {
	o.defaults()
	if o.Stack == Vipsentinel && o.Binary == "" {
		return nil, errors.New("scenario: Options.Binary (the vipsentinel executable) is required")
	}
	l, err := lab.New(lab.Config{Hosts: o.Hosts, Clients: o.Clients, IPv6: o.IPv6, Name: o.Name})
	if err != nil {
		return nil, fmt.Errorf("scenario: build lab: %w", err)
	}
	c := &Cluster{Opts: o, Lab: l, Hosts: l.Hosts(), Client: l.Clients()[0],
		Redis: make([]*lab.Redis, o.Hosts), Agents: make([]*lab.Proc, o.Hosts), agentCmd: make([][]string, o.Hosts)}
	if o.IPv6 {
		c.VIP = l.FreeIP6()
		c.Prefix = netip.PrefixFrom(c.VIP, l.Prefix6().Bits())
	} else {
		c.VIP = l.FreeIP4()
		c.Prefix = netip.PrefixFrom(c.VIP, l.Prefix4().Bits())
	}
	if o.TLS {
		if err := c.setupTLS(); err != nil {
			l.Close()
			return nil, err
		}
	}
	return c, nil
}

// startRedis starts the first redis-server on host i: a master on the
// first host, a replica of it elsewhere. It waits until the server answers
// PING, not for replication.
func (c *Cluster) startRedis(i int) error {
	r, err := c.startServer(i, 6379, false, c.Opts.RedisExtra)
	if err != nil {
		return err
	}
	c.Redis[i] = r
	return nil
}

// startServer starts host i's redis-server of the group on port: a master
// on the first host, a replica of it elsewhere. Unless noWait, it waits
// until the server answers PING, not for replication.
func (c *Cluster) startServer(i, port int, noWait bool, extra []string) (*lab.Redis, error) {
	// Redis binds every address so that it answers on the floating IP
	// wherever that lands (it binds only at start).
	ro := lab.RedisOptions{
		Port:        port,
		Bind:        []string{"*", "-::*"},
		RequirePass: c.Opts.Password,
		MasterAuth:  c.Opts.Password,
		Persist:     c.Opts.Persist,
		Extra:       []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 0"},
		NoWait:      noWait,
	}
	if c.Opts.Persist {
		ro.Extra = append(ro.Extra, "appendfsync always")
	}
	ro.Extra = append(ro.Extra, extra...)
	if i > 0 {
		ro.ReplicaOf = netip.AddrPortFrom(c.Hosts[0].IP4, uint16(port))
	}
	ro.TLS = c.redisTLS(i)
	r, err := c.Hosts[i].StartRedis(ro)
	if err != nil {
		return nil, fmt.Errorf("scenario: start redis on %s: %w", c.Hosts[i], err)
	}
	return r, nil
}

// ExtraPort is the port of Options.ExtraMasters' group k (from 0).
func ExtraPort(k int) int { return 7000 + k }

// ExtraName is the name the agents monitor Options.ExtraMasters' group k
// under.
func ExtraName(k int) string { return fmt.Sprintf("extra%d", k) }

// startExtraGroups starts Options.ExtraMasters groups, each a master on
// the first host and a replica of it on every other, and returns once
// every replica's initial sync is done.
//
// The groups cannot share the main group's servers. Sentinel subscribes to
// the hello channel of every instance once per master, and every agent
// publishes a hello there per master: with n masters naming one server,
// each of its hellos goes out to every master's subscription, n² messages
// per period a real deployment never has. At 500 masters the three
// redis-servers of such a lab were busy with nothing else and
// redis-sentinel fell behind on its links, so that it measured cheaper
// than at 50 masters, doing less work. The servers' own timer runs once a
// second (hz 1): their background work is not what is measured, and 1,500
// of them at the default 10 Hz would be a load of their own on the machine.
func (c *Cluster) startExtraGroups(ctx context.Context) error {
	n := c.Opts.ExtraMasters
	if n == 0 {
		return nil
	}
	extra := append([]string{"hz 1", "dynamic-hz no"}, c.Opts.RedisExtra...)
	// A batch at a time, each started, then ready and (replicas) synced
	// before the next: 1,500 servers started at once, each replica's sync
	// forking its master, put the load of a 2-core machine above 300 and
	// timed out the dials (500 masters).
	for from := 0; from < n; from += extraBatch {
		var servers []*lab.Redis
		for k := from; k < min(from+extraBatch, n); k++ {
			for i := range c.Hosts {
				r, err := c.startServer(i, ExtraPort(k), true, extra)
				if err != nil {
					return err
				}
				servers = append(servers, r)
			}
		}
		errs := make([]error, len(servers))
		var wg sync.WaitGroup
		for j, r := range servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.WaitReady(ctx); err != nil {
					errs[j] = fmt.Errorf("%w; log:\n%s", err, tail(r.Proc.Log(), 2000))
					return
				}
				if j%len(c.Hosts) != 0 {
					errs[j] = r.WaitLinkUp(ctx)
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("scenario: extra masters: %w", err)
		}
	}
	return nil
}

// extraBatch is how many extra groups startExtraGroups starts at once.
const extraBatch = 25

// RestartRedis starts host i's redis-server again after it exited or was
// killed, from its own directory: with Options.Persist it keeps its data,
// and it keeps the replication settings the agents rewrote into its
// configuration file.
func (c *Cluster) RestartRedis(i int) error {
	r, err := c.Redis[i].Restart()
	if err != nil {
		return fmt.Errorf("scenario: restart redis on %s: %w", c.Hosts[i], err)
	}
	c.Redis[i] = r
	return nil
}

// StartAgent starts host i's agent again after it exited or was killed,
// with its configuration and state file as they are.
func (c *Cluster) StartAgent(i int) error {
	p, err := c.Hosts[i].Start(c.agentCmd[i][0], c.agentCmd[i][1:]...)
	if err != nil {
		return fmt.Errorf("scenario: start agent on %s: %w", c.Hosts[i], err)
	}
	c.Agents[i] = p
	return nil
}

func (c *Cluster) quorum() int { return len(c.Hosts)/2 + 1 }

// startAgent writes host i's agent configuration and starts the agent.
func (c *Cluster) startAgent(i int) error {
	h := c.Hosts[i]
	dir := filepath.Join(c.Lab.Dir(), "agent-"+h.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	master := c.Hosts[0].IP4.String()
	da := strconv.FormatInt(c.Opts.DownAfter.Milliseconds(), 10)
	ft := strconv.FormatInt(c.Opts.FailoverTimeout.Milliseconds(), 10)
	var b strings.Builder
	fmt.Fprintf(&b, "port %d\nbind %s 127.0.0.1\ndir %s\n", AgentPort, h.IP4, dir)
	// The agents reach each other's API across namespaces without a
	// password: protected mode would refuse them.
	b.WriteString("protected-mode no\n")
	b.WriteString(c.agentTLS(i))
	fmt.Fprintf(&b, "sentinel monitor %s %s 6379 %d\n", MasterName, master, c.quorum())
	fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %s\n", MasterName, da)
	fmt.Fprintf(&b, "sentinel failover-timeout %s %s\n", MasterName, ft)
	if c.Opts.Password != "" {
		fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", MasterName, strconv.Quote(c.Opts.Password))
	}
	if c.Opts.AgentPassword != "" {
		fmt.Fprintf(&b, "requirepass %s\nsentinel sentinel-pass %s\n", strconv.Quote(c.Opts.AgentPassword), strconv.Quote(c.Opts.AgentPassword))
	}
	if c.Opts.MinAgents > 0 {
		fmt.Fprintf(&b, "min-agents %d\n", c.Opts.MinAgents)
	}
	for k := 0; k < c.Opts.ExtraMasters; k++ {
		name := ExtraName(k)
		fmt.Fprintf(&b, "sentinel monitor %s %s %d %d\n", name, master, ExtraPort(k), c.quorum())
		fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %s\n", name, da)
		if c.Opts.Password != "" {
			fmt.Fprintf(&b, "sentinel auth-pass %s %s\n", name, strconv.Quote(c.Opts.Password))
		}
	}
	conf := filepath.Join(dir, "agent.conf")
	var args []string
	switch c.Opts.Stack {
	case Classic:
		script := filepath.Join(dir, "reconfig.sh")
		if err := os.WriteFile(script, []byte(classicScript(h, c.Prefix)), 0o755); err != nil {
			return err
		}
		fmt.Fprintf(&b, "sentinel client-reconfig-script %s %s\n", MasterName, script)
		if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
			return err
		}
		args = []string{"redis-sentinel", conf}
	default:
		fmt.Fprintf(&b, "sentinel vip %s %s %s\n", MasterName, c.Prefix, h.Iface)
		fmt.Fprintf(&b, "sentinel fence %s yes\n", MasterName)
		if c.Opts.Firewall {
			fmt.Fprintf(&b, "firewall yes\nfirewall-mode inject\nfirewall-fence yes\nfirewall-allow %s %s\n", c.Lab.Prefix4(), c.Lab.Prefix6())
			if err := lockDown(h); err != nil {
				return err
			}
		}
		if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
			return err
		}
		args = []string{c.Opts.Binary, conf}
	}
	c.agentCmd[i] = args
	return c.StartAgent(i)
}

// lockDown gives h a host firewall that drops every new inbound connection
// except ICMP, as a hardened host has before vipsentinel is installed.
func lockDown(h *lab.Host) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rules := "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n" +
		"  ct state established,related accept\n  iif lo accept\n  meta l4proto { icmp, ipv6-icmp } accept\n }\n}\n"
	path := filepath.Join(os.TempDir(), "vipsentinel-lockdown-"+h.NS+".nft")
	if err := os.WriteFile(path, []byte(rules), 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	if out, err := h.Exec(ctx, "nft", "-f", path); err != nil {
		return fmt.Errorf("scenario: lock down %s: %v: %s", h, err, out)
	}
	return nil
}

// classicScript is the client-reconfig-script of the classic stack, as
// operators write it: Sentinel passes
// <master> <role> <state> <from-ip> <from-port> <to-ip> <to-port>.
func classicScript(h *lab.Host, vip netip.Prefix) string {
	family := ""
	announce := fmt.Sprintf("arping -q -U -c 3 -I %s %s", h.Iface, vip.Addr())
	if vip.Addr().Is6() {
		family = "-6 "
		announce = "true" // iputils arping is IPv4 only; IPv6 relies on DAD/NS
	}
	return fmt.Sprintf(`#!/bin/sh
if [ "$6" = "%s" ]; then
  ip %saddr add %s dev %s
  %s
else
  ip %saddr del %s dev %s
fi
exit 0
`, h.IP4, family, vip, h.Iface, announce, family, vip, h.Iface)
}

func classicTakeVIP(ctx context.Context, h *lab.Host, vip netip.Prefix) error {
	if out, err := h.Exec(ctx, "ip", "addr", "add", vip.String(), "dev", h.Iface); err != nil {
		return fmt.Errorf("scenario: ip addr add %s on %s: %v: %s", vip, h, err, out)
	}
	return nil
}

// AgentClient returns a client for host i's agent API, connecting from the
// client namespace (which every partition leaves reachable).
func (c *Cluster) AgentClient(i int) *redis.Client {
	cl := c.Client.RedisClient(&redis.Options{
		Addr:         net.JoinHostPort(c.Hosts[i].IP4.String(), strconv.Itoa(AgentPort)),
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		MaxRetries:   -1,
		Protocol:     2,
		Password:     c.Opts.AgentPassword,
		TLSConfig:    c.clientTLS(),
	})
	return cl
}

func (c *Cluster) waitAgent(ctx context.Context, i int) error {
	cl := c.AgentClient(i)
	defer cl.Close()
	return wait.For(ctx, 20*time.Millisecond, func() error {
		if !c.Agents[i].Running() {
			return wait.Permanent(fmt.Errorf("agent on %s exited: %s", c.Hosts[i], tail(c.Agents[i].Log(), 2000)))
		}
		addr, err := cl.Do(ctx, "SENTINEL", "get-master-addr-by-name", MasterName).StringSlice()
		if err != nil {
			return fmt.Errorf("agent on %s: %w", c.Hosts[i], err)
		}
		if len(addr) != 2 {
			return fmt.Errorf("agent on %s: master address %v", c.Hosts[i], addr)
		}
		return nil
	})
}

// MasterAddr asks host i's agent for the current master address.
func (c *Cluster) MasterAddr(ctx context.Context, i int) (string, error) {
	cl := c.AgentClient(i)
	defer cl.Close()
	addr, err := cl.Do(ctx, "SENTINEL", "get-master-addr-by-name", MasterName).StringSlice()
	if err != nil {
		return "", err
	}
	if len(addr) != 2 {
		return "", fmt.Errorf("master address reply %v", addr)
	}
	return net.JoinHostPort(addr[0], addr[1]), nil
}

// HostIndex returns the index of the host with IPv4 address ip, or -1.
func (c *Cluster) HostIndex(ip string) int {
	for i, h := range c.Hosts {
		if h.IP4.String() == ip {
			return i
		}
	}
	return -1
}

// VIPHolders returns the indexes of the hosts that have the floating IP
// configured right now.
func (c *Cluster) VIPHolders() ([]int, error) {
	var held []int
	for i, h := range c.Hosts {
		addrs, err := h.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", h, err)
		}
		for _, a := range addrs {
			if a.Addr() == c.VIP {
				held = append(held, i)
				break
			}
		}
	}
	return held, nil
}

// Close stops everything and removes the lab.
func (c *Cluster) Close() error {
	c.mu.Lock()
	for _, cl := range c.clients {
		cl.Close()
	}
	c.clients = nil
	c.mu.Unlock()
	if c.Lab == nil {
		return nil
	}
	return c.Lab.Close()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// waitStreaming waits until every replica receives the master's write
// stream. A replica reports master_link_status:up as soon as its initial
// sync is loaded, but the master may hold the stream back until the
// replica's first REPLCONF ACK (up to a second later): a fault injected
// before that finds no replica with the writes, and every failover, of
// any stack, loses them.
func (c *Cluster) waitStreaming(ctx context.Context) error {
	m := c.Redis[0].Client()
	defer m.Close()
	if err := m.Set(ctx, "scenario:probe", "1", 0).Err(); err != nil {
		return fmt.Errorf("scenario: probe write to %s: %w", c.Redis[0].Addr, err)
	}
	info, err := c.Redis[0].Info(ctx, "replication")
	if err != nil {
		return fmt.Errorf("scenario: master %s: %w", c.Redis[0].Addr, err)
	}
	want, err := strconv.ParseInt(info["master_repl_offset"], 10, 64)
	if err != nil {
		return fmt.Errorf("scenario: master %s: master_repl_offset %q", c.Redis[0].Addr, info["master_repl_offset"])
	}
	for _, r := range c.Redis[1:] {
		err := wait.For(ctx, 10*time.Millisecond, func() error {
			info, err := r.Info(ctx, "replication")
			if err != nil {
				return err
			}
			got, _ := strconv.ParseInt(info["slave_repl_offset"], 10, 64)
			if got < want {
				return fmt.Errorf("slave_repl_offset %d, master at %d", got, want)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scenario: replica %s does not receive the write stream: %w", r.Addr, err)
		}
	}
	return nil
}
