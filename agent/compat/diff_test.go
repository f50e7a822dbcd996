package compat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// step is one request of a differential case.
type step struct {
	args    []string // a command, sent as a RESP multi-bulk
	raw     string   // or raw bytes (inline commands, protocol errors)
	conn    int      // which of the case's connections (0 or 1)
	replies int      // replies to read; 0 means 1, -1 means none
	closes  bool     // the server must then close the connection
}

// dcase is one row of the differential table: the same steps are run
// against redis-sentinel and a vipsentinel agent, and the replies compared.
type dcase struct {
	name   string
	steps  []step
	protos []int // default: both 2 and 3
	norm   normaliser
	post   rule // applied to every reply after norm
	// fix removes a deliberate difference from reply i (after
	// normalisation); every use says why the difference is deliberate.
	fix func(i int, redis, vip *value)
}

func cmd(args ...string) step { return step{args: args} }

// one builds a case of a single command.
func one(name string, args ...string) dcase {
	return dcase{name: name, steps: []step{cmd(args...)}}
}

// diffFixture is a master, its replica, one redis-sentinel and one agent
// monitoring the master, with both sentinels aware of each other.
type diffFixture struct {
	master, replica *redistest.Server
	redis           string // redis-sentinel's address
	vip             string // vipsentinel's address
}

func newDiffFixture(t *testing.T) *diffFixture {
	t.Helper()
	master := redistest.Start(t)
	replica := redistest.Start(t, fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))
	lines := sentinelLines("mymaster", master, 2)
	// vipsentinel admits a redis-sentinel peer only at an address its
	// configuration lists, by SENTINEL MYID: a fixed run id, listed.
	rsID := strings.Repeat("5", 39) + "f"
	rs := redistest.StartSentinel(t, append(slices.Clone(lines), "sentinel myid "+rsID)...)
	a := startAgent(t, append(slices.Clone(lines), fmt.Sprintf("sentinel known-sentinel mymaster 127.0.0.1 %d %s", rs.Port, rsID))...)
	f := &diffFixture{master: master, replica: replica, redis: rs.Addr(), vip: a.Addr()}
	for _, addr := range []string{f.redis, f.vip} {
		testenv.Eventually(t, 20*time.Second, addr+" to see the replica and the other sentinel", func() error {
			return settled(addr, "mymaster", 1, 1)
		})
	}
	return f
}

// authFixture is a redis-sentinel and an agent with requirepass and no
// masters: enough for the authentication cases, and cheap.
type authFixture struct{ redis, vip string }

func newAuthFixture(t *testing.T) *authFixture {
	rs := redistest.StartSentinel(t, "requirepass s3cret")
	a := startAgent(t, "requirepass s3cret")
	return &authFixture{redis: rs.Addr(), vip: a.Addr()}
}

// run executes c's steps against addr in protocol proto and returns the
// normalised replies, and the raw bytes received for each step.
func (c dcase) run(addr string, proto int) ([]value, []string, error) {
	conns := map[int]*conn{}
	defer func() {
		for _, cn := range conns {
			cn.Close()
		}
	}()
	get := func(i int) (*conn, error) {
		if cn := conns[i]; cn != nil {
			return cn, nil
		}
		cn, err := dial(addr)
		if err != nil {
			return nil, err
		}
		conns[i] = cn
		if proto == 3 {
			v, err := cn.do("HELLO", "3")
			if err != nil {
				return nil, fmt.Errorf("HELLO 3: %w", err)
			}
			if v.kind != kMap {
				return nil, fmt.Errorf("HELLO 3: %s", strings.TrimSpace(v.render()))
			}
		}
		return cn, nil
	}
	var out []value
	var raws []string
	for _, s := range c.steps {
		cn, err := get(s.conn)
		if err != nil {
			return out, raws, err
		}
		cn.takeRaw()
		switch {
		case s.args != nil:
			err = cn.send(encode(s.args...))
		case s.raw != "":
			err = cn.send([]byte(s.raw))
		}
		if err != nil {
			return out, raws, err
		}
		n := s.replies
		if n == 0 {
			n = 1
		}
		for i := 0; i < n; i++ {
			v, err := cn.read(3 * time.Second)
			if err != nil {
				return out, raws, fmt.Errorf("reading reply %d to %q: %w", len(out), s.describe(), err)
			}
			c.norm.apply(&v)
			if c.post != nil {
				c.post(&v)
			}
			out = append(out, v)
		}
		raws = append(raws, cn.takeRaw())
		if s.closes {
			out = append(out, value{kind: kSimple, str: fmt.Sprintf("<closed=%v>", cn.closed(time.Second))})
		}
	}
	return out, raws, nil
}

