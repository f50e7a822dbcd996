package sentinel

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/rediscmd"
	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// ReplyError is the error reply of a SENTINEL command. Its text, sent after
// '-', starts with the error code exactly as Sentinel sends it ("ERR ...",
// "INPROG ...", "NOGOODSLAVE ...", "NOQUORUM ...").
type ReplyError struct{ Msg string }

// Error returns the reply text, without the leading '-'.
func (e *ReplyError) Error() string { return e.Msg }

func replyErr(format string, args ...any) error {
	return &ReplyError{Msg: "ERR " + fmt.Sprintf(format, args...)}
}

// ErrNoSuchMaster is the reply to a command naming an unknown master.
var ErrNoSuchMaster error = &ReplyError{Msg: "ERR No such master with that name"}

// KV is one field of a reply map, in reply order.
type KV struct{ Key, Value string }

// Monitor is SENTINEL MONITOR <name> <host> <port> <quorum>. Arguments are
// the raw strings so that errors match Sentinel's.
func (n *Node) Monitor(now Time, name, host, port, quorum string) error {
	n.setNow(now)
	q, err := strconv.ParseInt(quorum, 10, 64)
	if err != nil {
		return replyErr("Invalid quorum")
	}
	p, err := strconv.ParseInt(port, 10, 64)
	if err != nil {
		return replyErr("Invalid port")
	}
	if q <= 0 {
		return replyErr("Quorum must be 1 or greater.")
	}
	h, err := n.checkHost(host)
	if err != nil {
		return replyErr("Invalid IP address or hostname specified")
	}
	if p < 0 || p > 65535 || p == 0 {
		return replyErr("Invalid port number")
	}
	if err := validMasterName(name); err != nil {
		return replyErr("Invalid master name: %v", err)
	}
	if n.masters[name] != nil {
		return replyErr("Duplicate master name.")
	}
	if q > 1<<20 {
		return replyErr("Quorum must be 1 or greater.")
	}
	mc, err := n.normalizeMaster(MasterConfig{Name: name, Addr: Addr{Host: h, Port: int(p)}, Quorum: int(q)})
	if err != nil {
		return replyErr("%v", err)
	}
	m := n.createMaster(mc, mc.Addr)
	m.monitored = true
	n.dirty = true
	n.instEvent(LevelWarning, "+monitor", m.inst, " quorum "+strconv.Itoa(mc.Quorum))
	n.updateVIPs()
	return nil
}

// Remove is SENTINEL REMOVE <name>.
func (n *Node) Remove(now Time, name string) error {
	n.setNow(now)
	m := n.masters[name]
	if m == nil {
		return ErrNoSuchMaster
	}
	n.instEvent(LevelWarning, "-monitor", m.inst, "")
	for _, r := range m.sortedReplicas() {
		n.releaseInstanceLinks(r)
	}
	for _, s := range m.sortedSentinels() {
		n.releaseSentinel(s)
	}
	n.releaseInstanceLinks(m.inst)
	delete(n.masters, name)
	n.dirty = true
	return nil
}

