package api

import (
	"context"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// KV is one field of an ordered map reply: SENTINEL MASTER and friends return
// their fields in a fixed order that clients index into.
type KV = sentinel.KV

// IsDown is the answer to SENTINEL IS-MASTER-DOWN-BY-ADDR.
type IsDown struct {
	Down        bool
	Leader      string // "*" when no vote
	LeaderEpoch uint64
}

// InfoCacheEntry is one master's part of SENTINEL INFO-CACHE: the cached
// INFO of the master, then of each replica.
type InfoCacheEntry struct {
	Master    string
	Instances []CachedInfo
}

// CachedInfo is one instance's cached INFO text and its age. Info is empty
// with Valid false when nothing was cached.
type CachedInfo struct {
	AgeMillis int64
	Info      string
	Valid     bool
}

// Script describes one queued or running script for SENTINEL
// PENDING-SCRIPTS.
type Script struct {
	Argv    []string
	Running bool
	PID     int
	// RunTimeMillis is the time since start when running, otherwise the
	// delay until the next attempt.
	RunTimeMillis int64
	RetryNum      int
}

// Backend is the API's only way to reach the Sentinel core. Implementations
// (the runtime) must run every call on the goroutine that owns the core, and
// must not return from a call that may have changed persisted state (a vote,
// an epoch, SENTINEL SET ...) before that state is durable: the reply is
// written to the client as soon as the call returns.
//
// Errors are written to the client as error replies. An error message that
// starts with an upper-case code ("ERR", "INPROG", "NOGOODSLAVE",
// "NOQUORUM") is sent as is; any other is prefixed with "ERR ".
type Backend interface {
	// Masters returns the instance map of every master, in name order.
	Masters(ctx context.Context) ([][]KV, error)
	// Master returns one master's instance map.
	Master(ctx context.Context, name string) ([]KV, error)
	// Replicas returns the announced replicas of a master.
	Replicas(ctx context.Context, name string) ([][]KV, error)
	// Sentinels returns the other sentinels (agents) of a master.
	Sentinels(ctx context.Context, name string) ([][]KV, error)
	// MasterAddr returns the current address of a master; ok is false if
	// the name is unknown.
	MasterAddr(ctx context.Context, name string) (addr sentinel.Addr, ok bool, err error)
	// IsMasterDownByAddr answers a peer's SDOWN question and, when runID is
	// not "*", its vote request.
	IsMasterDownByAddr(ctx context.Context, addr sentinel.Addr, epoch uint64, runID string) (IsDown, error)
	// Reset resets the masters matching pattern and returns how many.
	Reset(ctx context.Context, pattern string) (int, error)
	// Failover forces a failover of the named master.
	Failover(ctx context.Context, name string) error
	// CKQuorum returns the "+OK ..." status text or a NOQUORUM error.
	CKQuorum(ctx context.Context, name string) (string, error)
	// FlushConfig rewrites the persisted state.
	FlushConfig(ctx context.Context) error
	// Monitor starts monitoring a master; arguments are as received.
	Monitor(ctx context.Context, name, host, port, quorum string) error
	// Remove stops monitoring a master.
	Remove(ctx context.Context, name string) error
	// Set changes per-master options: args are option/value pairs.
	Set(ctx context.Context, name string, args []string) error
	// ConfigSet changes global options: args are parameter/value pairs.
	ConfigSet(ctx context.Context, args []string) error
	// ConfigGet returns the global options matching any of the patterns.
	ConfigGet(ctx context.Context, patterns []string) ([]KV, error)
	// MyID returns this agent's 40-character run id.
	MyID(ctx context.Context) (string, error)
	// InfoCache returns the cached INFO of the named masters (all when
	// names is empty) and their replicas.
	InfoCache(ctx context.Context, names []string) ([]InfoCacheEntry, error)
	// PendingScripts lists queued and running scripts.
	PendingScripts(ctx context.Context) ([]Script, error)
	// SimulateFailure sets failure-simulation flags (already validated
	// names: "crash-after-election", "crash-after-promotion").
	SimulateFailure(ctx context.Context, flags []string) error
	// Debug with no arguments returns the timers; with name/value pairs it
	// sets them.
	Debug(ctx context.Context, args []string) ([]KV, error)
	// Hello delivers a hello message PUBLISHed to the API by a peer at
	// from; authenticated is set when the client authenticated with
	// requirepass (it holds the group's secret).
	Hello(ctx context.Context, from sentinel.Addr, authenticated bool, payload string) error
	// InfoSentinel returns the fields of INFO's "# Sentinel" section (the
	// masterN lines included, in order).
	InfoSentinel(ctx context.Context) ([]KV, error)
	// InfoVIPSentinel returns the fields of INFO's "# VIPSentinel" section.
	InfoVIPSentinel(ctx context.Context) ([]KV, error)
	// Pause puts the named master (every master when name is empty) in
	// maintenance for d, or until Resume when d is 0 (VIPSENTINEL PAUSE).
	Pause(ctx context.Context, name string, d time.Duration) error
	// Resume ends the maintenance of the named master (every master when
	// name is empty).
	Resume(ctx context.Context, name string) error
	// FailoverTo switches the named master over to the replica at to
	// (VIPSENTINEL FAILOVER).
	FailoverTo(ctx context.Context, name string, to sentinel.Addr) error
	// Status returns a JSON-encodable snapshot for VIPSENTINEL STATUS.
	Status(ctx context.Context) (any, error)
	// Shutdown asks the agent to stop gracefully.
	Shutdown(ctx context.Context) error
}
