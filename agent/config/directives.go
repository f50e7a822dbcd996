package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/rediscmd"
	"github.com/vipsentinel/vipsentinel/agent/redisrule"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// Passes. Sentinel loads its file in this order so that directive order does
// not matter: options that change how monitor lines are read, then monitor
// lines, then everything that refers to a master.
const (
	passGlobal = iota + 1
	passMonitor
	passMaster
)

// handler applies one directive. args are the arguments after the directive
// name (after "sentinel <sub>"); m is the master named by args[0] for
// directives whose usage starts with <master>.
type handler func(p *parser, f *File, m *Master, at pos, args []string) error

// spec describes one directive. Its usage string is both documentation for
// error messages and the arity rule: each <arg> is required, [<arg>] optional,
// and a trailing "..." allows any number more.
type spec struct {
	pass   int
	usage  string
	fn     handler
	secret bool // an argument is a password: never quote it in a message

	min, max int  // number of args; max < 0: unbounded
	master   bool // args[0] is a master name
}

func (s *spec) init() {
	words := strings.Fields(s.usage)[1:]
	if strings.HasPrefix(s.usage, "sentinel ") {
		words = words[1:]
	}
	s.master = len(words) > 0 && words[0] == "<master>"
	for _, w := range words {
		switch {
		case strings.HasSuffix(w, "..."):
			s.min++
			s.max = -1
			return
		case strings.HasPrefix(w, "["):
			s.max++
		default:
			s.min++
			s.max++
		}
	}
}

func setGlobal(fn func(f *File, v string) error) handler {
	return func(_ *parser, f *File, _ *Master, _ pos, a []string) error { return fn(f, a[0]) }
}

func setMaster(fn func(m *Master, v string) error) handler {
	return func(_ *parser, _ *File, m *Master, _ pos, a []string) error { return fn(m, a[1]) }
}

