package api

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// remoteListener makes every accepted connection appear to come from
// remote: protected mode is decided on the client's address, and tests may
// only use loopback and 198.18.0.0/15.
type remoteListener struct {
	net.Listener
	remote net.Addr
}

type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }

func (l remoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c, l.remote}, nil
}

// startServerFrom runs a Server whose clients appear to connect from
// remote (nil: their real loopback address).
func startServerFrom(t testing.TB, cfg Config, remote net.Addr) (*Server, string) {
	t.Helper()
	if remote == nil {
		return serveOn(t, cfg, nil)
	}
	return serveOn(t, cfg, func(ln net.Listener) net.Listener { return remoteListener{ln, remote} })
}

func tcpAddr(s string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		panic(err)
	}
	return a
}

// TestProtectedMode: with protected mode and no password, only loopback
// clients are served; others get -DENIED and are disconnected. A password,
// or protected mode off, serves everyone (with AUTH for the former).
func TestProtectedMode(t *testing.T) {
	remote := tcpAddr("198.18.0.5:40000")
	tests := []struct {
		name      string
		cfg       Config
		from      net.Addr
		req, want string
		closed    bool
	}{
		// Refused at once, as Redis does, before any request (one sent
		// and left unread would make the close a reset).
		{"remote refused", Config{ProtectedMode: true}, remote, "", "-DENIED vipsentinel is running in protected mode", true},
		{"remote IPv6 refused", Config{ProtectedMode: true}, tcpAddr("[fd00::5]:40000"), "", "-DENIED ", true},
		{"loopback served", Config{ProtectedMode: true}, nil, cmd("PING"), "+PONG\r\n", false},
		{"IPv6 loopback served", Config{ProtectedMode: true}, tcpAddr("[::1]:40000"), cmd("PING"), "+PONG\r\n", false},
		{"mapped loopback served", Config{ProtectedMode: true}, tcpAddr("[::ffff:127.0.0.1]:40000"), cmd("PING"), "+PONG\r\n", false},
		{"127/8 served", Config{ProtectedMode: true}, tcpAddr("127.1.2.3:40000"), cmd("PING"), "+PONG\r\n", false},
		{"password: remote must AUTH", Config{ProtectedMode: true, RequirePass: "pw"}, remote, cmd("PING"), "-NOAUTH Authentication required.\r\n", false},
		{"protected-mode no: remote served", Config{}, remote, cmd("PING"), "+PONG\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, addr := startServerFrom(t, tt.cfg, tt.from)
			r := dialRaw(t, addr)
			if _, err := io.WriteString(r.c, tt.req); err != nil {
				t.Fatal(err)
			}
			_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := r.br.ReadString('\n')
			if err != nil || !strings.HasPrefix(line, tt.want) {
				t.Fatalf("reply %q (%v), want one starting %q", line, err, tt.want)
			}
			if tt.closed {
				r.expectClosed()
				if n := s.stats.denied.Load(); n != 1 {
					t.Errorf("denied %d, want 1", n)
				}
			}
		})
	}
}

// TestMaxClientsAllAuthenticated: with every slot held by an authenticated
// client, a new connection is refused with Redis's error.
func TestMaxClientsAllAuthenticated(t *testing.T) {
	_, addr := startServer(t, Config{RequirePass: "pw", MaxClients: 3})
	for range 3 {
		dialRaw(t, addr).roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	}
	r := dialRaw(t, addr)
	r.expect("-ERR max number of clients reached\r\n")
	r.expectClosed()
}

