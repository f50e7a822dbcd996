package state

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Change is one decision Merge made that the operator may want to see in the
// log: a configuration-file edit taking effect, a run-time value kept over
// the file's, a master added or dropped.
type Change struct {
	Master  string // empty for changes not tied to a master
	Setting string // Sentinel's option name, "monitor" for the address, "master" for the whole master
	Msg     string
}

// String renders c for a log line.
func (c Change) String() string {
	s := ""
	if c.Master != "" {
		s = "master " + c.Master + ": "
	}
	if c.Setting != "" {
		s += c.Setting + ": "
	}
	return s + c.Msg
}

// Import builds the HardState of a first start from cfg: the configured
// masters plus whatever runtime state a sentinel.conf rewritten by Redis
// carries (myid, current-epoch, config-epoch, leader-epoch, known-replica,
// known-sentinel). Redis does not persist whom it voted for, only the
// epoch, so Leader is empty; LeaderEpoch alone still stops a second vote in
// that epoch. As Sentinel does when loading, the current epoch is raised to
// the highest config or leader epoch found.
func Import(cfg *config.File) *sentinel.HardState {
	hs := &sentinel.HardState{MyID: cfg.MyID, CurrentEpoch: cfg.CurrentEpoch}
	for _, m := range cfg.Masters {
		hs.Masters = append(hs.Masters, sentinel.MasterState{
			Config:         m.MasterConfig(),
			CurrentAddr:    m.Addr,
			ConfigEpoch:    m.Imported.ConfigEpoch,
			LeaderEpoch:    m.Imported.LeaderEpoch,
			KnownReplicas:  slices.Clone(m.Imported.KnownReplicas),
			KnownSentinels: slices.Clone(m.Imported.KnownSentinels),
		})
	}
	raiseEpoch(hs)
	return hs
}

func raiseEpoch(hs *sentinel.HardState) {
	for _, m := range hs.Masters {
		hs.CurrentEpoch = max(hs.CurrentEpoch, m.ConfigEpoch, m.LeaderEpoch)
	}
}

// Merge reconciles the configuration file with the state of the previous
// run (prev; nil on a first start, which imports cfg, see Import). The
// result is the state to start from, with Base set to cfg's settings so the
// next run can tell what the operator edited. The rule, per master and per
// setting, is documented in the package comment.
func Merge(cfg *config.File, prev *Snapshot) (*Snapshot, []Change) {
	out := &Snapshot{}
	for _, m := range cfg.Masters {
		out.Base = append(out.Base, m.MasterConfig())
	}
	if prev == nil {
		out.State = *Import(cfg)
		msg := "no state file: first start at epoch 0"
		if cfg.HasImportedState() {
			msg = fmt.Sprintf("no state file: imported myid, epochs and known instances from %s (current epoch %d)", cfg.Path, out.State.CurrentEpoch)
		}
		return out, []Change{{Setting: "state", Msg: msg}}
	}

	var changes []Change
	add := func(master, setting, format string, a ...any) {
		changes = append(changes, Change{Master: master, Setting: setting, Msg: fmt.Sprintf(format, a...)})
	}
	st := &prev.State
	out.State.MyID = st.MyID
	if out.State.MyID == "" {
		out.State.MyID = cfg.MyID
	}
	out.State.CurrentEpoch = st.CurrentEpoch
	base := map[string]*sentinel.MasterConfig{}
	for i := range prev.Base {
		base[prev.Base[i].Name] = &prev.Base[i]
	}
	have := map[string]*sentinel.MasterState{}
	for i := range st.Masters {
		have[st.Masters[i].Config.Name] = &st.Masters[i]
	}

	for _, m := range cfg.Masters {
		c := m.MasterConfig()
		b, inBase := base[c.Name]
		s, inState := have[c.Name]
		switch {
		case !inState && !inBase:
			out.State.Masters = append(out.State.Masters, sentinel.MasterState{Config: c, CurrentAddr: c.Addr})
			add(c.Name, "master", "new in the configuration file: monitoring %s", c.Addr)
		case !inState && (c.Addr != b.Addr || c.Quorum != b.Quorum):
			out.State.Masters = append(out.State.Masters, sentinel.MasterState{Config: c, CurrentAddr: c.Addr})
			add(c.Name, "master", "removed at run time (SENTINEL REMOVE), but its sentinel monitor line was edited since: monitoring %s again", c.Addr)
		case !inState:
			add(c.Name, "master", "removed at run time (SENTINEL REMOVE): stays removed until its sentinel monitor line is edited")
		default:
			ref := &s.Config // a master MONITORed at run time, now also in the file
			if inBase {
				ref = b
			}
			ms, ch := mergeMaster(c, ref, s)
			out.State.Masters = append(out.State.Masters, ms)
			changes = append(changes, ch...)
		}
	}
	for _, s := range st.Masters {
		name := s.Config.Name
		switch {
		case cfg.Master(name) != nil:
		case base[name] != nil:
			add(name, "master", "removed from the configuration file: no longer monitored (its state is dropped)")
		default:
			out.State.Masters = append(out.State.Masters, cloneMaster(s))
			add(name, "master", "added at run time (SENTINEL MONITOR): still monitored")
		}
	}
	out.State.Settings, changes = mergeSettings(cfg, prev, changes)
	out.State.ACLUsers, changes = mergeUsers(cfg, prev, changes)
	raiseEpoch(&out.State)
	return out, changes
}

