package testenv

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// TestServe: every connection is handled, and the end of the test closes
// the listener and a connection its client left open, ending its handler.
func TestServe(t *testing.T) {
	ln := Listen(t)
	ended := make(chan struct{}, 2)
	var left net.Conn
	t.Run("serve", func(t *testing.T) {
		Serve(t, ln, func(c net.Conn) {
			defer func() { ended <- struct{}{} }()
			_, _ = io.Copy(c, c)
		})
		for i := range 2 {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("ping\n")); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "ping\n" {
				t.Fatalf("connection %d: echo %q, %v", i, line, err)
			}
			if i == 0 {
				c.Close()
				Receive(t, ended, 5*time.Second, "end of the first handler after its client closed")
			} else {
				left = c // still open when the test ends
			}
		}
	})
	if left != nil {
		defer left.Close()
	}
	select {
	case <-ended:
	default:
		t.Error("the handler of a connection left open outlived the test")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("the listener still accepts after the test")
	}
}