var (
	globalSpecs = map[string]*spec{
		"port":               {pass: passGlobal, usage: "port <port>", fn: setGlobal(func(f *File, v string) error { return port(v, 0, &f.Port) })}, // 0: TLS only (tls-port)
		"bind":               {pass: passGlobal, usage: "bind <address>...", fn: doBind},
		"dir":                {pass: passGlobal, usage: "dir <path>", fn: setGlobal(doDir)},
		"requirepass":        {pass: passGlobal, usage: "requirepass <password>", secret: true, fn: setGlobal(func(f *File, v string) error { f.RequirePass = v; return nil })},
		"loglevel":           {pass: passGlobal, usage: "loglevel debug|verbose|notice|warning|nothing", fn: setGlobal(doLogLevel)},
		"logfile":            {pass: passGlobal, usage: "logfile <path>|\"\"", fn: setGlobal(doLogFile)},
		"user":               {pass: passGlobal, usage: "user <name> <rule>...", secret: true, fn: doUser},
		"aclfile":            {pass: passGlobal, usage: "aclfile <path>", fn: doACLFile},
		"acl-pubsub-default": {pass: passGlobal, usage: "acl-pubsub-default allchannels|resetchannels", fn: setGlobal(doACLPubsubDefault)},

		"protected-mode": {pass: passGlobal, usage: "protected-mode yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.ProtectedMode) })},
		"maxclients":     {pass: passGlobal, usage: "maxclients <n>", fn: setGlobal(func(f *File, v string) error { return integer(v, 1, 1<<20, &f.MaxClients) })},
		"timeout":        {pass: passGlobal, usage: "timeout <seconds>", fn: setGlobal(doTimeout)},

		"firewall":              {pass: passGlobal, usage: "firewall yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.Firewall.Enabled) })},
		"firewall-allow":        {pass: passGlobal, usage: "firewall-allow <cidr>...", fn: doFirewallAllow},
		"firewall-mode":         {pass: passGlobal, usage: "firewall-mode own|inject", fn: setGlobal(doFirewallMode)},
		"firewall-keep-on-stop": {pass: passGlobal, usage: "firewall-keep-on-stop yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.Firewall.KeepOnStop) })},
		"firewall-fence":        {pass: passGlobal, usage: "firewall-fence yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.Firewall.Fence) })},
		"metrics-addr":          {pass: passGlobal, usage: "metrics-addr <host:port>", fn: setGlobal(doMetricsAddr)},
		"state-file":            {pass: passGlobal, usage: "state-file <name>", fn: setGlobal(doStateFile)},
		"min-agents":            {pass: passGlobal, usage: "min-agents <n>", fn: setGlobal(doMinAgents)},
	}

	sentinelSpecs = map[string]*spec{
		// Sentinel's pre-monitor options: they change how monitor lines are
		// read (resolve-hostnames) or are global.
		"announce-ip":           {pass: passGlobal, usage: "sentinel announce-ip <ip>", fn: setGlobal(doAnnounceIP)},
		"announce-port":         {pass: passGlobal, usage: "sentinel announce-port <port>", fn: setGlobal(func(f *File, v string) error { return port(v, 0, &f.AnnouncePort) })},
		"resolve-hostnames":     {pass: passGlobal, usage: "sentinel resolve-hostnames yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.ResolveHostnames) })},
		"announce-hostnames":    {pass: passGlobal, usage: "sentinel announce-hostnames yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.AnnounceHostnames) })},
		"deny-scripts-reconfig": {pass: passGlobal, usage: "sentinel deny-scripts-reconfig yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.DenyScriptsReconfig) })},
		"sentinel-user":         {pass: passGlobal, usage: "sentinel sentinel-user <user>", fn: setGlobal(func(f *File, v string) error { f.SentinelUser = v; return nil })},
		"sentinel-pass":         {pass: passGlobal, usage: "sentinel sentinel-pass <password>", secret: true, fn: setGlobal(func(f *File, v string) error { f.SentinelPass = v; return nil })},
		"myid":                  {pass: passGlobal, usage: "sentinel myid <id>", fn: setGlobal(doMyID)},
		"current-epoch":         {pass: passGlobal, usage: "sentinel current-epoch <epoch>", fn: setGlobal(func(f *File, v string) error { return epoch(v, &f.CurrentEpoch) })},

		"monitor": {pass: passMonitor, usage: "sentinel monitor <name> <host> <port> <quorum>", fn: doMonitor},

		"down-after-milliseconds":         {pass: passMaster, usage: "sentinel down-after-milliseconds <master> <ms>", fn: setMaster(func(m *Master, v string) error { return millis(v, 1, &m.DownAfter) })},
		"failover-timeout":                {pass: passMaster, usage: "sentinel failover-timeout <master> <ms>", fn: setMaster(func(m *Master, v string) error { return millis(v, 1, &m.FailoverTimeout) })},
		"parallel-syncs":                  {pass: passMaster, usage: "sentinel parallel-syncs <master> <n>", fn: setMaster(func(m *Master, v string) error { return integer(v, 1, math.MaxInt32, &m.ParallelSyncs) })},
		"master-reboot-down-after-period": {pass: passMaster, usage: "sentinel master-reboot-down-after-period <master> <ms>", fn: setMaster(func(m *Master, v string) error { return millis(v, 0, &m.MasterRebootDownAfter) })},
		"auth-pass":                       {pass: passMaster, usage: "sentinel auth-pass <master> <password>", secret: true, fn: setMaster(func(m *Master, v string) error { m.AuthPass = v; return nil })},
		"auth-user":                       {pass: passMaster, usage: "sentinel auth-user <master> <user>", fn: setMaster(func(m *Master, v string) error { m.AuthUser = v; return nil })},
		"notification-script":             {pass: passMaster, usage: "sentinel notification-script <master> <path>", fn: setMaster(func(m *Master, v string) error { return script(v, &m.NotificationScript) })},
		"client-reconfig-script":          {pass: passMaster, usage: "sentinel client-reconfig-script <master> <path>", fn: setMaster(func(m *Master, v string) error { return script(v, &m.ClientReconfigScript) })},
		"rename-command":                  {pass: passMaster, usage: "sentinel rename-command <master> <command> <new-name>", fn: doRenameCommand},
		"known-replica":                   {pass: passMaster, usage: "sentinel known-replica <master> <host> <port>", fn: doKnownReplica},
		"known-slave":                     {pass: passMaster, usage: "sentinel known-slave <master> <host> <port>", fn: doKnownReplica},
		"known-sentinel":                  {pass: passMaster, usage: "sentinel known-sentinel <master> <host> <port> [<runid>]", fn: doKnownSentinel},
		"config-epoch":                    {pass: passMaster, usage: "sentinel config-epoch <master> <epoch>", fn: setMaster(func(m *Master, v string) error { return epoch(v, &m.Imported.ConfigEpoch) })},
		"leader-epoch":                    {pass: passMaster, usage: "sentinel leader-epoch <master> <epoch>", fn: setMaster(func(m *Master, v string) error { return epoch(v, &m.Imported.LeaderEpoch) })},

		"vip":                       {pass: passMaster, usage: "sentinel vip <master> <address>/<prefix> <interface>", fn: doVIP},
		"vip-garp":                  {pass: passMaster, usage: "sentinel vip-garp <master> <count> <interval-ms> [<refresh-seconds>]", fn: doGARP},
		"fence":                     {pass: passMaster, usage: "sentinel fence <master> yes|no", fn: setMaster(func(m *Master, v string) error { m.fenceSet = true; return yesNo(v, &m.Fence) })},
		"allow-unreplicated-writes": {pass: passMaster, usage: "sentinel allow-unreplicated-writes <master> yes|no", fn: setMaster(func(m *Master, v string) error { return yesNo(v, &m.AllowUnreplicatedWrites) })},
		"allow-unsynced-promotion":  {pass: passMaster, usage: "sentinel allow-unsynced-promotion <master> yes|no", fn: setMaster(func(m *Master, v string) error { return yesNo(v, &m.AllowUnsyncedPromotion) })},
		"vip-release-on-stop":       {pass: passMaster, usage: "sentinel vip-release-on-stop <master> yes|no", fn: doReleaseOnStop},
	}
)

func init() {
	for _, s := range globalSpecs {
		s.init()
	}
	for _, s := range sentinelSpecs {
		s.init()
	}
}

// build applies the directives collected by read, in Sentinel's pass order,
// to a File holding the defaults, then checks what needs the whole file.
func (p *parser) build(name string) *File {
	f := &File{
		Path:                name,
		Files:               p.files,
		Port:                DefaultPort,
		Dir:                 DefaultDir,
		LogLevel:            DefaultLogLevel,
		DenyScriptsReconfig: true,
		ProtectedMode:       true,
		MaxClients:          DefaultMaxClients,
		Firewall:            Firewall{Mode: FirewallOwn},
		StateFile:           DefaultStateFile,
		TLS:                 tlsconf.Defaults(),
	}
	type job struct {
		l    line
		spec *spec
		args []string
	}
	var jobs []job
	for _, l := range p.lines {
		dir := l.args[0]
		if dir == "sentinel" {
			if len(l.args) < 2 {
				p.errorf(l.pos, "sentinel", "missing sub-directive: want sentinel <directive> <args>...")
				continue
			}
			sub := strings.ToLower(l.args[1])
			s, ok := sentinelSpecs[sub]
			if !ok {
				p.errorf(l.pos, "sentinel "+sub, "unknown sentinel directive")
				continue
			}
			jobs = append(jobs, job{l, s, l.args[2:]})
			continue
		}
		if s, ok := globalSpecs[dir]; ok {
			jobs = append(jobs, job{l, s, l.args[1:]})
			continue
		}
		if strings.HasPrefix(dir, "tls-") {
			// An error, not a warning: ignoring an unknown tls-* line
			// could leave part of a TLS deployment in plaintext.
			p.errorf(l.pos, dir, "unknown TLS directive")
			continue
		}
		if msg, ok := redisOnly(dir); ok {
			p.warnf(l.pos, dir, "%s", msg)
			continue
		}
		p.errorf(l.pos, dir, "unknown directive")
	}
	fail := func(j job, err error) {
		if ph := placeholders(j.args, j.spec.secret); len(ph) > 0 {
			err = placeholderErr(ph)
		}
		p.errorf(j.l.pos, j.l.name(), "%v", err)
	}
	for pass := passGlobal; pass <= passMaster; pass++ {
		for _, j := range jobs {
			if j.spec.pass != pass {
				continue
			}
			n := len(j.args)
			if n < j.spec.min || (j.spec.max >= 0 && n > j.spec.max) {
				fail(j, fmt.Errorf("wrong number of arguments (%d): want %s", n, j.spec.usage))
				continue
			}
			if wholePlaceholder(j.args) {
				fail(j, placeholderErr(placeholders(j.args, j.spec.secret)))
				continue
			}
			var m *Master
			if j.spec.master {
				if m = f.Master(j.args[0]); m == nil {
					fail(j, fmt.Errorf("unknown master %q (no sentinel monitor line defines it)", j.args[0]))
					continue
				}
			}
			if err := j.spec.fn(p, f, m, j.l.pos, j.args); err != nil {
				fail(j, err)
			}
		}
	}
	p.finish(f)
	return f
}

var placeholderRE = regexp.MustCompile(`<[a-z][a-z0-9-]*>`)

// placeholders returns the <word>s in args, for the error of a line that
// failed anyway: the packaged configuration marks what the operator must
// fill in that way, and "invalid IP address "<master-ip>"" would be a poor
// way to say so. Lines carrying a password only count arguments that are
// entirely a placeholder, so no part of a password is ever quoted.
func placeholders(args []string, secret bool) []string {
	var out []string
	for _, a := range args {
		for _, m := range placeholderRE.FindAllString(a, -1) {
			if (!secret || m == a) && !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// wholePlaceholder reports whether an argument is nothing but a
// placeholder. No directive has a valid value of that form, passwords
// included: "<redis-password>" left in place is a mistake, not a password.
func wholePlaceholder(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return a != "" && placeholderRE.FindString(a) == a })
}

func placeholderErr(ph []string) error {
	if len(ph) == 1 {
		return fmt.Errorf("%s is a placeholder: replace it with the real value", ph[0])
	}
	return fmt.Errorf("%s are placeholders: replace them with the real values", strings.Join(ph, ", "))
}

// finish applies defaults that depend on other directives and checks what
// spans several lines.
func (p *parser) finish(f *File) {
	// Redis chdir()s to dir, so a relative dir names a folder under the
	// working directory the process was started in, not under the config
	// file's folder: a sentinel.conf with "dir ./sentinel_0" started from
	// its parent folder must find the same folder here.
	f.Dir = absOr(f.Dir)
	p.finishACL(f)
	// Redis writes its log after that chdir(), so a relative logfile is
	// under dir as well (checked against redis-sentinel by
	// compat.TestDebianSentinelConf).
	if f.LogFile != "" && !filepath.IsAbs(f.LogFile) {
		f.LogFile = filepath.Join(f.Dir, f.LogFile)
	}
	p.finishTLS(f)
	vipOwner := map[netip.Addr]string{}
	for _, m := range f.Masters {
		if !m.fenceSet {
			m.Fence = len(m.VIPs) > 0
		}
		if m.Fence && f.MinAgents == 0 {
			// A warning, not an error: fencing is on by default for every
			// master with a VIP, and refusing those configurations would
			// leave an upgraded group with no agent at all.
			p.warnf(m.monitorAt, "min-agents", "master %q is fenced but min-agents is not set: fencing majorities are counted over the agents discovered so far, not the group; set min-agents to the number of agents", m.Name)
		}
		if f.MinAgents > 0 && m.Quorum > f.MinAgents {
			p.warnf(m.monitorAt, "sentinel monitor", "quorum %d of master %q is more than the %d agents of min-agents: it can never be reached, so the master is never failed over", m.Quorum, m.Name, f.MinAgents)
		}
		// A setting without effect is worth a warning only if the operator
		// changed it: the rendering of Effective lists every default and
		// must not warn when read back.
		if len(m.VIPs) == 0 {
			if m.GARP != (GARP{Count: DefaultGARPCount, Interval: DefaultGARPInterval, Refresh: DefaultGARPRefresh}) {
				p.warnf(m.garpLine, "sentinel vip-garp", "master %q has no sentinel vip: no effect", m.Name)
			}
			if !m.ReleaseOnStop {
				p.warnf(m.releaseSet, "sentinel vip-release-on-stop", "master %q has no sentinel vip: no effect", m.Name)
			}
		}
		for i, v := range m.VIPs {
			if other, ok := vipOwner[v.Prefix.Addr()]; ok && other != m.Name {
				p.errorf(m.vipAt[i], "sentinel vip", "address %s is already a VIP of master %q", v.Prefix.Addr(), other)
				continue
			}
			vipOwner[v.Prefix.Addr()] = m.Name
		}
	}
	if f.Firewall.Enabled && f.Firewall.Mode == FirewallInject && len(f.Firewall.Allow) == 0 {
		// inject puts accept rules ahead of the host's own firewall: with
		// no allow-list they would open both ports to every source.
		at := pos{f.Path, 0}
		for _, l := range p.lines {
			if l.args[0] == "firewall-mode" {
				at = l.pos
			}
		}
		p.errorf(at, "firewall-mode", "inject without firewall-allow would accept every source on the agent and Redis ports ahead of the host's firewall: list the allowed sources with firewall-allow")
	}
	if !f.Firewall.Enabled {
		changed := map[string]bool{
			"firewall-allow":        len(f.Firewall.Allow) > 0,
			"firewall-mode":         f.Firewall.Mode != FirewallOwn,
			"firewall-keep-on-stop": f.Firewall.KeepOnStop,
			"firewall-fence":        f.Firewall.Fence,
		}
		for _, l := range p.lines {
			if changed[l.args[0]] {
				p.warnf(l.pos, l.args[0], "firewall is not enabled (firewall yes): no effect")
			}
		}
	}
	if !f.ProtectedMode && f.RequirePass == "" {
		for _, l := range p.lines {
			if l.args[0] == "protected-mode" {
				p.warnf(l.pos, l.args[0], "no requirepass: any client that reaches the API port can reconfigure or fail over the masters; set requirepass, or make sure only trusted hosts reach the port")
			}
		}
	}
	if f.HasImportedState() {
		p.warnf(pos{f.Path, 0}, "", "runtime state written by Redis (myid, epochs, known-replica, known-sentinel) is imported into the state file on first start only (known-sentinel addresses also list the redis-sentinel peers admitted on every start); vipsentinel never rewrites this file")
	}
}

func absOr(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}

// ---------------------------------------------------------------------------
// Value parsers. Their errors say what was wrong and what is accepted; the
// caller adds file, line and directive.

func yesNo(s string, dst *bool) error {
	switch strings.ToLower(s) {
	case "yes":
		*dst = true
	case "no":
		*dst = false
	default:
		return fmt.Errorf("invalid value %q: want yes or no", s)
	}
	return nil
}

func integer(s string, lo, hi int, dst *int) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < int64(lo) || n > int64(hi) {
		return fmt.Errorf("invalid value %q: want an integer in %d..%d", s, lo, hi)
	}
	*dst = int(n)
	return nil
}

func port(s string, lo int, dst *int) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < int64(lo) || n > 65535 {
		return fmt.Errorf("invalid port %q: want %d..65535", s, lo)
	}
	*dst = int(n)
	return nil
}

// maxMillis keeps a millisecond count representable as a time.Duration.
const maxMillis = math.MaxInt64 / int64(time.Millisecond)

func millis(s string, lo int64, dst *time.Duration) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > maxMillis {
		return fmt.Errorf("invalid value %q: want a number of milliseconds >= %d", s, lo)
	}
	*dst = time.Duration(n) * time.Millisecond
	return nil
}

func epoch(s string, dst *uint64) error {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid epoch %q: want a non-negative integer", s)
	}
	*dst = n
	return nil
}

// host validates an instance address: an IP address, or a DNS name when
// names are allowed. IP addresses are returned in canonical form, since
// Sentinel compares addresses as strings.
func host(s string, names bool) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return "", fmt.Errorf("invalid address %q: zones are not supported", s)
		}
		return a.String(), nil
	}
	if !names {
		return "", fmt.Errorf("invalid IP address %q (hostnames need sentinel resolve-hostnames yes)", s)
	}
	if !isHostname(s) {
		return "", fmt.Errorf("invalid IP address or hostname %q", s)
	}
	return s, nil
}

// isHostname checks RFC 1123 host name syntax.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// isIfName mirrors the kernel's dev_valid_name: 1 to 15 bytes, not "." or
// "..", no '/', ':' or white space.
func isIfName(s string) bool {
	if s == "" || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c == ':' || c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// masterName rejects names that would corrupt Sentinel's wire formats: the
// hello message is comma-separated and event payloads space-separated.
func masterName(s string) error {
	if s == "" {
		return errors.New("empty master name")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == ',' || c == 0x7f {
			return fmt.Errorf("invalid master name %q: white space, control characters and commas are not allowed", s)
		}
	}
	return nil
}

func script(s string, dst *string) error {
	if !filepath.IsAbs(s) {
		return fmt.Errorf("script path %q is not absolute (scripts run without a shell, from no particular directory)", s)
	}
	*dst = filepath.Clean(s)
	return nil
}

// ---------------------------------------------------------------------------
// Directive handlers.

func doBind(_ *parser, f *File, _ *Master, _ pos, a []string) error {
	var bind, optional []string
	for _, s := range a {
		addr, opt := strings.CutPrefix(s, "-")
		switch addr {
		case "*":
			addr = "0.0.0.0"
		case "::*":
			addr = "::"
		default:
			ip, err := netip.ParseAddr(addr)
			if err != nil || ip.Zone() != "" {
				return fmt.Errorf("invalid address %q: want an IP address, * or ::*, optionally preceded by -", s)
			}
			addr = ip.String()
		}
		if slices.Contains(bind, addr) {
			continue
		}
		bind = append(bind, addr)
		if opt {
			optional = append(optional, addr)
		}
	}
	f.Bind, f.BindOptional = bind, optional
	return nil
}

func doDir(f *File, v string) error {
	if v == "" {
		return errors.New("empty path")
	}
	f.Dir = filepath.Clean(v)
	return nil
}

func doLogFile(f *File, v string) error {
	f.LogFile, f.LogFileSet = v, true
	return nil
}

func doLogLevel(f *File, v string) error {
	l := strings.ToLower(v)
	if !slices.Contains(LogLevels, l) {
		return fmt.Errorf("invalid level %q: want one of %s", v, strings.Join(LogLevels, ", "))
	}
	f.LogLevel = l
	return nil
}

func doFirewallAllow(p *parser, f *File, _ *Master, at pos, a []string) error {
	for _, s := range a {
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			ip, err2 := netip.ParseAddr(s)
			if err2 != nil || ip.Zone() != "" {
				return fmt.Errorf("invalid network %q: want an address or address/prefix", s)
			}
			pfx = netip.PrefixFrom(ip, ip.BitLen())
		}
		if m := pfx.Masked(); m != pfx {
			p.warnf(at, "firewall-allow", "%s has host bits set; using %s", pfx, m)
			pfx = m
		}
		if !slices.Contains(f.Firewall.Allow, pfx) {
			f.Firewall.Allow = append(f.Firewall.Allow, pfx)
		}
	}
	return nil
}

func doFirewallMode(f *File, v string) error {
	m := FirewallMode(strings.ToLower(v))
	if m == "own-table" {
		m = FirewallOwn
	}
	switch m {
	case FirewallOwn, FirewallInject:
		f.Firewall.Mode = m
		return nil
	}
	return fmt.Errorf("invalid mode %q: want own or inject", v)
}

func doMetricsAddr(f *File, v string) error {
	if v == "" {
		f.MetricsAddr = ""
		return nil
	}
	h, pt, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("invalid address %q: want host:port, [ipv6]:port or :port", v)
	}
	if h != "" {
		if _, err := host(h, true); err != nil {
			return err
		}
	}
	var n int
	if err := port(pt, 1, &n); err != nil {
		return err
	}
	f.MetricsAddr = v
	return nil
}

