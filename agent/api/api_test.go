package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/redisrule"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

func kvs(pairs ...string) []KV {
	out := make([]KV, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, KV{Key: pairs[i], Value: pairs[i+1]})
	}
	return out
}

// testBackend is a canned Backend for reply-shape tests.
type testBackend struct {
	mu       sync.Mutex
	hellos   []string
	votes    []string
	shutdown bool
	admin    []string // PAUSE, RESUME and FAILOVER calls
}

var (
	testMaster = kvs("name", "mymaster", "ip", "198.18.0.1", "port", "6379", "runid", "abc",
		"flags", "master", "link-pending-commands", "0", "num-other-sentinels", "2", "quorum", "2")
	testReplica  = kvs("name", "198.18.0.2:6379", "ip", "198.18.0.2", "port", "6379", "flags", "slave")
	testSentinel = kvs("name", strings.Repeat("a", 40), "ip", "198.18.0.3", "port", "26379", "flags", "sentinel")
	errNoMaster  = errors.New("No such master with that name") //lint:ignore ST1005 Sentinel's exact wording
)

func (b *testBackend) Masters(ctx context.Context) ([][]KV, error) { return [][]KV{testMaster}, nil }
func (b *testBackend) Master(ctx context.Context, name string) ([]KV, error) {
	if name != "mymaster" {
		return nil, errNoMaster
	}
	return testMaster, nil
}
func (b *testBackend) Replicas(ctx context.Context, name string) ([][]KV, error) {
	if name != "mymaster" {
		return nil, errNoMaster
	}
	return [][]KV{testReplica}, nil
}
func (b *testBackend) Sentinels(ctx context.Context, name string) ([][]KV, error) {
	if name != "mymaster" {
		return nil, errNoMaster
	}
	return [][]KV{testSentinel}, nil
}
func (b *testBackend) MasterAddr(ctx context.Context, name string) (sentinel.Addr, bool, error) {
	if name != "mymaster" {
		return sentinel.Addr{}, false, nil
	}
	return sentinel.Addr{Host: "198.18.0.1", Port: 6379}, true, nil
}
func (b *testBackend) IsMasterDownByAddr(ctx context.Context, addr sentinel.Addr, epoch uint64, runID string) (IsDown, error) {
	b.mu.Lock()
	b.votes = append(b.votes, fmt.Sprintf("%s %d %s", addr, epoch, runID))
	b.mu.Unlock()
	if runID == "*" {
		return IsDown{Down: true, Leader: "*"}, nil
	}
	return IsDown{Down: true, Leader: runID, LeaderEpoch: epoch}, nil
}
func (b *testBackend) Reset(ctx context.Context, pattern string) (int, error) {
	if redisrule.Match(pattern, "mymaster") {
		return 1, nil
	}
	return 0, nil
}
func (b *testBackend) Failover(ctx context.Context, name string) error {
	if name != "mymaster" {
		return errNoMaster
	}
	return errors.New("INPROG Failover already in progress")
}
func (b *testBackend) CKQuorum(ctx context.Context, name string) (string, error) {
	return "OK 3 usable Sentinels. Quorum and failover authorization can be reached", nil
}
func (b *testBackend) FlushConfig(ctx context.Context) error { return nil }
func (b *testBackend) Monitor(ctx context.Context, name, host, port, quorum string) error {
	if _, err := strconv.Atoi(quorum); err != nil {
		return errors.New("Invalid quorum")
	}
	return nil
}
func (b *testBackend) Remove(ctx context.Context, name string) error { return nil }
func (b *testBackend) Set(ctx context.Context, name string, args []string) error {
	return nil
}
func (b *testBackend) ConfigSet(ctx context.Context, args []string) error { return nil }
func (b *testBackend) ConfigGet(ctx context.Context, patterns []string) ([]KV, error) {
	return kvs("resolve-hostnames", "no"), nil
}
func (b *testBackend) MyID(ctx context.Context) (string, error) { return strings.Repeat("f", 40), nil }
func (b *testBackend) InfoCache(ctx context.Context, names []string) ([]InfoCacheEntry, error) {
	return []InfoCacheEntry{{Master: "mymaster", Instances: []CachedInfo{{AgeMillis: 5, Info: "role:master", Valid: true}, {}}}}, nil
}
func (b *testBackend) PendingScripts(ctx context.Context) ([]Script, error) {
	return []Script{{Argv: []string{"/bin/true", "a"}, Running: true, PID: 42, RunTimeMillis: 10, RetryNum: 0}}, nil
}
func (b *testBackend) SimulateFailure(ctx context.Context, flags []string) error { return nil }
func (b *testBackend) Debug(ctx context.Context, args []string) ([]KV, error) {
	return kvs("INFO-PERIOD", "10000"), nil
}
func (b *testBackend) Hello(ctx context.Context, from sentinel.Addr, authenticated bool, payload string) error {
	b.mu.Lock()
	b.hellos = append(b.hellos, payload)
	b.mu.Unlock()
	return nil
}
func (b *testBackend) InfoSentinel(ctx context.Context) ([]KV, error) {
	return kvs("sentinel_masters", "1", "master0", "name=mymaster,status=ok,address=198.18.0.1:6379,slaves=1,sentinels=3"), nil
}
func (b *testBackend) InfoVIPSentinel(ctx context.Context) ([]KV, error) {
	return kvs("vip_mymaster", "198.18.0.100/24,owned=1,epoch=3"), nil
}
func (b *testBackend) Pause(ctx context.Context, name string, d time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.admin = append(b.admin, fmt.Sprintf("pause %q %v", name, d))
	return nil
}
func (b *testBackend) Resume(ctx context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.admin = append(b.admin, fmt.Sprintf("resume %q", name))
	return nil
}
func (b *testBackend) FailoverTo(ctx context.Context, name string, to sentinel.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.admin = append(b.admin, fmt.Sprintf("failover %q %s", name, to))
	return nil
}
func (b *testBackend) Status(ctx context.Context) (any, error) {
	return map[string]any{"myid": strings.Repeat("f", 40), "masters": []string{"mymaster"}}, nil
}
func (b *testBackend) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	b.shutdown = true
	b.mu.Unlock()
	return nil
}

