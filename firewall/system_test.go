package firewall_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/firewall"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

const (
	agentPort    = 26379
	agentTLSPort = 26380 // opened only by configs that set AgentTLSPort
	redisPort    = 6379
)

// allPorts is a config opening the agent's plain and TLS ports and Redis's.
func allPorts(cfg firewall.Config) firewall.Config {
	cfg.AgentPort, cfg.AgentTLSPort, cfg.RedisPort = agentPort, agentTLSPort, redisPort
	return cfg
}

// env is one server namespace (the agent's host, listening on every port)
// and two client namespaces.
type env struct {
	t      *testing.T
	ctx    context.Context
	l      *lab.Lab
	srv    *lab.Host
	c1, c2 *lab.Host
	fd     int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	l := lab.NewT(t, lab.Config{Hosts: 1, Clients: 2, IPv6: true, Name: "fw"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, l: l, srv: l.Hosts()[0], c1: l.Clients()[0], c2: l.Clients()[1]}
	f, err := os.Open(e.srv.NetNSPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	e.fd = int(f.Fd())
	for _, port := range []int{agentPort, agentTLSPort, redisPort} {
		ln, err := e.srv.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			t.Fatal(err)
		}
		testenv.Serve(t, ln, echo)
	}
	return e
}

// echo sends back what it reads on c.
func echo(c net.Conn) { _, _ = io.Copy(c, c) }

func (e *env) manager(cfg firewall.Config) *firewall.Manager {
	e.t.Helper()
	if cfg.AgentPort == 0 {
		cfg.AgentPort, cfg.RedisPort = agentPort, redisPort
	}
	m, err := firewall.New(cfg, firewall.Options{
		NetNS:  e.fd,
		Logger: slog.New(slog.NewTextHandler(e.t.Output(), nil)),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func (e *env) open(m *firewall.Manager) {
	e.t.Helper()
	if err := m.Open(e.ctx); err != nil {
		e.t.Fatalf("Open: %v", err)
	}
}

func (e *env) close(m *firewall.Manager) {
	e.t.Helper()
	if err := m.Close(e.ctx); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
}

// closeRestores closes m and checks that the ruleset is exactly before,
// what it was before m opened anything; mode, when not "", names m's mode
// in the error.
func (e *env) closeRestores(m *firewall.Manager, before, mode string) {
	e.t.Helper()
	e.close(m)
	if got := e.listRuleset(); got != before {
		if mode != "" {
			mode += " mode "
		}
		e.t.Errorf("%sClose left\n%s\nwant exactly the ruleset from before\n%s", mode, got, before)
	}
}

// nft runs the nft CLI in the server namespace.
func (e *env) nft(args ...string) string {
	e.t.Helper()
	out, err := e.srv.Exec(e.ctx, "nft", args...)
	if err != nil {
		e.t.Fatalf("nft %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// nftScript loads a ruleset file with nft -f in the server namespace.
func (e *env) nftScript(script string) {
	e.t.Helper()
	path := filepath.Join(e.t.TempDir(), "rules.nft")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.nft("-f", path)
}

var counters = regexp.MustCompile(`counter packets \d+ bytes \d+`)

// listRuleset returns `nft list ruleset` with counter values blanked.
func (e *env) listRuleset() string {
	e.t.Helper()
	return counters.ReplaceAllString(e.nft("list", "ruleset"), "counter")
}

// talk connects from h to ip:port and exchanges a line with the echo server.
func (e *env) talk(h *lab.Host, ip netip.Addr, port int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	c, err := h.DialContext(ctx, "tcp", netip.AddrPortFrom(ip, uint16(port)).String())
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTrip(c, timeout)
}

func roundTrip(c net.Conn, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintln(c, "ping"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return fmt.Errorf("echo returned %q", line)
	}
	return nil
}

// Expected outcomes of a connection attempt. A dropped SYN shows as a
// timeout; one second is far beyond a veth round trip, so an allowed
// connection never hits it.
const (
	okWait   = 10 * time.Second
	dropWait = time.Second
)

func (e *env) mustConnect(h *lab.Host, ip netip.Addr, port int) {
	e.t.Helper()
	if err := e.talk(h, ip, port, okWait); err != nil {
		e.t.Fatalf("%s -> %s port %d: %v, want a working connection", h, ip, port, err)
	}
}

func (e *env) mustBeDropped(h *lab.Host, ip netip.Addr, port int) {
	e.t.Helper()
	err := e.talk(h, ip, port, dropWait)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		e.t.Fatalf("%s -> %s port %d: %v, want the SYN dropped (timeout)", h, ip, port, err)
	}
}

func (e *env) mustBeRefused(h *lab.Host, ip netip.Addr, port int) {
	e.t.Helper()
	if err := e.talk(h, ip, port, okWait); !errors.Is(err, syscall.ECONNREFUSED) {
		e.t.Fatalf("%s -> %s port %d: %v, want connection refused (TCP reset)", h, ip, port, err)
	}
}

// policyDrop is a typical hand-written firewall that does not know about
// Redis: everything not explicitly allowed is dropped.
const policyDrop = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		meta l4proto ipv6-icmp accept
		tcp dport 22 accept
	}
}
`

func TestOpenInstallsExactRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c1net4 := netip.PrefixFrom(e.c1.IP4, 32)
	c1net6 := netip.PrefixFrom(e.c1.IP6, 120).Masked()
	m := e.manager(firewall.Config{Allow: []netip.Prefix{c1net4, c1net6}})
	e.open(m)

	want := fmt.Sprintf(`table inet vipsentinel {
	set ports {
		type inet_service
		comment "vipsentinel"
		elements = { 6379, 26379 }
	}

	set allow4 {
		type ipv4_addr
		flags interval
		comment "vipsentinel"
		elements = { %s }
	}

	set allow6 {
		type ipv6_addr
		flags interval
		comment "vipsentinel"
		elements = { %s }
	}

	chain input {
		type filter hook input priority filter - 10; policy accept;
		ip saddr @allow4 tcp dport @ports counter accept comment "vipsentinel"
		ip6 saddr @allow6 tcp dport @ports counter accept comment "vipsentinel"
	}
}
`, e.c1.IP4, c1net6)
	if got := e.listRuleset(); got != want {
		t.Errorf("nft list ruleset =\n%s\nwant\n%s", got, want)
	}

	dump, err := m.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	wantDump := fmt.Sprintf(`table inet vipsentinel
	set allow4 { type ipv4_addr; flags interval; elements = { %s } }
	set allow6 { type ipv6_addr; flags interval; elements = { %s } }
	set ports { type inet_service; elements = { 6379, 26379 } }
	chain input { type filter hook input priority -10; policy accept }
		meta load nfproto => reg 1; cmp eq reg 1 0x02; payload load 4b @ network + 12 => reg 1; lookup reg 1 set allow4; meta load l4proto => reg 1; cmp eq reg 1 0x06; payload load 2b @ transport + 2 => reg 1; lookup reg 1 set ports; counter; accept comment "vipsentinel"
		meta load nfproto => reg 1; cmp eq reg 1 0x0a; payload load 16b @ network + 8 => reg 1; lookup reg 1 set allow6; meta load l4proto => reg 1; cmp eq reg 1 0x06; payload load 2b @ transport + 2 => reg 1; lookup reg 1 set ports; counter; accept comment "vipsentinel"
`, e.c1.IP4, c1net6)
	if dump != wantDump {
		t.Errorf("Ruleset() =\n%s\nwant\n%s", dump, wantDump)
	}

	st := m.Status()
	if !st.Open || st.Err != nil || len(st.Conflicts) != 0 || st.Restores != 0 {
		t.Errorf("Status = %+v", st)
	}
	// No other firewall: the allow list only limits what is opened.
	e.mustConnect(e.c1, e.srv.IP4, redisPort)
	e.mustConnect(e.c2, e.srv.IP4, redisPort)

	// Open is idempotent: a second Open yields the same table.
	e.open(m)
	if got := e.listRuleset(); got != want {
		t.Errorf("after a second Open:\n%s", got)
	}

	e.close(m)
	if got := e.listRuleset(); got != "" {
		t.Errorf("after Close the ruleset is not empty:\n%s", got)
	}
	if st := m.Status(); st.Open || st.Err != nil {
		t.Errorf("Status after Close = %+v", st)
	}
}

func TestConflictReportedThenInjected(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   firewall.Config // ports and mode are set by the test
		ports []int           // opened, in Conflict.Ports order
		set   string          // the opened ports as nft lists a set
	}{
		{"agent and redis port", firewall.Config{}, []int{agentPort, redisPort}, "6379, 26379"},
		{"agent, agent TLS and redis port", allPorts(firewall.Config{}), []int{agentPort, agentTLSPort, redisPort},
			"6379, 26379, 26380"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.nftScript(policyDrop)
			before := e.listRuleset()

			own := e.manager(tc.cfg)
			e.open(own)
			cs := own.Conflicts()
			if len(cs) != 1 {
				t.Fatalf("Conflicts = %v, want one", cs)
			}
			c := cs[0]
			if c.Family != "inet" || c.Table != "filter" || c.Chain != "input" || c.Hook != "input" || c.Priority != 0 ||
				c.Policy != "drop" || c.Reason != "policy drop" || !c.Certain || c.Injected || !c.Injectable ||
				!c.IPv4 || !c.IPv6 || fmt.Sprint(c.Ports) != fmt.Sprint(tc.ports) || c.Tool != firewall.ToolNftables {
				t.Errorf("conflict = %+v", c)
			}
			list := strings.Trim(strings.ReplaceAll(fmt.Sprint(tc.ports), " ", ", "), "[]")
			wantMsg := `table inet filter chain input (nftables, hook input, priority 0, policy drop) drops TCP to port ` + list +
				` (IPv4, IPv6): policy drop; an accept in table inet vipsentinel cannot override it. Fix: add "tcp dport { ` +
				list + ` } accept" before the drop in chain input of table inet filter (e.g. in /etc/nftables.conf), ` +
				`or set "firewall-mode inject"`
			if c.String() != wantMsg {
				t.Errorf("message =\n%s\nwant\n%s", c, wantMsg)
			}
			if st := own.Status(); !strings.Contains(st.String(), "1 conflict(s): "+wantMsg) {
				t.Errorf("Status().String() = %s", st)
			}
			// The conflict is real: our accept does not get the traffic through.
			for _, port := range tc.ports {
				e.mustBeDropped(e.c1, e.srv.IP4, port)
			}
			e.mustBeDropped(e.c1, e.srv.IP6, agentPort)
			e.closeRestores(own, before, "own")

			cfg := tc.cfg
			cfg.Mode = firewall.ModeInject
			inj := e.manager(cfg)
			e.open(inj)
			cs = inj.Conflicts()
			if len(cs) != 1 || !cs[0].Injected {
				t.Fatalf("inject mode conflicts = %v", cs)
			}
			for _, ip := range []netip.Addr{e.srv.IP4, e.srv.IP6} {
				for _, port := range tc.ports {
					e.mustConnect(e.c1, ip, port)
					e.mustConnect(e.c2, ip, port)
				}
			}
			e.mustBeDropped(e.c1, e.srv.IP4, 23) // nothing else is opened
			if len(tc.ports) == 2 {
				e.mustBeDropped(e.c1, e.srv.IP4, agentTLSPort) // listening, but not configured
			}

			got := e.listRuleset()
			wantChain := "\t\ttype filter hook input priority filter; policy drop;\n" +
				"\t\ttcp dport { " + tc.set + " } counter accept comment \"vipsentinel (auto, removed on stop)\"\n" +
				"\t\tct state established,related accept\n"
			if !strings.Contains(got, wantChain) {
				t.Errorf("foreign chain does not start with the injected rule:\n%s", got)
			}
			if want := "set ports {\n\t\ttype inet_service\n\t\tcomment \"vipsentinel\"\n\t\telements = { " + tc.set + " }"; !strings.Contains(got, want) {
				t.Errorf("ruleset lacks %q:\n%s", want, got)
			}
			dump, err := inj.Ruleset()
			if err != nil {
				t.Fatal(err)
			}
			wantInj := "injected into table inet filter chain input\n" +
				"\t\tmeta load l4proto => reg 1; cmp eq reg 1 0x06; payload load 2b @ transport + 2 => reg 1; " +
				"lookup reg 1 set __set; counter; accept comment \"vipsentinel (auto, removed on stop)\"\n"
			if !strings.HasSuffix(dump, wantInj) {
				t.Errorf("Ruleset() =\n%s\nwant it to end with\n%s", dump, wantInj)
			}

			e.closeRestores(inj, before, "inject")
		})
	}
}

