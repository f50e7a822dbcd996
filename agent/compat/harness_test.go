package compat

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

var dump = flag.Bool("compat.dump", false, "log the replies of passing differential cases too")

// agentBin is the vipsentinel binary built by TestMain.
var agentBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(scenario.RunWithAgent(m, &agentBin))
}

// need skips (or, under CI, fails) the test when a prerequisite is missing.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if !ok {
		testenv.Missing(t, "%s is missing; install it with .ci/deps", what)
	}
}

// agent is a running vipsentinel process.
type agent struct {
	Port int
	Dir  string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (a *agent) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port)) }

// startAgent runs `vipsentinel <config>` with a configuration made of the
// port, bind, dir and the given lines, and waits until it answers PING.
func startAgent(t *testing.T, lines ...string) *agent {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		a, err := tryStartAgent(t, lines)
		if err == nil {
			return a
		}
		lastErr = err
	}
	t.Fatalf("start vipsentinel: %v", lastErr)
	return nil
}

func tryStartAgent(t *testing.T, lines []string) (*agent, error) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	conf := []string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"dir " + dir,
	}
	for _, l := range lines {
		// {port} is the port chosen here: "port 0" and "tls-port
		// {port}" make a TLS-only agent (tls_test.go).
		conf = append(conf, strings.ReplaceAll(l, "{port}", strconv.Itoa(port)))
	}
	registerTLS(net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), lines)
	path := filepath.Join(dir, "vipsentinel.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(agentBin, path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agent{Port: port, Dir: dir, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("vipsentinel %s log (tail):\n%s", a.Addr(), tail(a.log, 40))
		}
		a.Stop()
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-a.done:
			return nil, fmt.Errorf("vipsentinel exited early: %s", tail(logPath, 10))
		default:
		}
		// PONG, or NOAUTH with requirepass: either way it serves.
		if v, err := once(a.Addr(), "PING"); err == nil && (v.str == "PONG" || strings.HasPrefix(v.str, "NOAUTH")) {
			return a, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.Stop()
	return nil, fmt.Errorf("vipsentinel on port %d did not answer PING", port)
}

// Stop ends the agent with SIGTERM, then SIGKILL. It is idempotent.
func (a *agent) Stop() {
	if a.cmd.Process == nil {
		return
	}
	select {
	case <-a.done:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(3 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sentinelLines are the monitor directives shared by redis-sentinel and the
// agents. Short periods keep failovers within the package's time budget.
func sentinelLines(name string, master *redistest.Server, quorum int) []string {
	return []string{
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", name, master.Port, quorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s 2000", name),
		fmt.Sprintf("sentinel failover-timeout %s 10000", name),
	}
}

// fields runs a command that returns one instance map (RESP2) and returns
// it as a Go map.
func fields(addr string, args ...string) (map[string]string, error) {
	v, err := once(addr, args...)
	if err != nil {
		return nil, err
	}
	return toMap(v)
}

// once runs one command on a connection of its own.
func once(addr string, args ...string) (value, error) {
	c, err := dial(addr)
	if err != nil {
		return value{}, err
	}
	defer c.Close()
	return c.do(args...)
}

// list runs a command that returns an array of instance maps (RESP2).
func list(addr string, args ...string) ([]map[string]string, error) {
	v, err := once(addr, args...)
	if err != nil {
		return nil, err
	}
	if v.kind != kArray {
		return nil, fmt.Errorf("%v: want an array, got %s", args, strings.TrimSpace(v.render()))
	}
	var out []map[string]string
	for _, e := range v.elems {
		m, err := toMap(e)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func toMap(v value) (map[string]string, error) {
	keys, vals, ok := v.pairs()
	if !ok {
		return nil, fmt.Errorf("not a map: %s", strings.TrimSpace(v.render()))
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		m[k] = vals[i].str
	}
	return m, nil
}

// settled checks that the sentinel at addr sees master name with the given
// numbers of replicas and other sentinels, all healthy.
func settled(addr, name string, replicas, others int) error {
	m, err := fields(addr, "SENTINEL", "MASTER", name)
	if err != nil {
		return err
	}
	if m["flags"] != "master" || m["num-slaves"] != strconv.Itoa(replicas) || m["num-other-sentinels"] != strconv.Itoa(others) {
		return fmt.Errorf("%s: master flags=%s num-slaves=%s num-other-sentinels=%s", addr, m["flags"], m["num-slaves"], m["num-other-sentinels"])
	}
	rs, err := list(addr, "SENTINEL", "REPLICAS", name)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r["flags"] != "slave" || r["master-link-status"] != "ok" || r["master-port"] != m["port"] {
			return fmt.Errorf("%s: replica %s flags=%s master-link-status=%s master-port=%s", addr, r["name"], r["flags"], r["master-link-status"], r["master-port"])
		}
	}
	ss, err := list(addr, "SENTINEL", "SENTINELS", name)
	if err != nil {
		return err
	}
	for _, s := range ss {
		if s["flags"] != "sentinel" || s["last-hello-message"] == "" {
			return fmt.Errorf("%s: sentinel %s flags=%s", addr, s["name"], s["flags"])
		}
	}
	return nil
}

// masterAddr asks a sentinel for name's master address.
func masterAddr(addr, name string) (string, error) {
	c, err := dial(addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	v, err := c.do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
	if err != nil {
		return "", err
	}
	if v.kind != kArray || len(v.elems) != 2 {
		return "", errors.New("no address: " + strings.TrimSpace(v.render()))
	}
	return net.JoinHostPort(v.elems[0].str, v.elems[1].str), nil
}
