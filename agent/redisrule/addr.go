package redisrule

import (
	"fmt"
	"net"
	"strconv"
)

// FormatAddr writes host and port as Redis writes a peer's address (CLIENT
// LIST's addr= and laddr=, Sentinel's instance names): host:port, or
// [host]:port when host is an IPv6 address.
func FormatAddr(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// SplitAddr reads an address written by FormatAddr. The port must be a
// decimal number from 0 to 65535.
func SplitAddr(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: bad port %q", addr, p)
	}
	return host, int(n), nil
}