// Set is SENTINEL SET <name> <option> <value> [<option> <value> ...].
// Options apply in order; the first error stops processing but earlier
// changes stay (and are persisted). With deny-scripts-reconfig (the
// default), script paths cannot be changed at all. With
// "sentinel deny-scripts-reconfig no" the operator allowed it, and, as in
// Redis, any path the runtime reports executable is accepted (a path the
// configuration file names always is).
func (n *Node) Set(now Time, name string, args []string) error {
	n.setNow(now)
	m := n.masters[name]
	if m == nil {
		return ErrNoSuchMaster
	}
	if len(args) < 2 {
		return replyErr("wrong number of arguments for 'sentinel|set' command")
	}
	changed := false
	defer func() {
		if changed {
			n.dirty = true
			n.updateVIPs()
		}
	}()
	for j := 0; j < len(args); j++ {
		opt := args[j]
		more := len(args) - 1 - j
		start := j
		redacted := false
		num := func(min int64) (int64, error) {
			j++
			v, err := strconv.ParseInt(args[j], 10, 64)
			if err != nil || v < min {
				return 0, replyErr("Invalid argument '%s' for SENTINEL SET '%s'", args[j], opt)
			}
			return v, nil
		}
		lo := strings.ToLower(opt)
		switch {
		case lo == "down-after-milliseconds" && more > 0:
			v, err := num(1)
			if err != nil {
				return err
			}
			m.cfg.DownAfter = time.Duration(v) * time.Millisecond
		case lo == "failover-timeout" && more > 0:
			v, err := num(1)
			if err != nil {
				return err
			}
			m.cfg.FailoverTimeout = time.Duration(v) * time.Millisecond
		case lo == "parallel-syncs" && more > 0:
			v, err := num(1)
			if err != nil {
				return err
			}
			m.cfg.ParallelSyncs = int(min(v, 1<<20))
		case lo == "quorum" && more > 0:
			v, err := num(1)
			if err != nil {
				return err
			}
			m.cfg.Quorum = int(min(v, 1<<20))
		case lo == "master-reboot-down-after-period" && more > 0:
			v, err := num(0)
			if err != nil {
				return err
			}
			m.cfg.MasterRebootDownAfter = time.Duration(v) * time.Millisecond
		case (lo == "notification-script" || lo == "client-reconfig-script") && more > 0:
			j++
			path := args[j]
			if n.cfg.DenyScriptsReconfig {
				return &ReplyError{Msg: "ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration"}
			}
			if path != "" && !n.configuredScript(path) && (n.cfg.ScriptExecutable == nil || !n.cfg.ScriptExecutable(path)) {
				if lo == "notification-script" {
					return replyErr("Notification script seems non existing or non executable")
				}
				return replyErr("Client reconfiguration script seems non existing or non executable")
			}
			if lo == "notification-script" {
				m.cfg.NotificationScript = path
			} else {
				m.cfg.ClientReconfigScript = path
			}
		case lo == "auth-pass" && more > 0:
			j++
			m.cfg.AuthPass = args[j]
			redacted = true
			n.dropInstanceLinks(m)
		case lo == "auth-user" && more > 0:
			j++
			m.cfg.AuthUser = args[j]
			n.dropInstanceLinks(m)
		case lo == "rename-command" && more > 1:
			oldName, newName := args[j+1], args[j+2]
			j += 2
			if oldName == "" || newName == "" {
				bad := newName
				if oldName == "" {
					bad = oldName
				}
				return replyErr("Invalid argument '%s' for SENTINEL SET '%s'", bad, opt)
			}
			if strings.ContainsAny(oldName+newName, " \t\r\n") {
				return replyErr("Invalid argument '%s' for SENTINEL SET '%s'", newName, opt)
			}
			// A rename to another real command would make the agent
			// send that command instead (INFO -> FLUSHALL).
			if !strings.EqualFold(oldName, newName) && rediscmd.IsCommand(newName) {
				return replyErr("Invalid argument '%s' for SENTINEL SET '%s': it is the name of another Redis command", newName, opt)
			}
			rc := make(map[string]string, len(m.cfg.RenamedCommands)+1)
			for k, v := range m.cfg.RenamedCommands {
				rc[k] = v
			}
			delete(rc, strings.ToLower(oldName))
			if !strings.EqualFold(oldName, newName) {
				rc[strings.ToLower(oldName)] = newName
			}
			m.cfg.RenamedCommands = rc
		default:
			return replyErr("Unknown option or number of arguments for SENTINEL SET '%s'", opt)
		}
		changed = true
		switch j - start + 1 {
		case 2:
			v := args[start+1]
			if redacted {
				v = "******"
			}
			n.instEvent(LevelWarning, "+set", m.inst, " "+args[start]+" "+v)
		case 3:
			n.instEvent(LevelWarning, "+set", m.inst, " "+args[start]+" "+args[start+1]+" "+args[start+2])
		default:
			n.instEvent(LevelWarning, "+set", m.inst, " "+args[start])
		}
	}
	return nil
}