// startServer runs a Server on a random loopback port.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	return serveOn(t, cfg, nil)
}

// serveOn runs a Server on a random loopback port, its listener wrapped by
// wrap (if not nil) to change how clients appear to it, and returns the
// port's address.
func serveOn(t testing.TB, cfg Config, wrap func(net.Listener) net.Listener) (*Server, string) {
	t.Helper()
	if cfg.Backend == nil {
		cfg.Backend = &testBackend{}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := testenv.Listen(t)
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return s, addr
}

type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// roundTrip sends req and checks that exactly want comes back.
func (r *rawConn) roundTrip(req, want string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, req); err != nil {
		r.t.Fatal(err)
	}
	r.expect(want)
}

func (r *rawConn) expect(want string) {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r.br, got); err != nil {
		r.t.Fatalf("reading reply (want %q): %v (got %q)", want, err, got)
	}
	if string(got) != want {
		r.t.Fatalf("reply\n got %q\nwant %q", got, want)
	}
}

// expectClosed checks that the server closes the connection.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1)
	if _, err := r.br.Read(buf); err != io.EOF {
		r.t.Fatalf("connection not closed: err=%v byte=%q", err, buf)
	}
}

func cmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func TestReplyBytes(t *testing.T) {
	_, addr := startServer(t, Config{})
	r := dialRaw(t, addr)
	cases := []struct {
		name, req, want string
	}{
		{"ping", cmd("PING"), "+PONG\r\n"},
		{"ping inline", "PING\r\n", "+PONG\r\n"},
		{"ping msg", cmd("ping", "hi"), "$2\r\nhi\r\n"},
		{"ping arity", cmd("ping", "a", "b"), "-ERR wrong number of arguments for 'ping' command\r\n"},
		{"addr", cmd("SENTINEL", "get-master-addr-by-name", "mymaster"), "*2\r\n$10\r\n198.18.0.1\r\n$4\r\n6379\r\n"},
		{"addr unknown", cmd("SENTINEL", "get-master-addr-by-name", "nope"), "*-1\r\n"},
		{"master unknown", cmd("SENTINEL", "MASTER", "nope"), "-ERR No such master with that name\r\n"},
		{"replicas", cmd("SENTINEL", "replicas", "mymaster"), "*1\r\n*8\r\n$4\r\nname\r\n$15\r\n198.18.0.2:6379\r\n$2\r\nip\r\n$10\r\n198.18.0.2\r\n$4\r\nport\r\n$4\r\n6379\r\n$5\r\nflags\r\n$5\r\nslave\r\n"},
		{"is-master-down", cmd("SENTINEL", "is-master-down-by-addr", "198.18.0.1", "6379", "7", "*"), "*3\r\n:1\r\n$1\r\n*\r\n:0\r\n"},
		{"vote", cmd("SENTINEL", "is-master-down-by-addr", "198.18.0.1", "6379", "7", strings.Repeat("b", 40)), "*3\r\n:1\r\n$40\r\n" + strings.Repeat("b", 40) + "\r\n:7\r\n"},
		{"is-master-down bad port", cmd("SENTINEL", "is-master-down-by-addr", "198.18.0.1", "x", "7", "*"), "-ERR value is not an integer or out of range\r\n"},
		{"failover inprog", cmd("SENTINEL", "failover", "mymaster"), "-INPROG Failover already in progress\r\n"},
		{"monitor invalid", cmd("SENTINEL", "monitor", "m2", "198.18.0.9", "6379", "x"), "-ERR Invalid quorum\r\n"},
		{"reset", cmd("SENTINEL", "reset", "my*"), ":1\r\n"},
		{"ckquorum", cmd("SENTINEL", "ckquorum", "mymaster"), "+OK 3 usable Sentinels. Quorum and failover authorization can be reached\r\n"},
		{"myid", cmd("SENTINEL", "myid"), "$40\r\n" + strings.Repeat("f", 40) + "\r\n"},
		{"sentinel arity", cmd("SENTINEL", "masters", "x"), "-ERR wrong number of arguments for 'sentinel|masters' command\r\n"},
		{"sentinel set arity", cmd("SENTINEL", "set", "m", "x"), "-ERR wrong number of arguments for 'sentinel|set' command\r\n"},
		{"sentinel unknown sub", cmd("SENTINEL", "bogus"), "-ERR unknown subcommand 'bogus'. Try SENTINEL HELP.\r\n"},
		{"sentinel alone", cmd("SENTINEL"), "-ERR wrong number of arguments for 'sentinel' command\r\n"},
		{"config other", cmd("SENTINEL", "config", "rewrite", "x"), "-ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.\r\n"},
		{"config get", cmd("SENTINEL", "config", "get", "*"), "*2\r\n$17\r\nresolve-hostnames\r\n$2\r\nno\r\n"},
		{"info-cache", cmd("SENTINEL", "info-cache", "mymaster"), "*2\r\n$8\r\nmymaster\r\n*2\r\n*2\r\n:5\r\n$11\r\nrole:master\r\n*2\r\n:0\r\n$-1\r\n"},
		{"pending-scripts", cmd("SENTINEL", "pending-scripts"), "*1\r\n*10\r\n$4\r\nargv\r\n*2\r\n$9\r\n/bin/true\r\n$1\r\na\r\n$5\r\nflags\r\n$7\r\nrunning\r\n$3\r\npid\r\n$2\r\n42\r\n$8\r\nrun-time\r\n$2\r\n10\r\n$9\r\nretry-num\r\n$1\r\n0\r\n"},
		{"simulate help", cmd("SENTINEL", "simulate-failure", "help"), "*2\r\n$20\r\ncrash-after-election\r\n$21\r\ncrash-after-promotion\r\n"},
		{"simulate bad", cmd("SENTINEL", "simulate-failure", "x"), "-ERR Unknown failure simulation specified\r\n"},
		{"debug", cmd("SENTINEL", "debug"), "*2\r\n$11\r\nINFO-PERIOD\r\n$5\r\n10000\r\n"},
		{"debug set", cmd("SENTINEL", "debug", "info-period", "5000"), "+OK\r\n"},
		{"role", cmd("ROLE"), "*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n"},
		{"unknown", cmd("CONFIG", "GET", "x"), "-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'x' \r\n"},
		{"publish other", cmd("PUBLISH", "foo", "bar"), "-ERR Only HELLO messages are accepted by Sentinel instances.\r\n"},
		{"publish hello", cmd("PUBLISH", "__sentinel__:hello", "a,b"), ":1\r\n"},
		{"auth without pass", cmd("AUTH", "x"), "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"},
		{"client setname", cmd("CLIENT", "SETNAME", "bad name"), "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
		{"client setname ok", cmd("CLIENT", "SETNAME", "me"), "+OK\r\n"},
		{"client getname", cmd("CLIENT", "GETNAME"), "$2\r\nme\r\n"},
		{"client setinfo", cmd("CLIENT", "SETINFO", "LIB-NAME", "go-redis(,go1.26)"), "+OK\r\n"},
		{"client setinfo bad", cmd("CLIENT", "SETINFO", "x", "y"), "-ERR Unrecognized option 'x'\r\n"},
		{"client unknown", cmd("CLIENT", "nope"), "-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n"},
		{"client kill none", cmd("CLIENT", "KILL", "1.2.3.4:5"), "-ERR No such client\r\n"},
		{"hello bad proto", cmd("HELLO", "4"), "-NOPROTO unsupported protocol version\r\n"},
		{"hello not int", cmd("HELLO", "x"), "-ERR Protocol version is not an integer or out of range\r\n"},
		{"hello bad opt", cmd("HELLO", "3", "foo"), "-ERR Syntax error in HELLO option 'foo'\r\n"},
		{"acl whoami", cmd("ACL", "WHOAMI"), "$7\r\ndefault\r\n"},
		{"acl users", cmd("ACL", "USERS"), "*1\r\n$7\r\ndefault\r\n"},
		{"acl setuser", cmd("ACL", "SETUSER", "bob"), "+OK\r\n"},
		{"command getkeys", cmd("COMMAND", "GETKEYS", "ping", "x"), "-ERR The command has no key arguments\r\n"},
		{"vipsentinel status", cmd("VIPSENTINEL", "STATUS"), "$74\r\n{\"masters\":[\"mymaster\"],\"myid\":\"ffffffffffffffffffffffffffffffffffffffff\"}\r\n"},
		{"unsubscribe none", cmd("UNSUBSCRIBE"), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"},
		// COMMAND replies as redis-sentinel 7.0.15 sends them.
		{"command info ping", cmd("COMMAND", "INFO", "ping"), "*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n*1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*2\r\n$25\r\nrequest_policy:all_shards\r\n$29\r\nresponse_policy:all_succeeded\r\n*0\r\n*0\r\n"},
		{"command info unknown", cmd("COMMAND", "INFO", "get"), "*1\r\n$-1\r\n"},
		{"command info subcommand", cmd("COMMAND", "INFO", "Sentinel|MyID"), "*1\r\n*10\r\n$13\r\nsentinel|myid\r\n:2\r\n*1\r\n+admin\r\n:0\r\n:0\r\n:0\r\n*3\r\n+@admin\r\n+@slow\r\n+@dangerous\r\n*0\r\n*0\r\n*0\r\n"},
		{"command docs role", cmd("COMMAND", "DOCS", "role"), "*2\r\n$4\r\nrole\r\n*8\r\n$7\r\nsummary\r\n$47\r\nThis server's role, and the masters it watches.\r\n$5\r\nsince\r\n$6\r\n2.8.12\r\n$5\r\ngroup\r\n$6\r\nserver\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n"},
		{"command list pattern", cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "sentinel|m*"), "*4\r\n$15\r\nsentinel|master\r\n$16\r\nsentinel|masters\r\n$16\r\nsentinel|monitor\r\n$13\r\nsentinel|myid\r\n"},
		{"command list syntax", cmd("COMMAND", "LIST", "FILTERBY", "ACLCAT"), "-ERR syntax error\r\n"},
		// QUIT and RESET are served but, as in redis-sentinel 7.0, not listed.
		{"acl cat fast", cmd("ACL", "CAT", "fast"), "*5\r\n$4\r\nauth\r\n$5\r\nhello\r\n$4\r\nping\r\n$7\r\npublish\r\n$4\r\nrole\r\n"},
		{"acl cat arity", cmd("ACL", "cat", "a", "b"), "-ERR unknown subcommand or wrong number of arguments for 'cat'. Try ACL HELP.\r\n"},
		{"acl dryrun arity", cmd("ACL", "DRYRUN", "default", "sentinel", "myid", "x"), "-ERR wrong number of arguments for 'sentinel|myid' command\r\n"},
		{"client pause negative", cmd("CLIENT", "PAUSE", "-1"), "-ERR timeout is negative\r\n"},
		{"client unblock reason", cmd("CLIENT", "UNBLOCK", "1", "x"), "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			r.roundTrip(tc.req, tc.want)
		})
	}
}