func doStateFile(f *File, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsRune(s, '/') {
		return fmt.Errorf("invalid name %q: want a file name (the file lives in dir)", s)
	}
	f.StateFile = s
	return nil
}

// doTimeout reads Redis's timeout: whole seconds, 0 for never.
func doTimeout(f *File, v string) error {
	var n int
	if err := integer(v, 0, math.MaxInt32, &n); err != nil {
		return fmt.Errorf("invalid value %q: want a number of seconds, 0 = never", v)
	}
	f.Timeout = time.Duration(n) * time.Second
	return nil
}

func doMinAgents(f *File, v string) error {
	if err := integer(v, 0, sentinel.MaxMinAgents, &f.MinAgents); err != nil {
		return fmt.Errorf("invalid value %q: want the number of agents in the group, 0..%d (0 = off)", v, sentinel.MaxMinAgents)
	}
	return nil
}

func doAnnounceIP(f *File, v string) error {
	if v == "" {
		f.AnnounceIP = ""
		return nil
	}
	h, err := host(v, true)
	if err != nil {
		return err
	}
	f.AnnounceIP = h
	return nil
}

func doMyID(f *File, v string) error {
	if !redisrule.IsRunID(v) {
		return fmt.Errorf("invalid id %q: want 40 hex digits", v)
	}
	f.MyID = strings.ToLower(v)
	return nil
}

