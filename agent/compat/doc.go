// Package compat holds vipsentinel's client-compatibility tests; it has no
// non-test code.
//
// The tests start real redis-server instances, a real redis-sentinel and
// vipsentinel agents (the cmd/vipsentinel binary, built once per run) on
// 127.0.0.1 and check two things:
//
//   - Differential: the same request bytes sent to redis-sentinel and to a
//     vipsentinel agent give replies of the same RESP structure (types,
//     lengths, map keys and their order, error text), in RESP2 and RESP3.
//     Values that legitimately differ (ids, times, counters, versions) are
//     normalised; deliberate differences are listed with the reason.
//   - Clients: redis-py, phpredis and ioredis, unchanged, discover the
//     master through the agents and follow it across a failover. Each client
//     runs a script from testdata that prints JSON the Go test checks.
//
// Interpreters and client libraries come from Debian packages (python3-redis,
// php-cli, php-redis, nodejs) and npm (ioredis, installed into a cache
// directory outside the repository). A missing one skips its test, except
// under CI=true, where it fails.
//
// Every difference from redis-sentinel 7.0.15 that is left is deliberate
// and listed, with its reason, in fixes_test.go; there is no list of known
// incompatibilities waiting to be fixed.
package compat