func TestAllowedSourcesThroughForeignDrop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.nftScript(policyDrop)
	before := e.listRuleset()
	m := e.manager(firewall.Config{Mode: firewall.ModeInject,
		Allow: []netip.Prefix{netip.PrefixFrom(e.c1.IP4, 32), netip.PrefixFrom(e.c1.IP6, 128)}})
	e.open(m)

	for _, ip := range []netip.Addr{e.srv.IP4, e.srv.IP6} {
		for _, port := range []int{redisPort, agentPort} {
			e.mustConnect(e.c1, ip, port)
			e.mustBeDropped(e.c2, ip, port)
		}
	}
	got := e.listRuleset()
	for _, want := range []string{
		fmt.Sprintf("ip saddr { %s } tcp dport { 6379, 26379 } counter accept comment \"vipsentinel (auto, removed on stop)\"", e.c1.IP4),
		fmt.Sprintf("ip6 saddr { %s } tcp dport { 6379, 26379 } counter accept comment \"vipsentinel (auto, removed on stop)\"", e.c1.IP6),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}
	e.closeRestores(m, before, "")
}

// runManager runs m.Run until the test ends.
func runManager(t *testing.T, m *firewall.Manager) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// waitRuleset waits until m.Ruleset() equals want, polling every
// millisecond, and returns how long it took.
func (e *env) waitRuleset(m *firewall.Manager, want, what string) time.Duration {
	e.t.Helper()
	start := time.Now()
	err := wait.For(e.ctx, time.Millisecond, func() error {
		got, err := m.Ruleset()
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("ruleset:\n%s", got)
		}
		return nil
	})
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
	return time.Since(start)
}

