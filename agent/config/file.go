package config

import (
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// Defaults. Sentinel's own defaults are Redis Sentinel's, so that an existing
// sentinel.conf behaves the same under vipsentinel.
const (
	DefaultPort                  = 26379
	DefaultDir                   = "/var/lib/vipsentinel"
	DefaultLogLevel              = "notice"
	DefaultDownAfter             = 30 * time.Second
	DefaultFailoverTimeout       = 3 * time.Minute
	DefaultParallelSyncs         = 1
	DefaultMasterRebootDownAfter = 0
	DefaultStateFile             = "vipsentinel.state"
	// DefaultMaxClients is Redis's maxclients default.
	DefaultMaxClients = 10000

	// A burst of 5 announcements 1 s apart, the first at once. Linux ignores
	// a neighbour update that arrives within locktime (1 s by default) of the
	// previous one unless it recognises it as gratuitous; whatever raced with
	// the first packet (a late announcement from the old holder, a receiver
	// that does not treat ours as gratuitous), the second one lands past that
	// window, and five of them cover 4 s while a switch port converges.
	DefaultGARPCount    = 5
	DefaultGARPInterval = time.Second
	DefaultGARPRefresh  = 0 // no periodic re-announcement
)

// LogLevels lists the accepted loglevel values, most verbose first.
var LogLevels = []string{"debug", "verbose", "notice", "warning", "nothing"}

// File is a parsed configuration: what the operator wrote, with every default
// filled in. Runtime state found in the file (a sentinel.conf that Redis has
// rewritten) is kept separately in MyID, CurrentEpoch and the per-master
// Imported fields, for the state package to import on first start.
type File struct {
	Path  string   // the file given to Load or Parse
	Files []string // every file read, in reading order: Path, then includes

	Port int
	Bind []string // IP addresses to listen on; empty means all. * and ::* are given as 0.0.0.0 and ::
	// BindOptional lists the addresses of Bind written with a leading "-"
	// (Redis's syntax): the agent may start without them, for instance
	// without IPv6.
	BindOptional []string
	Dir          string // absolute working directory (state file lives here)
	RequirePass  string // password clients and peers need on our port
	// ProtectedMode (protected-mode, default yes): without RequirePass the
	// API accepts loopback clients only. Unlike redis-sentinel, which turns
	// protected mode off, vipsentinel keeps Redis's default.
	ProtectedMode bool
	MaxClients    int           // maxclients: concurrent API connections
	Timeout       time.Duration // timeout: close API clients idle this long; 0 never
	// Users are the user lines: name, then ACL rules, in file order.
	// ACLFile is the aclfile (absolute), which excludes user lines.
	Users   [][]string
	ACLFile string
	// ACLPubsubAllChannels is acl-pubsub-default allchannels: users start
	// with every channel instead of none.
	ACLPubsubAllChannels bool
	userAt               []pos
	aclFileAt            pos
	LogLevel             string // one of LogLevels
	// LogFile is where logs go when LogFileSet: standard output for "",
	// as in Redis, or a file appended to (absolute: a relative path is
	// resolved against Dir, as Redis opens it after chdir()ing there).
	// Unset, logs go to the journal (or standard error).
	LogFile    string
	LogFileSet bool

	AnnounceIP          string
	AnnouncePort        int
	ResolveHostnames    bool
	AnnounceHostnames   bool
	DenyScriptsReconfig bool
	SentinelUser        string
	SentinelPass        string

	Masters []*Master // in the order of their sentinel monitor lines

	// TLS holds the tls-* directives (Redis's meaning; see tls.go).
	TLS tlsconf.Settings

	Firewall    Firewall
	MetricsAddr string // host:port of the Prometheus endpoint; empty disables it
	StateFile   string // file name of the state file inside Dir

	// MinAgents is the number of agents the group has (min-agents): the
	// core counts majorities over at least this many voters. 0 leaves
	// Sentinel's rule (the agents seen so far).
	MinAgents int

	// Runtime state written by Redis's CONFIG REWRITE (sentinel myid,
	// sentinel current-epoch). Zero when absent.
	MyID         string
	CurrentEpoch uint64
}

// APIAccess describes who may use the agent's API when that deserves the
// operator's attention: protected mode without a password (other agents
// and remote clients are refused), or an API open to anyone. It returns ""
// when clients must authenticate with requirepass.
func (f *File) APIAccess() string {
	switch {
	case f.RequirePass != "", f.ACLFile != "", f.definesDefaultUser():
		// With ACL users the default user's rules decide; the API applies
		// protected mode while it is on and nopass.
		return ""
	case f.ProtectedMode:
		return "protected mode: no requirepass is set, so the API accepts clients from the loopback interface only; " +
			"other agents cannot reach this one (no votes, no failover) until requirepass is set on every agent"
	default:
		return "protected-mode no and no requirepass: any client that reaches the API port can reconfigure or fail over the masters"
	}
}

// definesDefaultUser reports whether a user line configures the default
// user.
func (f *File) definesDefaultUser() bool {
	for _, u := range f.Users {
		if len(u) > 0 && u[0] == "default" {
			return true
		}
	}
	return false
}

// Master is the configuration of one monitored master.
type Master struct {
	// The core's settings (sentinel monitor and the per-master sentinel
	// directives, fence included); HasVIP stays false here: MasterConfig
	// derives it from VIPs.
	// AllowUnreplicatedWrites (a core setting: the agent then does not
	// disconnect replicas that stop receiving) also silences the
	// check-config and status warnings about min-replicas-to-write 0.
	masterConfig

	VIPs          []VIP
	GARP          GARP
	ReleaseOnStop bool // drop the VIPs when the agent stops

	// Imported is the runtime state Redis's CONFIG REWRITE left in the file
	// for this master.
	Imported Imported

	monitorAt  pos
	vipAt      []pos
	fenceSet   bool
	garpLine   pos
	releaseSet pos
}

// Imported is the per-master runtime state found in a rewritten sentinel.conf.
type Imported struct {
	ConfigEpoch    uint64
	LeaderEpoch    uint64
	KnownReplicas  []sentinel.Addr
	KnownSentinels []sentinel.SentinelRecord
}

// HasState reports whether i holds anything.
func (i Imported) HasState() bool {
	return i.ConfigEpoch != 0 || i.LeaderEpoch != 0 || len(i.KnownReplicas) > 0 || len(i.KnownSentinels) > 0
}

// VIP is one floating address of a master: Prefix is the address with the
// prefix length of its subnet (as given to ip addr add), added on Interface
// of whichever host runs the master.
type VIP struct {
	Master    string
	Prefix    netip.Prefix
	Interface string
}

// GARP controls the gratuitous ARP (IPv4) or unsolicited neighbour
// advertisement (IPv6) sent when a VIP is taken over.
type GARP struct {
	Count    int           // announcements per burst; 0 sends none
	Interval time.Duration // spacing between the announcements of a burst
	Refresh  time.Duration // re-announce this often while holding the VIP; 0 = never
}

// FirewallMode says how nftables rules are installed.
type FirewallMode string

// Firewall modes.
const (
	// FirewallOwn: vipsentinel manages its own table and chains.
	FirewallOwn FirewallMode = "own"
	// FirewallInject: rules are inserted into the host's existing ruleset.
	FirewallInject FirewallMode = "inject"
)

// Firewall is the global nftables configuration.
type Firewall struct {
	Enabled    bool
	Allow      []netip.Prefix // sources allowed to reach the agent and Redis ports
	Mode       FirewallMode
	KeepOnStop bool // leave the rules in place when the agent stops
	Fence      bool // block client traffic to a local Redis that lost its master role
}

type pos struct {
	file string
	line int
}

// Master returns the master called name, or nil.
func (f *File) Master(name string) *Master {
	for _, m := range f.Masters {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// VIPs returns the floating addresses of every master, in configuration
// order.
func (f *File) VIPs() []VIP {
	var out []VIP
	for _, m := range f.Masters {
		out = append(out, m.VIPs...)
	}
	return out
}

// StatePath returns the absolute path of the state file.
func (f *File) StatePath() string {
	return filepath.Join(f.Dir, f.StateFile)
}

// HasImportedState reports whether the file carries runtime state written by
// Redis's CONFIG REWRITE (myid, epochs, known replicas or sentinels).
func (f *File) HasImportedState() bool {
	if f.MyID != "" || f.CurrentEpoch != 0 {
		return true
	}
	for _, m := range f.Masters {
		if m.Imported.HasState() {
			return true
		}
	}
	return false
}

// MasterConfig returns m as the core's per-master configuration.
func (m *Master) MasterConfig() sentinel.MasterConfig {
	c := m.masterConfig
	c.RenamedCommands = maps.Clone(c.RenamedCommands)
	c.HasVIP = len(m.VIPs) > 0
	return c
}

// masterConfig is embedded in Master under a name that leaves Master's
// MasterConfig method free; its fields are promoted.
type masterConfig = sentinel.MasterConfig

// Sentinel returns the core's configuration for this file. localIPs are the
// addresses of this host. Timing is left zero (the core's defaults) and Rand
// nil: the caller supplies both. Masters are those of the file; the state
// package's Merge decides which of them, with which runtime changes, the Node
// actually starts with.
func (f *File) Sentinel(localIPs []string) sentinel.Config {
	c := sentinel.Config{
		LocalIPs:            slices.Clone(localIPs),
		Port:                f.AnnouncedPort(),
		AnnounceIP:          f.AnnounceIP,
		AnnouncePort:        f.AnnouncePort,
		DenyScriptsReconfig: f.DenyScriptsReconfig,
		ResolveHostnames:    f.ResolveHostnames,
		AnnounceHostnames:   f.AnnounceHostnames,
		SentinelUser:        f.SentinelUser,
		SentinelPass:        f.SentinelPass,
		RequirePass:         f.RequirePass,
		LogLevel:            f.LogLevel,
		MinAgents:           f.MinAgents,
	}
	for _, m := range f.Masters {
		c.Masters = append(c.Masters, m.MasterConfig())
	}
	return c
}

// ListedPeers returns the addresses of the known-sentinel lines of every
// master: the redis-sentinel peers the operator admits (a redis-sentinel
// cannot prove a secret; at these addresses it is verified by SENTINEL
// MYID after AUTH instead).
func (f *File) ListedPeers() []sentinel.Addr {
	var out []sentinel.Addr
	for _, m := range f.Masters {
		for _, s := range m.Imported.KnownSentinels {
			if !slices.Contains(out, s.Addr) {
				out = append(out, s.Addr)
			}
		}
	}
	return out
}
