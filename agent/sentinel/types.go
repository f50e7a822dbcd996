package sentinel

import (
	"math/rand"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// Time is a reading of the caller's monotonic clock: the time elapsed since an
// arbitrary origin fixed for the life of a Node. The runtime passes
// time.Since(start); the simulator passes virtual time. The Node never reads a
// clock itself.
type Time = time.Duration

// Addr is the address of a Redis instance or of a peer agent (sentinel).
type Addr struct {
	Host string // IP address, or hostname with resolve-hostnames
	Port int
}

// String renders a as Sentinel does for instance names: ip:port, or [ip]:port
// for IPv6.
func (a Addr) String() string { return redisrule.FormatAddr(a.Host, a.Port) }

// IsZero reports whether a is unset.
func (a Addr) IsZero() bool { return a.Host == "" && a.Port == 0 }

// Kind is the kind of a monitored instance.
type Kind int

// Instance kinds, as Sentinel names them in events ("master", "slave", "sentinel").
const (
	KindMaster Kind = iota
	KindReplica
	KindSentinel
)

// String returns the name Sentinel uses in event payloads.
func (k Kind) String() string {
	switch k {
	case KindMaster:
		return "master"
	case KindReplica:
		return "slave"
	default:
		return "sentinel"
	}
}

// Ref names one monitored instance: the master it belongs to, its kind and
// address, and (for sentinels) its run id. The runtime keys its connections on
// (Kind, Addr) and routes replies back with the same Ref.
type Ref struct {
	Master string
	Kind   Kind
	Addr   Addr
	RunID  string // sentinels only
}

// Link selects one of the two connections Sentinel keeps to an instance.
type Link int

// The command link carries PING, INFO, PUBLISH and failover commands; the
// pub/sub link (masters and replicas only) is subscribed to the hello channel.
const (
	LinkCmd Link = iota
	LinkPubSub
)

// HelloChannel is the pub/sub channel agents announce themselves on.
const HelloChannel = "__sentinel__:hello"

// ---------------------------------------------------------------------------
// Inputs. Every input is handed to Node.Step together with the current Time.

// Input is one of the types below.
type Input interface{ isInput() }

// Tick lets time pass. The runtime calls Step(now, Tick{}) at least every
// Timing.Tick; the Node derives all timers and TILT from the now values.
type Tick struct {
	// Wall is the runtime's wall clock in Unix milliseconds, 0 if not
	// given. Only the end of a timed maintenance (Maintenance.Until) uses
	// it: that end must hold across restarts, which now cannot measure.
	Wall int64
}

// LinkUp reports that a connection requested by a CmdConnect completed,
// including its set-up commands (AUTH, CLIENT SETNAME, SUBSCRIBE).
type LinkUp struct {
	To   Ref
	Link Link
	// LocalIP is our side's address of the connection; it is announced in
	// hellos sent over a command link when announce-ip is not set.
	LocalIP string
	// Proof, for the command link to a peer (KindSentinel), is how the
	// runtime verified that the endpoint is the agent To.RunID names
	// (trust.go). The runtime must not report LinkUp for a peer that
	// failed verification, nor send it any credential. ProofNone leaves
	// the peer unverified: it counts for nothing.
	Proof PeerProof
}

// LinkDown reports that a connection failed, could not be established, or
// was closed. AuthFailed is set when the server answered but refused our
// credentials: the instance is alive but unusable, which is not "down".
type LinkDown struct {
	To         Ref
	Link       Link
	Err        string
	AuthFailed bool
}

// PingReply reports the reply to a CmdPing. Status is "PONG" or the first word
// of an error reply ("LOADING", "MASTERDOWN", "BUSY", "NOAUTH", ...). A
// transport failure is reported as LinkDown instead.
type PingReply struct {
	To     Ref
	Status string
}

// InfoReply carries a parsed INFO reply from a master or replica.
type InfoReply struct {
	To   Ref
	Info *Info
	Raw  string // full text, kept for SENTINEL INFO-CACHE
}

// PublishReply reports whether a hello PUBLISH was accepted. On failure the
// hello is retried at the next opportunity.
type PublishReply struct {
	To Ref
	OK bool
}

// Hello carries a message received on the hello channel, either through the
// pub/sub link of a master or replica, or as a PUBLISH sent to our API by a
// peer. Payload is the raw 8-token message.
type Hello struct {
	Via     Ref
	Payload string
	// Authenticated is set by the runtime for a hello PUBLISHed to our
	// API by a client that authenticated with requirepass: the sender
	// holds the group's secret (trust.go).
	Authenticated bool
}

// IsDownReply carries a peer's reply to a CmdAskMasterDown. A reply of any
// other shape is reported with Valid false and ignored.
type IsDownReply struct {
	To          Ref
	Valid       bool
	Down        bool
	Leader      string // "*" when the peer has not voted
	LeaderEpoch uint64
}

// CommandDone reports the completion of a command without a typed reply
// (transactions, CLIENT PAUSE, SCRIPT KILL). Err is empty on success.
type CommandDone struct {
	ID  uint64
	To  Ref
	Err string
	// Reply is the last command's reply when it is a string (CLIENT
	// LIST), "" otherwise.
	Reply string
}

func (Tick) isInput()         {}
func (LinkUp) isInput()       {}
func (LinkDown) isInput()     {}
func (PingReply) isInput()    {}
func (InfoReply) isInput()    {}
func (PublishReply) isInput() {}
func (Hello) isInput()        {}
func (IsDownReply) isInput()  {}
func (CommandDone) isInput()  {}

// ---------------------------------------------------------------------------
// Outputs, collected in a Ready.

// CmdKind says what a Command is for, so that the runtime knows which input to
// report its reply as.
type CmdKind int

// Command kinds.
const (
	CmdConnect       CmdKind = iota // open Link to To, run Cmds as set-up; report LinkUp/LinkDown
	CmdClose                        // close Link to To (no report)
	CmdPing                         // report PingReply
	CmdInfo                         // report InfoReply
	CmdPublish                      // hello PUBLISH; report PublishReply
	CmdAskMasterDown                // SENTINEL is-master-down-by-addr; report IsDownReply
	CmdTransaction                  // MULTI ... EXEC (promotion, reconfiguration); report CommandDone
	CmdOther                        // single command (CLIENT PAUSE, SCRIPT KILL ...); report CommandDone
)

// Command is a request to send commands to an instance. Cmds are the exact
// argument vectors to send, in order, already mapped through the master's
// rename-command table; for CmdTransaction they include MULTI and EXEC.
type Command struct {
	ID   uint64
	Kind CmdKind
	To   Ref
	Link Link
	Cmds [][]string
}

// Level is the importance of an event, as Sentinel's log levels.
type Level int

// Event levels. Debug events are logged only, never published.
const (
	LevelDebug Level = iota
	LevelVerbose
	LevelNotice
	LevelWarning
)

// Event is something that happened, in Sentinel's vocabulary. Type is the
// pub/sub channel ("+sdown", "+switch-master", ...) and Payload the exact
// message published on it. Master names the master concerned, if any; Epoch
// is the epoch the event belongs to, if any.
type Event struct {
	Type    string
	Level   Level
	Master  string
	Epoch   uint64
	Payload string
	// Detail is extra context for logs (why a replica was rejected, the
	// timer delta that caused TILT, ...). It is never published.
	Detail string
}

// VIPIntent says whether this agent should hold the floating addresses of a
// master right now, and which config epoch justifies it.
type VIPIntent struct {
	Master string
	Own    bool
	Epoch  uint64
	Reason string // human-readable: why owned or not
	// Gen numbers this master's intents: it changes whenever Own does.
	// The runtime reports it back in VIPGone once the VIP manager has
	// applied a not-owned intent and removed the VIP.
	Gen uint64
}

// ScriptRun asks the runtime to run a notification or client-reconfig script.
type ScriptRun struct {
	Master string
	Path   string
	Args   []string
}

// Ready is what the Node wants done. Contract, as in etcd-io/raft: State, when
// non-nil, must be durably persisted BEFORE any Command in the same Ready is
// sent and before any answer obtained since the previous Ready (such as a
// vote returned by IsMasterDownByAddr) is written to its client.
type Ready struct {
	State    *HardState
	Commands []Command
	Events   []Event
	VIPs     []VIPIntent // full desired set; non-nil only when it changed
	Scripts  []ScriptRun
	// Crash is set when a SENTINEL SIMULATE-FAILURE point was reached: the
	// runtime must persist State, log Events, then exit with status 99
	// without sending Commands. The Node ignores every later input.
	Crash bool
}

// ---------------------------------------------------------------------------
// Configuration and persisted state.

// Timing holds Sentinel's timer constants (SENTINEL DEBUG can change them at
// run time). Zero values are replaced by DefaultTiming's.
type Timing struct {
	Tick                   time.Duration // how often the runtime must Tick
	PingPeriod             time.Duration
	InfoPeriod             time.Duration
	AskPeriod              time.Duration
	PublishPeriod          time.Duration
	DefaultDownAfter       time.Duration
	DefaultFailoverTimeout time.Duration
	TiltTrigger            time.Duration
	TiltPeriod             time.Duration
	SlaveReconfTimeout     time.Duration
	MinLinkReconnectPeriod time.Duration
	ElectionTimeout        time.Duration
	ScriptMaxRuntime       time.Duration
	ScriptRetryDelay       time.Duration
}

// MasterConfig is the operator-controlled configuration of one monitored
// master (sentinel monitor and the per-master sentinel directives).
type MasterConfig struct {
	Name                  string
	Addr                  Addr // as given to sentinel monitor
	Quorum                int
	DownAfter             time.Duration
	FailoverTimeout       time.Duration
	ParallelSyncs         int
	AuthUser, AuthPass    string
	NotificationScript    string
	ClientReconfigScript  string
	MasterRebootDownAfter time.Duration
	RenamedCommands       map[string]string // lower-case original -> new name ("" disables)
	HasVIP                bool              // a sentinel vip directive exists for this master
	Fence                 bool              // sentinel fence <master> yes
	// AllowUnsyncedPromotion (sentinel allow-unsynced-promotion <master>
	// yes) lets a failover promote a replica that has not completed its
	// sync with the master when no synced replica is eligible (select.go).
	AllowUnsyncedPromotion bool
	// AllowUnreplicatedWrites (sentinel allow-unreplicated-writes
	// <master> yes) records that the operator accepts a master
	// acknowledging writes no replica receives: the local master's
	// replicas are then not disconnected when they stop receiving
	// (replwatch.go).
	AllowUnreplicatedWrites bool
}

// MaxMinAgents is the largest Config.MinAgents accepted: a larger value is
// taken for a typo rather than a real group.
const MaxMinAgents = 1000

// Config configures a Node.
type Config struct {
	// LocalIPs are the addresses of this host; an instance listening on one of
	// them is "local" (its VIP and fencing are this agent's business).
	LocalIPs            []string
	Port                int
	AnnounceIP          string
	AnnouncePort        int
	DenyScriptsReconfig bool
	ResolveHostnames    bool
	AnnounceHostnames   bool
	SentinelUser        string
	SentinelPass        string // also used when RequirePass is set and SentinelPass is empty
	LogLevel            string // the configuration's loglevel; "" is notice
	RequirePass         string
	Timing              Timing
	Masters             []MasterConfig
	// MinAgents, when set, is the number of agents (this one included)
	// the deployment has: majorities (leader election, fencing) are
	// counted over at least this many voters. Sentinel counts only the
	// agents seen so far, so during discovery a candidate that knows two of
	// five agents can be elected with two votes. 0 keeps Sentinel's rule.
	// At most MaxMinAgents.
	MinAgents int
	// ScriptExecutable reports whether path names a file the agent may
	// execute (Redis's access(X_OK) check), for SENTINEL SET of a script
	// path with deny-scripts-reconfig off. The runtime supplies it so that
	// the Node itself touches no file system; nil accepts only the paths
	// the configuration names.
	ScriptExecutable func(path string) bool
	// Rand is the only source of randomness (election desync, generated
	// myid). It must not be shared with another goroutine.
	Rand *rand.Rand
}

// SentinelRecord is a known peer, as persisted (known-sentinel).
type SentinelRecord struct {
	Addr  Addr
	RunID string
}

// MasterState is the persisted state of one master: its configuration as
// changed at run time plus what the algorithm learnt.
type MasterState struct {
	Config      MasterConfig
	CurrentAddr Addr // the master's address in the latest config
	ConfigEpoch uint64
	Leader      string // runid we voted for in LeaderEpoch
	LeaderEpoch uint64
	// LeaseAddr is the last address this agent granted the VIP lease of
	// the master to (grant.go), zero if none: after a restart, grants for
	// it cannot conflict with grants the previous run gave.
	LeaseAddr      Addr
	KnownReplicas  []Addr
	KnownSentinels []SentinelRecord
	// Monitored is set for masters added by SENTINEL MONITOR: they are
	// restored from the state even though the configuration file does not
	// declare them.
	Monitored bool
	// Maintenance is the master's maintenance mode (maintenance.go).
	Maintenance Maintenance
}

// Setting is a global parameter changed with SENTINEL CONFIG SET
// (lower-case Name). Settings are persisted so that a change survives a
// restart, as Sentinel's configuration rewrite makes it survive.
type Setting struct {
	Name, Value string
}

// HardState is everything that must survive a restart. Epochs and votes in it
// never go backwards; see Ready for when it must be written.
type HardState struct {
	MyID         string
	CurrentEpoch uint64
	Masters      []MasterState
	Settings     []Setting // sorted by Name
	// ACLUsers are the API's users as ACL LIST renders them ("user <name>
	// <rules>..."), once ACL SETUSER or DELUSER changed them and no
	// aclfile holds them: Sentinel's configuration rewrite writes them
	// into sentinel.conf. Nil when never changed at run time. The Node
	// only keeps them (SetACLUsers); the API owns the users.
	ACLUsers []string
	// Imported marks a state that no run of this agent persisted: the
	// first start's import of the runtime lines of the configuration file
	// (state.Import). Such a configuration was never served by this agent,
	// so its boot confirmation (bootconfirm.go) does not apply. Never
	// stored.
	Imported bool
}
