package compat

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// Config compatibility: the same configuration file, started by
// redis-sentinel and by vipsentinel from the same working directory (each
// its own copy of the file, which redis-sentinel rewrites, and its own
// port: two servers cannot share one), must start both and make them
// answer the same.

// debianConfMD5 is the dpkg checksum of Debian 12's packaged
// /etc/redis/sentinel.conf (redis-sentinel 5:7.0.15-1~deb12u10).
const debianConfMD5 = "315c78fec56cac6cf016cfd0db31a697"

// debianSentinelConf returns Debian's packaged sentinel.conf: the installed
// file when it is the unmodified packaged one, else the copy in testdata.
func debianSentinelConf(t *testing.T) (text, origin string) {
	t.Helper()
	if b, err := os.ReadFile("/etc/redis/sentinel.conf"); err == nil {
		sum := md5.Sum(b)
		if hex.EncodeToString(sum[:]) == debianConfMD5 {
			return string(b), "/etc/redis/sentinel.conf"
		}
	}
	b, err := os.ReadFile("testdata/debian-sentinel.conf")
	if err != nil {
		t.Fatal(err)
	}
	return string(b), "testdata/debian-sentinel.conf"
}

// edit replaces the whole line matching each pattern (multi-line mode) by
// its replacement, failing the test when a pattern matches nothing: the
// edits are the only differences from the file as shipped.
func edit(t *testing.T, text string, subs ...[2]string) string {
	t.Helper()
	for _, s := range subs {
		re := regexp.MustCompile(`(?m)^` + s[0] + `$`)
		if !re.MatchString(text) {
			t.Fatalf("no line matches %q", s[0])
		}
		text = re.ReplaceAllLiteralString(text, s[1])
	}
	return text
}

// pair is redis-sentinel and vipsentinel started from one working
// directory.
type pair struct {
	dir      string
	rs, vs   string // addresses
	rsP, vsP func() // stop each
	rsConf   string
	vsConf   string
	rsPort   int
	vsPort   int
}

// startPair writes conf (with "PORT" standing for each server's port) into
// dir as rs.conf and vs.conf and starts both with dir as the working
// directory, as "redis-sentinel rs.conf" and "vipsentinel vs.conf".
func startPair(t *testing.T, dir, conf string) *pair {
	t.Helper()
	p := &pair{dir: dir, rsPort: testenv.FreePort(t), vsPort: testenv.FreePort(t)}
	p.rsConf, p.vsConf = filepath.Join(dir, "rs.conf"), filepath.Join(dir, "vs.conf")
	p.rs, p.vs = "127.0.0.1:"+strconv.Itoa(p.rsPort), "127.0.0.1:"+strconv.Itoa(p.vsPort)
	p.rsP = startIn(t, dir, "redis-sentinel", p.rsConf, strings.ReplaceAll(conf, "PORT", strconv.Itoa(p.rsPort)), p.rs)
	p.vsP = startIn(t, dir, agentBin, p.vsConf, strings.ReplaceAll(conf, "PORT", strconv.Itoa(p.vsPort)), p.vs)
	return p
}

// startIn writes text to path and runs "bin <path's name>" in dir until the
// test ends (or stop is called), once it answers PING at addr.
func startIn(t *testing.T, dir, bin, path, text, addr string) (stop func()) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(path+".out", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, filepath.Base(path))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, tail(path+".out", 30))
		}
	})
	testenv.Eventually(t, 15*time.Second, filepath.Base(bin)+" to start from "+filepath.Base(path), func() error {
		select {
		case <-done:
			return fmt.Errorf("exited: %s", tail(path+".out", 10))
		default:
		}
		v, err := once(addr, "PING")
		if err != nil {
			return err
		}
		if v.str != "PONG" && !strings.HasPrefix(v.str, "NOAUTH") {
			return fmt.Errorf("PING: %s", v.str)
		}
		return nil
	})
	return stop
}