// configuredScript reports whether path is a script the configuration file
// names for some master.
func (n *Node) configuredScript(path string) bool {
	for _, mc := range n.cfg.Masters {
		if mc.NotificationScript == path || mc.ClientReconfigScript == path {
			return true
		}
	}
	return false
}

// dropInstanceLinks closes the links of m and its replicas so that they
// reconnect with new credentials.
func (n *Node) dropInstanceLinks(m *master) {
	n.releaseInstanceLinks(m.inst)
	for _, r := range m.sortedReplicas() {
		n.releaseInstanceLinks(r)
	}
}

// Reset is SENTINEL RESET <pattern>: every master whose name matches the
// glob forgets its replicas, sentinels and failover. It returns how many.
func (n *Node) Reset(now Time, pattern string) int {
	n.setNow(now)
	count := 0
	for _, m := range n.sortedMasters() {
		if redisrule.Match(pattern, m.cfg.Name) {
			n.resetMaster(m, m.inst.addr, false, true)
			count++
		}
	}
	if count > 0 {
		n.dirty = true
		n.updateVIPs()
	}
	return count
}

// Failover is SENTINEL FAILOVER <name>: a forced failover that skips the
// election (the epoch is still bumped). A master that answers is paused for
// writes and the replica promoted only once it has every write the master
// acknowledged; the failover is aborted if it cannot catch up in time
// (sync.go).
func (n *Node) Failover(now Time, name string) error {
	m, err := n.userFailoverMaster(now, name)
	if err != nil {
		return err
	}
	if r, _, _ := n.selectReplica(m); r == nil {
		return &ReplyError{Msg: "NOGOODSLAVE No suitable replica to promote"}
	}
	n.forceFailover(m, Addr{}, "Executing user requested FAILOVER of '"+name+"'")
	return nil
}

// userFailoverMaster is the master an operator's failover request names,
// or the error it is refused with: unknown, or already failing over.
func (n *Node) userFailoverMaster(now Time, name string) (*master, error) {
	n.setNow(now)
	m := n.masters[name]
	if m == nil {
		return nil, ErrNoSuchMaster
	}
	if m.inst.flags&fFailoverInProgress != 0 {
		return nil, &ReplyError{Msg: "INPROG Failover already in progress"}
	}
	return m, nil
}

// forceFailover starts an operator's failover of m: no election, the safe
// switchover of sync.go, to target when it is set (else to the replica
// selection picks).
func (n *Node) forceFailover(m *master, target Addr, why string) {
	n.debug(m.cfg.Name, "user-failover", why)
	n.startFailover(m)
	m.inst.flags |= fForceFailover
	m.target = target
	if !n.tilt {
		n.failoverStateMachine(m)
	}
	n.updateVIPs()
}

// CKQuorum is SENTINEL CKQUORUM <name>. On success it returns the status
// text to send after '+'.
func (n *Node) CKQuorum(name string) (string, error) {
	m := n.masters[name]
	if m == nil {
		return "", ErrNoSuchMaster
	}
	voters := n.voters(m)
	usable := 1
	for _, s := range m.sentinels {
		if s.verified() && s.flags&(fSDown|fODown) == 0 {
			usable++
		}
	}
	noQuorum := usable < m.cfg.Quorum
	noAuth := usable < voters/2+1
	if !noQuorum && !noAuth {
		return fmt.Sprintf("OK %d usable Sentinels. Quorum and failover authorization can be reached", usable), nil
	}
	msg := fmt.Sprintf("NOQUORUM %d usable Sentinels. ", usable)
	if noQuorum {
		msg += "Not enough available Sentinels to reach the specified quorum for this master"
	}
	if noAuth {
		if noQuorum {
			msg += ". "
		}
		msg += "Not enough available Sentinels to reach the majority and authorize a failover"
	}
	return "", &ReplyError{Msg: msg}
}