func TestRestoredAfterFlush(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.nftScript(policyDrop)
	m := e.manager(firewall.Config{Mode: firewall.ModeInject})
	e.open(m)
	want, err := m.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	runManager(t, m)

	// nftables.service stop: flush ruleset.
	start := time.Now()
	e.nft("flush", "ruleset")
	nftTook := time.Since(start)
	ownOnly := want[:strings.Index(want, "injected into")]
	took := e.waitRuleset(m, ownOnly, "table restored after nft flush ruleset")
	t.Logf("restored %v after `nft flush ruleset` returned (running nft took %v)", took, nftTook)
	if took > time.Second {
		t.Errorf("table restored after %v, want within 1s", took)
	}
	if cs := m.Conflicts(); len(cs) != 0 {
		t.Errorf("conflicts after the foreign table is gone: %v", cs)
	}

	// nftables.service reload: one transaction flushes and reloads the
	// foreign drop chain; our table and the injected rule must come back.
	start = time.Now()
	e.nftScript("flush ruleset\n" + policyDrop)
	nftTook = time.Since(start)
	took = e.waitRuleset(m, want, "table and injected rule restored after reload")
	t.Logf("restored %v after `nft -f` (flush ruleset + policy-drop table) returned (running nft took %v)", took, nftTook)
	if took > time.Second {
		t.Errorf("restored after %v, want within 1s", took)
	}
	e.mustConnect(e.c1, e.srv.IP4, redisPort)

	// Finer tampering is detected too: an extra element in our set.
	e.nft("add", "element", "inet", "vipsentinel", "ports", "{ 22 }")
	e.waitRuleset(m, want, "set restored")
	// And the injected rule pushed down by a rule inserted above it.
	e.nft("insert", "rule", "inet", "filter", "input", "tcp", "dport", "6379", "drop")
	lab.Eventually(e.ctx, t, func() error {
		if got := e.listRuleset(); !strings.Contains(got, "policy drop;\n\t\ttcp dport { 6379, 26379 } counter accept") {
			return fmt.Errorf("injected rule not on top:\n%s", got)
		}
		return nil
	}, "injected rule moved back to the top")
	e.mustConnect(e.c1, e.srv.IP4, redisPort)

	// Quiescence: an unrelated change triggers a check that finds nothing to do.
	restores := m.Status().Restores
	mark := time.Now()
	e.nft("add", "table", "ip", "unrelated")
	lab.Eventually(e.ctx, t, func() error {
		if st := m.Status(); !st.LastApply.After(mark) {
			return errors.New("no check yet")
		}
		return nil
	}, "a check after an unrelated change")
	if st := m.Status(); st.Restores != restores || st.Err != nil {
		t.Errorf("unrelated change: restores %d -> %d, err %v", restores, st.Restores, st.Err)
	}
	t.Logf("restores counted: %d", restores)

	e.close(m)
	if got := e.listRuleset(); strings.Contains(got, "vipsentinel") {
		t.Errorf("Close left rules of ours:\n%s", got)
	}
}