func doMonitor(_ *parser, f *File, _ *Master, at pos, a []string) error {
	if err := masterName(a[0]); err != nil {
		return err
	}
	if m := f.Master(a[0]); m != nil {
		return fmt.Errorf("duplicate master %q (already defined at %s:%d)", a[0], m.monitorAt.file, m.monitorAt.line)
	}
	h, err := host(a[1], f.ResolveHostnames)
	if err != nil {
		return err
	}
	m := &Master{
		masterConfig: masterConfig{
			Name:                  a[0],
			Addr:                  sentinel.Addr{Host: h},
			DownAfter:             DefaultDownAfter,
			FailoverTimeout:       DefaultFailoverTimeout,
			ParallelSyncs:         DefaultParallelSyncs,
			MasterRebootDownAfter: DefaultMasterRebootDownAfter,
		},
		GARP:          GARP{Count: DefaultGARPCount, Interval: DefaultGARPInterval, Refresh: DefaultGARPRefresh},
		ReleaseOnStop: true,
		monitorAt:     at,
	}
	if err := port(a[2], 1, &m.Addr.Port); err != nil {
		return err
	}
	if err := integer(a[3], 1, math.MaxInt32, &m.Quorum); err != nil {
		return fmt.Errorf("invalid quorum %q: want an integer >= 1", a[3])
	}
	f.Masters = append(f.Masters, m)
	return nil
}