// fileSettings are cfg's values of the SENTINEL CONFIG SET parameters, in
// the form CONFIG SET takes them.
func fileSettings(cfg *config.File) map[string]string {
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	return map[string]string{
		"resolve-hostnames":  yn(cfg.ResolveHostnames),
		"announce-hostnames": yn(cfg.AnnounceHostnames),
		"announce-ip":        cfg.AnnounceIP,
		"announce-port":      strconv.Itoa(cfg.AnnouncePort),
		"sentinel-user":      cfg.SentinelUser,
		"sentinel-pass":      cfg.SentinelPass,
		"loglevel":           cfg.LogLevel,
	}
}

// mergeSettings keeps the values SENTINEL CONFIG SET gave in the previous
// run over cfg's, as Redis's configuration rewrite would have, except where
// the operator edited that parameter in the file since (the file's value
// then applies) or the file already says the same.
func mergeSettings(cfg *config.File, prev *Snapshot, changes []Change) ([]sentinel.Setting, []Change) {
	file := fileSettings(cfg)
	base := map[string]string{}
	for _, kv := range prev.BaseSettings {
		base[kv.Name] = kv.Value
	}
	var out []sentinel.Setting
	for _, kv := range prev.State.Settings {
		shown := kv.Value
		if kv.Name == "sentinel-pass" {
			shown = config.Masked
		}
		switch b, ok := base[kv.Name]; {
		case ok && b != file[kv.Name]:
			changes = append(changes, Change{Setting: kv.Name, Msg: "edited in the configuration file since SENTINEL CONFIG SET: the file's value applies"})
		case kv.Value == file[kv.Name]:
		default:
			out = append(out, kv)
			changes = append(changes, Change{Setting: kv.Name, Msg: fmt.Sprintf("keeping %q from SENTINEL CONFIG SET over the configuration file's value", shown)})
		}
	}
	return out, changes
}

func cloneMaster(s sentinel.MasterState) sentinel.MasterState {
	s.Config.RenamedCommands = maps.Clone(s.Config.RenamedCommands)
	s.KnownReplicas = slices.Clone(s.KnownReplicas)
	s.KnownSentinels = slices.Clone(s.KnownSentinels)
	return s
}