func TestFence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.manager(allPorts(firewall.Config{Fence: true}))
	e.open(m)
	unfenced, err := m.Ruleset()
	if err != nil {
		t.Fatal(err)
	}

	// A client connected before the fence keeps its connection.
	ctx, cancel := context.WithTimeout(e.ctx, okWait)
	defer cancel()
	old, err := e.c2.DialContext(ctx, "tcp", netip.AddrPortFrom(e.srv.IP4, redisPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	if err := m.SetFenced(true, []netip.Addr{e.c1.IP4, e.c1.IP6}); err != nil {
		t.Fatal(err)
	}
	if !m.Status().Fenced {
		t.Error("Status().Fenced = false")
	}
	got := e.listRuleset()
	for _, want := range []string{
		fmt.Sprintf("set fence4 {\n\t\ttype ipv4_addr\n\t\tcomment \"vipsentinel\"\n\t\telements = { %s }", e.c1.IP4),
		"tcp dport 6379 tcp flags syn / syn,ack iifname != \"lo\" ip saddr != @fence4 counter reject with tcp reset comment \"vipsentinel\"",
		"tcp dport 6379 tcp flags syn / syn,ack iifname != \"lo\" ip6 saddr != @fence6 counter reject with tcp reset comment \"vipsentinel\"",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ruleset lacks %q:\n%s", want, got)
		}
	}

	e.mustConnect(e.c1, e.srv.IP4, redisPort)
	e.mustConnect(e.c1, e.srv.IP6, redisPort)
	e.mustBeRefused(e.c2, e.srv.IP4, redisPort)
	e.mustBeRefused(e.c2, e.srv.IP6, redisPort)
	e.mustConnect(e.c2, e.srv.IP4, agentPort) // only the Redis port is fenced
	e.mustConnect(e.c2, e.srv.IP6, agentTLSPort)
	e.mustConnect(e.srv, e.srv.IP4, redisPort) // the local agent still reaches its Redis
	if err := roundTrip(old, okWait); err != nil {
		t.Errorf("connection established before the fence: %v", err)
	}

	// The allowed set is replaced, not merged.
	if err := m.SetFenced(true, []netip.Addr{e.c2.IP4}); err != nil {
		t.Fatal(err)
	}
	e.mustConnect(e.c2, e.srv.IP4, redisPort)
	e.mustBeRefused(e.c1, e.srv.IP4, redisPort)

	if err := m.SetFenced(false, nil); err != nil {
		t.Fatal(err)
	}
	e.mustConnect(e.c1, e.srv.IP4, redisPort)
	if got, _ := m.Ruleset(); got != unfenced {
		t.Errorf("after lifting the fence:\n%s\nwant\n%s", got, unfenced)
	}
	e.close(m)
	if got := e.listRuleset(); got != "" {
		t.Errorf("Close left\n%s", got)
	}
}

func TestKeepOnStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.nftScript(policyDrop)
	before := e.listRuleset()
	keep := e.manager(firewall.Config{Mode: firewall.ModeInject, KeepOnStop: true, Fence: true})
	e.open(keep)
	open, err := keep.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	if err := keep.SetFenced(true, nil); err != nil {
		t.Fatal(err)
	}
	e.close(keep)
	// Ports stay open while the agent is down, but nobody is fenced out.
	if got, _ := keep.Ruleset(); got != open {
		t.Errorf("after Close with keep-on-stop:\n%s\nwant\n%s", got, open)
	}
	e.mustConnect(e.c2, e.srv.IP4, redisPort)

	// The next start in own mode replaces the table and removes the rules an
	// earlier inject-mode run left behind, then reports the conflict.
	own := e.manager(firewall.Config{})
	e.open(own)
	got, err := own.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got, "injected") {
		t.Errorf("own mode kept injected rules:\n%s", got)
	}
	if cs := own.Conflicts(); len(cs) != 1 || cs[0].Injected {
		t.Errorf("conflicts = %v", cs)
	}
	e.closeRestores(own, before, "")
}

// iptablesDrop is what iptables-nft and ip6tables-nft build for a host with
// INPUT policy DROP, next to a hand-written inet table.
const iptablesDrop = `table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy drop;
		ct state established,related counter accept
	}
}
table ip6 filter {
	chain INPUT {
		type filter hook input priority filter; policy drop;
		meta l4proto ipv6-icmp counter accept
		ct state established,related counter accept
	}
}
table inet filter {
	chain input {
		type filter hook input priority filter + 5; policy accept;
		tcp dport 1-30000 reject
	}
}
`

