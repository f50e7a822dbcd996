package tcprto

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestControl: a connection dialled with Control, and one accepted from a
// Listener, both carry the floor where the kernel has the
// option; where it does not, both still connect and Supported says why.
func TestControl(t *testing.T) {
	ok, why := Supported()
	if !ok && !errors.Is(why, unix.ENOPROTOOPT) && !errors.Is(why, unix.EINVAL) {
		t.Fatalf("Supported: %v, want true or ENOPROTOOPT/EINVAL (an older kernel)", why)
	}
	raw, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listener(raw)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	d := net.Dialer{Control: Control}
	out, err := d.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in := <-accepted
	if in == nil {
		t.Fatal("accept failed")
	}
	defer in.Close()
	want := Min
	if !ok {
		want = 0
		t.Logf("kernel without TCP_RTO_MIN_US (%v): connections keep the kernel's floor", why)
	}
	for name, c := range map[string]net.Conn{"dialled": out, "accepted": in} {
		if got := floorOf(c); got != want {
			t.Errorf("%s connection: floor %v, want %v", name, got, want)
		}
	}
	if _, err := out.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := in.Read(b); err != nil || b[0] != 'x' {
		t.Fatalf("read %q, %v", b, err)
	}
}

// floorOf reads the floor a connection has (0 where the kernel cannot say).
func floorOf(c net.Conn) time.Duration {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var v int
	_ = rc.Control(func(fd uintptr) {
		v, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_RTO_MIN_US)
	})
	if err != nil {
		return 0
	}
	return time.Duration(v) * time.Microsecond
}