// setting is one per-master option subject to the merge rule.
type setting struct {
	name   string
	secret bool
	get    func(*sentinel.MasterConfig) any
	set    func(dst, src *sentinel.MasterConfig)
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

var settings = []setting{
	{"quorum", false, func(c *sentinel.MasterConfig) any { return strconv.Itoa(c.Quorum) }, func(d, s *sentinel.MasterConfig) { d.Quorum = s.Quorum }},
	{"down-after-milliseconds", false, func(c *sentinel.MasterConfig) any { return ms(c.DownAfter) }, func(d, s *sentinel.MasterConfig) { d.DownAfter = s.DownAfter }},
	{"failover-timeout", false, func(c *sentinel.MasterConfig) any { return ms(c.FailoverTimeout) }, func(d, s *sentinel.MasterConfig) { d.FailoverTimeout = s.FailoverTimeout }},
	{"parallel-syncs", false, func(c *sentinel.MasterConfig) any { return strconv.Itoa(c.ParallelSyncs) }, func(d, s *sentinel.MasterConfig) { d.ParallelSyncs = s.ParallelSyncs }},
	{"master-reboot-down-after-period", false, func(c *sentinel.MasterConfig) any { return ms(c.MasterRebootDownAfter) }, func(d, s *sentinel.MasterConfig) { d.MasterRebootDownAfter = s.MasterRebootDownAfter }},
	{"auth-user", false, func(c *sentinel.MasterConfig) any { return c.AuthUser }, func(d, s *sentinel.MasterConfig) { d.AuthUser = s.AuthUser }},
	{"auth-pass", true, func(c *sentinel.MasterConfig) any { return c.AuthPass }, func(d, s *sentinel.MasterConfig) { d.AuthPass = s.AuthPass }},
	{"notification-script", false, func(c *sentinel.MasterConfig) any { return c.NotificationScript }, func(d, s *sentinel.MasterConfig) { d.NotificationScript = s.NotificationScript }},
	{"client-reconfig-script", false, func(c *sentinel.MasterConfig) any { return c.ClientReconfigScript }, func(d, s *sentinel.MasterConfig) { d.ClientReconfigScript = s.ClientReconfigScript }},
}

func show(v any, secret bool) string {
	s := v.(string)
	switch {
	case s == "":
		return `""`
	case secret:
		return config.Masked
	}
	return s
}

// mergeMaster applies the per-setting rule to a master present in both the
// file (c) and the state (s); ref is the file's value the state was based
// on.
func mergeMaster(c sentinel.MasterConfig, ref *sentinel.MasterConfig, s *sentinel.MasterState) (sentinel.MasterState, []Change) {
	var changes []Change
	add := func(setting, format string, a ...any) {
		changes = append(changes, Change{Master: c.Name, Setting: setting, Msg: fmt.Sprintf(format, a...)})
	}
	r := cloneMaster(*s)
	r.Monitored = false // the file declares it now
	r.Config.HasVIP, r.Config.Fence = c.HasVIP, c.Fence
	r.Config.AllowUnsyncedPromotion = c.AllowUnsyncedPromotion
	r.Config.AllowUnreplicatedWrites = c.AllowUnreplicatedWrites

	for _, f := range settings {
		file, was, now := f.get(&c), f.get(ref), f.get(&r.Config)
		switch {
		case file != was:
			if now != file {
				add(f.name, "%s -> %s (edited in the configuration file, which wins over the run-time value)", show(now, f.secret), show(file, f.secret))
			}
			f.set(&r.Config, &c)
		case now != file:
			add(f.name, "keeping %s set at run time (SENTINEL SET); the configuration file says %s", show(now, f.secret), show(file, f.secret))
		}
	}

	// rename-command is one setting per command.
	keys := slices.Sorted(maps.Keys(c.RenamedCommands))
	keys = append(keys, slices.Sorted(maps.Keys(ref.RenamedCommands))...)
	keys = append(keys, slices.Sorted(maps.Keys(r.Config.RenamedCommands))...)
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		fv, fok := c.RenamedCommands[k]
		bv, bok := ref.RenamedCommands[k]
		nv, nok := r.Config.RenamedCommands[k]
		name := "rename-command " + k
		switch {
		case fv != bv || fok != bok:
			if fv != nv || fok != nok {
				add(name, "%s -> %s (edited in the configuration file)", renameShow(nv, nok), renameShow(fv, fok))
			}
			if r.Config.RenamedCommands == nil {
				r.Config.RenamedCommands = map[string]string{}
			}
			if fok {
				r.Config.RenamedCommands[k] = fv
			} else {
				delete(r.Config.RenamedCommands, k)
			}
		case fv != nv || fok != nok:
			add(name, "keeping %s set at run time; the configuration file says %s", renameShow(nv, nok), renameShow(fv, fok))
		}
	}
	if len(r.Config.RenamedCommands) == 0 {
		r.Config.RenamedCommands = nil
	}

	// The monitor address: editing it in the file is the operator saying
	// where the master is now, as editing sentinel.conf is for Sentinel.
	// The config epoch is kept, so peers holding a newer configuration
	// still win through their hellos.
	if c.Addr != ref.Addr {
		if r.CurrentAddr != c.Addr {
			add("monitor", "address %s -> %s (edited in the configuration file; replaces the address learnt at run time, config epoch %d)", r.CurrentAddr, c.Addr, r.ConfigEpoch)
		}
		r.Config.Addr = c.Addr
		r.CurrentAddr = c.Addr
	}
	return r, changes
}

func renameShow(v string, ok bool) string {
	if !ok {
		return "(not renamed)"
	}
	return strconv.Quote(v)
}

// MasterConfigs returns the per-master configuration in hs, the set of
// masters the core should run with after Merge (the configuration file's
// masters minus those removed at run time, plus those added at run time).
func MasterConfigs(hs *sentinel.HardState) []sentinel.MasterConfig {
	out := make([]sentinel.MasterConfig, 0, len(hs.Masters))
	for _, m := range hs.Masters {
		c := m.Config
		c.RenamedCommands = maps.Clone(c.RenamedCommands)
		out = append(out, c)
	}
	return out
}