// TestUnauthenticatedBudget: unauthenticated connections never hold more
// than MaxUnauthenticated slots, a new one closes the oldest, and a client
// that knows the password always gets in, even when anonymous connections
// fill maxclients.
func TestUnauthenticatedBudget(t *testing.T) {
	s, addr := startServer(t, Config{RequirePass: "pw", MaxClients: 6, MaxUnauthenticated: 3})
	authed := dialRaw(t, addr)
	authed.roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	var anon []*rawConn
	for range 10 {
		r := dialRaw(t, addr)
		r.roundTrip(cmd("PING"), "-NOAUTH Authentication required.\r\n")
		anon = append(anon, r)
	}
	// The newest three are served; the seven before were closed, oldest
	// first.
	for _, r := range anon[:7] {
		r.expectClosed()
	}
	for _, r := range anon[7:] {
		r.roundTrip(cmd("PING"), "-NOAUTH Authentication required.\r\n")
	}
	if n := s.stats.evicted.Load(); n != 7 {
		t.Errorf("evicted %d, want 7", n)
	}
	// Fill maxclients: 1 + 2 more authenticated + 3 anonymous.
	for range 2 {
		dialRaw(t, addr).roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	}
	// Another agent connects: it takes the oldest anonymous slot and
	// authenticates.
	peer := dialRaw(t, addr)
	peer.roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	peer.roundTrip(cmd("SENTINEL", "get-master-addr-by-name", "mymaster"), "*2\r\n$10\r\n198.18.0.1\r\n$4\r\n6379\r\n")
	anon[7].expectClosed()
	authed.roundTrip(cmd("PING"), "+PONG\r\n")
	s.mu.Lock()
	n, u := len(s.clients), s.unauth.l.Len()
	s.mu.Unlock()
	if n != 6 || u != 2 {
		t.Errorf("%d clients, %d unauthenticated; want 6, 2", n, u)
	}
}

// TestAuthTimeout: a client that does not authenticate in time is closed,
// whether it is silent or sending a request slowly; RESET starts the clock
// again; an authenticated client is not affected.
func TestAuthTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s, addr := startServer(t, Config{RequirePass: "pw", AuthTimeout: timeout})
	silent := dialRaw(t, addr)
	slow := dialRaw(t, addr)
	if _, err := io.WriteString(slow.c, "*2\r\n$4\r\nAUTH\r\n$2\r\np"); err != nil {
		t.Fatal(err)
	}
	authed := dialRaw(t, addr)
	authed.roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	reset := dialRaw(t, addr)
	reset.roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	// RESET before AUTH does not restart the clock.
	resetter := dialRaw(t, addr)
	start := time.Now()
	for time.Since(start) < timeout*3/4 {
		resetter.roundTrip(cmd("RESET"), "+RESET\r\n")
		time.Sleep(timeout / 6)
	}
	resetter.expectClosed()
	silent.expectClosed()
	slow.expectClosed()
	if d := time.Since(start); d < timeout/2 {
		t.Errorf("closed after %v, before the %v deadline", d, timeout)
	}
	authed.roundTrip(cmd("PING"), "+PONG\r\n")
	reset.roundTrip(cmd("RESET"), "+RESET\r\n")
	reset.expectClosed()
	if n := s.stats.authTimeouts.Load(); n != 4 {
		t.Errorf("auth timeouts %d, want 4", n)
	}
	authed.roundTrip(cmd("PING"), "+PONG\r\n")
}

