package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// ServeForTest runs m on a real listener on 127.0.0.1 and returns its base
// URL. The server is stopped, and Serve's result checked, at the end of the
// test. It is exported for the package's external tests (system_test.go).
func ServeForTest(t testing.TB, m *Metrics) string {
	t.Helper()
	ln, stop := startServing(t, m)
	t.Cleanup(stop)
	return "http://" + ln.Addr().String()
}

// startServing runs m.ServeListener on a new listener on 127.0.0.1 and
// returns the listener and a stop that ends the server and checks it
// returns nil (serveEnded).
func startServing(t testing.TB, m *Metrics) (net.Listener, func()) {
	t.Helper()
	ln := testenv.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.ServeListener(ctx, ln) }()
	return ln, func() {
		t.Helper()
		cancel()
		serveEnded(t, done, "ServeListener")
	}
}

// serveEnded checks the result of a Serve (named what) whose context
// ended: nil, within 10 s.
func serveEnded(t testing.TB, done <-chan error, what string) {
	t.Helper()
	if err := testenv.Receive(t, done, 10*time.Second, what+" return after its context ended"); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func get(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestHTTPMetrics(t *testing.T) {
	m := New(Options{
		Core:      &fakeCore{c: Core{CurrentEpoch: 5, Masters: []Master{{Name: "mymaster", ConfigEpoch: 5}}}},
		VIPs:      fakeVIPs{{Master: "mymaster", Addr: "198.18.0.100", Interface: "eth0", Held: true}},
		Firewall:  &fakeFirewall{Open: true},
		Heartbeat: time.Now,
		Version:   "1.2.3-test",
	})
	m.ObserveEvent(time.Now(), sentinel.Event{Type: "+switch-master", Master: "mymaster"})
	base := ServeForTest(t, m)

	code, body := get(t, "GET", base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	for _, want := range []string{
		"\nvipsentinel_core_up 1\n",
		"\nvipsentinel_current_epoch 5\n",
		`vipsentinel_master_config_epoch{master="mymaster"} 5`,
		`vipsentinel_vip_held{iface="eth0",master="mymaster",vip="198.18.0.100"} 1`,
		"\nvipsentinel_firewall_open 1\n",
		`vipsentinel_events_total{type="+switch-master"} 1`,
		`vipsentinel_build_info{version="1.2.3-test"} 1`,
		"\nvipsentinel_heartbeat_timestamp_seconds ",
		"\ngo_goroutines ",
		"\nprocess_start_time_seconds ",
		"# HELP vipsentinel_tilt ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Scrapes are counted by promhttp itself.
	_, body = get(t, "GET", base+"/metrics")
	if !strings.Contains(body, `promhttp_metric_handler_requests_total{code="200"} 1`) {
		t.Error("the first scrape was not counted")
	}

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/metrics", http.StatusMethodNotAllowed},
		{"HEAD", "/healthz", http.StatusOK},
		{"GET", "/", http.StatusNotFound},
		{"GET", "/metrics/x", http.StatusNotFound},
	} {
		if code, _ := get(t, tc.method, base+tc.path); code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, code, tc.want)
		}
	}
}

func TestHealthz(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return now.Add(-d) } }
	tests := []struct {
		name      string
		heartbeat func() time.Time
		timeout   time.Duration
		want      int
		body      string
	}{
		{"fresh", at(20 * time.Millisecond), 0, http.StatusOK, "ok: main loop heartbeat 20ms old"},
		{"at the limit", at(DefaultHeartbeatTimeout), 0, http.StatusOK, "ok"},
		{"stale", at(DefaultHeartbeatTimeout + time.Millisecond), 0, http.StatusServiceUnavailable,
			"unhealthy: main loop heartbeat 5.001s old (limit 5s)"},
		{"stale with a custom timeout", at(2 * time.Second), time.Second, http.StatusServiceUnavailable, "limit 1s"},
		{"fresh with a custom timeout", at(2 * time.Second), time.Minute, http.StatusOK, "ok"},
		{"loop never ran (zero time)", func() time.Time { return time.Time{} }, 0, http.StatusServiceUnavailable, "has not run"},
		{"loop never ran (unix 0)", func() time.Time { return time.Unix(0, 0) }, 0, http.StatusServiceUnavailable, "has not run"},
		{"no heartbeat source", nil, 0, http.StatusServiceUnavailable, "no heartbeat source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{Heartbeat: tt.heartbeat, Now: func() time.Time { return now }, HeartbeatTimeout: tt.timeout})
			code, body := get(t, "GET", ServeForTest(t, m)+"/healthz")
			if code != tt.want || !strings.Contains(body, tt.body) {
				t.Errorf("GET /healthz: %d %q, want %d containing %q", code, body, tt.want, tt.body)
			}
		})
	}
}