func TestACLLogReplies(t *testing.T) {
	_, addr := startServer(t, Config{RequirePass: "pw"})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("AUTH", "nobody", "x"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	r.roundTrip(cmd("auth", "nobody", "y"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	r.roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	r.roundTrip(cmd("HELLO", "3"), "%6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"+RedisVersion+"\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$8\r\nsentinel\r\n$7\r\nmodules\r\n*0\r\n")
	// Two entries: the object is the command as typed.
	r.roundTrip(cmd("ACL", "LOG", "1"), "*1\r\n%7\r\n$5\r\ncount\r\n:1\r\n$6\r\nreason\r\n$4\r\nauth\r\n$7\r\ncontext\r\n$8\r\ntoplevel\r\n$6\r\nobject\r\n$4\r\nauth\r\n$8\r\nusername\r\n$6\r\nnobody\r\n$11\r\nage-seconds\r\n,")
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := r.br.ReadString('\n'); err != nil || !strings.HasSuffix(line, "\r\n") {
		t.Fatalf("age-seconds: %q %v", line, err)
	}
	r.expect("$11\r\nclient-info\r\n")
	_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"$", "id=1 "} {
		line, err := r.br.ReadString('\n')
		if err != nil || !strings.Contains(line, want) {
			t.Fatalf("client-info: %q %v", line, err)
		}
	}
	r.roundTrip(cmd("ACL", "LOG", "RESET"), "+OK\r\n")
	r.roundTrip(cmd("ACL", "LOG"), "*0\r\n")
	r.roundTrip(cmd("ACL", "LOG", "x"), "-ERR value is not an integer or out of range\r\n")
}

func TestRESP3(t *testing.T) {
	_, addr := startServer(t, Config{})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("HELLO", "3"), "%6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"+RedisVersion+"\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$8\r\nsentinel\r\n$7\r\nmodules\r\n*0\r\n")
	r.roundTrip(cmd("SENTINEL", "get-master-addr-by-name", "nope"), "_\r\n")
	r.roundTrip(cmd("SENTINEL", "master", "mymaster"), "%8\r\n$4\r\nname\r\n$8\r\nmymaster\r\n$2\r\nip\r\n$10\r\n198.18.0.1\r\n$4\r\nport\r\n$4\r\n6379\r\n$5\r\nrunid\r\n$3\r\nabc\r\n$5\r\nflags\r\n$6\r\nmaster\r\n$21\r\nlink-pending-commands\r\n$1\r\n0\r\n$19\r\nnum-other-sentinels\r\n$1\r\n2\r\n$6\r\nquorum\r\n$1\r\n2\r\n")
	r.roundTrip(cmd("CLIENT", "GETNAME"), "_\r\n")
	// Subscribed RESP3 clients may still run commands; messages are pushes.
	r.roundTrip(cmd("SUBSCRIBE", "+switch-master"), ">3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n")
	r.roundTrip(cmd("PING"), "+PONG\r\n")
	r.roundTrip(cmd("HELLO", "2"), "*12\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"+RedisVersion+"\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$8\r\nsentinel\r\n$7\r\nmodules\r\n*0\r\n")
}

func TestPubSub(t *testing.T) {
	s, addr := startServer(t, Config{})
	r2 := dialRaw(t, addr)
	r2.roundTrip(cmd("SUBSCRIBE", "+switch-master", "+sdown"), "*3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$6\r\n+sdown\r\n:2\r\n")
	r2.roundTrip(cmd("PSUBSCRIBE", "+fail*"), "*3\r\n$10\r\npsubscribe\r\n$6\r\n+fail*\r\n:3\r\n")
	r2.roundTrip(cmd("SENTINEL", "myid"), "-ERR Can't execute 'sentinel|myid': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n")
	r2.roundTrip(cmd("PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n")

	r3 := dialRaw(t, addr)
	r3.roundTrip(cmd("HELLO", "3"), "%6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"+RedisVersion+"\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:2\r\n$4\r\nmode\r\n$8\r\nsentinel\r\n$7\r\nmodules\r\n*0\r\n")
	r3.roundTrip(cmd("SUBSCRIBE", "+switch-master"), ">3\r\n$9\r\nsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n")

	payload := "mymaster 198.18.0.1 6379 198.18.0.2 6379"
	if n := s.Publish("+switch-master", payload); n != 2 {
		t.Fatalf("published to %d clients, want 2", n)
	}
	r2.expect(fmt.Sprintf("*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$%d\r\n%s\r\n", len(payload), payload))
	r3.expect(fmt.Sprintf(">3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$%d\r\n%s\r\n", len(payload), payload))
	s.Publish("+failover-end", "master mymaster 198.18.0.1 6379")
	r2.expect("*4\r\n$8\r\npmessage\r\n$6\r\n+fail*\r\n$13\r\n+failover-end\r\n$31\r\nmaster mymaster 198.18.0.1 6379\r\n")

	r2.roundTrip(cmd("UNSUBSCRIBE"), "*3\r\n$11\r\nunsubscribe\r\n$6\r\n+sdown\r\n:2\r\n*3\r\n$11\r\nunsubscribe\r\n$14\r\n+switch-master\r\n:1\r\n")
	r2.roundTrip(cmd("PUNSUBSCRIBE", "+fail*"), "*3\r\n$12\r\npunsubscribe\r\n$6\r\n+fail*\r\n:0\r\n")
	if n := s.Publish("+switch-master", payload); n != 1 {
		t.Fatalf("published to %d clients after unsubscribe, want 1", n)
	}
	r2.roundTrip(cmd("SENTINEL", "reset", "x"), ":0\r\n")
}

func TestAuth(t *testing.T) {
	_, addr := startServer(t, Config{RequirePass: "s3cret"})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("PING"), "-NOAUTH Authentication required.\r\n")
	r.roundTrip(cmd("SENTINEL", "masters"), "-NOAUTH Authentication required.\r\n")
	r.roundTrip(cmd("NOSUCH"), "-ERR unknown command 'NOSUCH', with args beginning with: \r\n")
	r.roundTrip(cmd("ROLE", "x"), "-ERR wrong number of arguments for 'role' command\r\n")
	r.roundTrip(cmd("HELLO", "3"), "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n")
	r.roundTrip(cmd("AUTH", "wrong"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	r.roundTrip(cmd("AUTH", "bob", "s3cret"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	r.roundTrip(cmd("AUTH", "s3cret"), "+OK\r\n")
	r.roundTrip(cmd("PING"), "+PONG\r\n")

	r2 := dialRaw(t, addr)
	r2.roundTrip(cmd("HELLO", "3", "AUTH", "default", "wrong"), "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
	r2.roundTrip(cmd("HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "x"), "*12\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"+RedisVersion+"\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:2\r\n$4\r\nmode\r\n$8\r\nsentinel\r\n$7\r\nmodules\r\n*0\r\n")
	r2.roundTrip(cmd("CLIENT", "GETNAME"), "$1\r\nx\r\n")
	r2.roundTrip(cmd("RESET"), "+RESET\r\n")
	r2.roundTrip(cmd("PING"), "-NOAUTH Authentication required.\r\n")
}

func TestUnauthenticatedLimits(t *testing.T) {
	_, addr := startServer(t, Config{RequirePass: "s3cret"})
	cases := []struct{ name, req, want string }{
		{"too many args", "*11\r\n", "-ERR Protocol error: unauthenticated multibulk length\r\n"},
		{"too big arg", "*2\r\n$4\r\nAUTH\r\n$4097\r\n", "-ERR Protocol error: unauthenticated bulk length\r\n"},
		// Just over the limit, so that the server has read all of it
		// when it closes (unread data would reset the connection).
		{"inline too big", strings.Repeat("a", 4<<10+100) + "\r\n", "-ERR Protocol error: too big inline request\r\n"},
		{"request too big", "*2\r\n$4000\r\n" + strings.Repeat("a", 4000) + "\r\n$200\r\n", "-ERR Protocol error: request too large\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, addr)
			r.roundTrip(tc.req, tc.want)
			r.expectClosed()
		})
	}
	// After AUTH the same request is fine.
	r := dialRaw(t, addr)
	r.roundTrip(cmd("AUTH", "s3cret"), "+OK\r\n")
	r.roundTrip(cmd("PING", strings.Repeat("x", 20000)), "$20000\r\n"+strings.Repeat("x", 20000)+"\r\n")
}

func TestSlowSubscriberDisconnected(t *testing.T) {
	s, addr := startServer(t, Config{PubSubHard: 256 << 10, PubSubSoft: 128 << 10, PubSubSoftTime: time.Hour})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("SUBSCRIBE", "+sdown"), "*3\r\n$9\r\nsubscribe\r\n$6\r\n+sdown\r\n:1\r\n")
	// Never read again: socket buffers fill, then the queue, then the server
	// drops the client instead of growing.
	msg := strings.Repeat("x", 4096)
	deadline := time.Now().Add(20 * time.Second)
	for s.Publish("+sdown", msg) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow subscriber never disconnected")
		}
	}
	testenv.Until(t, 10*time.Second, "subscriber removed", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.ps.channels) == 0
	})
}

func TestMaxClients(t *testing.T) {
	_, addr := startServer(t, Config{MaxClients: 1})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("PING"), "+PONG\r\n")
	r2 := dialRaw(t, addr)
	r2.expect("-ERR max number of clients reached\r\n")
	r2.expectClosed()
}

func TestQuitAndShutdown(t *testing.T) {
	b := &testBackend{}
	_, addr := startServer(t, Config{Backend: b})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("QUIT"), "+OK\r\n")
	r.expectClosed()
	r = dialRaw(t, addr)
	if _, err := io.WriteString(r.c, cmd("SHUTDOWN", "NOSAVE")); err != nil {
		t.Fatal(err)
	}
	r.expectClosed()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.shutdown {
		t.Fatal("shutdown not requested")
	}
}

