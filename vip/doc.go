// Package vip holds the floating IP addresses (VIPs) of Redis masters on
// the host where this agent's Sentinel core says they belong, and nowhere
// else.
//
// A Manager is driven by the desired state ([Intent], passed to Set), which
// the caller derives from the Sentinel core's decisions. One goroutine (Run) reconciles desired against actual
// addresses on every Set, on every netlink address event and every few
// seconds:
//   - it installs owned VIPs, tagged with IFA_PROTO DefaultProto (and, for
//     IPv4, the label "<iface>:vip") so that leftovers of a crashed run are
//     recognised and removed at the next start;
//   - it removes VIPs it does not own, including configured VIPs found at
//     start (unless KeepOnStop) and tagged addresses no configuration wants;
//   - it re-adds and re-announces a held VIP that someone else removed
//     (systemd-networkd, netplan, DHCP renewals, an admin), and re-adds an
//     IPv6 VIP that went dadfailed;
//   - on acquisition it announces the VIP at once and on a schedule
//     (GARPConfig): a gratuitous ARP request and a gratuitous ARP reply with
//     THA = SHA (the two shapes Linux accepts within neigh locktime), or an
//     unsolicited neighbour advertisement with the Override flag to ff02::1.
//     Announcements stop the moment ownership is lost;
//   - while it holds a VIP it watches ARP and neighbour advertisements on the
//     interface and reports other hardware addresses claiming the VIP.
//
// Every action is logged with the config epoch that justified it and
// reported as +vip-acquired, +vip-released or +vip-conflict events with the
// payload "<master> <vip> <iface> epoch <n>" (conflicts add
// "from <mac> <kind>").
//
// VIPs are never source addresses: IPv6 ones are deprecated (preferred
// lifetime 0) and IPv4 ones are either /32 or secondaries; see Config.
//
// The kernel is reached through two small interfaces, Addrs (Netlink) and
// Announcer (Packet), both of which can work in another network namespace.
// They need CAP_NET_ADMIN and CAP_NET_RAW.
//
// Operational notes:
//   - Run one Manager per network namespace (per IFA_PROTO tag): a Manager
//     removes tagged addresses it does not want.
//   - An IPv4 VIP that is a secondary dies with its primary unless
//     net.ipv4.conf.<iface>.promote_secondaries=1; the Manager then re-adds
//     it (as a /32 while no primary covers it). Setting the sysctl is left to
//     the operator or the runtime.
//   - systemd-networkd removes foreign addresses on reconfiguration unless
//     KeepConfiguration= is set; the Manager repairs this, with a short gap.
//   - Gratuitous ARP only updates existing neighbour entries on Linux
//     receivers with arp_accept=0 (the default), and unsolicited NAs only
//     existing entries unless the receiver is a router with
//     accept_untracked_na. Clouds without a real L2 ignore both.
package vip