// FlushConfig is SENTINEL FLUSHCONFIG: the next Ready carries the state.
func (n *Node) FlushConfig() { n.dirty = true }

// ConfigParams are the parameters SENTINEL CONFIG SET accepts.
var ConfigParams = []string{"resolve-hostnames", "announce-hostnames", "announce-ip", "announce-port", "sentinel-user", "sentinel-pass", "loglevel"}

func validLogLevel(s string) bool {
	switch strings.ToLower(s) {
	case "debug", "verbose", "notice", "warning", "nothing":
		return true
	}
	return false
}

func parseYesNo(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "yes":
		return true, true
	case "no":
		return false, true
	}
	return false, false
}

// ConfigSet is SENTINEL CONFIG SET <param> <value> [...]. Every argument is
// validated before anything is applied. The values are persisted
// (HardState.Settings), so that they survive a restart as Sentinel's
// configuration rewrite makes them.
func (n *Node) ConfigSet(now Time, args []string) error {
	n.setNow(now)
	if err := checkSettings(args); err != nil {
		return err
	}
	n.applySettings(args)
	return nil
}

// checkSettings validates CONFIG SET's <param> <value> pairs.
func checkSettings(args []string) error {
	if len(args) == 0 {
		return replyErr("wrong number of arguments for 'sentinel|config' command")
	}
	seen := map[string]bool{}
	for i := 0; i < len(args); i += 2 {
		p := strings.ToLower(args[i])
		if !slices.Contains(ConfigParams, p) {
			return replyErr("Invalid argument '%s' to SENTINEL CONFIG SET", args[i])
		}
		if seen[p] {
			return replyErr("Duplicate argument '%s' to SENTINEL CONFIG SET", args[i])
		}
		seen[p] = true
		if i+1 >= len(args) {
			return replyErr("Missing argument '%s' value", args[i])
		}
		v := args[i+1]
		ok := true
		switch p {
		case "resolve-hostnames", "announce-hostnames":
			_, ok = parseYesNo(v)
		case "announce-port":
			x, err := strconv.Atoi(v)
			ok = err == nil && x >= 0 && x <= 65535
		case "loglevel":
			ok = validLogLevel(v)
		case "announce-ip":
			ok = !strings.ContainsAny(v, ", \t\r\n")
		}
		if !ok {
			return replyErr("Invalid value '%s' to SENTINEL CONFIG SET '%s'", v, args[i])
		}
	}
	return nil
}

// applySettings applies pairs checkSettings accepted and records them for
// the state file.
func (n *Node) applySettings(args []string) {
	dropPeers := false
	for i := 0; i < len(args); i += 2 {
		p, v := strings.ToLower(args[i]), args[i+1]
		n.settings[p] = v
		switch p {
		case "resolve-hostnames":
			n.resolveHostnames, _ = parseYesNo(v)
		case "announce-hostnames":
			n.announceHostnames, _ = parseYesNo(v)
		case "announce-ip":
			n.announceIP = v
		case "announce-port":
			n.announcePort, _ = strconv.Atoi(v)
		case "sentinel-user":
			n.sentinelUser = v
			dropPeers = true
		case "sentinel-pass":
			n.sentinelPass = v
			dropPeers = true
		case "loglevel":
			n.logLevel = strings.ToLower(v)
		}
	}
	if dropPeers {
		keys := make([]string, 0, len(n.peerLinks))
		for k := range n.peerLinks {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			n.closeLink(n.peerLinks[k], true, true)
		}
	}
	n.dirty = true
}

// ConfigGet is SENTINEL CONFIG GET <pattern> [...]: matching parameters in
// Sentinel's order, each once.
func (n *Node) ConfigGet(patterns []string) []KV {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	vals := map[string]string{
		"resolve-hostnames":  yn(n.resolveHostnames),
		"announce-hostnames": yn(n.announceHostnames),
		"announce-ip":        n.announceIP,
		"announce-port":      strconv.Itoa(n.announcePort),
		"sentinel-user":      n.sentinelUser,
		"sentinel-pass":      n.sentinelPass,
		"loglevel":           n.logLevel,
	}
	var out []KV
	for _, p := range ConfigParams {
		for _, pat := range patterns {
			if redisrule.MatchFold(pat, p) {
				out = append(out, KV{p, vals[p]})
				break
			}
		}
	}
	return out
}

