package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/wait"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Config describes a lab.
type Config struct {
	Hosts   int    // server hosts h1..hN (at most 99)
	Clients int    // client namespaces c1..cN (at most 99)
	IPv6    bool   // also give every host an fd00::/8 address (static, nodad)
	Name    string // optional readable prefix: a lower-case letter, then letters and digits, at most 16 in all
}

const (
	nsPrefix   = "vsl-" // every namespace, temp dir and claim a lab creates starts with this
	netnsDir   = "/run/netns"
	bridgeName = "br0"
	hostIface  = "eth0"
	maxHosts   = 99
	firstVIP   = 200
	lastVIP    = 254
	clientBase = 100
)

// Range4 and Range6 hold every address a lab uses.
var (
	Range4 = netip.MustParsePrefix("198.18.0.0/15")
	Range6 = netip.MustParsePrefix("fd00::/8")
)

var validName = regexp.MustCompile(`^([a-z][a-z0-9]{0,15})?$`)

// Lab is a set of network namespaces joined by a bridge. Its methods are safe
// for concurrent use.
type Lab struct {
	cfg    Config
	id     string // "<name>-<pid>-<rand>" or "<pid>-<rand>"
	dir    string
	sub    [3]byte // first three octets of Prefix4
	claim  io.Closer
	sw     *Host
	hosts  []*Host
	client []*Host

	mu      sync.Mutex
	closed  bool
	nsNames []string // every namespace created so far, switch first
	procs   []*Proc
	closers []io.Closer
	cuts    map[[2]string]bool // (from port, to port) pairs dropped at the switch
	loss    map[string]int     // port -> percent of its frames dropped at random
	nextV4  int
	nextV6  int
	nseq    int // numbers log files

	closeOnce sync.Once
	closeErr  error
}

// New builds a lab: the switch namespace with its bridge, then one namespace
// per host and client with its veth, addresses and sysctls. It needs root.
// On error everything created so far is removed again.
func New(cfg Config) (l *Lab, err error) {
	if cfg.Hosts < 0 || cfg.Hosts > maxHosts || cfg.Clients < 0 || cfg.Clients > maxHosts {
		return nil, fmt.Errorf("lab: config: hosts=%d clients=%d: each must be in 0..%d", cfg.Hosts, cfg.Clients, maxHosts)
	}
	if !validName.MatchString(cfg.Name) {
		return nil, fmt.Errorf("lab: config: name %q: want a lower-case letter followed by at most 15 lower-case letters and digits", cfg.Name)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: root is required to create network namespaces")
	}
	l = &Lab{cfg: cfg, cuts: map[[2]string]bool{}, loss: map[string]int{}, nextV4: firstVIP, nextV6: firstVIP}
	l.id = fmt.Sprintf("%d-%04x", os.Getpid(), rand.IntN(1<<16))
	if cfg.Name != "" {
		l.id = cfg.Name + "-" + l.id
	}
	defer func() {
		if err != nil {
			l.Close()
			l = nil
		}
	}()
	if l.sub, l.claim, err = claimSubnet(); err != nil {
		return l, err
	}
	if l.dir, err = os.MkdirTemp("", nsPrefix+l.id+"-"); err != nil {
		return l, fmt.Errorf("lab: temp dir: %w", err)
	}
	if err := l.buildSwitch(); err != nil {
		return l, err
	}
	for i := 1; i <= cfg.Hosts; i++ {
		h, err := l.addHost(fmt.Sprintf("h%d", i), byte(i))
		if err != nil {
			return l, err
		}
		l.hosts = append(l.hosts, h)
	}
	for i := 1; i <= cfg.Clients; i++ {
		h, err := l.addHost(fmt.Sprintf("c%d", i), byte(clientBase+i))
		if err != nil {
			return l, err
		}
		l.client = append(l.client, h)
	}
	if err := l.waitLinks(); err != nil {
		return l, err
	}
	return l, nil
}

// linkWait bounds waitLinks; the kernel normally needs well under a second.
const linkWait = 5 * time.Second

