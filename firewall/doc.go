// Package firewall opens the agent's TCP ports (Sentinel API, on its plain
// and TLS ports when it serves both, and local Redis) in nftables, replacing
// hand edits of /etc/sysconfig/iptables.
//
// # What it installs
//
// One table, inet vipsentinel, with one base chain (filter, hook input,
// priority -10, policy accept) that accepts TCP to the agent port(s) and the
// Redis port and nothing else, optionally only from the firewall-allow
// prefixes (interval sets allow4/allow6). The table is always replaced as a
// whole in one netlink batch (add, delete, add, then its content), which the
// kernel commits as one transaction: no packet ever sees half of it. Rules
// carry the comment "vipsentinel". Manager.Ruleset dumps what is installed.
//
// # Other firewalls
//
// An accept in our table does not override a drop or reject in another
// table's base chain on the same hook: every base chain must let a packet
// through. Open and every reconcile therefore analyse the other input base
// chains (iptables-nft's ip filter INPUT, ufw, firewalld's inet firewalld, a
// plain inet filter...) and report each one that may drop the traffic as a
// Conflict naming the table, chain, hook, priority, what drops, and the fix.
// With firewall-mode inject (ModeInject) the Manager also inserts accept rules
// (comment "vipsentinel (auto, removed on stop)") at the top of each such
// chain, keeps them at the top, and removes exactly those rules on Close.
// A table owned by its creator (firewalld >= 2.2) cannot be changed; the
// conflict then stays unhandled and its Fix names the firewall-cmd command.
// Injected rules come first in the chain, so for the opened ports they bypass
// the chain's later rules, block lists included; firewall-allow is the way
// to limit the sources. iptables-save cannot print nft-native rules and
// reports a chain holding them as incompatible while they are there.
//
// The analysis follows jumps and understands the usual conditions (meta
// l4proto and nfproto, tcp dport values, ranges and sets, ct state, daddr
// loopback). Rules matching on anything else (source addresses, interfaces,
// rate limits, xt matches) may or may not hit the traffic: a drop among them
// is reported with Certain false, and an accept among them is not taken as
// opening the ports. Verdict maps on ct state are assumed to decide only
// established, related and invalid packets.
//
// # Ordering with the VIP
//
// Clients must never reach a VIP whose ports are closed, so the runtime
// follows this order:
//
//	m, _ := firewall.New(cfg, opts)   // touches nothing
//	m.Open(ctx)                       // ports open, committed in the kernel
//	go m.Run(ctx)                     // keeps them open (monitor + periodic check)
//	... acquire the VIP only after Open returned nil ...
//	... on shutdown: release the VIP first, then ...
//	m.Close(ctx)                      // removes table and injected rules
//
// Open is called once at start-up, whatever the role: peers need the agent
// port and replicas the Redis port even when this host is not the master.
// After Open returned nil, the ports stay open until Close; if someone
// flushes the ruleset, Run restores it within milliseconds.
//
// # Fencing
//
// With firewall-fence yes, SetFenced(true, allowed) makes the chain reject
// (TCP reset) new connections to the Redis port except from loopback and the
// given addresses (other agents and replicas), so that an isolated or stale
// master stops taking writes from clients. Established connections are not
// cut. SetFenced(false, nil) lifts the fence.
//
// # Stopping
//
// Close removes everything the Manager installed unless firewall-keep-on-stop
// is set (Config.KeepOnStop), in which case the table and injected rules stay
// (the ports remain open while the agent is down) but the fence is lifted.
// The next Open replaces whatever was left.
//
// # firewall no
//
// With firewall no the runtime never constructs a Manager, so the ruleset is
// never read or changed; opening the ports is then the operator's job.
//
// Tests run the real implementation in a network namespace:
// Options.NetNS takes the namespace's file descriptor.
package firewall
