// Package scenario runs a whole vipsentinel deployment inside a lab (see
// agent/lab): real redis-server instances, one agent per host holding a
// floating IP, and a client writing through that IP. It injects the faults
// users care about (kill -9 of the master, the master's host cut off) and
// measures what a client sees: the write outage, acknowledged writes lost,
// and how long the floating IP was held by two hosts at once.
//
// RunBoot builds a deployment host by host instead, as a whole-cluster
// power-on does (each host's redis-server, then its agent, a delay apart,
// the master preloaded and the replicas syncing while the agents start),
// and reports what the boot did: failovers, CLIENT PAUSEs the servers
// executed, keys and writes lost. agent/campaign builds its randomized
// fault campaign on this package.
//
// The same deployment can be run with the classic stack vipsentinel
// replaces — redis-sentinel with a client-reconfig-script that runs
// "ip addr add/del" and "arping" — so both are measured side by side in the
// same lab and the same run. The demo, the benchmarks and the end-to-end
// tests are built on this package.
package scenario