// sentCommands are the commands Sentinel sends to Redis; renaming anything
// else has no effect.
var sentCommands = []string{"auth", "client", "config", "exec", "info", "multi", "ping", "publish", "script", "sentinel", "slaveof", "subscribe"}

func doRenameCommand(p *parser, _ *File, m *Master, at pos, a []string) error {
	cmd := strings.ToLower(a[1])
	if cmd == "" {
		return errors.New("empty command name")
	}
	if strings.ContainsFunc(a[2], func(r rune) bool { return r <= ' ' }) {
		return fmt.Errorf("invalid new name %q: white space and control characters are not allowed", a[2])
	}
	if !strings.EqualFold(cmd, a[2]) && rediscmd.IsCommand(a[2]) {
		return fmt.Errorf("invalid new name %q: it is the name of another Redis command", a[2])
	}
	if !slices.Contains(sentCommands, cmd) {
		p.warnf(at, "sentinel rename-command", "vipsentinel never sends %s to Redis: no effect", strings.ToUpper(cmd))
	}
	if m.RenamedCommands == nil {
		m.RenamedCommands = map[string]string{}
	}
	m.RenamedCommands[cmd] = a[2]
	return nil
}

func instanceAddr(f *File, h, pt string) (sentinel.Addr, error) {
	hh, err := host(h, f.ResolveHostnames)
	if err != nil {
		return sentinel.Addr{}, err
	}
	a := sentinel.Addr{Host: hh}
	return a, port(pt, 1, &a.Port)
}

