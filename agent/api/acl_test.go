package api

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
)

var helloID = regexp.MustCompile(`\$2\r\nid\r\n:[0-9]+\r\n`)

// normaliseRules replaces HELLO's client id, which differs, and sorts the single-command part of every ACL rule string in
// a raw reply: redis-sentinel emits it in the order of a hash table seeded
// at random on each start, vipsentinel in command order. Sorting keeps
// every length prefix valid.
func normaliseRules(raw string) string {
	raw = helloID.ReplaceAllString(raw, "$$2\r\nid\r\n:N\r\n")
	lines := strings.Split(raw, "\r\n")
	for i, l := range lines {
		if !strings.Contains(l, "@all") {
			continue
		}
		words := strings.Split(l, " ")
		first := -1
		for j, w := range words {
			if (strings.HasPrefix(w, "+") || strings.HasPrefix(w, "-")) && !strings.HasPrefix(w[1:], "@") {
				first = j
				break
			}
		}
		if first < 0 {
			continue
		}
		tail := words[first:]
		sort.SliceStable(tail, func(a, b int) bool { return tail[a][1:] < tail[b][1:] })
		lines[i] = strings.Join(words, " ")
	}
	return strings.Join(lines, "\r\n")
}

// aclRuleCases are ACL SETUSER rule lists whose ACL LIST and ACL GETUSER
// renderings are compared with redis-sentinel 7.0.15's.
var aclRuleCases = [][]string{
	{},
	{"on", ">pw"},
	{"on", "nopass", "+@all", "allkeys", "allchannels"},
	{"+@all", "-@dangerous"},
	{"-@all", "+@pubsub", "+ping"},
	{"+sentinel|get-master-addr-by-name"},
	{"+Sentinel|Masters"},
	{"+sentinel"},
	{"+@read", "+info"},
	{"+@all", "-sentinel", "-ping", "-info", "-role"},
	{"+ping", "+info", "+role", "+client", "+hello", "+auth"},
	{"+@slow"},
	{"-@all", "+@admin"},
	{"allcommands", "-@admin", "+sentinel|masters"},
	{"nocommands", "+@connection"},
	{"+@fast", "-ping"},
	{"+@all", "-sentinel|set", "+sentinel|set"},
	{"-sentinel|masters"},
	{"-@all", "+client", "-client|kill"},
	{"allcommands", "-client"},
	{"+ping|a", "+ping|b"},
	{"+ping|a", "+ping|b", "+ping"},
	{"+@all", "+ping|a"},
	{"+@admin", "-@dangerous", "+@pubsub", "-publish"},
	{"%R", "%RW~x", "%W~y", "%R~y", "~z", "%R~z"},
	{"~a", "allkeys"},
	{"~a", "resetkeys", "~b"},
	{"&a", "&a", "&b*"},
	{"allchannels", "resetchannels", "&c"},
	{"nopass", ">p"},
	{">p", "nopass"},
	{">p", ">q", "<p"},
	{"#" + strings.Repeat("ab", 32), "!" + strings.Repeat("ab", 32)},
	{"skip-sanitize-payload"},
	{"skip-sanitize-payload", "sanitize-payload"},
	{"on", ">x", "+@all", "reset"},
	{"reset", "on"},
	// Refused rules: the user is left unchanged.
	{"#abc"}, {"!" + strings.Repeat("0", 64)}, {"<nope"}, {"+nosuch"}, {"+@nosuch"}, {"%X~a"}, {"%"},
	{"~*", "~x"}, {"&*", "&x"}, {"xyz"}, {"+ping|"}, {"-ping|x"}, {"+sentinel|"}, {"+sentinel|nosuch"},
	{"-sentinel|nosuch"}, {"+ping|x|y"}, {"+sentinel|myid|x"}, {"on", ">pw", "bogus"},
}

