package vip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/bpf"
)

var (
	testMAC = net.HardwareAddr{0x02, 0x42, 0xc6, 0x12, 0x00, 0x0a}
	testIP4 = netip.MustParseAddr("198.18.0.10")
	testIP6 = netip.MustParseAddr("fd00::10")
)

// linuxIsGARP mirrors net/ipv4/arp.c arp_is_garp() for a unicast sender
// address: only packets it accepts bypass neigh locktime.
func linuxIsGARP(p *arp.Packet) bool {
	isGARP := p.SenderIP == p.TargetIP
	if isGARP && p.Operation == arp.OperationReply {
		isGARP = bytes.Equal(p.SenderHardwareAddr, p.TargetHardwareAddr)
	}
	return isGARP
}

func parseARPFrame(t *testing.T, b []byte) (*ethernet.Frame, *arp.Packet) {
	t.Helper()
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	return &f, &p
}

func TestGARPShapes(t *testing.T) {
	req, rep, err := garpFrames(testMAC, testIP4)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		frame []byte
		op    arp.Operation
		tha   net.HardwareAddr
	}{
		{"request", req, arp.OperationRequest, zeroMAC},
		{"reply", rep, arp.OperationReply, testMAC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := parseARPFrame(t, tt.frame)
			if !bytes.Equal(f.Destination, ethernet.Broadcast) || !bytes.Equal(f.Source, testMAC) || f.EtherType != ethernet.EtherTypeARP {
				t.Errorf("ethernet header dst %v src %v type %v", f.Destination, f.Source, f.EtherType)
			}
			if p.HardwareType != 1 || p.ProtocolType != uint16(ethernet.EtherTypeIPv4) || p.HardwareAddrLength != 6 || p.IPLength != 4 {
				t.Errorf("ARP header %+v", p)
			}
			if p.Operation != tt.op || !bytes.Equal(p.SenderHardwareAddr, testMAC) || !bytes.Equal(p.TargetHardwareAddr, tt.tha) {
				t.Errorf("op %v sha %v tha %v, want %v %v %v", p.Operation, p.SenderHardwareAddr, p.TargetHardwareAddr, tt.op, testMAC, tt.tha)
			}
			if p.SenderIP != testIP4 || p.TargetIP != testIP4 {
				t.Errorf("spa %v tpa %v, want both %v", p.SenderIP, p.TargetIP, testIP4)
			}
			if !linuxIsGARP(p) {
				t.Error("Linux would not treat this as gratuitous (locktime applies)")
			}
			if len(tt.frame) < 60 {
				t.Errorf("frame of %d bytes is below the Ethernet minimum", len(tt.frame))
			}
		})
	}
	// The control: a reply with THA = broadcast (MetalLB's shape) is not a
	// GARP to Linux, which is why ours carries THA = SHA.
	bad, err := arp.NewPacket(arp.OperationReply, testMAC, testIP4, ethernet.Broadcast, testIP4)
	if err != nil {
		t.Fatal(err)
	}
	if linuxIsGARP(bad) {
		t.Error("linuxIsGARP accepts a reply with THA=broadcast; the check is wrong")
	}
}

func TestNAShape(t *testing.T) {
	b, err := naFrame(testMAC, testIP6)
	if err != nil {
		t.Fatal(err)
	}
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Destination, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}) || !bytes.Equal(f.Source, testMAC) || f.EtherType != ethernet.EtherTypeIPv6 {
		t.Fatalf("ethernet header dst %v src %v type %v", f.Destination, f.Source, f.EtherType)
	}
	ip := f.Payload
	plen := int(binary.BigEndian.Uint16(ip[4:6]))
	src, _ := netip.AddrFromSlice(ip[8:24])
	dst, _ := netip.AddrFromSlice(ip[24:40])
	if ip[0]>>4 != 6 || ip[6] != 58 || ip[7] != 255 || src != testIP6 || dst != netip.MustParseAddr("ff02::1") || plen != len(ip)-40 {
		t.Fatalf("IPv6 header: version %d next %d hop %d src %v dst %v plen %d/%d", ip[0]>>4, ip[6], ip[7], src, dst, plen, len(ip)-40)
	}
	icmp := ip[40 : 40+plen]
	if sum := checksum6(src, dst, icmp); sum != 0xffff {
		t.Fatalf("ICMPv6 checksum does not verify (sum %#x)", sum)
	}
	m, err := ndp.ParseMessage(icmp)
	if err != nil {
		t.Fatal(err)
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		t.Fatalf("parsed %T, want neighbour advertisement", m)
	}
	if !na.Override || na.Solicited || na.Router || na.TargetAddress != testIP6 {
		t.Fatalf("NA %+v: want O=1 S=0 R=0 target %v", na, testIP6)
	}
	if len(na.Options) != 1 {
		t.Fatalf("options %v", na.Options)
	}
	lla, ok := na.Options[0].(*ndp.LinkLayerAddress)
	if !ok || lla.Direction != ndp.Target || !bytes.Equal(lla.Addr, testMAC) {
		t.Fatalf("option %+v, want target link-layer address %v", na.Options[0], testMAC)
	}
}