func doKnownReplica(_ *parser, f *File, m *Master, _ pos, a []string) error {
	addr, err := instanceAddr(f, a[1], a[2])
	if err != nil {
		return err
	}
	if !slices.Contains(m.Imported.KnownReplicas, addr) {
		m.Imported.KnownReplicas = append(m.Imported.KnownReplicas, addr)
	}
	return nil
}

func doKnownSentinel(p *parser, f *File, m *Master, at pos, a []string) error {
	addr, err := instanceAddr(f, a[1], a[2])
	if err != nil {
		return err
	}
	if len(a) == 3 {
		// Sentinel ignores this old form too: a peer without a run id cannot
		// be matched with its hellos.
		p.warnf(at, "sentinel known-sentinel", "no run id: ignored (the peer is rediscovered through its hello messages)")
		return nil
	}
	if !redisrule.IsRunID(a[3]) {
		return fmt.Errorf("invalid run id %q: want 40 hex digits", a[3])
	}
	rec := sentinel.SentinelRecord{Addr: addr, RunID: strings.ToLower(a[3])}
	// One record per run id and per address: the later line wins, as a
	// sentinel that changed address replaces its old entry.
	m.Imported.KnownSentinels = slices.DeleteFunc(m.Imported.KnownSentinels, func(r sentinel.SentinelRecord) bool {
		return r.RunID == rec.RunID || r.Addr == rec.Addr
	})
	m.Imported.KnownSentinels = append(m.Imported.KnownSentinels, rec)
	return nil
}