// waitLinks returns once every veth end reports operstate UP. The kernel
// applies carrier changes asynchronously (linkwatch, rate-limited to once a
// second machine-wide), and until it has, the bridge keeps the port disabled
// and drops frames: without this wait the first ARP request of a fresh lab is
// lost now and then, costing a 1 s retransmission.
func (l *Lab) waitLinks() error {
	ctx, cancel := context.WithTimeout(context.Background(), linkWait)
	defer cancel()
	check := func(h *Host, names ...string) error {
		return h.withHandle(func(nh *netlink.Handle) error {
			for _, n := range names {
				link, err := nh.LinkByName(n)
				if err != nil {
					return fmt.Errorf("find %s: %w", n, err)
				}
				if st := link.Attrs().OperState; st != netlink.OperUp {
					return fmt.Errorf("%s in %s is %s", n, h.NS, st)
				}
			}
			return nil
		})
	}
	err := wait.For(ctx, 5*time.Millisecond, func() error {
		var ports []string
		for _, h := range l.members() {
			if err := check(h, hostIface); err != nil {
				return err
			}
			ports = append(ports, h.Port)
		}
		return check(l.sw, ports...)
	})
	if err != nil {
		return fmt.Errorf("lab: links not up: %w", err)
	}
	return nil
}

// claimSubnet picks a random /24 in 198.18.0.0/15 that no other live lab on
// this machine holds. The claim is an abstract unix socket named after the
// subnet: binding is atomic across processes and the kernel releases it when
// the process dies, so there is nothing to clean up after a crash.
func claimSubnet() ([3]byte, io.Closer, error) {
	for _, n := range rand.Perm(512) {
		sub := [3]byte{198, byte(18 + n/256), byte(n % 256)}
		name := fmt.Sprintf("@vipsentinel-lab-%d.%d.%d.0/24", sub[0], sub[1], sub[2])
		c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err == nil {
			return sub, c, nil
		}
		if !errors.Is(err, unix.EADDRINUSE) {
			return sub, nil, fmt.Errorf("lab: claim subnet %d.%d.%d.0/24: %w", sub[0], sub[1], sub[2], err)
		}
	}
	return [3]byte{}, nil, errors.New("lab: claim subnet: all 512 /24s in 198.18.0.0/15 are in use")
}

// nsName is the namespace name for a role ("sw", "h1", "c2").
func (l *Lab) nsName(role string) string { return nsPrefix + l.id + "-" + role }

// createNS adds a named namespace with iproute2, so "ip netns exec" and
// "ip netns list" see it exactly as if an operator had made it, and records it
// for Close before anything else can fail.
func (l *Lab) createNS(role string) (string, error) {
	name := l.nsName(role)
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("lab: ip netns add %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	l.mu.Lock()
	l.nsNames = append(l.nsNames, name)
	l.mu.Unlock()
	return name, nil
}

func (l *Lab) buildSwitch() error {
	name, err := l.createNS("sw")
	if err != nil {
		return err
	}
	l.sw = &Host{Name: "sw", NS: name, Iface: bridgeName, lab: l}
	if err := l.sw.setSysctls(map[string]string{
		"net/ipv6/conf/all/disable_ipv6":     "1",
		"net/ipv6/conf/default/disable_ipv6": "1",
	}); err != nil {
		return err
	}
	return l.sw.withHandle(func(nh *netlink.Handle) error {
		if err := upLoopback(nh); err != nil {
			return err
		}
		off := false
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: bridgeName}, MulticastSnooping: &off}
		if err := nh.LinkAdd(br); err != nil {
			return fmt.Errorf("lab: add bridge %s in %s: %w", bridgeName, name, err)
		}
		if err := nh.LinkSetUp(br); err != nil {
			return fmt.Errorf("lab: set %s up in %s: %w", bridgeName, name, err)
		}
		return nil
	})
}

func upLoopback(nh *netlink.Handle) error {
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("lab: find lo: %w", err)
	}
	if err := nh.LinkSetUp(lo); err != nil {
		return fmt.Errorf("lab: set lo up: %w", err)
	}
	return nil
}