// TestIdleTimeout: Redis's timeout closes idle clients, but not subscribed
// ones; timeout 0 (the default) never does.
func TestIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	_, addr := startServer(t, Config{IdleTimeout: idle})
	quiet := dialRaw(t, addr)
	quiet.roundTrip(cmd("PING"), "+PONG\r\n")
	sub := dialRaw(t, addr)
	sub.roundTrip(cmd("SUBSCRIBE", "+sdown"), "*3\r\n$9\r\nsubscribe\r\n$6\r\n+sdown\r\n:1\r\n")
	busy := dialRaw(t, addr)
	stop := time.Now().Add(3 * idle)
	for time.Now().Before(stop) {
		busy.roundTrip(cmd("PING"), "+PONG\r\n")
		time.Sleep(idle / 4)
	}
	quiet.expectClosed()
	sub.roundTrip(cmd("PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n")

	_, addr = startServer(t, Config{})
	never := dialRaw(t, addr)
	time.Sleep(2 * idle)
	never.roundTrip(cmd("PING"), "+PONG\r\n")
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.n[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[msg]
}

// TestAuthFloodLogsBounded: 20,000 failed AUTHs and 500 protocol errors
// make at most one log line of each kind per second (plus one), all failures
// are still counted and in the ACL log's counter, and a client with the
// password is served throughout.
func TestAuthFloodLogsBounded(t *testing.T) {
	h := &countingHandler{n: map[string]int{}}
	s, addr := startServer(t, Config{RequirePass: "pw", Logger: slog.New(h)})
	start := time.Now()
	const conns, perConn = 20, 1000
	var wg sync.WaitGroup
	var failed atomic.Value
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				failed.Store(err.Error())
				return
			}
			defer c.Close()
			go func() {
				req := strings.Repeat(cmd("AUTH", "guess"), perConn)
				_, _ = io.WriteString(c, req)
			}()
			br := bufio.NewReader(c)
			for range perConn {
				line, err := br.ReadString('\n')
				if err != nil || !strings.HasPrefix(line, "-WRONGPASS") {
					failed.Store(line + " " + errString(err))
					return
				}
			}
		}()
	}
	for range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = io.WriteString(c, "*1\r\n$x\r\n")
			_, _ = io.Copy(io.Discard, c)
		}()
	}
	ok := dialRaw(t, addr)
	ok.roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	ok.roundTrip(cmd("PING"), "+PONG\r\n")
	wg.Wait()
	if f := failed.Load(); f != nil {
		t.Fatal(f)
	}
	elapsed := time.Since(start)
	if n := s.stats.authFail.Load(); n != conns*perConn {
		t.Errorf("auth failures counted %d, want %d", n, conns*perConn)
	}
	limit := int(elapsed/logInterval) + 1
	auth, proto := h.count("client authentication failed"), h.count("protocol error from client")
	t.Logf("%d failed AUTHs and 500 protocol errors in %v: %d and %d log lines", conns*perConn, elapsed.Round(time.Millisecond), auth, proto)
	if auth < 1 || auth > limit || proto < 1 || proto > limit {
		t.Errorf("log lines: %d auth, %d protocol, want 1..%d each", auth, proto, limit)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestPanicInCommandClosesOnlyThatClient: a panic while serving one client
// is recovered: that client is closed, the others are served.
func TestPanicInCommandClosesOnlyThatClient(t *testing.T) {
	s, addr := startServer(t, Config{Backend: panicBackend{&testBackend{}}})
	other := dialRaw(t, addr)
	other.roundTrip(cmd("PING"), "+PONG\r\n")
	bad := dialRaw(t, addr)
	if _, err := io.WriteString(bad.c, cmd("SENTINEL", "MASTERS")); err != nil {
		t.Fatal(err)
	}
	bad.expectClosed()
	other.roundTrip(cmd("PING"), "+PONG\r\n")
	if n := s.stats.panics.Load(); n != 1 {
		t.Errorf("panics %d, want 1", n)
	}
}

type panicBackend struct{ *testBackend }

func (panicBackend) Masters(context.Context) ([][]KV, error) { panic("hostile input") }

// TestConfigGetHidesSecrets: without requirepass nobody authenticated, so
// SENTINEL CONFIG GET masks sentinel-pass (redis-sentinel shows it); with
// requirepass, authenticated clients see it, as in Redis.
func TestConfigGetHidesSecrets(t *testing.T) {
	for _, tt := range []struct {
		pass, want string
	}{{"", "******"}, {"pw", "peer-secret"}} {
		_, addr := startServer(t, Config{RequirePass: tt.pass, Backend: secretBackend{&testBackend{}}})
		r := dialRaw(t, addr)
		if tt.pass != "" {
			r.roundTrip(cmd("AUTH", tt.pass), "+OK\r\n")
		}
		r.roundTrip(cmd("SENTINEL", "CONFIG", "GET", "*"),
			"*4\r\n$17\r\nresolve-hostnames\r\n$2\r\nno\r\n$13\r\nsentinel-pass\r\n$"+strconv.Itoa(len(tt.want))+"\r\n"+tt.want+"\r\n")
	}
}

type secretBackend struct{ *testBackend }

func (secretBackend) ConfigGet(context.Context, []string) ([]KV, error) {
	return kvs("resolve-hostnames", "no", "sentinel-pass", "peer-secret"), nil
}

// heapInUse returns the heap and goroutine stacks in use after a GC.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// TestHalfSentRequestsBounded: 300 unauthenticated connections, each with a
// request sent and never finished, hold a bounded amount of memory: one
// that stays within the pre-AUTH cap (4 KiB) is held with a few KiB; one as
// large as Redis's limits allow (10 arguments of 16 KiB: what the server
// used to accept, 48 MiB and more for 300) is refused and closed.
func TestHalfSentRequestsBounded(t *testing.T) {
	const n = 300
	redisMax := "*10\r\n" + strings.Repeat("$16384\r\n"+strings.Repeat("p", 16384)+"\r\n", 9) + "$16384\r\n" + strings.Repeat("p", 16000)
	for _, tt := range []struct {
		name, half string
	}{
		{"at the pre-AUTH cap", "*2\r\n$4\r\nAUTH\r\n$4000\r\n" + strings.Repeat("p", 3990)},
		{"at Redis's limits", redisMax},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, addr := startServer(t, Config{RequirePass: "pw"})
			before := heapInUse()
			for range n {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				// The server may close before reading it all.
				go func() { _, _ = io.WriteString(c, tt.half) }()
			}
			testenv.Until(t, 10*time.Second, "the requests to be read or refused", func() bool {
				s.mu.Lock()
				k := len(s.clients)
				s.mu.Unlock()
				return s.stats.netIn.Load() >= int64(n*len(tt.half)) || s.stats.connections.Load() == n && k == 0
			})
			used := int64(heapInUse()) - int64(before)
			per := used / n
			s.mu.Lock()
			held := len(s.clients)
			s.mu.Unlock()
			t.Logf("%d half-sent unauthenticated requests of %d bytes: %d held, %d KiB in all (server and client side), %d KiB per connection",
				n, len(tt.half), held, used>>10, per>>10)
			// Per connection: the 4 KiB read buffer, up to 4 KiB of
			// arguments, two goroutine stacks, the client; 48 KiB leaves
			// room for the stacks' growth and is under a third of what
			// Redis's limits allowed.
			if per > 48<<10 {
				t.Errorf("%d bytes per half-sent connection, want at most 48 KiB", per)
			}
		})
	}
}

