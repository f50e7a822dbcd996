package vip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/bpf"
)

var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// allNodes is ff02::1 and allNodesMAC its Ethernet multicast address.
var (
	allNodes    = netip.IPv6LinkLocalAllNodes()
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
)

const (
	ipv6HeaderLen = 40
	protoICMPv6   = 58
	hopLimitND    = 255
)

// garpFrames returns the two gratuitous ARP shapes Linux receivers accept
// without waiting out locktime (net/ipv4/arp.c arp_is_garp), both broadcast
// with Ethernet source = sender hardware address = mac:
//   - a request with sender IP = target IP = ip (THA zero, as RFC 5227's
//     ARP announcement);
//   - a reply with sender IP = target IP = ip and THA = SHA = mac. A reply
//     with THA = broadcast (MetalLB's) is not a GARP to Linux and is ignored
//     within locktime.
func garpFrames(mac net.HardwareAddr, ip netip.Addr) (request, reply []byte, err error) {
	if len(mac) != 6 {
		return nil, nil, fmt.Errorf("hardware address %v is not Ethernet", mac)
	}
	if !ip.Is4() {
		return nil, nil, fmt.Errorf("%s is not an IPv4 address", ip)
	}
	request, err = arpFrame(arp.OperationRequest, mac, ip, zeroMAC)
	if err != nil {
		return nil, nil, err
	}
	reply, err = arpFrame(arp.OperationReply, mac, ip, mac)
	if err != nil {
		return nil, nil, err
	}
	return request, reply, nil
}

func arpFrame(op arp.Operation, mac net.HardwareAddr, ip netip.Addr, tha net.HardwareAddr) ([]byte, error) {
	p, err := arp.NewPacket(op, mac, ip, tha, ip)
	if err != nil {
		return nil, fmt.Errorf("build ARP %v for %s: %w", op, ip, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshal ARP %v for %s: %w", op, ip, err)
	}
	f := ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      mac,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     pb,
	}
	return f.MarshalBinary()
}

// naFrame returns an unsolicited neighbour advertisement for ip: to ff02::1,
// Override set, Solicited and Router clear, with a target link-layer address
// option; hop limit 255. The source address is ip itself (as keepalived
// does): it is on the interface (installed with NODAD, so never tentative)
// and needs no link-local address to exist.
func naFrame(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("hardware address %v is not Ethernet", mac)
	}
	if !ip.Is6() || ip.Is4In6() {
		return nil, fmt.Errorf("%s is not an IPv6 address", ip)
	}
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{
			Direction: ndp.Target,
			Addr:      mac,
		}},
	}
	icmp, err := ndp.MarshalMessageChecksum(na, ip, allNodes)
	if err != nil {
		return nil, fmt.Errorf("marshal neighbour advertisement for %s: %w", ip, err)
	}
	pkt := make([]byte, ipv6HeaderLen+len(icmp))
	pkt[0] = 6 << 4
	binary.BigEndian.PutUint16(pkt[4:6], uint16(len(icmp)))
	pkt[6] = protoICMPv6
	pkt[7] = hopLimitND
	src, dst := ip.As16(), allNodes.As16()
	copy(pkt[8:24], src[:])
	copy(pkt[24:40], dst[:])
	copy(pkt[40:], icmp)
	f := ethernet.Frame{
		Destination: allNodesMAC,
		Source:      mac,
		EtherType:   ethernet.EtherTypeIPv6,
		Payload:     pkt,
	}
	return f.MarshalBinary()
}

// Claim is an ARP packet or neighbour advertisement, seen on Iface, in which
// hardware address MAC claims IP.
type Claim struct {
	Iface string
	IP    netip.Addr
	MAC   net.HardwareAddr
	Kind  string // "arp-request", "arp-reply" or "na"
}

var errNotClaim = errors.New("not an address claim")

// parseClaim decodes an Ethernet frame into the claim it makes, if any: an
// ARP request or reply with a non-zero sender IP (probes, with sender IP
// 0.0.0.0, claim nothing), or an IPv6 neighbour advertisement (hop limit
// 255, as RFC 4861 requires) for a target, whose hardware address is the
// target link-layer option or else the Ethernet source.
func parseClaim(b []byte) (Claim, error) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		return Claim{}, fmt.Errorf("ethernet: %w", err)
	}
	switch f.EtherType {
	case ethernet.EtherTypeARP:
		var p arp.Packet
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			return Claim{}, fmt.Errorf("arp: %w", err)
		}
		if p.HardwareAddrLength != 6 || p.IPLength != 4 || p.ProtocolType != uint16(ethernet.EtherTypeIPv4) {
			return Claim{}, errNotClaim
		}
		if !p.SenderIP.Is4() || p.SenderIP.IsUnspecified() {
			return Claim{}, errNotClaim
		}
		kind := "arp-request"
		switch p.Operation {
		case arp.OperationRequest:
		case arp.OperationReply:
			kind = "arp-reply"
		default:
			return Claim{}, errNotClaim
		}
		return Claim{IP: p.SenderIP, MAC: p.SenderHardwareAddr, Kind: kind}, nil
	case ethernet.EtherTypeIPv6:
		pkt := f.Payload
		if len(pkt) < ipv6HeaderLen || pkt[0]>>4 != 6 || pkt[6] != protoICMPv6 || pkt[7] != hopLimitND {
			return Claim{}, errNotClaim
		}
		n := int(binary.BigEndian.Uint16(pkt[4:6]))
		if n > len(pkt)-ipv6HeaderLen {
			return Claim{}, fmt.Errorf("ipv6: payload length %d exceeds frame", n)
		}
		m, err := ndp.ParseMessage(pkt[ipv6HeaderLen : ipv6HeaderLen+n])
		if err != nil {
			return Claim{}, fmt.Errorf("ndp: %w", err)
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok {
			return Claim{}, errNotClaim
		}
		mac := f.Source
		for _, o := range na.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
				mac = lla.Addr
			}
		}
		return Claim{IP: na.TargetAddress.WithZone(""), MAC: mac, Kind: "na"}, nil
	}
	return Claim{}, errNotClaim
}

// naFilter is a classic BPF program for an ETH_P_IPV6 packet socket that
// keeps only ICMPv6 neighbour advertisements without extension headers, so
// the conflict watcher does not copy every IPv6 packet of a busy host.
func naFilter() ([]bpf.RawInstruction, error) {
	const (
		offNextHeader = 14 + 6
		offICMPType   = 14 + ipv6HeaderLen
		typeNA        = 136
	)
	return bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: offNextHeader, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: 3},
		bpf.LoadAbsolute{Off: offICMPType, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: typeNA, SkipTrue: 1},
		bpf.RetConstant{Val: 0xFFFF},
		bpf.RetConstant{Val: 0},
	})
}

func sameMAC(a, b net.HardwareAddr) bool { return bytes.Equal(a, b) }