// addHost creates the namespace for one host, sets its sysctls, then creates
// the veth pair inside the switch namespace with the peer placed straight into
// the host namespace, so the caller's namespace never sees either end.
func (l *Lab) addHost(role string, octet byte) (*Host, error) {
	name, err := l.createNS(role)
	if err != nil {
		return nil, err
	}
	h := &Host{
		Name:  role,
		NS:    name,
		Iface: hostIface,
		Port:  role,
		IP4:   netip.AddrFrom4([4]byte{l.sub[0], l.sub[1], l.sub[2], octet}),
		MAC:   net.HardwareAddr{0x02, 0x00, l.sub[0], l.sub[1], l.sub[2], octet},
		lab:   l,
	}
	if l.cfg.IPv6 {
		h.IP6 = l.ip6(int(octet))
	}
	if err := h.setSysctls(map[string]string{
		"net/ipv6/conf/all/accept_dad":     "0",
		"net/ipv6/conf/default/accept_dad": "0",
		"net/ipv4/conf/all/arp_accept":     "0",
		"net/ipv4/conf/default/arp_accept": "0",
	}); err != nil {
		return nil, err
	}
	hostNS, err := netns.GetFromPath(h.NetNSPath())
	if err != nil {
		return nil, fmt.Errorf("lab: open %s: %w", name, err)
	}
	defer hostNS.Close()
	err = l.sw.withHandle(func(sw *netlink.Handle) error {
		br, err := sw.LinkByName(bridgeName)
		if err != nil {
			return fmt.Errorf("lab: find bridge: %w", err)
		}
		veth := &netlink.Veth{
			LinkAttrs:        netlink.LinkAttrs{Name: h.Port, MasterIndex: br.Attrs().Index},
			PeerName:         hostIface,
			PeerHardwareAddr: h.MAC,
			PeerNamespace:    netlink.NsFd(hostNS),
		}
		if err := sw.LinkAdd(veth); err != nil {
			return fmt.Errorf("lab: add veth %s/%s for %s: %w", h.Port, hostIface, name, err)
		}
		if err := sw.LinkSetUp(veth); err != nil {
			return fmt.Errorf("lab: set port %s up: %w", h.Port, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = h.withHandle(func(nh *netlink.Handle) error {
		if err := upLoopback(nh); err != nil {
			return err
		}
		eth, err := nh.LinkByName(hostIface)
		if err != nil {
			return fmt.Errorf("lab: find %s: %w", hostIface, err)
		}
		addrs := []*netlink.Addr{{IPNet: prefixNet(netip.PrefixFrom(h.IP4, 24))}}
		if h.IP6.IsValid() {
			addrs = append(addrs, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(h.IP6, 64)), Flags: unix.IFA_F_NODAD})
		}
		for _, a := range addrs {
			if err := nh.AddrAdd(eth, a); err != nil {
				return fmt.Errorf("lab: add %s to %s: %w", a.IPNet, hostIface, err)
			}
		}
		if err := nh.LinkSetUp(eth); err != nil {
			return fmt.Errorf("lab: set %s up: %w", hostIface, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return h, nil
}

// ip6 maps a host number to fd00:<a>:<b>:<c>::<n>, writing the decimal digits
// of the IPv4 octets as hex groups so both addresses read alike in logs.
func (l *Lab) ip6(n int) netip.Addr {
	s := fmt.Sprintf("fd00:%d:%d:%d::%d", l.sub[0], l.sub[1], l.sub[2], n)
	return netip.MustParseAddr(s)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// ID is the unique part of every name in this lab ("<name>-<pid>-<rand>").
// Tests can use it to make their own names (nft tables, files) unique.
func (l *Lab) ID() string { return l.id }

// Dir is a temporary directory that lives as long as the lab; process logs and
// Redis data live here, and tests may put their own files here.
func (l *Lab) Dir() string { return l.dir }

// Hosts returns the server hosts h1..hN in order.
func (l *Lab) Hosts() []*Host { return append([]*Host(nil), l.hosts...) }

// Clients returns the client namespaces c1..cN in order.
func (l *Lab) Clients() []*Host { return append([]*Host(nil), l.client...) }

// Switch returns the switch namespace (Iface is the bridge, no addresses), for
// running tcpdump on br0 or "bridge fdb show".
func (l *Lab) Switch() *Host { return l.sw }

// Host returns the host or client with the given name ("h1", "c2"), or nil.
func (l *Lab) Host(name string) *Host {
	for _, h := range l.members() {
		if h.Name == name {
			return h
		}
	}
	return nil
}

func (l *Lab) members() []*Host {
	return append(append([]*Host(nil), l.hosts...), l.client...)
}

// Prefix4 is the lab's IPv4 subnet, a /24 inside 198.18.0.0/15.
func (l *Lab) Prefix4() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{l.sub[0], l.sub[1], l.sub[2], 0}), 24)
}

// Prefix6 is the lab's IPv6 subnet, a /64 inside fd00::/8. It is defined even
// when Config.IPv6 is false, but then no host has an address in it.
func (l *Lab) Prefix6() netip.Prefix { return netip.PrefixFrom(l.ip6(0), 64) }

// FreeIP4 returns an address in Prefix4 that no host has and that no earlier
// call returned (.200 to .254), for use as a VIP. It panics when they run out,
// which only a broken test can cause.
func (l *Lab) FreeIP4() netip.Addr {
	n := l.nextFree(&l.nextV4, "FreeIP4")
	return netip.AddrFrom4([4]byte{l.sub[0], l.sub[1], l.sub[2], byte(n)})
}

// FreeIP6 returns an address in Prefix6 that no host has and that no earlier
// call returned (::200 and up), for use as a VIP.
func (l *Lab) FreeIP6() netip.Addr {
	return l.ip6(l.nextFree(&l.nextV6, "FreeIP6"))
}

// nextFree hands out the next host number of a family's free range (*next,
// kept under l.mu) and panics, naming caller, when the range is used up.
func (l *Lab) nextFree(next *int, caller string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if *next > lastVIP {
		panic("lab: " + caller + ": all free addresses handed out")
	}
	*next++
	return *next - 1
}

// track registers something Close must close, or reports that the lab is
// already closed.
func (l *Lab) track(c io.Closer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("lab: closed")
	}
	l.closers = append(l.closers, c)
	return nil
}

func (l *Lab) logPath(host, prog string) string {
	l.mu.Lock()
	l.nseq++
	n := l.nseq
	l.mu.Unlock()
	return filepath.Join(l.dir, fmt.Sprintf("%02d-%s-%s.log", n, host, filepath.Base(prog)))
}

// Close kills every process of the lab and deletes its namespaces (and with
// them the bridge, veths and nftables rules) and its temporary directory. It
// is idempotent, safe after a failed New, and returns the first call's result.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() { l.closeErr = l.close() })
	return l.closeErr
}

func (l *Lab) close() error {
	l.mu.Lock()
	l.closed = true
	procs, closers, names := l.procs, l.closers, l.nsNames
	l.mu.Unlock()

	var errs []error
	for _, c := range closers {
		c.Close() // clients the test may already have closed; nothing to report
	}
	for _, p := range procs {
		if err := p.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range procs {
		if err := p.waitExit(killWait); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range names {
		if err := killNamespace(name); err != nil {
			errs = append(errs, err)
		}
		if err := deleteNS(name); err != nil {
			errs = append(errs, err)
		}
	}
	if l.dir != "" {
		if err := os.RemoveAll(l.dir); err != nil {
			errs = append(errs, fmt.Errorf("lab: remove %s: %w", l.dir, err))
		}
	}
	if l.claim != nil {
		l.claim.Close()
	}
	return errors.Join(errs...)
}

// deleteNS removes a named namespace the way "ip netns del" does. The kernel
// frees the namespace, and the interfaces in it, once nothing refers to it.
func deleteNS(name string) error {
	if err := netns.DeleteNamed(name); err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("lab: delete namespace %s: %w", name, err)
	}
	os.Remove(filepath.Join(netnsDir, name)) // if the unmount worked but remove did not
	return nil
}

// parseName splits "vsl-[<name>-]<pid>-<rand>[-<role>]" into its lab name
// and creator pid. A name starts with a letter, so the first all-digit field
// is the pid.
func parseName(s string) (name string, pid int, ok bool) {
	rest, found := strings.CutPrefix(s, nsPrefix)
	if !found {
		return "", 0, false
	}
	f := strings.Split(rest, "-")
	if len(f) < 2 {
		return "", 0, false
	}
	if len(f[0]) > 0 && f[0][0] >= 'a' && f[0][0] <= 'z' {
		name, f = f[0], f[1:]
	}
	if len(f) < 2 || len(f[1]) != 4 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return "", 0, false
	}
	if _, err := strconv.ParseUint(f[1], 16, 16); err != nil {
		return "", 0, false
	}
	return name, pid, true
}