// checksum6 sums the IPv6 pseudo-header and an ICMPv6 message in ones'
// complement; a correct message sums to 0xffff.
func checksum6(src, dst netip.Addr, msg []byte) uint16 {
	var b []byte
	s, d := src.As16(), dst.As16()
	b = append(b, s[:]...)
	b = append(b, d[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	b = append(b, 0, 0, 0, 58)
	b = append(b, msg...)
	if len(b)%2 == 1 {
		b = append(b, 0)
	}
	var sum uint32
	for i := 0; i < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

func TestFrameBuildErrors(t *testing.T) {
	if _, _, err := garpFrames(testMAC, testIP6); err == nil {
		t.Error("GARP for an IPv6 address built")
	}
	if _, err := naFrame(testMAC, testIP4); err == nil {
		t.Error("NA for an IPv4 address built")
	}
	ib := make(net.HardwareAddr, 20) // IPoIB
	if _, _, err := garpFrames(ib, testIP4); err == nil {
		t.Error("GARP with a 20-byte hardware address built")
	}
	if _, err := naFrame(ib, testIP6); err == nil {
		t.Error("NA with a 20-byte hardware address built")
	}
}

func TestParseClaim(t *testing.T) {
	req, rep, err := garpFrames(testMAC, testIP4)
	if err != nil {
		t.Fatal(err)
	}
	na, err := naFrame(testMAC, testIP6)
	if err != nil {
		t.Fatal(err)
	}
	probe, err := arpFrame(arp.OperationRequest, testMAC, netip.IPv4Unspecified(), zeroMAC)
	if err != nil {
		t.Fatal(err)
	}
	// A probe asks about testIP4 but claims nothing (sender IP 0.0.0.0).
	probe = bytes.Clone(probe)
	copy(probe[14+24:14+28], testIP4.AsSlice())
	nsb, err := ndp.MarshalMessageChecksum(&ndp.NeighborSolicitation{TargetAddress: testIP6}, testIP6, allNodes)
	if err != nil {
		t.Fatal(err)
	}
	ns := bytes.Clone(na)
	copy(ns[14+40:], nsb)
	tests := []struct {
		name    string
		frame   []byte
		want    Claim
		wantErr error // errNotClaim, or nil for any other error when want is zero
	}{
		{"garp request", req, Claim{IP: testIP4, MAC: testMAC, Kind: "arp-request"}, nil},
		{"garp reply", rep, Claim{IP: testIP4, MAC: testMAC, Kind: "arp-reply"}, nil},
		{"na", na, Claim{IP: testIP6, MAC: testMAC, Kind: "na"}, nil},
		{"probe", probe, Claim{}, errNotClaim},
		{"ns", ns, Claim{}, errNotClaim},
		{"empty", nil, Claim{}, nil},
		{"truncated arp", req[:20], Claim{}, nil},
		{"truncated ipv6", na[:50], Claim{}, errNotClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClaim(tt.frame)
			if tt.want.IP.IsValid() {
				if err != nil {
					t.Fatal(err)
				}
				if got.IP != tt.want.IP || !bytes.Equal(got.MAC, tt.want.MAC) || got.Kind != tt.want.Kind {
					t.Fatalf("claim %+v, want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("claim %+v from a frame that claims nothing", got)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func FuzzParseClaim(f *testing.F) {
	req, rep, _ := garpFrames(testMAC, testIP4)
	na, _ := naFrame(testMAC, testIP6)
	for _, b := range [][]byte{req, rep, na, nil, {0x86, 0xdd}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseClaim(b)
		if err == nil && (!c.IP.IsValid() || c.MAC == nil) {
			t.Fatalf("claim without address: %+v", c)
		}
	})
}

func TestNAFilter(t *testing.T) {
	prog, err := naFilter()
	if err != nil {
		t.Fatal(err)
	}
	insns := make([]bpf.Instruction, len(prog))
	for i, r := range prog {
		insns[i] = r.Disassemble()
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	na, _ := naFrame(testMAC, testIP6)
	ns := bytes.Clone(na)
	ns[14+40] = 135 // neighbour solicitation
	udp := bytes.Clone(na)
	udp[14+6] = 17
	for _, tt := range []struct {
		name  string
		frame []byte
		keep  bool
	}{
		{"na", na, true},
		{"ns", ns, false},
		{"udp", udp, false},
		{"short", na[:30], false},
	} {
		n, err := vm.Run(tt.frame)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (n > 0) != tt.keep {
			t.Errorf("%s: filter returned %d, want keep=%v", tt.name, n, tt.keep)
		}
	}
}

// TestFramePanicDropsOnlyThatFrame: a panic while handling a received frame
// (injected here through the claim callback) is recovered, logged and
// counted, and the next frame is handled.
func TestFramePanicDropsOnlyThatFrame(t *testing.T) {
	req, _, err := garpFrames(testMAC, testIP4)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p := &Packet{log: slog.New(slog.NewTextHandler(&logs, nil))}
	l := link{name: "eth9", mac: net.HardwareAddr{2, 0, 0, 0, 0, 9}}
	p.frame(req, l, func(Claim) { panic("injected") })
	if p.PanicsRecovered() != 1 || !strings.Contains(logs.String(), "frame dropped") || !strings.Contains(logs.String(), "injected") {
		t.Fatalf("panics %d, log:\n%s", p.PanicsRecovered(), logs.String())
	}
	var got []Claim
	p.frame(req, l, func(c Claim) { got = append(got, c) })
	if len(got) != 1 || got[0].IP != testIP4 || got[0].Iface != "eth9" {
		t.Fatalf("after a panic: claims %+v", got)
	}
}
