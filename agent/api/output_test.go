package api

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOutputOrder interleaves large replies, written by the reader goroutine
// until the socket is full and then by the writer goroutine, with pub/sub
// pushes from another goroutine, to a RESP3 client that at first does not
// read: every frame must arrive whole, replies in request order, pushes in
// publish order.
func TestOutputOrder(t *testing.T) {
	const n = 300
	s, addr := startServer(t, Config{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, cmd("HELLO", "3")+cmd("SUBSCRIBE", "ch")); err != nil {
		t.Fatal(err)
	}
	// HELLO's map, then the subscribe confirmation.
	hello := readFrame(t, br)
	if !strings.HasPrefix(hello, "%") {
		t.Fatalf("HELLO reply %q", hello)
	}
	if got := readFrame(t, br); got != ">3|subscribe|ch|1" {
		t.Fatalf("SUBSCRIBE reply %q", got)
	}

	pad := strings.Repeat("x", 16<<10)
	var wg sync.WaitGroup
	wg.Add(2)
	// Pushes start once a third of the requests are sent: before that the
	// reader goroutine alone writes, into a socket nobody reads, until it
	// is full.
	third := make(chan struct{})
	go func() {
		defer wg.Done()
		for i := range n {
			if i == n/3 {
				close(third)
			}
			if _, err := io.WriteString(c, cmd("PING", "p"+strconv.Itoa(i)+pad)); err != nil {
				t.Error(err)
				return
			}
			// Mostly one request at a time, so that the server writes
			// replies itself rather than batching them for the writer.
			time.Sleep(100 * time.Microsecond)
		}
	}()
	go func() {
		defer wg.Done()
		<-third
		for i := range n {
			if s.Publish("ch", "m"+strconv.Itoa(i)) != 1 {
				t.Error("subscriber lost")
				return
			}
		}
	}()
	<-third
	// Let replies pile up past the socket buffers before reading.
	time.Sleep(200 * time.Millisecond)
	pings, msgs := 0, 0
	for pings < n || msgs < n {
		f := readFrame(t, br)
		switch {
		case strings.HasPrefix(f, ">3|message|ch|"):
			if want := ">3|message|ch|m" + strconv.Itoa(msgs); f != want {
				t.Fatalf("push %q, want %q", f, want)
			}
			msgs++
		case strings.HasPrefix(f, "$"):
			if want := "$p" + strconv.Itoa(pings) + pad; f != want {
				t.Fatalf("reply %d: %.30q (%d bytes), want %.30q", pings, f, len(f), want)
			}
			pings++
		default:
			t.Fatalf("unexpected frame %.60q", f)
		}
	}
	wg.Wait()
}

// readFrame reads one RESP3 frame of the shapes the test expects: a bulk
// string ("$" and its text), a push or array of bulk strings and integers
// (">n|a|b|..."), or a map (returned as "%" only).
func readFrame(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	line := readLine(t, br)
	switch line[0] {
	case '$':
		return "$" + readBulkBody(t, br, line)
	case '>', '*':
		k, err := strconv.Atoi(line[1:])
		if err != nil {
			t.Fatalf("bad header %q", line)
		}
		parts := []string{line}
		for range k {
			parts = append(parts, readFrame(t, br)[1:])
		}
		return strings.Join(parts, "|")
	case ':', '+':
		return line
	case '%':
		k, err := strconv.Atoi(line[1:])
		if err != nil {
			t.Fatalf("bad header %q", line)
		}
		for range 2 * k {
			readFrame(t, br)
		}
		return "%"
	}
	t.Fatalf("unexpected line %q", line)
	return ""
}

func readLine(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasSuffix(line, "\r\n") {
		t.Fatalf("read: %q %v", line, err)
	}
	return line[:len(line)-2]
}

func readBulkBody(t *testing.T, br *bufio.Reader, header string) string {
	t.Helper()
	size, err := strconv.Atoi(header[1:])
	if err != nil {
		t.Fatalf("bad bulk header %q", header)
	}
	buf := make([]byte, size+2)
	if _, err := io.ReadFull(br, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf[size:]) != "\r\n" {
		t.Fatalf("bulk not terminated: %q", buf[size:])
	}
	return string(buf[:size])
}
