package redisrule

import (
	"bufio"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
)

// splitTests is checked by TestSplitArgs and, for every line an inline
// request can carry (no \n, NUL or trailing \r), against redis-server by
// TestSplitArgsRedis.
var splitTests = []struct {
	in   string
	want []string
	err  error
}{
	{"", nil, nil},
	{"   \t ", nil, nil},
	{"port 26379", []string{"port", "26379"}, nil},
	{"  a\tb   c  ", []string{"a", "b", "c"}, nil},
	{`a "b c" d`, []string{"a", "b c", "d"}, nil},
	{`""`, []string{""}, nil},
	{`''`, []string{""}, nil},
	{`a "" b`, []string{"a", "", "b"}, nil},
	{`"\n\r\t\b\a"`, []string{"\n\r\t\b\a"}, nil},
	{`"\\ \" \q"`, []string{`\ " q`}, nil},
	{`"\x41\x7a\xff\x00"`, []string{"Az\xff\x00"}, nil},
	{`"\x4"`, []string{"x4"}, nil},    // not two hex digits: \x is x
	{`"\xzz"`, []string{"xzz"}, nil},  // same
	{`'a\'b'`, []string{"a'b"}, nil},  // the only escape in single quotes
	{`'a\nb'`, []string{`a\nb`}, nil}, // literal
	{`'a"b'`, []string{`a"b`}, nil},   // literal
	{`"a'b"`, []string{`a'b`}, nil},   // literal
	{`a"b c"`, []string{"ab c"}, nil}, // a quote opens mid-argument
	{`ECHO a"b c"`, []string{"ECHO", "ab c"}, nil},
	{`a'b c' d`, []string{"ab c", "d"}, nil},
	{`a"b"'c'`, nil, ErrAfterQuote},
	{`plain\x41`, []string{`plain\x41`}, nil}, // no escapes outside quotes
	{"#notacomment here", []string{"#notacomment", "here"}, nil},
	{"a\vb\fc", []string{"a\vb\fc"}, nil},    // \v and \f do not end an argument
	{"\va \fb\v", []string{"a", "b\v"}, nil}, // but are skipped before one
	{"a\rb", []string{"a", "b"}, nil},
	{`"abc"` + "\v" + `d`, []string{"abc", "d"}, nil},
	{`"abc`, nil, ErrUnbalanced},
	{`'abc`, nil, ErrUnbalanced},
	{`a "b`, nil, ErrUnbalanced},
	{`s3cr"et`, nil, ErrUnbalanced}, // what Redis 7.0 writes for a password containing a quote
	{`"abc"d`, nil, ErrAfterQuote},
	{`'abc'd`, nil, ErrAfterQuote},
	{`"ab\"`, nil, ErrUnbalanced},
	{`"ab\`, nil, ErrUnbalanced},
	// Redis reads C strings: NUL ends the line outside quotes.
	{"a b\x00c d", []string{"a", "b"}, nil},
	{"\"a\x00\"", nil, ErrUnbalanced},
}

func TestSplitArgs(t *testing.T) {
	for _, tt := range splitTests {
		got, err := SplitArgs(tt.in)
		if err != tt.err {
			t.Errorf("SplitArgs(%q) error = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("SplitArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
		b, err := SplitArgs([]byte(tt.in))
		if err != tt.err || len(b) != len(got) {
			t.Errorf("SplitArgs([]byte(%q)) = %q, %v; the string form gave %q, %v", tt.in, b, err, got, tt.err)
		}
	}
}

// TestSplitArgsRedis sends each line of splitTests to redis-server as an
// inline "RPUSH key <line>" and reads the list back.
func TestSplitArgsRedis(t *testing.T) {
	srv, rc, ctx := startRedis(t)
	for _, tt := range splitTests {
		if strings.ContainsAny(tt.in, "\n\x00") || strings.HasSuffix(tt.in, "\r") {
			continue // not expressible as one inline request line
		}
		reply := inline(t, srv.Addr(), "RPUSH k "+tt.in)
		switch {
		case tt.err != nil:
			if !strings.Contains(reply, "unbalanced quotes") {
				t.Errorf("%q: redis-server answered %q, the table wants %v", tt.in, reply, tt.err)
			}
		case len(tt.want) == 0:
			if !strings.Contains(reply, "wrong number of arguments") {
				t.Errorf("%q: redis-server answered %q, the table wants no arguments", tt.in, reply)
			}
		default:
			got, err := rc.LRange(ctx, "k", 0, -1).Result()
			if err != nil {
				t.Fatalf("LRANGE: %v (inline reply %q)", err, reply)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q: redis-server read %q, the table wants %q", tt.in, got, tt.want)
			}
			rc.Del(ctx, "k")
		}
	}
}

// inline sends line as an inline request on a new connection and returns the
// first line of the reply.
func inline(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line + "\r\n")); err != nil {
		t.Fatal(err)
	}
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("inline %q: %v", line, err)
	}
	return strings.TrimSpace(reply)
}

// globTests is checked by TestMatch and against redis-server by
// TestMatchRedis: the case-sensitive rows with KEYS, the case-folding rows
// (whose strings are configuration names) with CONFIG GET.
var globTests = []struct {
	pat, s string
	fold   bool
	want   bool
}{
	{"", "", false, true},
	// An empty string matches only an empty pattern (KEYS treats a lone "*"
	// apart, so the row is "**").
	{"**", "", false, false},
	{"", "a", false, false},
	{"**", "abc", false, true},
	{"a*", "a", false, true},
	{"a*c", "abbbc", false, true},
	{"a*c", "abbbd", false, false},
	{"*.*.*", "a.b", false, false},
	{"*a*b*", "xxaxxbxx", false, true},
	{"a?c", "abc", false, true},
	{"a?c", "ac", false, false},
	{"h[ae]llo", "hello", false, true},
	{"h[ae]llo", "hillo", false, false},
	{"h[^e]llo", "hallo", false, true},
	{"h[^e]llo", "hello", false, false},
	{"h[a-b]llo", "hbllo", false, true},
	{"h[b-a]llo", "hbllo", false, true}, // ranges in either order
	{"h[a-b]llo", "hcllo", false, false},
	{`h\*llo`, "h*llo", false, true},
	{`h\*llo`, "hello", false, false},
	{`h[\]]llo`, "h]llo", false, true},
	{`h[\-]llo`, "h-llo", false, true},
	{`ab\`, `ab\`, false, true}, // a lone '\' at the end is itself
	{"[abc", "a", false, true},  // an open class runs to the end
	{"[abc", "d", false, false},
	{"[abc", "[abc", false, false},
	{"[", "[", false, false},
	{"[^", "x", false, true},
	{"[a-]", "b", false, false}, // ']' ends the range a..] and does not close the class
	{"[a-]", "^", false, true},
	{"[a-]x", "ax", false, false},
	{"[]]", "]", false, false},
	{"[]", "x", false, false},
	{"A*", "abc", false, false},
	{"[A-Z]bc", "abc", false, false},
	{"news.*", "news.art", false, true},
	{"news.*", "new", false, false},
	{"MAXMEM*", "maxmemory", true, true},
	{"maxmem*", "maxmemory", true, true},
	{"[M]axmemory", "maxmemory", true, true},
	{`[\M]axmemory`, "maxmemory", true, false}, // an escaped byte in a class compares exactly
	{`\Maxmemory*`, "maxmemory", true, true},
	{"maxmemor[^Y]", "maxmemory", true, false},
	{"[L-N]axmemory", "maxmemory", true, true},
	{"P?rt", "port", true, true},
}

func TestMatch(t *testing.T) {
	for _, tt := range globTests {
		f, name := Match, "Match"
		if tt.fold {
			f, name = MatchFold, "MatchFold"
		}
		if got := f(tt.pat, tt.s); got != tt.want {
			t.Errorf("%s(%q, %q) = %v, want %v", name, tt.pat, tt.s, got, tt.want)
		}
	}
}

func TestMatchManyStars(t *testing.T) {
	s := strings.Repeat("a", 1200)
	if !Match(strings.Repeat("a*", 1000), s) {
		t.Errorf("1000 stars: no match")
	}
	if Match(strings.Repeat("a*", 1001)+"a", s) {
		t.Errorf("1001 stars before the end: match")
	}
	if !Match(strings.Repeat("a*", 1001), s) {
		t.Errorf("1001st star at the end: no match")
	}
}

func TestMatchRedis(t *testing.T) {
	_, rc, ctx := startRedis(t)
	for _, tt := range globTests {
		var got bool
		if tt.fold {
			cfg, err := rc.ConfigGet(ctx, tt.pat).Result()
			if err != nil {
				t.Fatalf("CONFIG GET %q: %v", tt.pat, err)
			}
			_, got = cfg[tt.s]
		} else {
			if err := rc.FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if err := rc.Set(ctx, tt.s, "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			keys, err := rc.Keys(ctx, tt.pat).Result()
			if err != nil {
				t.Fatalf("KEYS %q: %v", tt.pat, err)
			}
			got = slices.Contains(keys, tt.s)
		}
		if got != tt.want {
			t.Errorf("pattern %q, string %q (fold %v): redis-server says %v, the table %v", tt.pat, tt.s, tt.fold, got, tt.want)
		}
	}
	// The star limit.
	s := strings.Repeat("a", 1200)
	rc.FlushDB(ctx)
	rc.Set(ctx, s, "v", 0)
	for _, pat := range []string{strings.Repeat("a*", 1000), strings.Repeat("a*", 1001) + "a", strings.Repeat("a*", 1001)} {
		keys, err := rc.Keys(ctx, pat).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(keys) == 1; got != Match(pat, s) {
			t.Errorf("pattern of %d bytes: redis-server says %v, Match %v", len(pat), got, !got)
		}
	}
}

// TestAddrRedis checks FormatAddr and SplitAddr against the laddr= and
// addr= that redis-server writes in CLIENT INFO, over IPv4 and IPv6.
func TestAddrRedis(t *testing.T) {
	srv := redistest.Start(t, "bind 127.0.0.1 ::1")
	for _, host := range []string{"127.0.0.1", "::1"} {
		addr := FormatAddr(host, srv.Port)
		rc := redis.NewClient(&redis.Options{Addr: addr})
		info, err := rc.ClientInfo(context.Background()).Result()
		rc.Close()
		if err != nil {
			var op *net.OpError
			if host == "::1" && errors.As(err, &op) {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			t.Fatalf("CLIENT INFO over %s: %v", addr, err)
		}
		if info.LAddr != addr {
			t.Errorf("redis-server laddr=%s, FormatAddr %s", info.LAddr, addr)
		}
		h, p, err := SplitAddr(info.Addr)
		if err != nil || h != host || p == 0 || FormatAddr(h, p) != info.Addr {
			t.Errorf("SplitAddr(%q) = %q, %d, %v", info.Addr, h, p, err)
		}
	}
	for _, bad := range []string{"1.2.3.4", "1.2.3.4:x", "1.2.3.4:65536", "::1:80", "1.2.3.4:-1"} {
		if h, p, err := SplitAddr(bad); err == nil {
			t.Errorf("SplitAddr(%q) = %q, %d, want an error", bad, h, p)
		}
	}
}

func TestIsRunID(t *testing.T) {
	_, rc, ctx := startRedis(t)
	info, err := rc.Info(ctx, "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(info, "run_id:")
	id, _, _ := strings.Cut(rest, "\r\n")
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{id, true}, // redis-server's own
		{strings.ToUpper(id), true},
		{strings.Repeat("0", 40), true},
		{strings.Repeat("0", 39), false},
		{strings.Repeat("0", 41), false},
		{strings.Repeat("0", 39) + "g", false},
		{"", false},
	} {
		if got := IsRunID(tt.s); got != tt.want {
			t.Errorf("IsRunID(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// startRedis starts a redis-server for one test and connects a client to it.
func startRedis(t *testing.T) (*redistest.Server, *redis.Client, context.Context) {
	srv := redistest.Start(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { rc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return srv, rc, ctx
}