// TestDebianSentinelConf starts both binaries with Debian's packaged
// sentinel.conf, changed only where a test must (its own ports and master,
// no daemonizing, pid, log and data files in the working directory), and
// compares their answers.
func TestDebianSentinelConf(t *testing.T) {
	t.Parallel()
	text, origin := debianSentinelConf(t)
	t.Logf("using %s", origin)
	master := redistest.Start(t)
	replica := redistest.Start(t, fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))
	_ = replica
	conf := edit(t, text,
		[2]string{`port 26379`, `port PORT`},
		[2]string{`daemonize yes`, `daemonize no`},
		[2]string{`pidfile /run/sentinel/redis-sentinel\.pid`, `pidfile sentinel-PORT.pid`},
		[2]string{`logfile /var/log/redis/redis-sentinel\.log`, `logfile sentinel-PORT.log`},
		[2]string{`dir /var/lib/redis`, `dir ./data`},
		[2]string{`sentinel monitor mymaster 127\.0\.0\.1 6379 2`, fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 2", master.Port)},
	)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	p := startPair(t, dir, conf)
	for _, addr := range []string{p.rs, p.vs} {
		// Connected to the replica and holding its INFO, not only told of
		// it by the master: redis-sentinel lists a replica it has not yet
		// reached as "slave,disconnected" with no run id.
		testenv.Eventually(t, 20*time.Second, addr+" to see the replica", func() error {
			rs, err := list(addr, "SENTINEL", "REPLICAS", "mymaster")
			if err != nil {
				return err
			}
			if len(rs) != 1 || rs[0]["flags"] != "slave" || rs[0]["runid"] == "" || rs[0]["master-link-status"] != "ok" {
				return fmt.Errorf("replicas %v", rs)
			}
			return nil
		})
	}
	// Both sentinels monitor the same master: redis-sentinel sees the
	// agent's hellos, the agent admits a redis-sentinel peer only when
	// its configuration lists it (README, Security model).
	peers := normaliser{keys: map[string]rule{"num-other-sentinels": asInt}}
	cases := []dcase{
		{name: "config-get-all", steps: []step{cmd("SENTINEL", "CONFIG", "GET", "*")}, fix: withLoglevel},
		{name: "master", steps: []step{cmd("SENTINEL", "MASTER", "mymaster")}, norm: peers},
		one("replicas", "SENTINEL", "REPLICAS", "mymaster"),
		one("get-master-addr", "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"),
		one("acl-list", "ACL", "LIST"),
		one("acl-users", "ACL", "USERS"),
		one("acl-whoami", "ACL", "WHOAMI"),
		one("config-get", "CONFIG", "GET", "port"),
	}
	for _, c := range cases {
		c.protos = []int{2}
		t.Run(c.name, func(t *testing.T) { c.check(t, p.rs, p.vs) })
	}
	// Both log into the relative logfile under dir: Redis opens it after
	// chdir()ing there.
	if a, b := logFileDirIn(dir, "data", p.rsPort), logFileDirIn(dir, "data", p.vsPort); a != b || a == "nowhere" {
		t.Errorf("logfile sentinel-PORT.log: redis-sentinel writes it in the %s, vipsentinel in the %s", a, b)
	}
}

// logFileDir says where the relative logfile of the server on port went:
// into its data directory sub (dir), or the working directory.
func logFileDirIn(work, sub string, port int) string {
	name := fmt.Sprintf("sentinel-%d.log", port)
	switch {
	case nonEmpty(filepath.Join(work, sub, name)):
		return "dir"
	case nonEmpty(filepath.Join(work, name)):
		return "working directory"
	}
	return "nowhere"
}

func nonEmpty(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Size() > 0
}

// TestMigratedConfCompat starts both binaries with the configuration of a
// deployment that uses what issue 14 listed: a relative dir and logfile,
// users in a relative aclfile with the default user off, deny-scripts-reconfig
// no, and hostnames (the master named "localhost", resolve-hostnames and
// announce-hostnames on), and compares their answers as a client sees them.
func TestMigratedConfCompat(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	redistest.Start(t, fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sentinel_0"), 0o700); err != nil {
		t.Fatal(err)
	}
	users := strings.Join([]string{
		"user default off",
		"user admin on >adminpw ~* &* +@all",
		"user app on >apppw resetchannels -@all +sentinel|get-master-addr-by-name +ping",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "sentinel_0", "users.acl"), []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := strings.Join([]string{
		"port PORT",
		"bind 127.0.0.1",
		"dir ./sentinel_0",
		"logfile sentinel-PORT.log",
		"aclfile users.acl",
		"sentinel deny-scripts-reconfig no",
		"sentinel resolve-hostnames yes",
		"sentinel announce-hostnames yes",
		fmt.Sprintf("sentinel monitor mymaster localhost %d 2", master.Port),
		"sentinel down-after-milliseconds mymaster 2000",
	}, "\n") + "\n"
	p := startPair(t, dir, conf)
	for _, addr := range []string{p.rs, p.vs} {
		testenv.Eventually(t, 20*time.Second, addr+" to see the replica", func() error {
			return masterFieldIs(addr, "num-slaves", "1")
		})
	}
	admin := authStep(0, "admin", "adminpw")
	peers := normaliser{keys: map[string]rule{"num-other-sentinels": asInt}}
	cases := []dcase{
		{name: "anonymous", steps: []step{cmd("PING"), cmd("SENTINEL", "MASTERS")}},
		{name: "config-get-all", steps: []step{admin, cmd("SENTINEL", "CONFIG", "GET", "*")}, fix: func(i int, r, v *value) {
			if i == 1 {
				withLoglevel(i, r, v)
			}
		}},
		{name: "master", steps: []step{admin, cmd("SENTINEL", "MASTER", "mymaster")}, norm: peers},
		{name: "get-master-addr", steps: []step{admin, cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")}},
		{name: "acl", steps: []step{admin, cmd("ACL", "LIST"), cmd("ACL", "USERS"), cmd("ACL", "WHOAMI"), cmd("ACL", "GETUSER", "app")}, fix: aclRuleOrder},
		{name: "app", steps: []step{authStep(0, "app", "apppw"), cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"),
			cmd("SENTINEL", "MASTERS"), cmd("SENTINEL", "SET", "mymaster", "quorum", "1")}},
		{name: "set-script", steps: []step{admin, cmd("SENTINEL", "SET", "mymaster", "notification-script", script),
			cmd("SENTINEL", "MASTER", "mymaster")}, norm: peers},
	}
	for _, c := range cases {
		c.protos = []int{2}
		t.Run(c.name, func(t *testing.T) { c.check(t, p.rs, p.vs) })
	}
	if a, b := logFileDirIn(dir, "sentinel_0", p.rsPort), logFileDirIn(dir, "sentinel_0", p.vsPort); a != b || a == "nowhere" {
		t.Errorf("logfile sentinel-PORT.log: redis-sentinel writes it in the %s, vipsentinel in the %s", a, b)
	}
}
