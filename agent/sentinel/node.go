package sentinel

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// Node is one agent's Sentinel state machine. It is not safe for concurrent
// use: Step, Ready, the command handlers and the views must all be called
// from one goroutine.
type Node struct {
	cfg  Config
	t    Timing
	rnd  randSource
	myid string

	currentEpoch uint64
	masters      map[string]*master
	sortedMs     []*master        // cached order of masters (sorted.go)
	peerLinks    map[string]*link // shared sentinel links, by Addr.String()
	localIPs     map[string]bool
	localAddrs   map[netip.Addr]bool // localIPs parsed, for isLocal without allocation

	// time
	origin    Time
	originSet bool
	now       Time
	stepped   bool
	lastTick  Time
	haveTick  bool
	stallEnd  Time

	tilt      bool
	tiltStart Time
	calm      bool // as of the last pass (receive.go)
	// quietUntil is when the runtime was told to Tick next (Quiet): a
	// gap up to then is not a stall.
	quietUntil Time
	quietAt    Time // the next timer of a calm Node, as of the last pass
	// newGrant: the input being received credited a grant that may
	// complete a claim (receive.go).
	newGrant bool

	// run-time settings (SENTINEL CONFIG SET)
	announceIP        string
	announcePort      int
	resolveHostnames  bool
	announceHostnames bool
	hostIPs           map[string]netip.Addr // lower-case hostname -> IP (Resolved)
	sentinelUser      string
	sentinelPass      string
	logLevel          string
	settings          map[string]string // every parameter CONFIG SET changed, for the state file
	aclUsers          []string          // HardState.ACLUsers

	simFailure SimFailure
	crashed    bool

	leaseNonce string // this incarnation's tag in VIP lease requests (grant.go)

	trust       TrustStats // trust.go
	rejectLogAt Time       // last +hello-rejected event
	rejectQuiet uint64     // rejections not logged since

	scriptsRunning, scriptsQueued int

	nextID  uint64
	pending map[uint64]pendingCmd

	dirty    bool
	cmds     []Command
	events   []Event
	scripts  []ScriptRun
	vipSent  []VIPIntent
	vipValid bool
	crash    bool
}

// randSource is the subset of *rand.Rand the Node uses.
type randSource interface {
	Int63n(int64) int64
	Intn(int) int
}

// pendingCmd remembers why a CmdTransaction or CmdOther was sent.
type pendingCmd struct {
	purpose cmdPurpose
	ref     Ref
	lnk     *link
	// done, if set, is a notice event about the master emitted when the
	// command succeeds: an event that must not claim what did not happen.
	done *Event
}

type cmdPurpose int

const (
	purposeOther cmdPurpose = iota
	purposePromote
	purposeReconf
	purposeDemote
	purposePause
	purposeUnpause
	purposeHold // CLIENT PAUSE of a forced failover (sync.go)
	purposeScriptKill
	purposeReplList // CLIENT LIST of a watched master's replicas (replwatch.go)
)

// ErrConfig is wrapped by every configuration error New returns.
var ErrConfig = errors.New("sentinel: invalid configuration")

// ErrState is wrapped by every persisted-state error New returns.
var ErrState = errors.New("sentinel: invalid persisted state")