func (s step) describe() string {
	if s.args != nil {
		return strings.Join(s.args, " ")
	}
	return s.raw
}

func (c dcase) describe() string {
	var parts []string
	for _, s := range c.steps {
		p := fmt.Sprintf("%q", s.describe())
		if s.conn != 0 {
			p = fmt.Sprintf("conn%d:%s", s.conn, p)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// check runs c against both servers and reports differences.
func (c dcase) check(t *testing.T, redisAddr, vipAddr string) {
	protos := c.protos
	if protos == nil {
		protos = []int{2, 3}
	}
	for _, proto := range protos {
		t.Run(fmt.Sprintf("resp%d", proto), func(t *testing.T) {
			want, wraw, werr := c.run(redisAddr, proto)
			got, graw, gerr := c.run(vipAddr, proto)
			if werr != nil {
				t.Fatalf("redis-sentinel: %v (test bug: the reference must answer)", werr)
			}
			var diffs []string
			if gerr != nil {
				diffs = append(diffs, "vipsentinel: "+gerr.Error())
			}
			if len(want) != len(got) && gerr == nil {
				diffs = append(diffs, fmt.Sprintf("%d replies from redis-sentinel, %d from vipsentinel", len(want), len(got)))
			}
			for i := 0; i < len(want) && i < len(got); i++ {
				if c.fix != nil {
					c.fix(i, &want[i], &got[i])
				}
				for _, m := range compare(fmt.Sprintf("reply%d", i), want[i], got[i]) {
					diffs = append(diffs, fmt.Sprintf("%s: redis-sentinel %s, vipsentinel %s", m.path, m.want, m.got))
				}
			}
			if len(diffs) == 0 {
				if *dump {
					for i := range want {
						t.Logf("reply %d (both, normalised):\n%s", i, want[i].render())
					}
				}
				return
			}
			var b strings.Builder
			fmt.Fprintf(&b, "RESP%d %s\n  %s\n", proto, c.describe(), strings.Join(diffs, "\n  "))
			for i, v := range want {
				fmt.Fprintf(&b, "--- redis-sentinel reply %d (normalised)\n%s", i, v.render())
			}
			for i, v := range got {
				fmt.Fprintf(&b, "+++ vipsentinel reply %d (normalised)\n%s", i, v.render())
			}
			for i := range wraw {
				fmt.Fprintf(&b, "--- redis-sentinel bytes, step %d: %s\n", i, clip(wraw[i]))
			}
			for i := range graw {
				fmt.Fprintf(&b, "+++ vipsentinel bytes, step %d: %s\n", i, clip(graw[i]))
			}
			t.Error(b.String())
		})
	}
}

// clip quotes raw reply bytes, cut to a readable length.
func clip(s string) string {
	const max = 400
	if len(s) > max {
		return fmt.Sprintf("%q... (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// portKey normalises "port", which differs where a reply describes the
// other sentinel (each one lists its peer).
var portKey = normaliser{keys: map[string]rule{"port": asInt}}

func diffCases(f *diffFixture) []dcase {
	mport := strconv.Itoa(f.master.Port)
	rport := strconv.Itoa(f.replica.Port)
	cases := []dcase{
		// The SENTINEL command set (§1.14).
		one("masters", "SENTINEL", "MASTERS"),
		one("master", "SENTINEL", "MASTER", "mymaster"),
		one("master-lowercase", "sentinel", "master", "mymaster"),
		one("replicas", "SENTINEL", "REPLICAS", "mymaster"),
		one("slaves", "SENTINEL", "SLAVES", "mymaster"),
		{name: "sentinels", steps: []step{cmd("SENTINEL", "SENTINELS", "mymaster")}, norm: portKey},
		one("get-master-addr-by-name", "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"),
		one("ckquorum", "SENTINEL", "CKQUORUM", "mymaster"),
		one("myid", "SENTINEL", "MYID"),
		{name: "info-cache", steps: []step{cmd("SENTINEL", "INFO-CACHE", "mymaster")}, norm: infoCacheNorm},
		{name: "info-cache-two", steps: []step{cmd("SENTINEL", "INFO-CACHE", "nosuch", "mymaster")}, norm: infoCacheNorm},
		one("info-cache-arity", "SENTINEL", "INFO-CACHE"),
		one("info-cache-unknown", "SENTINEL", "INFO-CACHE", "nosuch"),
		{name: "config-get-all", steps: []step{cmd("SENTINEL", "CONFIG", "GET", "*")}, fix: withLoglevel},
		{name: "config-get-one", steps: []step{cmd("SENTINEL", "CONFIG", "GET", "loglevel")}, fix: withLoglevel},
		one("config-get-announce-port", "SENTINEL", "CONFIG", "GET", "announce-port"),
		one("config-get-glob", "SENTINEL", "CONFIG", "GET", "announce-*"),
		one("config-get-none", "SENTINEL", "CONFIG", "GET", "nosuchparam"),
		one("config-get-arity", "SENTINEL", "CONFIG", "GET"),
		one("config-set-unknown", "SENTINEL", "CONFIG", "SET", "nosuchparam", "1"),
		// Redis 7.2 added loglevel to SENTINEL CONFIG.
		{name: "config-set-bad-loglevel", steps: []step{cmd("SENTINEL", "CONFIG", "SET", "loglevel", "loud")},
			fix: expect(errReply("ERR Invalid value 'loud' to SENTINEL CONFIG SET 'loglevel'"))},
		one("config-set-bad-port", "SENTINEL", "CONFIG", "SET", "announce-port", "70000"),
		one("config-set-bad-bool", "SENTINEL", "CONFIG", "SET", "resolve-hostnames", "maybe"),
		one("config-bad-subcommand", "SENTINEL", "CONFIG", "FROB", "x"),
		one("debug", "SENTINEL", "DEBUG"),
		one("debug-bad-value", "SENTINEL", "DEBUG", "info-period", "abc"),
		one("debug-unknown-param", "SENTINEL", "DEBUG", "nosuch-period", "100"),
		one("is-master-down-by-addr", "SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", mport, "0", "*"),
		one("is-master-down-by-addr-unknown", "SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"),
		one("is-master-down-by-addr-bad-port", "SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "x", "0", "*"),
		one("is-master-down-by-addr-bad-epoch", "SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", mport, "x", "*"),
		one("pending-scripts", "SENTINEL", "PENDING-SCRIPTS"),
		{name: "sentinel-help", steps: []step{cmd("SENTINEL", "HELP")}, fix: helpShape},
		{name: "client-help", steps: []step{cmd("CLIENT", "HELP")}, fix: helpShape},
		{name: "command-help", steps: []step{cmd("COMMAND", "HELP")}, fix: helpShape},
		{name: "acl-help", steps: []step{cmd("ACL", "HELP")}, fix: helpShape},
		one("simulate-failure-help", "SENTINEL", "SIMULATE-FAILURE", "HELP"),
		one("simulate-failure-bad", "SENTINEL", "SIMULATE-FAILURE", "explode"),
		one("flushconfig", "SENTINEL", "FLUSHCONFIG"),
		one("reset-nomatch", "SENTINEL", "RESET", "nosuch*"),
		one("failover-unknown", "SENTINEL", "FAILOVER", "nosuch"),
		one("remove-unknown", "SENTINEL", "REMOVE", "nosuch"),
		one("monitor-duplicate", "SENTINEL", "MONITOR", "mymaster", "127.0.0.1", mport, "2"),
		one("monitor-bad-quorum", "SENTINEL", "MONITOR", "other", "127.0.0.1", mport, "x"),
		one("monitor-zero-quorum", "SENTINEL", "MONITOR", "other", "127.0.0.1", mport, "0"),
		one("monitor-bad-port", "SENTINEL", "MONITOR", "other", "127.0.0.1", "x", "2"),
		one("monitor-bad-ip", "SENTINEL", "MONITOR", "other", "no.such.host.invalid", mport, "2"),
		// With resolve-hostnames no (the default), a hostname that does
		// resolve is refused too.
		one("monitor-hostname-refused", "SENTINEL", "MONITOR", "other", "localhost", mport, "2"),
		// Bad arity, unknown subcommand, unknown master.
		one("arity-sentinel", "SENTINEL"),
		one("arity-master", "SENTINEL", "MASTER"),
		one("arity-masters", "SENTINEL", "MASTERS", "extra"),
		one("arity-replicas", "SENTINEL", "REPLICAS"),
		one("arity-get-master-addr", "SENTINEL", "GET-MASTER-ADDR-BY-NAME"),
		one("arity-myid", "SENTINEL", "MYID", "x"),
		one("arity-is-master-down", "SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", mport),
		one("arity-set", "SENTINEL", "SET", "mymaster", "quorum"),
		one("arity-monitor", "SENTINEL", "MONITOR", "x"),
		one("unknown-subcommand", "SENTINEL", "FROBNICATE"),
		one("unknown-subcommand-args", "SENTINEL", "FROBNICATE", "a", "b"),
		one("unknown-master", "SENTINEL", "MASTER", "nosuch"),
		one("unknown-replicas", "SENTINEL", "REPLICAS", "nosuch"),
		one("unknown-slaves", "SENTINEL", "SLAVES", "nosuch"),
		one("unknown-sentinels", "SENTINEL", "SENTINELS", "nosuch"),
		one("unknown-get-master-addr", "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"),
		one("unknown-ckquorum", "SENTINEL", "CKQUORUM", "nosuch"),
		// SENTINEL SET: errors, and a no-op change (same value).
		one("set-unknown-master", "SENTINEL", "SET", "nosuch", "quorum", "2"),
		one("set-bad-quorum", "SENTINEL", "SET", "mymaster", "quorum", "abc"),
		one("set-zero-quorum", "SENTINEL", "SET", "mymaster", "quorum", "0"),
		one("set-negative-down-after", "SENTINEL", "SET", "mymaster", "down-after-milliseconds", "-1"),
		one("set-unknown-option", "SENTINEL", "SET", "mymaster", "frobnicate", "1"),
		one("set-odd-args", "SENTINEL", "SET", "mymaster", "quorum", "2", "parallel-syncs"),
		one("set-script-denied", "SENTINEL", "SET", "mymaster", "notification-script", "/bin/true"),
		one("set-same-quorum", "SENTINEL", "SET", "mymaster", "quorum", "2"),
		one("set-rename-command-arity", "SENTINEL", "SET", "mymaster", "rename-command", "CONFIG"),
		// Other commands a sentinel answers.
		one("ping", "PING"),
		one("ping-msg", "PING", "hello"),
		one("ping-arity", "PING", "a", "b"),
		one("role", "ROLE"),
		one("role-arity", "ROLE", "x"),
		one("publish-not-hello", "PUBLISH", "foo", "bar"),
		one("publish-hello-garbage", "PUBLISH", "__sentinel__:hello", "garbage"),
		one("publish-arity", "PUBLISH", "foo"),
		info("info"),
		info("info-default", "default"),
		info("info-all", "all"),
		info("info-everything", "everything"),
		info("info-server", "server"),
		info("info-clients", "clients"),
		info("info-cpu", "cpu"),
		info("info-stats", "stats"),
		info("info-sentinel", "sentinel"),
		info("info-two", "sentinel", "server"),
		info("info-case", "SENTINEL"),
		info("info-unknown", "nosuchsection"),
		hello("hello-none"),
		hello("hello-2", "2"),
		hello("hello-3", "3"),
		one("hello-4", "HELLO", "4"),
		one("hello-bad", "HELLO", "x"),
		hello("hello-setname", "3", "SETNAME", "app"),
		hello("hello-auth-nopass", "3", "AUTH", "default", "whatever"),
		one("hello-auth-unknown-user", "HELLO", "3", "AUTH", "nosuchuser", "x"),
		one("hello-bad-option", "HELLO", "3", "FROB"),
		one("auth-no-password", "AUTH", "x"),
		one("auth-default-nopass", "AUTH", "default", "whatever"),
		one("auth-unknown-user", "AUTH", "nosuchuser", "x"),
		{name: "client-name", steps: []step{cmd("CLIENT", "GETNAME"), cmd("CLIENT", "SETNAME", "app-1"), cmd("CLIENT", "GETNAME"), cmd("CLIENT", "SETNAME", ""), cmd("CLIENT", "GETNAME")}},
		one("client-setname-space", "CLIENT", "SETNAME", "a b"),
		one("client-setname-arity", "CLIENT", "SETNAME"),
		{name: "client-id", steps: []step{cmd("CLIENT", "ID")}, norm: normaliser{}, fix: func(_ int, r, v *value) { asInt(r); asInt(v) }},
		{name: "client-info", steps: []step{cmd("CLIENT", "SETNAME", "me"), cmd("CLIENT", "INFO")}, fix: withoutLibFields},
		{name: "client-setinfo", steps: []step{cmd("CLIENT", "SETINFO", "LIB-NAME", "compat"), cmd("CLIENT", "SETINFO", "LIB-VER", "1.0")},
			fix: expectAll(simpleReply("OK"), simpleReply("OK"))},
		one("client-getredir", "CLIENT", "GETREDIR"),
		one("client-trackinginfo", "CLIENT", "TRACKINGINFO"),
		one("client-caching-no-tracking", "CLIENT", "CACHING", "yes"),
		one("client-reply-on", "CLIENT", "REPLY", "ON"),
		one("client-no-evict", "CLIENT", "NO-EVICT", "on"),
		one("client-unpause", "CLIENT", "UNPAUSE"),
		one("client-kill-nosuch", "CLIENT", "KILL", "127.0.0.1:1"),
		one("client-kill-filter-nosuch", "CLIENT", "KILL", "ID", "999999"),
		one("client-no-touch", "CLIENT", "NO-TOUCH", "on"),
		one("client-kill-syntax", "CLIENT", "KILL", "a", "b", "c"),
		one("client-list-syntax", "CLIENT", "LIST", "x"),
		one("client-list-bad-type", "CLIENT", "LIST", "TYPE", "x"),
		one("client-list-bad-id", "CLIENT", "LIST", "ID", "x"),
		one("client-pause-not-int", "CLIENT", "PAUSE", "x"),
		one("client-pause-negative", "CLIENT", "PAUSE", "-1"),
		one("client-pause-bad-mode", "CLIENT", "PAUSE", "1", "x"),
		{name: "client-pause-zero", steps: []step{cmd("CLIENT", "PAUSE", "0", "WRITE"), cmd("CLIENT", "UNPAUSE")}},
		one("client-tracking-syntax", "CLIENT", "TRACKING", "x"),
		one("client-reply-syntax", "CLIENT", "REPLY", "x"),
		one("client-unblock-not-int", "CLIENT", "UNBLOCK", "x"),
		one("client-unblock-bad-reason", "CLIENT", "UNBLOCK", "1", "x"),
		one("client-unblock-nosuch", "CLIENT", "UNBLOCK", "999999", "ERROR"),
		one("client-no-evict-syntax", "CLIENT", "NO-EVICT", "x"),
		one("client-caching-syntax", "CLIENT", "CACHING", "x"),
		one("client-kill-bad-id", "CLIENT", "KILL", "ID", "x"),
		one("client-kill-bad-type", "CLIENT", "KILL", "TYPE", "x"),
		one("client-kill-bad-skipme", "CLIENT", "KILL", "SKIPME", "x"),
		one("client-kill-maxage", "CLIENT", "KILL", "MAXAGE", "1000000"),
		one("client-unknown", "CLIENT", "FROB"),
		one("client-arity", "CLIENT"),
		{name: "command-count", steps: []step{cmd("COMMAND", "COUNT")}},
		{name: "command", steps: []step{cmd("COMMAND")}, post: sortCommandInfo},
		{name: "command-info-all", steps: []step{cmd("COMMAND", "INFO")}, post: sortCommandInfo},
		{name: "command-info-several", steps: []step{cmd("COMMAND", "INFO", "ping", "nosuch", "role")}},
		{name: "command-info-subcommands", steps: []step{cmd("COMMAND", "INFO", "SENTINEL|MASTERS", "client|id", "acl|", "ping|x", "sentinel|config")}},
		one("command-info-unknown", "COMMAND", "INFO", "get"),
		{name: "command-docs-all", steps: []step{cmd("COMMAND", "DOCS")}, post: sortDocs, fix: docsDeliberate},
		{name: "command-docs-subcommands", steps: []step{cmd("COMMAND", "DOCS", "sentinel|slaves", "CLIENT|KILL", "ping|x")}, fix: docsDeliberate},
		one("command-docs-unknown", "COMMAND", "DOCS", "nosuch"),
		one("command-getkeys-ping", "COMMAND", "GETKEYS", "ping"),
		one("command-getkeys-ping-arg", "COMMAND", "GETKEYS", "ping", "x"),
		one("command-getkeys-container", "COMMAND", "GETKEYS", "sentinel", "x"),
		one("command-getkeys-subcommand", "COMMAND", "GETKEYS", "sentinel", "masters", "x"),
		one("command-getkeys-unknown", "COMMAND", "GETKEYSANDFLAGS", "nosuch", "x"),
		{name: "command-list", steps: []step{cmd("COMMAND", "LIST")}, post: sortElems},
		{name: "command-list-aclcat", steps: []step{cmd("COMMAND", "LIST", "filterby", "aclcat", "Connection")}, post: sortElems},
		{name: "command-list-pattern", steps: []step{cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "*|HELP")}, post: sortElems},
		one("command-list-module", "COMMAND", "LIST", "FILTERBY", "MODULE", "x"),
		one("command-list-syntax", "COMMAND", "LIST", "FILTERBY", "ACLCAT"),
		one("command-list-bad-filter", "COMMAND", "LIST", "FILTERBY", "FROB", "x"),
		one("command-unknown", "COMMAND", "FROB"),
		one("acl-cat", "ACL", "CAT"),
		one("acl-cat-unknown", "ACL", "CAT", "nosuch"),
		one("acl-cat-arity", "ACL", "CAT", "a", "b"),
		one("acl-genpass-arity", "ACL", "GENPASS", "1", "2"),
		one("acl-genpass-not-int", "ACL", "GENPASS", "x"),
		one("acl-genpass-zero", "ACL", "GENPASS", "0"),
		one("acl-genpass-too-big", "ACL", "GENPASS", "4097"),
		// Failed logins: repeats of one count into one entry; the newest
		// comes first.
		{name: "acl-log", steps: []step{
			cmd("ACL", "LOG", "RESET"),
			cmd("AUTH", "nosuchuser", "x"),
			cmd("AUTH", "nosuchuser", "y"),
			cmd("HELLO", "2", "AUTH", "other", "x"),
			cmd("ACL", "LOG"),
			cmd("ACL", "LOG", "1"),
		}, fix: withoutLibFields},
		one("acl-log-negative", "ACL", "LOG", "-1"),
		one("acl-log-not-int", "ACL", "LOG", "x"),
		one("acl-log-arity", "ACL", "LOG", "1", "2"),
		{name: "acl-log-reset", steps: []step{cmd("ACL", "LOG", "RESET"), cmd("ACL", "LOG")}},
		one("acl-dryrun-subcommand", "ACL", "DRYRUN", "default", "sentinel", "masters"),
		one("acl-dryrun-subcommand-arity", "ACL", "DRYRUN", "default", "sentinel", "masters", "x"),
		one("acl-dryrun-container-arity", "ACL", "DRYRUN", "default", "client"),
		one("acl-dryrun-unknown-subcommand", "ACL", "DRYRUN", "default", "sentinel", "nosuch"),
		one("acl-dryrun-unknown-user", "ACL", "DRYRUN", "nosuch", "ping"),
		one("acl-dryrun-arity", "ACL", "DRYRUN", "default", "role", "x"),
		one("acl-whoami", "ACL", "WHOAMI"),
		one("acl-users", "ACL", "USERS"),
		one("acl-list", "ACL", "LIST"),
		one("acl-getuser-default", "ACL", "GETUSER", "default"),
		one("acl-getuser-unknown", "ACL", "GETUSER", "nosuch"),
		one("acl-deluser-unknown", "ACL", "DELUSER", "nosuch"),
		{name: "acl-setuser", steps: []step{cmd("ACL", "SETUSER", "compat-user", "on", "nopass", "+@all", "-@dangerous", "&x*"),
			cmd("ACL", "GETUSER", "compat-user"), cmd("ACL", "LIST"), cmd("ACL", "DELUSER", "compat-user")}},
		one("acl-dryrun", "ACL", "DRYRUN", "default", "ping"),
		one("acl-unknown", "ACL", "FROB"),
		one("acl-arity", "ACL"),
		one("unknown-command", "FROBNICATE"),
		one("unknown-command-args", "FROBNICATE", "a", "b"),
		one("not-in-sentinel-get", "GET", "key"),
		one("not-in-sentinel-config", "CONFIG", "GET", "maxmemory"),
		one("not-in-sentinel-multi", "MULTI"),
		one("not-in-sentinel-select", "SELECT", "0"),
		one("not-in-sentinel-replicaof", "REPLICAOF", "NO", "ONE"),
		// Pub/sub.
		{name: "subscribe", steps: []step{{args: []string{"SUBSCRIBE", "+switch-master", "+sdown"}, replies: 2}}},
		// UNSUBSCRIBE without channels lists them in hash order in Redis,
		// so only one is left when it runs.
		{name: "subscribe-then", steps: []step{
			{args: []string{"SUBSCRIBE", "+switch-master", "+sdown"}, replies: 2},
			cmd("PING"),
			cmd("PING", "x"),
			cmd("SENTINEL", "MASTERS"),
			cmd("UNSUBSCRIBE", "+sdown"),
			cmd("UNSUBSCRIBE"),
			cmd("PING"),
		}},
		{name: "psubscribe", steps: []step{
			{args: []string{"PSUBSCRIBE", "*", "+s*"}, replies: 2},
			{args: []string{"PUNSUBSCRIBE", "*"}},
			{args: []string{"PUNSUBSCRIBE"}},
			cmd("PUNSUBSCRIBE"),
		}},
		one("unsubscribe-none", "UNSUBSCRIBE"),
		one("punsubscribe-none", "PUNSUBSCRIBE"),
		one("subscribe-arity", "SUBSCRIBE"),
		{name: "event-set", steps: []step{
			{conn: 1, args: []string{"SUBSCRIBE", "+set"}},
			{args: []string{"SENTINEL", "SET", "mymaster", "parallel-syncs", "1"}},
			{conn: 1},
		}},
		// Inline commands and protocol errors.
		{name: "inline-ping", steps: []step{{raw: "PING\r\n"}}},
		{name: "inline-command", steps: []step{{raw: "sentinel get-master-addr-by-name mymaster\r\n"}}},
		{name: "inline-quoted", steps: []step{{raw: "PING \"a b\"\r\n"}}},
		{name: "inline-empty-line", steps: []step{{raw: "\r\n\r\nPING\r\n"}}},
		{name: "inline-unbalanced-quotes", steps: []step{{raw: "PING \"a\r\n", closes: true}}},
		{name: "bad-bulk-length", steps: []step{{raw: "*1\r\n$x\r\n", closes: true}}},
		{name: "bad-multibulk-length", steps: []step{{raw: "*x\r\n", closes: true}}},
		{name: "expected-dollar", steps: []step{{raw: "*1\r\n:1\r\n", closes: true}}},
		{name: "pipeline", steps: []step{{raw: string(encode("PING")) + string(encode("SENTINEL", "MYID")) + string(encode("ROLE")), replies: 3}}},
		// QUIT and RESET are served beyond redis-sentinel 7.0 (fixes_test.go).
		{name: "quit", steps: []step{{args: []string{"QUIT"}, closes: true}},
			fix: expectAll(simpleReply("OK"), simpleReply("<closed=true>"))},
		{name: "reset", steps: []step{cmd("CLIENT", "SETNAME", "x"), cmd("RESET"), cmd("CLIENT", "GETNAME")},
			fix: expectAll(simpleReply("OK"), simpleReply("RESET"), value{kind: kBulk, null: true})},
	}
	for _, name := range sentinelCommands {
		cases = append(cases,
			dcase{name: "command-info-" + name, steps: []step{cmd("COMMAND", "INFO", name)}, post: sortCommandInfo},
			dcase{name: "command-docs-" + name, steps: []step{cmd("COMMAND", "DOCS", name)}, post: sortDocs, fix: docsDeliberate})
	}
	for _, cat := range aclCategories {
		cases = append(cases, dcase{name: "acl-cat-" + cat, steps: []step{cmd("ACL", "CAT", cat)}, post: sortElems})
	}
	_ = rport
	return cases
}

// sentinelCommands are the commands redis-sentinel 7.0 answers.
var sentinelCommands = []string{"acl", "auth", "client", "command", "hello", "info", "ping", "psubscribe",
	"publish", "punsubscribe", "role", "sentinel", "shutdown", "subscribe", "unsubscribe"}

// aclCategories are Redis 7.0's ACL categories.
var aclCategories = []string{"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
	"hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
	"transaction", "scripting"}

// info builds an INFO case.
func info(name string, sections ...string) dcase {
	return dcase{name: name, steps: []step{cmd(append([]string{"INFO"}, sections...)...)},
		fix: infoDeliberate}
}

// helloNorm normalises HELLO's connection id and server version.
var helloNorm = normaliser{keys: map[string]rule{"id": asInt, "version": asVersion}}

// hello builds a HELLO case.
func hello(name string, args ...string) dcase {
	return dcase{name: name, steps: []step{cmd(append([]string{"HELLO"}, args...)...)}, norm: helloNorm}
}

// infoCacheNorm normalises INFO-CACHE: the cached INFO texts were taken at
// different times by the two sentinels, so only their fields and the role
// are compared.
var infoCacheNorm = normaliser{keys: map[string]rule{"mymaster": infoCacheAges}}

// infoCacheAges normalises INFO-CACHE's per-master value:
// [[age-ms, info], [age-ms, info], ...].
func infoCacheAges(v *value) {
	for i := range v.elems {
		e := &v.elems[i]
		if len(e.elems) == 2 {
			asInt(&e.elems[0])
			normaliser{infoExact: map[string]bool{"role": true, "redis_mode": true}}.apply(&e.elems[1])
		}
	}
}

func TestDifferential(t *testing.T) {
	t.Parallel()
	f := newDiffFixture(t)
	for _, c := range diffCases(f) {
		t.Run(c.name, func(t *testing.T) { c.check(t, f.redis, f.vip) })
	}
	auth := newAuthFixture(t)
	for _, c := range authCases() {
		t.Run("auth/"+c.name, func(t *testing.T) { c.check(t, auth.redis, auth.vip) })
	}
}

// authCases run in RESP2 only: a RESP3 connection would need HELLO 3 before
// authenticating, which is itself one of the cases.
func authCases() []dcase {
	cases := []dcase{
		one("ping-before-auth", "PING"),
		one("sentinel-before-auth", "SENTINEL", "MASTERS"),
		one("unknown-before-auth", "FROBNICATE"),
		one("hello-before-auth", "HELLO", "3"),
		one("hello-2-before-auth", "HELLO", "2"),
		one("hello-auth-wrong", "HELLO", "3", "AUTH", "default", "wrong"),
		hello("hello-auth-right", "3", "AUTH", "default", "s3cret"),
		hello("hello-auth-setname", "3", "AUTH", "default", "s3cret", "SETNAME", "x"),
		one("auth-wrong", "AUTH", "wrong"),
		one("auth-user-wrong", "AUTH", "default", "wrong"),
		{name: "auth-then", steps: []step{cmd("AUTH", "s3cret"), cmd("PING"), cmd("SENTINEL", "MASTERS"), cmd("ROLE")}},
		{name: "auth-user-then", steps: []step{cmd("AUTH", "default", "s3cret"), cmd("ACL", "WHOAMI")}},
		{name: "quit-before-auth", steps: []step{{args: []string{"QUIT"}, closes: true}},
			fix: expectAll(simpleReply("OK"), simpleReply("<closed=true>"))},
	}
	for i := range cases {
		cases[i].protos = []int{2}
	}
	return cases
}
