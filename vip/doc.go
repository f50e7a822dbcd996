// Package vip holds the floating IP addresses (VIPs) of Redis masters on
// the host where this agent's Sentinel core says they belong, and nowhere
// else.
//
// A Manager is driven by the core's desired state ([sentinel.VIPIntent],
// passed to Set). One goroutine (Run) reconciles desired against actual
// addresses on every Set, on every netlink address event and every few
// seconds: it installs owned VIPs (tagged with IFA_PROTO so that leftovers of
// a crashed run are recognised), removes VIPs it does not own, re-adds and
// re-announces a held VIP that someone else removed, and re-adds an IPv6 VIP
// that went dadfailed. On acquisition it announces the VIP with gratuitous
// ARP (both shapes Linux accepts within locktime) or unsolicited neighbour
// advertisements, and while holding a VIP it watches for other hardware
// addresses claiming it. Every action is logged with the config epoch that
// justified it and reported as +vip-acquired, +vip-released or
// +vip-conflict events.
//
// The kernel is reached through two small interfaces, Addrs (Netlink) and
// Announcer (Packet), both of which can work in another network namespace.
package vip