// New returns a Node for cfg. st is the state persisted by a previous run, or
// nil for a fresh agent, in which case a run id is generated from cfg.Rand and
// the first Ready carries the state to persist.
//
// The configuration file is authoritative for every master it declares:
// their settings come from cfg, while what was learnt (current address,
// epochs, votes, known replicas and sentinels) comes from st. Masters added
// at run time by SENTINEL MONITOR live in st only.
func New(cfg Config, st *HardState) (*Node, error) {
	if cfg.Rand == nil {
		return nil, fmt.Errorf("%w: Rand is nil", ErrConfig)
	}
	n := &Node{
		cfg:               cfg,
		t:                 cfg.Timing.withDefaults(),
		rnd:               cfg.Rand,
		masters:           map[string]*master{},
		peerLinks:         map[string]*link{},
		localIPs:          map[string]bool{},
		localAddrs:        map[netip.Addr]bool{},
		pending:           map[uint64]pendingCmd{},
		settings:          map[string]string{},
		announceIP:        cfg.AnnounceIP,
		announcePort:      cfg.AnnouncePort,
		resolveHostnames:  cfg.ResolveHostnames,
		announceHostnames: cfg.AnnounceHostnames,
		sentinelUser:      cfg.SentinelUser,
		sentinelPass:      cfg.SentinelPass,
		logLevel:          cmp.Or(strings.ToLower(cfg.LogLevel), "notice"),
		lastTick:          never,
		stallEnd:          never,
		rejectLogAt:       never,
	}
	if n.cfg.Port == 0 {
		n.cfg.Port = 26379
	}
	if n.cfg.Port < 0 || n.cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d out of range", ErrConfig, n.cfg.Port)
	}
	if cfg.MinAgents < 0 || cfg.MinAgents > MaxMinAgents {
		return nil, fmt.Errorf("%w: min-agents %d out of range", ErrConfig, cfg.MinAgents)
	}
	if n.announcePort < 0 || n.announcePort > 65535 {
		return nil, fmt.Errorf("%w: announce-port %d out of range", ErrConfig, n.announcePort)
	}
	for _, ip := range cfg.LocalIPs {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil {
			return nil, fmt.Errorf("%w: local IP %q: %v", ErrConfig, ip, err)
		}
		n.localIPs[a.Unmap().String()] = true
		n.localAddrs[a.Unmap()] = true
	}
	cfgMasters := map[string]MasterConfig{}
	var order []string
	for i := range cfg.Masters {
		mc, err := n.normalizeMaster(cfg.Masters[i])
		if err != nil {
			return nil, fmt.Errorf("%w: master %q: %v", ErrConfig, cfg.Masters[i].Name, err)
		}
		if _, dup := cfgMasters[mc.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate master name %q", ErrConfig, mc.Name)
		}
		cfgMasters[mc.Name] = mc
		order = append(order, mc.Name)
	}

	stMasters := map[string]*MasterState{}
	if st != nil {
		if st.MyID == "" {
			n.myid = NewID(cfg.Rand)
			n.dirty = true
		} else {
			if !redisrule.IsRunID(st.MyID) {
				return nil, fmt.Errorf("%w: myid %q is not 40 hex characters", ErrState, st.MyID)
			}
			n.myid = strings.ToLower(st.MyID)
		}
		n.currentEpoch = st.CurrentEpoch
		for i := range st.Masters {
			ms := &st.Masters[i]
			if ms.Config.Name == "" {
				return nil, fmt.Errorf("%w: master #%d has no name", ErrState, i)
			}
			if _, dup := stMasters[ms.Config.Name]; dup {
				return nil, fmt.Errorf("%w: duplicate master %q", ErrState, ms.Config.Name)
			}
			stMasters[ms.Config.Name] = ms
			// Epochs never go backwards: a state whose current epoch is
			// behind one of its own master epochs is repaired upwards.
			n.currentEpoch = max(n.currentEpoch, ms.ConfigEpoch, ms.LeaderEpoch)
		}
	} else {
		n.myid = NewID(cfg.Rand)
		n.dirty = true
	}

	for _, name := range order {
		mc := cfgMasters[name]
		m := n.createMaster(mc, mc.Addr)
		if ms := stMasters[name]; ms != nil {
			if err := n.restoreMaster(m, ms, n.sameAddr(ms.Config.Addr, mc.Addr)); err != nil {
				return nil, fmt.Errorf("%w: master %q: %v", ErrState, name, err)
			}
			if !st.Imported {
				n.startBootCheck(m)
			}
		}
	}
	if st != nil {
		for i := range st.Masters {
			ms := &st.Masters[i]
			if _, inCfg := cfgMasters[ms.Config.Name]; inCfg || !ms.Monitored {
				continue
			}
			mc, err := n.normalizeMaster(ms.Config)
			if err != nil {
				return nil, fmt.Errorf("%w: master %q: %v", ErrState, ms.Config.Name, err)
			}
			m := n.createMaster(mc, mc.Addr)
			m.monitored = true
			if err := n.restoreMaster(m, ms, true); err != nil {
				return nil, fmt.Errorf("%w: master %q: %v", ErrState, ms.Config.Name, err)
			}
			if !st.Imported {
				n.startBootCheck(m)
			}
		}
	}
	if st != nil && len(st.Settings) > 0 {
		var args []string
		for _, kv := range st.Settings {
			args = append(args, kv.Name, kv.Value)
		}
		if err := checkSettings(args); err != nil {
			return nil, fmt.Errorf("%w: settings: %v", ErrState, err)
		}
		dirty := n.dirty // restoring is not a change to persist
		n.applySettings(args)
		n.dirty = dirty
	}
	if st != nil {
		n.aclUsers = slices.Clone(st.ACLUsers)
	}
	// Sentinel announces every master it starts with, as SENTINEL MONITOR
	// does (the first Ready carries them, and their notification scripts).
	for _, m := range n.sortedMasters() {
		n.instEvent(LevelWarning, "+monitor", m.inst, " quorum "+strconv.Itoa(m.cfg.Quorum))
	}
	return n, nil
}

