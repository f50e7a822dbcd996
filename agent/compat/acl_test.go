package compat

import (
	"fmt"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// aclUserLines configure the same users on redis-sentinel and on the agent:
// no anonymous access, an administrator, a client limited to discovery, a
// subscriber limited to some channels, and the peers' sentinel-user.
var aclUserLines = []string{
	"user default off",
	"user admin on >adminpw +@all allchannels",
	"user app on >apppw -@all +sentinel|get-master-addr-by-name +sentinel|masters +ping +hello +client|setname +acl|whoami",
	"user events on >evpw -@all +subscribe +psubscribe +unsubscribe +punsubscribe +ping &+switch-master &+sdown",
	"user peer on >peerpw +@all allchannels",
	"sentinel sentinel-user peer",
	"sentinel sentinel-pass peerpw",
}

func authStep(conn int, user, pass string) step {
	return step{conn: conn, args: []string{"AUTH", user, pass}}
}

// aclCases compare authentication, denials and user management between
// redis-sentinel and an agent configured with aclUserLines. RESP2 only:
// with the default user off, HELLO 3 needs AUTH, which the cases do.
func aclCases() []dcase {
	cases := []dcase{
		one("anonymous-ping", "PING"),
		one("anonymous-sentinel", "SENTINEL", "MASTERS"),
		one("anonymous-subscribe", "SUBSCRIBE", "x"),
		one("auth-default-off", "AUTH", "default", ""),
		one("auth-password-only", "AUTH", "adminpw"),
		one("auth-unknown-user", "AUTH", "nobody", "x"),
		one("auth-wrong", "AUTH", "app", "nope"),
		hello("hello-auth-app", "3", "AUTH", "app", "apppw"),
		{name: "app", steps: []step{authStep(0, "app", "apppw"), cmd("ACL", "WHOAMI"), cmd("PING"),
			cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"), cmd("INFO"), cmd("ROLE"),
			cmd("SENTINEL", "FAILOVER", "mymaster"), cmd("SENTINEL", "SET", "mymaster", "quorum", "1"),
			cmd("SENTINEL", "MASTERS", "extra"), cmd("SENTINEL", "NOSUCH"), cmd("PUBLISH", "__sentinel__:hello", "x"),
			cmd("SUBSCRIBE", "+switch-master"), cmd("CLIENT", "SETNAME", "app1"), cmd("ACL", "LIST")}},
		{name: "events", steps: []step{authStep(0, "events", "evpw"),
			cmd("SUBSCRIBE", "+sdown", "+odown"), cmd("PSUBSCRIBE", "+s*"),
			{args: []string{"SUBSCRIBE", "+switch-master", "+sdown"}, replies: 2}, cmd("UNSUBSCRIBE", "+sdown"),
			cmd("UNSUBSCRIBE", "+switch-master")}},
		{name: "admin-users", steps: []step{authStep(0, "admin", "adminpw"), cmd("ACL", "WHOAMI"), cmd("ACL", "USERS"),
			cmd("ACL", "SETUSER", "compat-user", "on", ">pw", "+@all", "-@dangerous", "&chan*"),
			cmd("ACL", "GETUSER", "compat-user"), cmd("ACL", "DRYRUN", "compat-user", "sentinel", "failover", "mymaster"),
			cmd("ACL", "DRYRUN", "compat-user", "sentinel", "masters"), cmd("ACL", "DRYRUN", "compat-user", "publish", "x", "y"),
			cmd("ACL", "DRYRUN", "app", "info"), authStep(1, "compat-user", "pw"), {conn: 1, args: []string{"SENTINEL", "RESET", "*"}},
			{conn: 1, args: []string{"ACL", "WHOAMI"}},
			cmd("ACL", "SETUSER", "compat-user", "off"), cmd("ACL", "DELUSER", "compat-user", "nosuch"),
			cmd("ACL", "SETUSER", "compat-user", "bogus"), cmd("ACL", "GETUSER", "compat-user"),
			cmd("CLIENT", "KILL", "USER", "nosuch"), cmd("ACL", "DELUSER", "default"), cmd("ACL", "SAVE"), cmd("ACL", "LOAD")}},
	}
	for i := range cases {
		cases[i].protos = []int{2}
	}
	return cases
}

// TestACL runs aclCases against redis-sentinel and an agent with the same
// users, then checks the peers (redis-sentinel and two agents) authenticate
// to each other as the sentinel-user: each sees the others, over
// connections whose user is peer.
func TestACL(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	lines := append(sentinelLines("mymaster", master, 2), aclUserLines...)
	// The agents admit the redis-sentinel peer at its listed address, by
	// its SENTINEL MYID (Security model in the README).
	rsID := strings.Repeat("6", 39) + "e"
	rs := redistest.StartSentinel(t, append(slices.Clone(lines), "sentinel myid "+rsID)...)
	lines = append(lines, fmt.Sprintf("sentinel known-sentinel mymaster 127.0.0.1 %d %s", rs.Port, rsID))
	a := startAgent(t, lines...)
	for _, c := range aclCases() {
		t.Run(c.name, func(t *testing.T) { c.check(t, rs.Addr(), a.Addr()) })
	}

	py := "/usr/bin/python3" // Debian's, where python3-redis installs
	if exec.Command(py, "-c", "import redis.sentinel").Run() != nil {
		need(t, false, "redis-py (Debian package python3-redis)")
	}
	want := runScript(t, 30*time.Second, nil, py, "testdata/redispy_acl.py", rs.Addr(), "mymaster")
	got := runScript(t, 30*time.Second, nil, py, "testdata/redispy_acl.py", a.Addr(), "mymaster")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("redis-py logged in as app:\n vipsentinel    %v\n redis-sentinel %v", got, want)
	}

	checkUsernameClients(t, rs.Addr(), a.Addr())

	// A second agent: agents authenticate to each other as peer too.
	b := startAgent(t, lines...)
	for _, addr := range []string{rs.Addr(), a.Addr(), b.Addr()} {
		testenv.Eventually(t, 30*time.Second, addr+" to see the other sentinels, authenticated as peer", func() error {
			if err := masterFieldIs(addr, "num-other-sentinels", "2"); err != nil {
				return err
			}
			cl, err := adminDo(addr, "CLIENT", "LIST")
			if err != nil {
				return err
			}
			if n := strings.Count(cl.str, "user=peer"); n < 2 {
				return fmt.Errorf("%d clients authenticated as peer, want one from each other sentinel at least:\n%s", n, cl.str)
			}
			return nil
		})
	}
}

// adminDo runs one command as the admin user.
func adminDo(addr string, args ...string) (value, error) {
	return asUser(addr, "admin", "adminpw", args...)
}

// masterFieldIs returns nil if SENTINEL MASTER mymaster, asked at addr as
// the admin user, reports field as want, else an error with what it
// reports.
func masterFieldIs(addr, field, want string) error {
	m, err := adminDo(addr, "SENTINEL", "MASTER", "mymaster")
	if err != nil {
		return err
	}
	if v := lookup(&m, field); v == nil || v.str != want {
		return fmt.Errorf("%s %v, want %s", field, v, want)
	}
	return nil
}
