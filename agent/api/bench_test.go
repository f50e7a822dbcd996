package api

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
)

// BenchmarkGetMasterAddr drives the server over loopback TCP as
// redis-benchmark -c 50 does: many clients, one request in flight each.
func BenchmarkGetMasterAddr(b *testing.B) {
	for _, clients := range []int{1, 50} {
		b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) {
			benchRoundTrips(b, clients, false, cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"),
				"*2\r\n$10\r\n198.18.0.1\r\n$4\r\n6379\r\n")
		})
	}
}

// BenchmarkPing is the same loop with the cheapest command, to separate the
// server's per-request cost from the command's.
func BenchmarkPing(b *testing.B) {
	benchRoundTrips(b, 50, false, cmd("PING"), "+PONG\r\n")
}

// BenchmarkRequestPath compares, in one run, the raw-syscall request path
// (what the server uses for a *net.TCPConn) with the plain net.Conn path
// (taken for a connection without a file descriptor), with one and 50
// clients. Besides ns/op it reports the server's socket reads and writes
// per request and the process's CPU time and context switches per request.
// The clients run in the same process and cost as much CPU as the server,
// the same on both paths: BenchmarkRedisBenchmark, which counts the
// server's CPU alone, is the one that shows the difference (see server.go).
// One run, -benchtime 100000x -count 4, load ~16, means:
//
//	path   clients  ns/op    cpu-ns/op  ctxsw/op  syscalls/op
//	raw    1        116 889  27 449     0.22      2.0
//	plain  1        119 959  26 321     0.29      2.0
//	raw    50        75 093  26 429     0.24      2.0
//	plain  50        76 209  25 140     0.12      2.0
func BenchmarkRequestPath(b *testing.B) {
	for _, path := range []struct {
		name  string
		plain bool
	}{{"raw", false}, {"plain", true}} {
		for _, clients := range []int{1, 50} {
			b.Run(path.name+"/clients="+strconv.Itoa(clients), func(b *testing.B) {
				var before, after syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
				s := benchRoundTrips(b, clients, path.plain, cmd("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"),
					"*2\r\n$10\r\n198.18.0.1\r\n$4\r\n6379\r\n")
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
				n := float64(b.N)
				cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
				b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/op")
				b.ReportMetric(float64(after.Nvcsw+after.Nivcsw-before.Nvcsw-before.Nivcsw)/n, "ctxsw/op")
				b.ReportMetric(float64(s.stats.reads.Load()+s.stats.writes.Load())/n, "syscalls/op")
			})
		}
	}
}

// plainConn hides the connection's file descriptor from the server, which
// then uses plain net.Conn reads and writes.
type plainConn struct{ net.Conn }

// plainListener accepts plainConns.
type plainListener struct{ net.Listener }

func (l plainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return plainConn{c}, nil
}

// startBenchServer runs a Server on a loopback port, on the plain net.Conn
// path if plain.
func startBenchServer(b *testing.B, plain bool) (*Server, string) {
	if !plain {
		return serveOn(b, Config{}, nil)
	}
	return serveOn(b, Config{}, func(ln net.Listener) net.Listener { return plainListener{ln} })
}

func benchRoundTrips(b *testing.B, clients int, plain bool, request, want string) *Server {
	req := []byte(request)
	s, addr := startBenchServer(b, plain)
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var failed atomic.Value
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReader(c)
			got := make([]byte, len(want))
			for left.Add(-1) >= 0 {
				if _, err := c.Write(req); err != nil {
					failed.Store(err.Error())
					return
				}
				if _, err := io.ReadFull(br, got); err != nil {
					failed.Store(err.Error())
					return
				}
				if string(got) != want {
					failed.Store("reply " + string(got))
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if f := failed.Load(); f != nil {
		b.Fatal(f)
	}
	return s
}

var rpsRE = regexp.MustCompile(`([0-9.]+) requests per second`)

// BenchmarkRedisBenchmark runs redis-benchmark -c 50 (as the project's
// bench does) against the server on its raw-syscall request path, on the
// plain net.Conn path, and, for comparison, against a real redis-sentinel on
// the same machine, and reports the rate and the server's CPU time per
// request of each (the figures are in server.go). With -cpuprofile, the
// profile is of the server alone.
func BenchmarkRedisBenchmark(b *testing.B) {
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		b.Skip("redis-benchmark not installed")
	}
	_, ours := startBenchServer(b, false)
	_, plain := startBenchServer(b, true)
	master := redistest.Start(b)
	real := redistest.StartSentinel(b, "sentinel monitor mymaster 127.0.0.1 "+strconv.Itoa(master.Port)+" 1")
	for _, tc := range []struct {
		name, addr string
		pid        int
	}{{"vipsentinel-raw", ours, os.Getpid()}, {"vipsentinel-plain", plain, os.Getpid()}, {"redis-sentinel", real.Addr(), real.Cmd.Process.Pid}} {
		b.Run(tc.name, func(b *testing.B) {
			host, port, _ := net.SplitHostPort(tc.addr)
			var sum float64
			cpu0 := cpuTicks(b, tc.pid)
			for range b.N {
				out, err := exec.Command("redis-benchmark", "-h", host, "-p", port, "-c", "50", "-n", "200000", "-q",
					"SENTINEL", "get-master-addr-by-name", "mymaster").CombinedOutput()
				if err != nil {
					b.Fatalf("redis-benchmark: %v: %s", err, out)
				}
				m := rpsRE.FindAllSubmatch(out, -1)
				if len(m) == 0 {
					b.Fatalf("redis-benchmark printed no rate: %q", out)
				}
				rps, err := strconv.ParseFloat(string(m[len(m)-1][1]), 64)
				if err != nil {
					b.Fatal(err)
				}
				sum += rps
			}
			b.ReportMetric(sum/float64(b.N), "req/s")
			// Clock ticks are 10 ms: over 200000 requests, good to 0.05 µs.
			b.ReportMetric(float64(cpuTicks(b, tc.pid)-cpu0)*10000/float64(200000*b.N), "cpu-µs/req")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// cpuTicks returns the user and system CPU time of process pid, in clock
// ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parse /proc/%d/stat: %q", pid, data)
	}
	return u + st
}