// TestACLRulesMatchRedisSentinel applies the same ACL SETUSER sequences to
// a real redis-sentinel and to the API and compares the raw replies of
// SETUSER, LIST and GETUSER (RESP2 and RESP3).
func TestACLRulesMatchRedisSentinel(t *testing.T) {
	real := redistest.StartSentinel(t)
	_, addr := startServer(t, Config{})
	ours, theirs := dialRaw(t, addr), dialRaw(t, real.Addr())
	compare := func(req ...string) {
		t.Helper()
		want := normaliseRules(exchange(t, theirs, cmd(req...)))
		got := normaliseRules(exchange(t, ours, cmd(req...)))
		if got != want {
			t.Errorf("%q:\n ours   %q\n redis  %q", req, got, want)
		}
	}
	for i, rules := range aclRuleCases {
		if i == len(aclRuleCases)/2 {
			compare("HELLO", "3")
		}
		compare("ACL", "DELUSER", "u")
		compare("ACL", "SETUSER", "u", "on", "+ping") // a refused rule must leave this
		compare(append([]string{"ACL", "SETUSER", "u"}, rules...)...)
		compare("ACL", "LIST")
		compare("ACL", "GETUSER", "u")
	}
	for _, req := range [][]string{
		{"ACL", "SETUSER", "a b"}, {"ACL", "SETUSER", ""}, {"ACL", "USERS"}, {"ACL", "DELUSER", "default"},
		{"ACL", "DELUSER", "nope", "u", ""}, {"ACL", "GETUSER", "nope"}, {"ACL", "SAVE"}, {"ACL", "LOAD"},
		{"ACL", "DRYRUN", "nope", "ping"},
	} {
		compare(req...)
	}
}

// aclUsers are user lines loaded by both servers in the permission tests.
var aclUsers = [][]string{
	{"admin", "on", ">adminpw", "+@all", "allchannels"},
	{"reader", "on", ">readpw", "-@all", "+sentinel|get-master-addr-by-name", "+sentinel|masters", "+ping", "+acl|whoami"},
	{"sub", "on", "nopass", "+@all", "-@dangerous", "&__sentinel__:*", "&chan*"},
	{"disabled", "off", ">x", "+@all"},
	{"peer", "on", ">peerpw", "allchannels", "+@all"},
}

func userLines(users [][]string) []string {
	var out []string
	for _, u := range users {
		out = append(out, "user "+strings.Join(u, " "))
	}
	return out
}

// TestACLPermissionsMatchRedisSentinel runs the same sessions, as several
// users, on a real redis-sentinel and on the API: authentication, denials
// (-NOPERM), channel permissions, DRYRUN and user management.
func TestACLPermissionsMatchRedisSentinel(t *testing.T) {
	conf := append([]string{"requirepass defpw", "sentinel monitor mymaster 127.0.0.1 1 2"}, userLines(aclUsers)...)
	real := redistest.StartSentinel(t, conf...)
	_, addr := startServer(t, Config{RequirePass: "defpw", Users: aclUsers})
	sessions := [][][]string{
		{{"PING"}, {"AUTH", "reader", "nope"}, {"AUTH", "nobody", "x"}, {"AUTH", "disabled", "x"},
			{"AUTH", "reader", "readpw"}, {"ACL", "WHOAMI"}, {"PING"}, {"INFO"}, {"SENTINEL", "myid"},
			{"SENTINEL", "failover", "mymaster"}, {"SENTINEL", "get-master-addr-by-name", "nope"},
			{"SENTINEL", "masters", "extra"}, {"SENTINEL", "nosuch"}, {"SUBSCRIBE", "x"}, {"PUBLISH", "x", "y"},
			{"ACL", "LIST"}, {"CLIENT", "ID"}, {"HELLO", "2"}, {"AUTH", "admin", "adminpw"}, {"ACL", "WHOAMI"}},
		{{"HELLO", "3", "AUTH", "sub", "anything"}, {"ACL", "WHOAMI"}, {"SUBSCRIBE", "foo"}, {"SUBSCRIBE", "chan1", "foo"},
			{"PSUBSCRIBE", "ch*"}, {"PSUBSCRIBE", "chan*"}, {"PUBLISH", "foo", "x"}, {"PUBLISH", "chanx", "x"},
			{"PUNSUBSCRIBE"}, {"UNSUBSCRIBE"}, {"ACL", "LOG", "RESET"}, {"SHUTDOWN"}},
		{{"AUTH", "defpw"}, {"ACL", "WHOAMI"}, {"ACL", "USERS"}, {"ACL", "LIST"},
			{"ACL", "DRYRUN", "reader", "info"}, {"ACL", "DRYRUN", "reader", "sentinel", "masters"},
			{"ACL", "DRYRUN", "reader", "sentinel", "nosuch"}, {"ACL", "DRYRUN", "sub", "publish", "foo", "x"},
			{"ACL", "DRYRUN", "sub", "subscribe", "chan1", "bar"}, {"ACL", "DRYRUN", "sub", "psubscribe", "chan*"},
			{"ACL", "DRYRUN", "sub", "ping", "x", "y"}, {"ACL", "DRYRUN", "admin", "nosuch"},
			{"CLIENT", "KILL", "USER", "nosuch"}, {"CLIENT", "KILL", "USER", "reader"},
			{"ACL", "SETUSER", "reader", "+info"}, {"ACL", "DRYRUN", "reader", "info"}},
		{{"AUTH", "peer", "peerpw"}, {"PUBLISH", "__sentinel__:hello", "x"}, {"SENTINEL", "is-master-down-by-addr", "127.0.0.1", "1", "0", "*"}},
	}
	for i, s := range sessions {
		ours, theirs := dialRaw(t, addr), dialRaw(t, real.Addr())
		for _, req := range s {
			want := normaliseRules(exchange(t, theirs, cmd(req...)))
			got := normaliseRules(exchange(t, ours, cmd(req...)))
			if req[0] == "SENTINEL" && len(req) > 1 && req[1] == "is-master-down-by-addr" {
				// The answer depends on what each monitors; the
				// permission is what is compared.
				if strings.HasPrefix(want, "-NOPERM") != strings.HasPrefix(got, "-NOPERM") {
					t.Errorf("session %d, %q:\n ours   %q\n redis  %q", i, req, got, want)
				}
				continue
			}
			if got != want {
				t.Errorf("session %d, %q:\n ours   %q\n redis  %q", i, req, got, want)
			}
		}
	}
}

