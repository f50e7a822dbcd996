package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Host is one network namespace of a lab: a server (h1..), a client (c1..) or
// the switch. Its fields are fixed at creation; its methods are safe for
// concurrent use.
type Host struct {
	Name  string           // "h1", "c1" or "sw"
	NS    string           // namespace name, as listed by "ip netns list"
	Iface string           // "eth0" (the bridge "br0" for the switch)
	Port  string           // this host's bridge port in the switch namespace (empty for the switch)
	IP4   netip.Addr       // address on Iface, /24 (invalid for the switch)
	IP6   netip.Addr       // address on Iface, /64, only with Config.IPv6
	MAC   net.HardwareAddr // MAC of Iface (nil for the switch)

	lab *Lab
}

// String returns the host's name.
func (h *Host) String() string { return h.Name }

// NetNSPath is the namespace's bind mount, usable with setns(2) or
// "nsenter --net=".
func (h *Host) NetNSPath() string { return filepath.Join(netnsDir, h.NS) }

// Do runs fn on an OS thread switched into h's namespace and switches the
// thread back afterwards. Sockets fn opens stay in h's namespace for their
// whole life; goroutines fn starts do not run in it. If the thread cannot be
// switched back it is kept locked, so the Go runtime discards it.
func (h *Host) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("%s: get current namespace: %w", h.Name, err)
	}
	defer orig.Close()
	target, err := netns.GetFromPath(h.NetNSPath())
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("%s: open namespace %s: %w", h.Name, h.NS, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("%s: enter namespace %s: %w", h.Name, h.NS, err)
	}
	defer func() {
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return fn()
}

// withHandle runs fn with a netlink handle bound to h's namespace.
func (h *Host) withHandle(fn func(*netlink.Handle) error) error {
	ns, err := netns.GetFromPath(h.NetNSPath())
	if err != nil {
		return fmt.Errorf("%s: open namespace %s: %w", h.Name, h.NS, err)
	}
	defer ns.Close()
	nh, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("%s: netlink handle in %s: %w", h.Name, h.NS, err)
	}
	defer nh.Close()
	return fn(nh)
}

// SetSysctl writes a sysctl inside h's namespace. key uses dots or slashes
// ("net.ipv4.conf.eth0.arp_accept"). Only net.* keys are per namespace.
func (h *Host) SetSysctl(key, value string) error {
	return h.setSysctls(map[string]string{key: value})
}

// Sysctl reads a sysctl inside h's namespace.
func (h *Host) Sysctl(key string) (string, error) {
	var v []byte
	err := h.Do(func() error {
		var err error
		v, err = os.ReadFile(sysctlPath(key))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%s: read sysctl %s: %w", h.Name, key, err)
	}
	return strings.TrimSpace(string(v)), nil
}

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// setSysctls writes the keys in sorted order; /proc/sys/net resolves to the
// namespace of the thread that opens it, hence Do.
func (h *Host) setSysctls(kv map[string]string) error {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return h.Do(func() error {
		for _, k := range keys {
			if err := os.WriteFile(sysctlPath(k), []byte(kv[k]), 0o644); err != nil {
				return fmt.Errorf("%s: sysctl %s=%s: %w", h.Name, k, kv[k], err)
			}
		}
		return nil
	})
}

// command builds "ip netns exec <ns> name args..." in its own process group,
// killed if this process dies.
func (h *Host) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Exec runs a program inside h's namespace to completion and returns its
// standard output. On failure the error includes the exit status and standard
// error. Cancelling ctx kills the program's process group. A program that
// leaves a background child holding its output returns 500 ms after it exits;
// such children should redirect their output (or use Start).
func (h *Host) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	if err := h.lab.alive(); err != nil {
		return nil, err
	}
	cmd := h.command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 500 * time.Millisecond
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: exec %s: %w", h.Name, name, err)
	}
	stop := context.AfterFunc(ctx, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	stop()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return stdout.Bytes(), fmt.Errorf("%s: exec %s %s: %w: %s", h.Name, name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Start runs a program in the background inside h's namespace, in its own
// process group, with standard output and error appended to a log file in the
// lab directory (Proc.Log). The lab kills it on Close.
func (h *Host) Start(name string, args ...string) (*Proc, error) {
	if err := h.lab.alive(); err != nil {
		return nil, err
	}
	path := h.lab.logPath(h.Name, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: start %s: log file: %w", h.Name, name, err)
	}
	defer f.Close() // the child has its own descriptor
	cmd := h.command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	p := &Proc{Host: h, Cmd: append([]string{name}, args...), logPath: path, done: make(chan struct{})}
	h.lab.mu.Lock()
	defer h.lab.mu.Unlock()
	if h.lab.closed {
		return nil, errors.New("lab: closed")
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", h.Name, name, err)
	}
	p.pid = cmd.Process.Pid
	h.lab.procs = append(h.lab.procs, p)
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (l *Lab) alive() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("lab: closed")
	}
	return nil
}

// checkLiteral refuses host names: resolving one could send a DNS query from
// the caller's namespace to a server outside the lab.
func checkLiteral(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "" {
		return nil
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("address %q: host must be an IP literal", addr)
	}
	return nil
}

// DialContext opens a connection from inside h's namespace. addr must use an
// IP literal.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return openIn(h, "dial", addr, func() (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, network, addr) })
}