func TestClientListAndKill(t *testing.T) {
	_, addr := startServer(t, Config{})
	r1 := dialRaw(t, addr)
	r1.roundTrip(cmd("CLIENT", "SETNAME", "one"), "+OK\r\n")
	r2 := dialRaw(t, addr)
	r2.roundTrip(cmd("CLIENT", "ID"), ":2\r\n")
	if _, err := io.WriteString(r2.c, cmd("CLIENT", "LIST")); err != nil {
		t.Fatal(err)
	}
	_ = r2.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := r2.br.ReadString('\n')
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r2.br, body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "id=1 ") || !strings.Contains(string(body), "name=one ") || !strings.Contains(string(body), "cmd=client|list") {
		t.Fatalf("client list:\n%s", body)
	}
	r2.roundTrip(cmd("CLIENT", "KILL", "ID", "1"), ":1\r\n")
	r1.expectClosed()
	r2.roundTrip(cmd("CLIENT", "KILL", "ID", "2"), ":0\r\n") // SKIPME yes
	r2.roundTrip(cmd("CLIENT", "KILL", "ID", "2", "SKIPME", "no"), ":1\r\n")
	r2.expectClosed()
}

func TestInfo(t *testing.T) {
	_, addr := startServer(t, Config{Port: 26379, Version: "test"})
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	ctx := context.Background()
	all, err := rc.Info(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Server\r\n", "redis_mode:sentinel\r\n", "tcp_port:26379\r\n", "# Clients\r\n", "# CPU\r\n", "# Stats\r\n",
		"# Sentinel\r\nsentinel_masters:1\r\nmaster0:name=mymaster,status=ok,address=198.18.0.1:6379,slaves=1,sentinels=3\r\n",
		"# VIPSentinel\r\nvip_mymaster:198.18.0.100/24,owned=1,epoch=3\r\n"} {
		if !strings.Contains(all, want) {
			t.Errorf("INFO lacks %q", want)
		}
	}
	sec, err := rc.Info(ctx, "sentinel").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sec, "# Server") || !strings.HasPrefix(sec, "# Sentinel\r\n") {
		t.Fatalf("INFO sentinel:\n%s", sec)
	}
}

