// Package lab builds a throw-away network of hosts on one Linux machine for
// tests, benchmarks and the demo: every host is a network namespace with one
// veth interface plugged into a bridge, and can run real processes
// (redis-server, the agent) bound to its own addresses.
//
// # Topology
//
// A lab owns 1 + Hosts + Clients named network namespaces, all called
// "vsl-[<name>-]<pid>-<rand>-<role>":
//
//   - "sw": the switch. It holds the bridge br0 and one port per host, named
//     after the host (h1, h2, ..., c1, ...). It has no addresses and IPv6 is
//     disabled in it. Partitions are nftables rules in a bridge-family table
//     "lab" here, matched on bridge ports, so they cut every frame of a host
//     (ARP, neighbour discovery and any VIP the host holds), not just the
//     addresses it started with. Random packet loss on a host's port
//     (SetLoss) is a rule of the same chain.
//   - "h1".."hN" (servers) and "c1".."cN" (clients): interface eth0 with a
//     fixed, locally administered MAC 02:00:<IPv4 address>, the address
//     <prefix>.i/24 (servers .1-.99, clients .101-.199) and, with IPv6,
//     fd00:<a>:<b>:<c>::i/64 added with nodad. FreeIP4/FreeIP6 hand out .200
//     and up for VIPs.
//
// Nothing is created in the caller's network namespace: the veth pairs are
// created inside the switch namespace with the peer placed directly in the
// host namespace. Each lab picks a random /24 in 198.18.0.0/15, unique among
// the labs alive on the machine (claimed with an abstract unix socket, so a
// crashed process releases it).
//
// # Sysctls set in every host namespace
//
//   - lo is up.
//   - net.ipv6.conf.{all,default}.accept_dad=0: addresses, including the
//     link-local one, are usable at once, so no test waits for DAD. Tests of
//     DAD handling can turn it back on with Host.SetSysctl.
//   - net.ipv4.conf.{all,default}.arp_accept=0 (the kernel default, written
//     explicitly): a gratuitous ARP updates an existing neighbour entry but
//     never creates one. Tests that want GARPs to create entries set
//     arp_accept=1 on the receiving host (see vip-anchors.md section 8).
//   - Everything else (arp_ignore, arp_announce, ip_nonlocal_bind,
//     promote_secondaries) keeps the kernel default; the code under test is
//     responsible for those.
//
// The bridge has multicast snooping off, so IPv6 neighbour solicitations
// reach every port regardless of MLD state.
//
// # Processes and clean-up
//
// Exec and Start run programs through "ip netns exec", each in its own
// process group with SIGKILL as parent-death signal. Close kills the tracked
// process groups, then every process whose network namespace is one of the
// lab's (so daemonised children are caught too), deletes the namespaces
// (which removes the veths, the bridge and the nftables table) and the lab's
// temporary directory. Sweep removes what a crashed run left behind.
package lab