// TestACLDefaultOff: with "user default off" and named users, nothing is
// open to a client that has not authenticated, as in redis-sentinel.
func TestACLDefaultOff(t *testing.T) {
	users := [][]string{{"default", "off"}, {"admin", "on", ">pw", "+@all", "allchannels"}}
	real := redistest.StartSentinel(t, userLines(users)...)
	_, addr := startServer(t, Config{Users: users})
	reqs := [][]string{{"PING"}, {"SENTINEL", "masters"}, {"SUBSCRIBE", "x"}, {"ACL", "WHOAMI"}, {"HELLO", "3"},
		{"AUTH", "x"}, {"AUTH", "default", "x"}, {"HELLO", "2", "AUTH", "default", ""}, {"AUTH", "admin", "pw"}, {"PING"}, {"ACL", "WHOAMI"}}
	ours, theirs := dialRaw(t, addr), dialRaw(t, real.Addr())
	for _, req := range reqs {
		want, got := exchange(t, theirs, cmd(req...)), exchange(t, ours, cmd(req...))
		if got != want {
			t.Errorf("%q:\n ours   %q\n redis  %q", req, got, want)
		}
	}
}

// TestACLLogDenials checks what a denial leaves in ACL LOG.
func TestACLLogDenials(t *testing.T) {
	s, addr := startServer(t, Config{Users: aclUsers})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("AUTH", "reader", "readpw"), "+OK\r\n")
	r.roundTrip(cmd("INFO"), "-NOPERM this user has no permissions to run the 'info' command\r\n")
	r.roundTrip(cmd("SENTINEL", "failover", "m"), "-NOPERM this user has no permissions to run the 'sentinel|failover' command\r\n")
	r.roundTrip(cmd("AUTH", "sub", "x"), "+OK\r\n")
	r.roundTrip(cmd("SUBSCRIBE", "chan1", "nope"), "-NOPERM this user has no permissions to access one of the channels used as arguments\r\n")
	type entry struct{ reason, object, user string }
	var got []entry
	for _, e := range s.aclLog.list(10) {
		got = append(got, entry{e.reason, e.object, e.username})
		if !strings.Contains(e.client, " user=") {
			t.Errorf("client info %q", e.client)
		}
	}
	want := []entry{{"channel", "nope", "sub"}, {"command", "sentinel|failover", "reader"}, {"command", "info", "reader"}}
	if len(got) != len(want) {
		t.Fatalf("log %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// TestACLClients: go-redis (Username) and redis-cli (--user) log in as a
// named user; a wrong password and a denied command fail as in Redis.
func TestACLClients(t *testing.T) {
	_, addr := startServer(t, Config{Users: [][]string{{"default", "off"}, aclUsers[0], aclUsers[1]}})
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr, Username: "reader", Password: "readpw", Protocol: 3})
	defer c.Close()
	if got, err := c.Do(ctx, "ACL", "WHOAMI").Text(); err != nil || got != "reader" {
		t.Fatalf("go-redis ACL WHOAMI = %q, %v", got, err)
	}
	if err := c.Do(ctx, "INFO").Err(); err == nil || err.Error() != "NOPERM this user has no permissions to run the 'info' command" {
		t.Fatalf("go-redis INFO: %v", err)
	}
	bad := redis.NewClient(&redis.Options{Addr: addr, Username: "reader", Password: "no"})
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("go-redis with a wrong password: %v", err)
	}
	anon := redis.NewClient(&redis.Options{Addr: addr})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("anonymous go-redis with default off: %v", err)
	}

	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatalf("redis-cli not installed: %v", err)
	}
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", "-h", host, "-p", port, "--user", "admin", "--pass", "adminpw", "--no-auth-warning", "ACL", "WHOAMI").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "admin" {
		t.Fatalf("redis-cli --user admin: %q, %v", out, err)
	}
}