// Listen opens a stream listener inside h's namespace ("tcp", "1.2.3.4:0").
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	return openIn(h, "listen", addr, func() (net.Listener, error) { return net.Listen(network, addr) })
}

// ListenPacket opens a packet socket ("udp", "1.2.3.4:0") inside h's
// namespace.
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	return openIn(h, "listen", addr, func() (net.PacketConn, error) { return net.ListenPacket(network, addr) })
}

// openIn refuses an addr that is not an IP literal (checkLiteral), then
// runs open inside h's namespace, so that the socket it creates belongs
// there; op names the operation in the error.
func openIn[T any](h *Host, op, addr string, open func() (T, error)) (T, error) {
	var v T
	if err := checkLiteral(addr); err != nil {
		return v, fmt.Errorf("%s: %s: %w", h.Name, op, err)
	}
	err := h.Do(func() error {
		var err error
		v, err = open()
		return err
	})
	return v, err
}

// ErrNoNeighbor means the neighbour cache has no entry for the address.
var ErrNoNeighbor = errors.New("no neighbour entry")

// Neighbor reads h's neighbour cache entry for ip on h.Iface. state is the
// NUD state as "ip neigh" prints it ("REACHABLE", "STALE", "FAILED", ...);
// mac is nil for entries without a link-layer address (INCOMPLETE, FAILED).
// A missing entry gives an error wrapping ErrNoNeighbor.
func (h *Host) Neighbor(ip netip.Addr) (mac net.HardwareAddr, state string, err error) {
	family := netlink.FAMILY_V4
	if ip.Is6() && !ip.Is4In6() {
		family = netlink.FAMILY_V6
	}
	err = h.withHandle(func(nh *netlink.Handle) error {
		link, err := nh.LinkByName(h.Iface)
		if err != nil {
			return fmt.Errorf("find %s: %w", h.Iface, err)
		}
		neighs, err := nh.NeighList(link.Attrs().Index, family)
		if err != nil {
			return fmt.Errorf("list neighbours: %w", err)
		}
		for _, n := range neighs {
			a, ok := netip.AddrFromSlice(n.IP)
			if !ok || a.Unmap() != ip.Unmap() {
				continue
			}
			if len(n.HardwareAddr) > 0 {
				mac = n.HardwareAddr
			}
			state = nudString(n.State)
			return nil
		}
		return ErrNoNeighbor
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s: neighbour %s: %w", h.Name, ip, err)
	}
	return mac, state, nil
}

func nudString(s int) string {
	names := []struct {
		bit  int
		name string
	}{
		{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"},
		{netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"},
		{netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"},
	}
	var out []string
	for _, n := range names {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "NONE"
	}
	return strings.Join(out, ",")
}

// Addrs lists the addresses on h.Iface, IPv4 and IPv6 including link-local.
func (h *Host) Addrs() ([]netip.Prefix, error) {
	var out []netip.Prefix
	err := h.withHandle(func(nh *netlink.Handle) error {
		link, err := nh.LinkByName(h.Iface)
		if err != nil {
			return fmt.Errorf("find %s: %w", h.Iface, err)
		}
		addrs, err := nh.AddrList(link, netlink.FAMILY_ALL)
		if err != nil {
			return fmt.Errorf("list addresses: %w", err)
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			bits, _ := a.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), bits))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: addresses: %w", h.Name, err)
	}
	return out, nil
}