// TestGoRedisSentinelClient checks the API with go-redis's own Sentinel
// client (RESP3 by default).
func TestGoRedisSentinelClient(t *testing.T) {
	s, addr := startServer(t, Config{RequirePass: "pw"})
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			sc := redis.NewSentinelClient(&redis.Options{Addr: addr, Password: "pw", Protocol: proto})
			defer sc.Close()
			ctx := context.Background()
			if err := sc.Ping(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
			if err != nil || len(got) != 2 || got[0] != "198.18.0.1" || got[1] != "6379" {
				t.Fatalf("get-master-addr-by-name = %v, %v", got, err)
			}
			m, err := sc.Master(ctx, "mymaster").Result()
			if err != nil || m["ip"] != "198.18.0.1" || m["num-other-sentinels"] != "2" {
				t.Fatalf("master = %v, %v", m, err)
			}
			ss, err := sc.Sentinels(ctx, "mymaster").Result()
			if err != nil || len(ss) != 1 || ss[0]["port"] != "26379" {
				t.Fatalf("sentinels = %v, %v", ss, err)
			}
			rs, err := sc.Replicas(ctx, "mymaster").Result()
			if err != nil || len(rs) != 1 || rs[0]["flags"] != "slave" {
				t.Fatalf("replicas = %v, %v", rs, err)
			}
			if err := sc.Failover(ctx, "mymaster").Err(); err == nil || !strings.HasPrefix(err.Error(), "INPROG") {
				t.Fatalf("failover err = %v", err)
			}
			ps := sc.Subscribe(ctx, "+switch-master")
			defer ps.Close()
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			ch := ps.Channel()
			testenv.Until(t, 10*time.Second, "subscription registered", func() bool { return s.Publish("+switch-master", "mymaster 1.1.1.1 1 2.2.2.2 2") > 0 })
			if msg := testenv.Receive(t, ch, 5*time.Second, "message"); msg.Payload != "mymaster 1.1.1.1 1 2.2.2.2 2" {
				t.Fatalf("message = %+v", msg)
			}
		})
	}
}

