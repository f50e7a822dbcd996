package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Masked replaces secrets in Effective and in log output.
const Masked = "******"

// Effective renders the configuration as configuration text, every default
// made explicit, masters in the order they were defined and includes
// flattened. Settings without a value are shown as comments. Secrets
// (requirepass, sentinel-pass, auth-pass) are replaced by Masked, so the text
// can be shown to anyone who may read logs. Parsing the result gives back
// the same configuration, secrets aside.
func (f *File) Effective() string {
	var b strings.Builder
	w := func(args ...string) {
		for i, a := range args {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(quote(a))
		}
		b.WriteByte('\n')
	}
	unset := func(what string) { fmt.Fprintf(&b, "# %s: not set\n", what) }
	str := func(name, v string, secret bool) {
		switch {
		case v == "":
			unset(name)
		case secret:
			w(append(strings.Fields(name), Masked)...)
		default:
			w(append(strings.Fields(name), v)...)
		}
	}

	fmt.Fprintf(&b, "# Effective configuration of %s\n", f.Path)
	if len(f.Files) > 1 {
		fmt.Fprintf(&b, "# read from: %s\n", strings.Join(f.Files, ", "))
	}
	b.WriteString("# Defaults are explicit; secrets are shown as " + Masked + ".\n\n")

	w("port", strconv.Itoa(f.Port))
	if len(f.Bind) == 0 {
		b.WriteString("# bind: not set (all addresses)\n")
	} else {
		args := []string{"bind"}
		for _, a := range f.Bind {
			if slices.Contains(f.BindOptional, a) {
				a = "-" + a
			}
			args = append(args, a)
		}
		w(args...)
	}
	f.effectiveTLS(w)
	w("dir", f.Dir)
	str("requirepass", f.RequirePass, true)
	w("protected-mode", yn(f.ProtectedMode))
	w("maxclients", strconv.Itoa(f.MaxClients))
	w("timeout", strconv.Itoa(int(f.Timeout/time.Second)))
	str("aclfile", f.ACLFile, false)
	if f.ACLPubsubAllChannels {
		w("acl-pubsub-default", "allchannels")
	} else {
		w("acl-pubsub-default", "resetchannels")
	}
	for _, u := range f.Users {
		w(append([]string{"user"}, maskedRules(u)...)...)
	}
	w("loglevel", f.LogLevel)
	if f.LogFileSet {
		w("logfile", f.LogFile)
	} else {
		unset("logfile")
	}
	str("sentinel announce-ip", f.AnnounceIP, false)
	w("sentinel", "announce-port", strconv.Itoa(f.AnnouncePort))
	w("sentinel", "resolve-hostnames", yn(f.ResolveHostnames))
	w("sentinel", "announce-hostnames", yn(f.AnnounceHostnames))
	w("sentinel", "deny-scripts-reconfig", yn(f.DenyScriptsReconfig))
	str("sentinel sentinel-user", f.SentinelUser, false)
	str("sentinel sentinel-pass", f.SentinelPass, true)
	w("min-agents", strconv.Itoa(f.MinAgents))
	b.WriteByte('\n')

	w("firewall", yn(f.Firewall.Enabled))
	if len(f.Firewall.Allow) == 0 {
		unset("firewall-allow")
	}
	for _, p := range f.Firewall.Allow {
		w("firewall-allow", p.String())
	}
	w("firewall-mode", string(f.Firewall.Mode))
	w("firewall-keep-on-stop", yn(f.Firewall.KeepOnStop))
	w("firewall-fence", yn(f.Firewall.Fence))
	if f.MetricsAddr == "" {
		b.WriteString("# metrics-addr: not set (no metrics endpoint)\n")
	} else {
		w("metrics-addr", f.MetricsAddr)
	}
	w("state-file", f.StateFile)
	fmt.Fprintf(&b, "# state file: %s\n", f.StatePath())

	for _, m := range f.Masters {
		n := m.Name
		b.WriteByte('\n')
		w("sentinel", "monitor", n, m.Addr.Host, strconv.Itoa(m.Addr.Port), strconv.Itoa(m.Quorum))
		w("sentinel", "down-after-milliseconds", n, ms(m.DownAfter))
		w("sentinel", "failover-timeout", n, ms(m.FailoverTimeout))
		w("sentinel", "parallel-syncs", n, strconv.Itoa(m.ParallelSyncs))
		w("sentinel", "master-reboot-down-after-period", n, ms(m.MasterRebootDownAfter))
		str("sentinel auth-user "+n, m.AuthUser, false)
		str("sentinel auth-pass "+n, m.AuthPass, true)
		str("sentinel notification-script "+n, m.NotificationScript, false)
		str("sentinel client-reconfig-script "+n, m.ClientReconfigScript, false)
		for _, c := range slices.Sorted(maps.Keys(m.RenamedCommands)) {
			w("sentinel", "rename-command", n, c, m.RenamedCommands[c])
		}
		if len(m.VIPs) == 0 {
			fmt.Fprintf(&b, "# sentinel vip %s: none\n", n)
		}
		for _, v := range m.VIPs {
			w("sentinel", "vip", n, v.Prefix.String(), v.Interface)
		}
		w("sentinel", "vip-garp", n, strconv.Itoa(m.GARP.Count), ms(m.GARP.Interval), strconv.FormatInt(int64(m.GARP.Refresh/time.Second), 10))
		w("sentinel", "fence", n, yn(m.Fence))
		w("sentinel", "allow-unsynced-promotion", n, yn(m.AllowUnsyncedPromotion))
		w("sentinel", "allow-unreplicated-writes", n, yn(m.AllowUnreplicatedWrites))
		w("sentinel", "vip-release-on-stop", n, yn(m.ReleaseOnStop))
	}

	if f.HasImportedState() {
		b.WriteString("\n# Runtime state written by Redis's CONFIG REWRITE: imported into the state\n# file on first start only, ignored afterwards.\n")
		if f.MyID != "" {
			w("sentinel", "myid", f.MyID)
		}
		w("sentinel", "current-epoch", strconv.FormatUint(f.CurrentEpoch, 10))
		for _, m := range f.Masters {
			im := m.Imported
			if !im.HasState() {
				continue
			}
			w("sentinel", "config-epoch", m.Name, strconv.FormatUint(im.ConfigEpoch, 10))
			w("sentinel", "leader-epoch", m.Name, strconv.FormatUint(im.LeaderEpoch, 10))
			for _, r := range im.KnownReplicas {
				w("sentinel", "known-replica", m.Name, r.Host, strconv.Itoa(r.Port))
			}
			for _, s := range im.KnownSentinels {
				w("sentinel", "known-sentinel", m.Name, s.Addr.Host, strconv.Itoa(s.Addr.Port), s.RunID)
			}
		}
	}
	return b.String()
}

func yn(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
