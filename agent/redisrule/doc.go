// Package redisrule holds the small rules of Redis's text formats that more
// than one part of the agent must apply the way Redis does: splitting a line
// into arguments (inline requests, configuration files), matching a glob
// pattern (PSUBSCRIBE, KEYS-style patterns, SENTINEL RESET, CONFIG GET,
// COMMAND LIST) and writing or reading an address.
//
// Each rule lives here once, so the RESP server, the configuration parser and
// the pure core cannot drift apart. The package is a leaf: it imports only
// the standard library and holds no state, so agent/sentinel may use it. The
// tests check each rule's table against the answers of a real redis-server.
package redisrule
