// Package scenario runs a whole vipsentinel deployment inside a lab (see
// agent/lab): real redis-server instances, one agent per host holding a
// floating IP, and a client writing through that IP. It injects the faults
// users care about (kill -9 of the master, the master's host cut off) and
// measures what a client sees: the write outage, acknowledged writes lost,
// and how long the floating IP was held by two hosts at once.
//
// The same deployment can be run with the classic stack vipsentinel
// replaces — redis-sentinel with a client-reconfig-script that runs
// "ip addr add/del" and "arping" — so both are measured side by side in the
// same lab and the same run. The demo, the benchmarks and the end-to-end
// tests are built on this package.
package scenario
