// Package tcprto lowers the minimum TCP retransmission timeout of the
// agent's own connections (to its peers and to Redis) where the kernel
// allows it per socket (TCP_RTO_MIN_US, Linux 6.15 and later).
//
// Why: the agents' messages are small and frequent (a lease request every
// 50 ms at down-after 1 s), and a lost segment holds everything queued
// behind it on its connection until it is retransmitted. Linux waits at
// least 200 ms for that, whatever the round-trip time, which on a LAN is
// two thousand times the RTT: under a few percent of packet loss both
// peers' connections stall together often enough to pause a healthy
// master, lapse its VIP lease and slow elections. With the floor at Min
// the retransmission timeout follows the measured RTT (RFC 6298's SRTT +
// 4·RTTVAR) down to Min, so a loss costs tens of milliseconds. A
// retransmission sent too early on a slow path costs one duplicate
// segment of a few bytes. Older kernels refuse the option; the
// connection is then left as it is (Supported tells the operator).
package tcprto

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Min is the retransmission timeout floor set on the agent's connections:
// above a LAN's RTT and its scheduling jitter on a busy host by an order of
// magnitude, so that retransmissions stay rare when nothing is lost, and a
// tenth of Linux's default floor.
const Min = 20 * time.Millisecond

// Control sets Min on a TCP socket before it connects, for
// net.Dialer.Control. It never fails: a kernel without the option keeps its
// own floor.
func Control(network, _ string, c syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6":
		_ = c.Control(func(fd uintptr) { _ = set(int(fd)) })
	}
	return nil
}

// Listener wraps ln so that every connection it accepts gets Min: an
// accepted socket does not inherit the option from its listener (Linux
// starts it at the default floor), so it is set per connection, one
// system call per accept.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		if sc, ok := c.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				_ = Control("tcp", "", rc)
			}
		}
	}
	return c, err
}

func set(fd int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_RTO_MIN_US, int(Min/time.Microsecond))
}

// Supported reports whether this kernel accepts the option, by setting it
// on a socket of its own; err says why not.
func Supported() (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	if err := set(fd); err != nil {
		return false, err
	}
	return true, nil
}