func TestInjectIntoSeveralChains(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.nftScript(iptablesDrop)
	before := e.listRuleset()

	own := e.manager(firewall.Config{Allow: []netip.Prefix{netip.PrefixFrom(e.c1.IP4, 32), netip.PrefixFrom(e.c1.IP6, 128)}})
	e.open(own)
	var got []string
	for _, c := range own.Conflicts() {
		got = append(got, fmt.Sprintf("%s %s %s %s %v %s", c.Family, c.Table, c.Chain, c.Tool, c.Ports, c.Reason))
	}
	want := []string{
		"inet filter input nftables [26379 6379] rule handle 2 rejects",
		"ip filter INPUT iptables-nft [26379 6379] policy drop",
		"ip6 filter INPUT iptables-nft [26379 6379] policy drop",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("conflicts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	e.close(own)

	m := e.manager(firewall.Config{Mode: firewall.ModeInject,
		Allow: []netip.Prefix{netip.PrefixFrom(e.c1.IP4, 32), netip.PrefixFrom(e.c1.IP6, 128)}})
	e.open(m)
	for _, c := range m.Conflicts() {
		if !c.Injected {
			t.Errorf("not handled: %s", c)
		}
	}
	for _, ip := range []netip.Addr{e.srv.IP4, e.srv.IP6} {
		e.mustConnect(e.c1, ip, redisPort)
		e.mustBeDropped(e.c2, ip, agentPort)
	}
	dump, err := m.Ruleset()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"injected into table ip filter chain INPUT\n\t\tpayload load 4b @ network + 12 => reg 1; lookup reg 1 set __set; meta load l4proto",
		"injected into table ip6 filter chain INPUT\n\t\tpayload load 16b @ network + 8 => reg 1; lookup reg 1 set __set; meta load l4proto",
		"injected into table inet filter chain input\n\t\tmeta load nfproto => reg 1; cmp eq reg 1 0x02;",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("Ruleset() lacks %q:\n%s", want, dump)
		}
	}
	e.closeRestores(m, before, "")
}