func TestRedisCLI(t *testing.T) {
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli not installed: %v", err)
	}
	_, addr := startServer(t, Config{RequirePass: "pw"})
	host, port, _ := net.SplitHostPort(addr)
	run := func(args ...string) string {
		t.Helper()
		full := append([]string{"-h", host, "-p", port, "--no-auth-warning", "-a", "pw"}, args...)
		out, err := exec.Command("redis-cli", full...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run("PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
	if got := run("SENTINEL", "get-master-addr-by-name", "mymaster"); got != "198.18.0.1\n6379" {
		t.Fatalf("get-master-addr-by-name = %q", got)
	}
	if got := run("-3", "SENTINEL", "master", "mymaster"); !strings.HasPrefix(got, "name mymaster\nip 198.18.0.1\n") {
		t.Fatalf("RESP3 master = %q", got)
	}
	if got := run("INFO", "sentinel"); !strings.Contains(got, "sentinel_masters:1") {
		t.Fatalf("INFO sentinel = %q", got)
	}
	if got := run("SENTINEL", "nope"); !strings.Contains(got, "ERR unknown subcommand 'nope'. Try SENTINEL HELP.") {
		t.Fatalf("unknown = %q", got)
	}
}

// TestRESP3Shapes pins replies whose RESP3 type differs from the obvious one,
// as observed from redis-sentinel 7.0.15.
func TestRESP3Shapes(t *testing.T) {
	_, addr := startServer(t, Config{})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("HELLO", "3"), "%6\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n"+RedisVersion+"\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$8\r\nsentinel\r\n$7\r\nmodules\r\n*0\r\n")
	r.roundTrip(cmd("ACL", "LIST"), "*1\r\n$34\r\nuser default on nopass ~* &* +@all\r\n")
	r.roundTrip(cmd("ACL", "GETUSER", "default"), "%6\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$6\r\nnopass\r\n$9\r\npasswords\r\n*0\r\n$8\r\ncommands\r\n$5\r\n+@all\r\n$4\r\nkeys\r\n$2\r\n~*\r\n$8\r\nchannels\r\n$2\r\n&*\r\n$9\r\nselectors\r\n*0\r\n")
	r.roundTrip(cmd("CLIENT", "TRACKINGINFO"), "%3\r\n$5\r\nflags\r\n~1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n")
	vip := "# VIPSentinel\r\nvip_mymaster:198.18.0.100/24,owned=1,epoch=3\r\n" +
		"vipsentinel_client_output_limit_disconnections:0\r\nvipsentinel_auth_failures:0\r\n" +
		"vipsentinel_auth_timeouts:0\r\nvipsentinel_protected_mode_denials:0\r\nvipsentinel_unauthenticated_evictions:0\r\nvipsentinel_client_panics:0\r\n"
	r.roundTrip(cmd("INFO", "vipsentinel"), fmt.Sprintf("$%d\r\n%s\r\n", len(vip), vip))
	// INFO and the INFO texts of SENTINEL INFO-CACHE are bulk strings in
	// RESP3 too.
	r.roundTrip(cmd("SENTINEL", "info-cache", "mymaster"), "*2\r\n$8\r\nmymaster\r\n*2\r\n*2\r\n:5\r\n$11\r\nrole:master\r\n*2\r\n:0\r\n_\r\n")
	r.roundTrip(cmd("COMMAND", "INFO", "nosuch"), "*1\r\n_\r\n")
}

// TestMatchesRedisSentinel sends the same requests to a real redis-sentinel
// and to the API and compares the raw replies, for requests whose answer
// does not depend on what is monitored.
func TestMatchesRedisSentinel(t *testing.T) {
	real := redistest.StartSentinel(t)
	_, addr := startServer(t, Config{})
	reqs := [][]string{
		{"PING"}, {"ping", "hello"}, {"ping", "a", "b"}, {"NOSUCH", "a", "b"}, {"SELECT", "1"}, {"CONFIG", "GET", "x"},
		{"SENTINEL"}, {"SENTINEL", "bogus"}, {"SENTINEL", "masters", "x"}, {"SENTINEL", "set", "m", "x"},
		{"SENTINEL", "get-master-addr-by-name", "nope"}, {"SENTINEL", "master", "nope"},
		{"SENTINEL", "is-master-down-by-addr", "198.18.0.9", "x", "1", "*"},
		{"SENTINEL", "simulate-failure", "x"}, {"SENTINEL", "simulate-failure", "help"},
		{"SENTINEL", "config", "rewrite", "x"}, {"SENTINEL", "reset", "zzz*"},
		{"PUBLISH", "a", "b"}, {"AUTH", "x"}, {"AUTH", "a", "b"}, {"AUTH", "a", "b", "c"},
		{"CLIENT", "SETNAME", "a b"}, {"CLIENT", "nope"}, {"CLIENT", "KILL", "1.2.3.4:5"}, {"CLIENT", "KILL", "ID", "0"},
		{"CLIENT", "GETNAME"}, {"CLIENT", "SETNAME", "x"}, {"CLIENT", "GETNAME"}, {"CLIENT", "REPLY", "x"},
		{"HELLO", "4"}, {"HELLO", "x"}, {"HELLO", "3", "foo"}, {"HELLO", "2", "AUTH", "default"},
		{"ACL", "WHOAMI"}, {"ACL", "USERS"}, {"ACL", "LIST"}, {"ACL", "GETUSER", "nobody"}, {"ACL", "nope"},
		{"UNSUBSCRIBE"}, {"PUNSUBSCRIBE"}, {"SHUTDOWN", "ABORT"}, {"SHUTDOWN", "bogus"},
		{"COMMAND", "GETKEYS", "ping"}, {"COMMAND", "nope"},
		{"SUBSCRIBE", "a", "b"}, {"PING"}, {"PING", "x"}, {"SENTINEL", "myid"}, {"UNSUBSCRIBE", "a"}, {"PSUBSCRIBE", "p*"}, {"PUNSUBSCRIBE"}, {"UNSUBSCRIBE"},
	}
	ours, theirs := dialRaw(t, addr), dialRaw(t, real.Addr())
	for _, req := range reqs {
		want := exchange(t, theirs, cmd(req...))
		got := exchange(t, ours, cmd(req...))
		if got != want {
			t.Errorf("%q:\n ours   %q\n redis  %q", req, got, want)
		}
	}
}

// exchange sends req and returns everything that arrives until the
// connection has been quiet for 50 ms.
func exchange(t *testing.T, r *rawConn, req string) string {
	t.Helper()
	if _, err := io.WriteString(r.c, req); err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 64<<10)
	deadline := time.Now().Add(2 * time.Second)
	for {
		_ = r.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := r.br.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if len(out) > 0 || time.Now().After(deadline) {
				return string(out)
			}
		}
	}
}