// LogLevel is the loglevel set by SENTINEL CONFIG SET (default "notice").
func (n *Node) LogLevel() string { return n.logLevel }

type debugParam struct {
	name string
	ptr  func(*Timing) *time.Duration
}

var debugParams = []debugParam{
	{"info-period", func(t *Timing) *time.Duration { return &t.InfoPeriod }},
	{"ping-period", func(t *Timing) *time.Duration { return &t.PingPeriod }},
	{"ask-period", func(t *Timing) *time.Duration { return &t.AskPeriod }},
	{"publish-period", func(t *Timing) *time.Duration { return &t.PublishPeriod }},
	{"default-down-after", func(t *Timing) *time.Duration { return &t.DefaultDownAfter }},
	{"default-failover-timeout", func(t *Timing) *time.Duration { return &t.DefaultFailoverTimeout }},
	{"tilt-trigger", func(t *Timing) *time.Duration { return &t.TiltTrigger }},
	{"tilt-period", func(t *Timing) *time.Duration { return &t.TiltPeriod }},
	{"slave-reconf-timeout", func(t *Timing) *time.Duration { return &t.SlaveReconfTimeout }},
	{"min-link-reconnect-period", func(t *Timing) *time.Duration { return &t.MinLinkReconnectPeriod }},
	{"election-timeout", func(t *Timing) *time.Duration { return &t.ElectionTimeout }},
	{"script-max-runtime", func(t *Timing) *time.Duration { return &t.ScriptMaxRuntime }},
	{"script-retry-delay", func(t *Timing) *time.Duration { return &t.ScriptRetryDelay }},
}

// Debug is SENTINEL DEBUG without arguments: the timing parameters in
// milliseconds, in Sentinel's order and upper-case names.
func (n *Node) Debug() []KV {
	out := make([]KV, 0, len(debugParams))
	t := n.t
	for _, p := range debugParams {
		out = append(out, KV{strings.ToUpper(p.name), strconv.FormatInt(p.ptr(&t).Milliseconds(), 10)})
	}
	return out
}

// DebugSet is SENTINEL DEBUG <param> <ms> [...]. Values must be positive.
// Parameters before an error stay applied, as in Sentinel.
func (n *Node) DebugSet(args []string) error {
	for j := 0; j < len(args); j++ {
		name := strings.ToLower(args[j])
		var p *debugParam
		for i := range debugParams {
			if debugParams[i].name == name {
				p = &debugParams[i]
			}
		}
		if p == nil || j+1 >= len(args) {
			return replyErr("Unknown option or number of arguments for SENTINEL DEBUG '%s'", args[j])
		}
		j++
		v, err := strconv.ParseInt(args[j], 10, 64)
		if err != nil || v <= 0 || v > int64(365*24*time.Hour/time.Millisecond) {
			return replyErr("Invalid argument '%s' for SENTINEL DEBUG '%s'", args[j], args[j-1])
		}
		*p.ptr(&n.t) = time.Duration(v) * time.Millisecond
	}
	return nil
}

// Timing returns the current timing parameters (the runtime uses the script
// limits).
func (n *Node) Timing() Timing { return n.t }

// SetACLUsers records the API's users after an ACL SETUSER or DELUSER
// (HardState.ACLUsers), to be persisted with the next Ready's State.
func (n *Node) SetACLUsers(lines []string) {
	if n.crashed || slices.Equal(lines, n.aclUsers) && n.aclUsers != nil {
		return
	}
	n.aclUsers = slices.Clone(lines)
	if n.aclUsers == nil {
		n.aclUsers = []string{}
	}
	n.dirty = true
}