func doVIP(_ *parser, _ *File, m *Master, at pos, a []string) error {
	pfx, err := netip.ParsePrefix(a[1])
	if err != nil {
		return fmt.Errorf("invalid address %q: want <address>/<prefix length>, e.g. 192.0.2.10/24 or 2001:db8::10/64", a[1])
	}
	ip := pfx.Addr()
	switch {
	case ip.Is4In6():
		return fmt.Errorf("invalid address %q: use the plain IPv4 form", a[1])
	case ip.IsUnspecified(), ip.IsLoopback(), ip.IsMulticast():
		return fmt.Errorf("invalid address %q: unspecified, loopback and multicast addresses cannot float", a[1])
	case pfx.Bits() == 0:
		return fmt.Errorf("invalid prefix length in %q: want 1..%d", a[1], ip.BitLen())
	// In a /31 (RFC 3021) both addresses are hosts.
	case ip.Is4() && pfx.Bits() < 31 && (pfx.Masked().Addr() == ip || isBroadcast(pfx)):
		return fmt.Errorf("invalid address %q: the network or broadcast address of the subnet", a[1])
	}
	if !isIfName(a[2]) {
		return fmt.Errorf("invalid interface name %q: want 1 to 15 characters, none of them '/', ':' or white space", a[2])
	}
	for _, v := range m.VIPs {
		if v.Prefix.Addr() == ip {
			return fmt.Errorf("duplicate VIP %s for master %q", ip, m.Name)
		}
	}
	m.VIPs = append(m.VIPs, VIP{Master: m.Name, Prefix: pfx, Interface: a[2]})
	m.vipAt = append(m.vipAt, at)
	return nil
}