// normalizeMaster validates mc and fills its defaults.
func (n *Node) normalizeMaster(mc MasterConfig) (MasterConfig, error) {
	if err := validMasterName(mc.Name); err != nil {
		return mc, err
	}
	addr, err := n.checkAddr(mc.Addr)
	if err != nil {
		return mc, err
	}
	mc.Addr = addr
	if mc.Quorum <= 0 {
		return mc, fmt.Errorf("quorum %d: must be 1 or greater", mc.Quorum)
	}
	if mc.DownAfter < 0 || mc.FailoverTimeout < 0 || mc.MasterRebootDownAfter < 0 || mc.ParallelSyncs < 0 {
		return mc, errors.New("negative timing or parallel-syncs")
	}
	if mc.DownAfter == 0 {
		mc.DownAfter = n.t.DefaultDownAfter
	}
	if mc.FailoverTimeout == 0 {
		mc.FailoverTimeout = n.t.DefaultFailoverTimeout
	}
	if mc.ParallelSyncs == 0 {
		mc.ParallelSyncs = 1
	}
	if len(mc.RenamedCommands) > 0 {
		rc := make(map[string]string, len(mc.RenamedCommands))
		for k, v := range mc.RenamedCommands {
			if k == "" || strings.ContainsAny(k+v, " \t\r\n") {
				return mc, fmt.Errorf("rename-command %q %q: invalid name", k, v)
			}
			rc[strings.ToLower(k)] = v
		}
		mc.RenamedCommands = rc
	}
	return mc, nil
}

func validMasterName(name string) error {
	if name == "" {
		return errors.New("empty master name")
	}
	if strings.ContainsAny(name, ", \t\r\n\x00") {
		return fmt.Errorf("master name %q contains a comma, a space or a control character", name)
	}
	return nil
}

// checkAddr validates and canonicalises an instance address: an IP address,
// or a hostname when resolve-hostnames is on, and a port in 1..65535.
func (n *Node) checkAddr(a Addr) (Addr, error) {
	if a.Port < 1 || a.Port > 65535 {
		return a, fmt.Errorf("port %d out of range", a.Port)
	}
	h, err := n.checkHost(a.Host)
	if err != nil {
		return a, err
	}
	return Addr{Host: h, Port: a.Port}, nil
}