// TestNoRestoreLoop checks, for tables of every shape, that what the kernel
// reports back is recognised as what was written: a check after an
// unrelated change must not rewrite anything.
func TestNoRestoreLoop(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cfg   func(e *env) firewall.Config
		fence bool
	}{
		{"plain", func(*env) firewall.Config { return firewall.Config{} }, false},
		{"inject", func(*env) firewall.Config { return firewall.Config{Mode: firewall.ModeInject} }, false},
		{"whole address space", func(*env) firewall.Config {
			return firewall.Config{Mode: firewall.ModeInject,
				Allow: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}}
		}, false},
		{"merged ranges", func(e *env) firewall.Config {
			return firewall.Config{Mode: firewall.ModeInject, Allow: []netip.Prefix{
				netip.PrefixFrom(e.c1.IP4, 32), netip.PrefixFrom(e.c1.IP4.Next(), 32), netip.PrefixFrom(e.c1.IP4, 24),
				netip.MustParsePrefix("198.19.0.0/16"), netip.MustParsePrefix("fd00::/8")}}
		}, false},
		{"fenced", func(*env) firewall.Config { return firewall.Config{Mode: firewall.ModeInject, Fence: true} }, true},
		{"agent TLS port", func(e *env) firewall.Config {
			return allPorts(firewall.Config{Mode: firewall.ModeInject, Fence: true,
				Allow: []netip.Prefix{netip.PrefixFrom(e.c1.IP4, 32), netip.PrefixFrom(e.c1.IP6, 128)}})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.nftScript(policyDrop)
			cfg := tc.cfg(e)
			m := e.manager(cfg)
			e.open(m)
			if tc.fence {
				if err := m.SetFenced(true, []netip.Addr{e.c1.IP4, e.c1.IP6, e.c2.IP4}); err != nil {
					t.Fatal(err)
				}
			}
			runManager(t, m)
			mark := time.Now()
			e.nft("add", "table", "ip", "unrelated")
			e.nft("delete", "table", "ip", "unrelated")
			lab.Eventually(e.ctx, t, func() error {
				if !m.Status().LastApply.After(mark) {
					return errors.New("no check yet")
				}
				return nil
			}, "a check")
			if st := m.Status(); st.Restores != 0 || st.Err != nil {
				t.Errorf("after an unrelated change: %d restores, err %v", st.Restores, st.Err)
			}
			if cfg.Mode == firewall.ModeInject {
				e.mustConnect(e.c1, e.srv.IP4, redisPort)
				e.mustConnect(e.c1, e.srv.IP6, agentPort)
				if cfg.AgentTLSPort != 0 {
					e.mustConnect(e.c1, e.srv.IP4, cfg.AgentTLSPort)
					e.mustConnect(e.c1, e.srv.IP6, cfg.AgentTLSPort)
				}
			} else {
				e.mustBeDropped(e.c1, e.srv.IP4, redisPort)
			}
		})
	}
}

// TestRunStopsCleanly checks that Run's monitor goroutines end with it. Not
// parallel: it counts the process's goroutines.
func TestRunStopsCleanly(t *testing.T) {
	e := newEnv(t)
	m := e.manager(firewall.Config{})
	e.open(m)
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	mark := time.Now()
	e.nft("flush", "ruleset")
	lab.Eventually(e.ctx, t, func() error {
		if st := m.Status(); st.Restores != 1 || !st.LastApply.After(mark) {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	}, "the restore")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	lab.Eventually(e.ctx, t, func() error {
		if n := runtime.NumGoroutine(); n > base {
			return fmt.Errorf("%d goroutines, %d before Run", n, base)
		}
		return nil
	}, "Run's goroutines to end")
	// Close still cleans up after Run stopped.
	e.close(m)
	if got := e.listRuleset(); got != "" {
		t.Errorf("Close left\n%s", got)
	}
}