func isBroadcast(p netip.Prefix) bool {
	b := p.Addr().As4()
	host := ^uint32(0) >> p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return v&host == host
}

func doGARP(p *parser, _ *File, m *Master, at pos, a []string) error {
	var g GARP
	if err := integer(a[1], 0, 100, &g.Count); err != nil {
		return fmt.Errorf("invalid count %q: want 0..100", a[1])
	}
	var ms int
	if err := integer(a[2], 10, 60000, &ms); err != nil {
		return fmt.Errorf("invalid interval %q: want 10..60000 milliseconds", a[2])
	}
	g.Interval = time.Duration(ms) * time.Millisecond
	if len(a) == 4 {
		var sec int
		if err := integer(a[3], 0, 86400, &sec); err != nil {
			return fmt.Errorf("invalid refresh %q: want 0..86400 seconds (0 = never)", a[3])
		}
		g.Refresh = time.Duration(sec) * time.Second
	}
	if g.Count > 1 && g.Interval < time.Second {
		p.warnf(at, "sentinel vip-garp", "interval %v is below the kernel's default 1 s ARP locktime: receivers may ignore repeats", g.Interval)
	}
	m.GARP = g
	m.garpLine = at
	return nil
}

func doReleaseOnStop(_ *parser, _ *File, m *Master, at pos, a []string) error {
	m.releaseSet = at
	return yesNo(a[1], &m.ReleaseOnStop)
}