func (n *Node) checkHost(h string) (string, error) {
	if ip, err := netip.ParseAddr(h); err == nil {
		if ip.Zone() != "" {
			return "", fmt.Errorf("address %q: zones are not supported", h)
		}
		return ip.String(), nil
	}
	if !n.resolveHostnames {
		return "", fmt.Errorf("%q is not an IP address (resolve-hostnames is off)", h)
	}
	if !validHostname(h) {
		return "", fmt.Errorf("%q is not a valid hostname", h)
	}
	return strings.ToLower(h), nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// createMaster adds a master at addr with no replicas or sentinels.
func (n *Node) createMaster(mc MasterConfig, addr Addr) *master {
	m := &master{
		cfg:               mc,
		replicas:          map[string]*instance{},
		sentinels:         map[string]*instance{},
		failoverStartTime: never,
		stateChangeTime:   never,
		startAt:           never,
		blockUntil:        never,
		blockLog:          never,
	}
	m.inst = n.newInstance(KindMaster, mc.Name, addr, m)
	m.inst.link = newLink(n.now, Ref{Master: mc.Name, Kind: KindMaster, Addr: addr}, true)
	n.masters[mc.Name] = m
	return m
}

// restoreMaster applies persisted learnt state to m. keepAddr is false when
// the operator changed the monitored address since the state was written.
func (n *Node) restoreMaster(m *master, ms *MasterState, keepAddr bool) error {
	m.configEpoch = ms.ConfigEpoch
	n.restoreGrant(m, ms.LeaseAddr)
	restoreMaintenance(m, ms.Maintenance)
	m.leader = ms.Leader
	m.leaderEpoch = ms.LeaderEpoch
	if !keepAddr {
		n.dirty = true
	} else {
		if !ms.CurrentAddr.IsZero() {
			a, err := n.checkAddr(ms.CurrentAddr)
			if err != nil {
				return fmt.Errorf("current address %s: %v", ms.CurrentAddr, err)
			}
			if !n.sameAddr(a, m.inst.addr) {
				m.inst = n.newInstance(KindMaster, m.cfg.Name, a, m)
				m.inst.link = newLink(n.now, Ref{Master: m.cfg.Name, Kind: KindMaster, Addr: a}, true)
			}
		}
		for _, ra := range ms.KnownReplicas {
			a, err := n.checkAddr(ra)
			if err != nil {
				n.debug(m.cfg.Name, "known-replica-ignored", fmt.Sprintf("known replica %s: %v", ra, err))
				continue
			}
			if n.sameAddr(a, m.inst.addr) {
				continue
			}
			n.addReplica(m, a)
		}
	}
	for _, sr := range ms.KnownSentinels {
		a, err := n.checkAddr(sr.Addr)
		if err != nil || !redisrule.IsRunID(sr.RunID) {
			n.debug(m.cfg.Name, "known-sentinel-ignored", fmt.Sprintf("known sentinel %s %s: invalid", sr.Addr, sr.RunID))
			continue
		}
		if strings.EqualFold(sr.RunID, n.myid) {
			continue
		}
		// Our own state holds only peers verified before (and the
		// configuration file's known-sentinel lines, imported once).
		s := n.addSentinel(m, a, strings.ToLower(sr.RunID))
		s.verifiedAddr = a
	}
	return nil
}

func (n *Node) addReplica(m *master, a Addr) *instance {
	// Sentinel names a replica by the address it announces: its IP
	// unless announce-hostnames is on.
	a = n.announce(a)
	key := a.String()
	if r := m.replicas[key]; r != nil {
		return r
	}
	r := n.newInstance(KindReplica, key, a, m)
	r.link = newLink(n.now, Ref{Master: m.cfg.Name, Kind: KindReplica, Addr: a}, true)
	m.replicas[key] = r
	return r
}

func (n *Node) addSentinel(m *master, a Addr, runid string) *instance {
	if s := m.sentinels[runid]; s != nil {
		return s
	}
	s := n.newInstance(KindSentinel, runid, a, m)
	s.runid = runid
	key := a.String()
	if l := n.peerLinks[key]; l != nil && l.ref.RunID == runid {
		l.refcount++
		s.link = l
	} else {
		if l != nil {
			// Another run id used to live at this address; its link is
			// left to its remaining users and a new one is made.
			delete(n.peerLinks, key)
		}
		s.link = newLink(n.now, Ref{Master: m.cfg.Name, Kind: KindSentinel, Addr: a, RunID: runid}, false)
		n.peerLinks[key] = s.link
	}
	m.sentinels[runid] = s
	return s
}

// releaseSentinel drops s from its master and closes the shared link once no
// master uses it.
func (n *Node) releaseSentinel(s *instance) {
	delete(s.m.sentinels, s.runid)
	l := s.link
	l.refcount--
	if l.refcount > 0 {
		return
	}
	n.closeLink(l, true, true)
	key := s.addr.String()
	if n.peerLinks[key] == l {
		delete(n.peerLinks, key)
	}
}

// releaseInstanceLinks closes the links of a master or replica instance.
func (n *Node) releaseInstanceLinks(ri *instance) {
	n.closeLink(ri.link, true, true)
}

// internal converts a caller's Time into the Node's clock, whose origin is
// the first Time the Node was given. Only differences of Time values matter,
// so a Node created long after the caller's origin (a restart in a
// simulation) does not see its fresh instances as long silent.
func (n *Node) internal(now Time) Time {
	if !n.originSet {
		n.origin = now
		n.originSet = true
	}
	return now - n.origin
}

// at converts now like internal, without side effects, for read-only views.
func (n *Node) at(now Time) Time {
	if !n.originSet {
		return n.now
	}
	return max(now-n.origin, n.now)
}

// setNow moves the clock for a command handler (no TILT accounting).
func (n *Node) setNow(now Time) {
	t := n.internal(now)
	if t > n.now {
		n.now = t
	}
}

// Step advances the Node to now and applies in. It never panics: an input it
// cannot use becomes a Debug event and is dropped. Outputs accumulate until
// the next Ready.
func (n *Node) Step(now Time, in Input) {
	if n.crashed {
		return
	}
	_, tick := in.(Tick)
	n.advance(now, tick)
	n.apply(in)
	if !n.crashed {
		n.pass()
	}
}

// advance moves the clock, checks the TILT condition on ticks and arms the
// stall guard after a long gap between steps.
func (n *Node) advance(now Time, tick bool) {
	raw := n.internal(now)
	if tick {
		if n.haveTick {
			delta := raw - n.lastTick
			if delta < 0 || delta > n.t.TiltTrigger {
				n.enterTilt(delta)
			}
		}
		n.lastTick = raw
		n.haveTick = true
	}
	t := max(raw, n.now)
	if n.stepped {
		gap := t - max(n.now, n.quietUntil)
		if gap > 5*n.t.Tick && gap > 50*time.Millisecond {
			// After a stall of the whole process, replies that arrived
			// meanwhile may still be queued behind this step: hold new
			// SDOWN decisions for two ticks so they are seen first.
			n.stallEnd = t + 2*n.t.Tick
			n.debug("", "stall", fmt.Sprintf("no step for %v; SDOWN decisions held until queued replies are processed", gap))
		}
	}
	n.now = t
	n.stepped = true
}

func (n *Node) enterTilt(delta time.Duration) {
	n.rearmGrants()
	n.tilt = true
	n.tiltStart = n.now
	if n.lastTick != never {
		n.tiltStart = max(n.now, n.lastTick+delta)
	}
	n.emit(Event{Type: "+tilt", Level: LevelWarning, Epoch: n.currentEpoch, Payload: "#tilt mode entered",
		Detail: fmt.Sprintf("timer delta %v (trigger %v, negative means the clock went backwards)", delta, n.t.TiltTrigger)})
}

// Ready returns and clears the outputs accumulated since the previous call.
// See the Ready type for the persistence contract.
func (n *Node) Ready() Ready {
	var rd Ready
	if n.dirty {
		rd.State = n.snapshot()
		n.dirty = false
	}
	rd.Commands, n.cmds = n.cmds, nil
	rd.Events, n.events = n.events, nil
	rd.Scripts, n.scripts = n.scripts, nil
	if vips := n.desiredVIPs(); !n.vipValid || !slices.Equal(vips, n.vipSent) {
		if vips == nil {
			vips = []VIPIntent{}
		}
		rd.VIPs = vips
		n.vipSent = vips
		n.vipValid = true
	}
	rd.Crash, n.crash = n.crash, false
	return rd
}

// HasReady reports whether Ready would return anything.
func (n *Node) HasReady() bool {
	if n.dirty || len(n.cmds) > 0 || len(n.events) > 0 || len(n.scripts) > 0 || n.crash {
		return true
	}
	return !n.vipValid || !slices.Equal(n.desiredVIPs(), n.vipSent)
}

// snapshot returns the state to persist.
func (n *Node) snapshot() *HardState {
	st := &HardState{MyID: n.myid, CurrentEpoch: n.currentEpoch, ACLUsers: slices.Clone(n.aclUsers)}
	for _, name := range slices.Sorted(maps.Keys(n.settings)) {
		st.Settings = append(st.Settings, Setting{Name: name, Value: n.settings[name]})
	}
	for _, m := range n.sortedMasters() {
		ms := MasterState{
			Config:      cloneMasterConfig(m.cfg),
			CurrentAddr: n.currentAddr(m),
			ConfigEpoch: m.configEpoch,
			Leader:      m.leader,
			LeaderEpoch: m.leaderEpoch,
			LeaseAddr:   m.leaseAddr,
			Monitored:   m.monitored,
			Maintenance: m.maint,
		}
		cur := ms.CurrentAddr
		for _, r := range m.sortedReplicas() {
			a := r.addr
			if n.sameAddr(a, cur) {
				// The promoted replica is written as the old master,
				// which becomes a replica once the failover ends.
				a = m.inst.addr
				if n.sameAddr(a, cur) {
					continue
				}
			}
			ms.KnownReplicas = append(ms.KnownReplicas, a)
		}
		for _, s := range m.sortedSentinels() {
			if !s.verified() {
				continue // a hello only proposed it
			}
			ms.KnownSentinels = append(ms.KnownSentinels, SentinelRecord{Addr: s.verifiedAddr, RunID: s.runid})
		}
		st.Masters = append(st.Masters, ms)
	}
	return st
}

func cloneMasterConfig(c MasterConfig) MasterConfig {
	if c.RenamedCommands != nil {
		rc := make(map[string]string, len(c.RenamedCommands))
		for k, v := range c.RenamedCommands {
			rc[k] = v
		}
		c.RenamedCommands = rc
	}
	return c
}

// currentAddr is sentinelGetCurrentMasterAddress: the promoted replica once
// the failover reached reconf_slaves.
func (n *Node) currentAddr(m *master) Addr {
	if m.promoted != nil && m.failoverState >= stateReconfSlaves {
		return m.promoted.addr
	}
	return m.inst.addr
}

// currentInst is the instance behind currentAddr.
func (n *Node) currentInst(m *master) *instance {
	if m.promoted != nil && m.failoverState >= stateReconfSlaves {
		return m.promoted
	}
	return m.inst
}

func (n *Node) isLocal(a Addr) bool {
	ip, ok := n.ipOf(a.Host)
	if !ok {
		return false
	}
	return n.localAddrs[ip.Unmap()]
}

// newID returns the next command id.
func (n *Node) newID() uint64 {
	n.nextID++
	return n.nextID
}