// TestHealthzFollowsHeartbeat checks that /healthz turns unhealthy when the
// heartbeat stops advancing and healthy again when it resumes.
func TestHealthzFollowsHeartbeat(t *testing.T) {
	var clock, beat atomic.Int64 // unix nanoseconds
	clock.Store(time.Unix(1700000000, 0).UnixNano())
	beat.Store(clock.Load())
	m := New(Options{
		Heartbeat: func() time.Time { return time.Unix(0, beat.Load()) },
		Now:       func() time.Time { return time.Unix(0, clock.Load()) },
	})
	base := ServeForTest(t, m)
	for i, step := range []struct {
		advance time.Duration
		beat    bool
		want    int
	}{
		{time.Second, true, http.StatusOK},
		{4 * time.Second, false, http.StatusOK},
		{2 * time.Second, false, http.StatusServiceUnavailable},
		{time.Minute, false, http.StatusServiceUnavailable},
		{time.Second, true, http.StatusOK},
	} {
		clock.Add(int64(step.advance))
		if step.beat {
			beat.Store(clock.Load())
		}
		if code, body := get(t, "GET", base+"/healthz"); code != step.want {
			t.Errorf("step %d: %d %q, want %d", i, code, body, step.want)
		}
	}
}

func TestServeAddressInUse(t *testing.T) {
	ln := testenv.Listen(t)
	m := New(Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.Serve(ctx, ln.Addr().String())
	if err == nil {
		t.Fatal("Serve on a busy address succeeded")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), ln.Addr().String()) ||
		!strings.Contains(err.Error(), "metrics-addr") {
		t.Errorf("unclear error: %v", err)
	}
	if ctx.Err() != nil {
		t.Error("Serve waited for its context instead of failing at once")
	}
	t.Log(err)
}

func TestServeBadAddress(t *testing.T) {
	m := New(Options{})
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:99999", "[::1:9479"} {
		err := m.Serve(context.Background(), addr)
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("Serve(%q): %v, want an error naming the address", addr, err)
		}
	}
}

func TestServeOffAndShutdown(t *testing.T) {
	m := New(Options{Heartbeat: time.Now})
	for _, addr := range []string{"", "127.0.0.1:0"} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Serve(ctx, addr) }()
		select {
		case err := <-done:
			t.Fatalf("Serve(%q) returned before its context ended: %v", addr, err)
		case <-time.After(50 * time.Millisecond):
			// Not a correctness wait: only gives a wrong early return a
			// chance to show.
		}
		cancel()
		serveEnded(t, done, fmt.Sprintf("Serve(%q)", addr))
	}
}

// TestShutdownDuringScrape stops the server while a scrape waits for a stuck
// core: the scrape still gets its answer and Serve returns cleanly.
func TestShutdownDuringScrape(t *testing.T) {
	entered := make(chan struct{}, 1)
	core := CoreFunc(func(ctx context.Context) (Core, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return Core{}, ctx.Err()
	})
	m := New(Options{Core: core, CoreTimeout: 300 * time.Millisecond})
	ln, stop := startServing(t, m)

	type result struct {
		code int
		body string
	}
	scraped := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
		if err != nil {
			scraped <- result{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		scraped <- result{resp.StatusCode, string(b)}
	}()
	testenv.Receive(t, entered, 10*time.Second, "scrape reaching the core source")
	stop()
	r := <-scraped
	if r.code != http.StatusOK || !strings.Contains(r.body, "\nvipsentinel_core_up 0\n") {
		t.Errorf("scrape during shutdown: %d\n%.300s", r.code, r.body)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the listener is still open after ServeListener returned")
	}
}
