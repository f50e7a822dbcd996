package api

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/resp"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// FuzzRequest feeds arbitrary bytes to a client connection. The server must
// not panic, must finish with the connection, and must never buffer a
// request beyond the limits.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		cmd("PING"),
		"PING\r\nINFO sentinel\r\n",
		cmd("AUTH", "pw") + cmd("SENTINEL", "masters") + cmd("SUBSCRIBE", "a") + cmd("PING"),
		cmd("AUTH", "pw") + cmd("HELLO", "3") + cmd("CLIENT", "LIST") + cmd("SENTINEL", "get-master-addr-by-name", "mymaster"),
		cmd("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "x") + cmd("PSUBSCRIBE", "*") + cmd("PUNSUBSCRIBE"),
		"*3\r\n$3\r\nSET\r\n$99999999999\r\n",
		"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$1048577\r\n",
		"\"unbalanced\r\n",
		cmd("AUTH", "pw") + cmd("CLIENT", "KILL", "ID", "1", "SKIPME", "no"),
		cmd("AUTH", "nobody", "x") + cmd("AUTH", "pw") + cmd("ACL", "LOG", "1") + cmd("ACL", "LOG", "RESET"),
		cmd("AUTH", "pw") + cmd("HELLO", "3") + cmd("COMMAND", "DOCS") + cmd("COMMAND", "INFO", "sentinel|set", "x|") + cmd("COMMAND", "LIST", "FILTERBY", "PATTERN", "*"),
		cmd("AUTH", "pw") + cmd("COMMAND", "GETKEYS", "sentinel", "masters") + cmd("ACL", "DRYRUN", "default", "client") + cmd("VIPSENTINEL", "STATUS"),
		"*2\r\n$4\r\nAUTH\r\n$4097\r\n",
		"*3\r\n$4\r\nAUTH\r\n$3000\r\n" + strings.Repeat("x", 3000) + "\r\n$2000\r\n",
		cmd("RESET") + cmd("AUTH", "pw") + cmd("RESET") + cmd("PING"),
	} {
		f.Add([]byte(seed))
	}
	s, err := New(Config{Backend: &testBackend{}, RequirePass: "pw"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close() })
	// Over TCP the server reads and writes the socket itself (raw
	// non-blocking syscalls); over a pipe, through net.Conn (blocking
	// writes). Both paths get every input.
	ln := testenv.Listen(f)
	go func() { _ = s.Serve(ln) }()
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		s.ServeConn(server)
		done := make(chan int64)
		go func() {
			n, _ := io.Copy(io.Discard, client)
			done <- n
		}()
		_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = client.Write(data)
		// Half-close is not possible on a pipe: give the server a moment
		// to answer, then hang up.
		time.Sleep(time.Millisecond)
		_ = client.Close()
		testenv.Receive(t, done, 10*time.Second, "end of the server's work on the connection")

		tc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()
		go func() {
			n, _ := io.Copy(io.Discard, tc)
			done <- n
		}()
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = tc.Write(data)
		// The server answers what it read, then closes.
		_ = tc.(*net.TCPConn).CloseWrite()
		testenv.Receive(t, done, 10*time.Second, "end of the server's work on the TCP connection")
		testenv.Eventually(t, 10*time.Second, "no client left after hang-up", func() error {
			s.mu.Lock()
			n := len(s.clients)
			s.mu.Unlock()
			return testenv.Pending(n == 0, fmt.Sprintf("%d clients", n))
		})
		if got := s.stats.maxInput.Load(); got > int64(resp.Authenticated.MaxRequest) {
			t.Fatalf("buffered a %d-byte request, limit %d", got, resp.Authenticated.MaxRequest)
		}
	})
}