// TestMatchesRedisSentinelAuth compares replies to unauthenticated clients
// (including the pre-AUTH request limits) with a real redis-sentinel that
// has requirepass.
func TestMatchesRedisSentinelAuth(t *testing.T) {
	real := redistest.StartSentinel(t, "requirepass pw")
	_, addr := startServer(t, Config{RequirePass: "pw"})
	sessions := [][]string{
		{cmd("PING"), cmd("SENTINEL", "masters"), cmd("SUBSCRIBE", "x"), cmd("HELLO", "3"), cmd("HELLO", "3", "AUTH", "default", "no"),
			cmd("AUTH", "no"), cmd("AUTH", "default", "no"), cmd("NOSUCH"), cmd("AUTH", "pw"), cmd("PING")},
		{"*11\r\n"},
		{"*2\r\n$4\r\nAUTH\r\n$16385\r\n"},
		// Before AUTH, requests are capped at 4 KiB in all where Redis
		// allows 10 arguments of 16 KiB (a deliberate difference, see
		// preAuthLimits); within the cap the answers are the same.
		{"*1\r\n$4096\r\n" + strings.Repeat("a", 4096) + "\r\n"},
		{"PING\r\n", "\"unbalanced\r\n"},
	}
	for i, s := range sessions {
		ours, theirs := dialRaw(t, addr), dialRaw(t, real.Addr())
		for _, req := range s {
			want := exchange(t, theirs, req)
			got := exchange(t, ours, req)
			if got != want {
				t.Errorf("session %d, %.40q:\n ours   %q\n redis  %q", i, req, got, want)
			}
		}
	}
}