// TestACLFile: users come from the aclfile, ACL SAVE writes it atomically
// and ACL LOAD reads it back, all or nothing, disconnecting the clients of
// the users it replaces.
func TestACLFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.acl")
	if err := os.WriteFile(file, []byte("user admin on >pw +@all\n\nuser peer on nopass +ping\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Backend: &testBackend{}, ACLFile: file, Users: aclUsers}); err == nil {
		t.Fatal("user lines and an aclfile together were accepted")
	}
	_, addr := startServer(t, Config{ACLFile: file, RequirePass: "ignored"})
	r := dialRaw(t, addr)
	// Without a default user in the file, default is Redis's initial one.
	r.roundTrip(cmd("ACL", "LIST"), "*3\r\n$99\r\nuser admin on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 resetchannels +@all\r\n"+
		"$34\r\nuser default on nopass ~* &* +@all\r\n$45\r\nuser peer on nopass resetchannels -@all +ping\r\n")
	r.roundTrip(cmd("ACL", "SETUSER", "carol", "on", "&x"), "+OK\r\n")
	r.roundTrip(cmd("ACL", "SAVE"), "+OK\r\n")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := "user admin on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 resetchannels +@all\n" +
		"user carol on resetchannels &x -@all\nuser default on nopass ~* &* +@all\nuser peer on nopass resetchannels -@all +ping\n"
	if string(data) != want {
		t.Fatalf("saved\n%s\nwant\n%s", data, want)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	peer := dialRaw(t, addr)
	peer.roundTrip(cmd("AUTH", "peer", "x"), "+OK\r\n")

	bad := "user admin on >pw +@all\nuser x +nosuch\nfoo bar\nuser admin\n"
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	msg := "-ERR " + file + ":2: Error in applying operation '+nosuch': Unknown command or category name in ACL. " +
		file + ":3 should start with user keyword followed by the username. WARNING: Duplicate user 'admin' found on line 4. " +
		"WARNING: ACL errors detected, no change to the previously active ACL rules was performed\r\n"
	r.roundTrip(cmd("ACL", "LOAD"), msg)
	peer.roundTrip(cmd("PING"), "+PONG\r\n")

	if err := os.WriteFile(file, []byte("user default on >d +@all\nuser admin on >pw +@all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.roundTrip(cmd("ACL", "LOAD"), "+OK\r\n")
	r.roundTrip(cmd("ACL", "USERS"), "*2\r\n$5\r\nadmin\r\n$7\r\ndefault\r\n")
	peer.expectClosed()
}

// TestACLLoadMatchesRedisSentinel compares ACL LOAD's error, naming the
// file, with redis-sentinel's.
func TestACLLoadMatchesRedisSentinel(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.acl")
	if err := os.WriteFile(file, []byte("user admin on nopass +@all\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	real := redistest.StartSentinel(t, "aclfile "+file)
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(real.Dir, "redis.log"))
			t.Logf("redis-sentinel log:\n%s", log)
		}
	})
	_, addr := startServer(t, Config{ACLFile: file})
	ours, theirs := dialRaw(t, addr), dialRaw(t, real.Addr())
	// redis-sentinel accepts connections before it has read its aclfile:
	// a reply shows it has.
	if got := exchange(t, theirs, cmd("PING")); got != "+PONG\r\n" {
		t.Fatalf("redis-sentinel PING: %q", got)
	}
	for _, content := range []string{
		"user admin on nopass +@all\nuser x +nosuch &a ~b\nfoo bar\nuser admin\n\nuser\nuser y %Q~x\n",
		"user admin on nopass +@all\nuser default off\n",
		"user admin on nopass +@all\nuser q on \">a b\" '>c\\'d' +@all\n",
		"user admin on nopass +@all\nuser q on \">a b\n",
	} {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, req := range [][]string{{"ACL", "LOAD"}, {"ACL", "LIST"}} {
			want := exchange(t, theirs, cmd(req...))
			got := exchange(t, ours, cmd(req...))
			if got != want {
				t.Errorf("%q after loading %q:\n ours   %q\n redis  %q", req, content, got, want)
			}
		}
	}
}

// TestACLRevokedSubscriber: as in redis-sentinel, ACL SETUSER disconnects
// the user's subscribers whose channels it no longer allows, and leaves
// the user's other clients (even when the user is turned off).
func TestACLRevokedSubscriber(t *testing.T) {
	_, addr := startServer(t, Config{Users: [][]string{{"u", "on", "nopass", "+@all", "&a*"}}})
	admin, sub, other := dialRaw(t, addr), dialRaw(t, addr), dialRaw(t, addr)
	sub.roundTrip(cmd("AUTH", "u", "x"), "+OK\r\n")
	sub.roundTrip(cmd("SUBSCRIBE", "ab"), "*3\r\n$9\r\nsubscribe\r\n$2\r\nab\r\n:1\r\n")
	other.roundTrip(cmd("AUTH", "u", "x"), "+OK\r\n")
	admin.roundTrip(cmd("ACL", "SETUSER", "u", "off"), "+OK\r\n")
	other.roundTrip(cmd("PING"), "+PONG\r\n")
	admin.roundTrip(cmd("ACL", "SETUSER", "u", "on", "resetchannels", "&b"), "+OK\r\n")
	sub.expectClosed()
	other.roundTrip(cmd("PING"), "+PONG\r\n")
	admin.roundTrip(cmd("ACL", "DELUSER", "u"), ":1\r\n")
	other.expectClosed()
}

// TestACLUnlisted: QUIT, RESET and CLIENT SETINFO are allowed to every
// user; VIPSENTINEL, which no Redis category holds, needs +@all or
// +vipsentinel.
func TestACLUnlisted(t *testing.T) {
	_, addr := startServer(t, Config{Users: [][]string{
		{"none", "on", "nopass", "-@all"},
		{"admin", "on", "nopass", "-@all", "+@admin"},
		{"status", "on", "nopass", "-@all", "+vipsentinel"},
	}})
	r := dialRaw(t, addr)
	r.roundTrip(cmd("ACL", "LIST"), "*4\r\n$48\r\nuser admin on nopass resetchannels -@all +@admin\r\n$34\r\nuser default on nopass ~* &* +@all\r\n"+
		"$39\r\nuser none on nopass resetchannels -@all\r\n$54\r\nuser status on nopass resetchannels -@all +vipsentinel\r\n")
	for _, tt := range []struct{ user, want string }{
		{"none", "-NOPERM this user has no permissions to run the 'vipsentinel|status' command\r\n"},
		{"admin", "-NOPERM this user has no permissions to run the 'vipsentinel|status' command\r\n"},
	} {
		c := dialRaw(t, addr)
		c.roundTrip(cmd("AUTH", tt.user, "x"), "+OK\r\n")
		c.roundTrip(cmd("CLIENT", "SETINFO", "LIB-NAME", "x"), "+OK\r\n")
		c.roundTrip(cmd("VIPSENTINEL", "STATUS"), tt.want)
		c.roundTrip(cmd("RESET"), "+RESET\r\n")
	}
	c := dialRaw(t, addr)
	c.roundTrip(cmd("AUTH", "status", "x"), "+OK\r\n")
	if _, err := io.WriteString(c.c, cmd("VIPSENTINEL", "STATUS")); err != nil {
		t.Fatal(err)
	}
	line, err := c.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "$") {
		t.Fatalf("VIPSENTINEL STATUS as +vipsentinel: %q, %v", line, err)
	}
}

// TestACLPubsubDefault: with acl-pubsub-default allchannels, users start
// with every channel, as in redis-sentinel.
func TestACLPubsubDefault(t *testing.T) {
	users := [][]string{{"a", "on", "nopass", "+@all"}, {"b", "on", "resetchannels", "&x", "reset"}, {"e", "on", "resetchannels", "&x"}}
	real := redistest.StartSentinel(t, append([]string{"acl-pubsub-default allchannels"}, userLines(users)...)...)
	_, addr := startServer(t, Config{Users: users, ACLPubsubAllChannels: true})
	ours, theirs := dialRaw(t, addr), dialRaw(t, real.Addr())
	for _, req := range [][]string{{"ACL", "SETUSER", "c"}, {"ACL", "SETUSER", "d", "resetchannels", "&y", "reset"}, {"ACL", "LIST"}} {
		want, got := exchange(t, theirs, cmd(req...)), exchange(t, ours, cmd(req...))
		if got != want {
			t.Errorf("%q:\n ours   %q\n redis  %q", req, got, want)
		}
	}
}