// TestManyIdleUnauthenticated: 10,000 anonymous connections opened against
// a server with the default limits leave at most MaxUnauthenticated (1024)
// held by the server, with bounded memory, and a client with the password
// still connects and is served.
func TestManyIdleUnauthenticated(t *testing.T) {
	const n = 10000
	raiseNoFile(t, 2*n)
	s, addr := startServer(t, Config{RequirePass: "pw"})
	before := heapInUse()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	testenv.Until(t, 10*time.Second, "all connections accepted", func() bool { return s.stats.connections.Load() == n })
	s.mu.Lock()
	held, unauth := len(s.clients), s.unauth.l.Len()
	s.mu.Unlock()
	used := heapInUse() - before
	t.Logf("%d idle unauthenticated connections: server holds %d; heap+stacks grew %d KiB (client side included)", n, held, used>>10)
	if held > 1024 || unauth > 1024 {
		t.Errorf("server holds %d clients, %d unauthenticated; want at most 1024", held, unauth)
	}
	if used > 64<<20 {
		t.Errorf("memory grew by %d MiB, want at most 64", used>>20)
	}
	r := dialRaw(t, addr)
	r.roundTrip(cmd("AUTH", "pw"), "+OK\r\n")
	r.roundTrip(cmd("SENTINEL", "get-master-addr-by-name", "mymaster"), "*2\r\n$10\r\n198.18.0.1\r\n$4\r\n6379\r\n")
}

// raiseNoFile raises the soft limit on open files to at least n (within
// the hard limit), for the test's duration.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	old := lim
	lim.Cur = min(n, lim.Max)
	if lim.Cur < n {
		t.Fatalf("RLIMIT_NOFILE hard limit %d is below the %d the test needs", lim.Max, n)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}
