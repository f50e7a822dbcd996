package config

import (
	"errors"
	"maps"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

const testPath = "/etc/vipsentinel/vipsentinel.conf"

// mon is the smallest valid configuration: one monitored master, m, that
// the tests add lines to.
const mon = "sentinel monitor m 198.18.0.1 6379 2\n"

func parse(t *testing.T, text string) (*File, []Warning, error) {
	t.Helper()
	return Parse(testPath, []byte(text), NoInclude())
}

func mustParse(t *testing.T, text string) (*File, []Warning) {
	t.Helper()
	f, w, err := parse(t, text)
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, text)
	}
	return f, w
}

func TestDefaults(t *testing.T) {
	f, w := mustParse(t, mon)
	if len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	want := &File{
		Path:                testPath,
		Files:               []string{testPath},
		Port:                26379,
		Dir:                 "/var/lib/vipsentinel",
		LogLevel:            "notice",
		DenyScriptsReconfig: true,
		ProtectedMode:       true,
		MaxClients:          10000,
		Firewall:            Firewall{Mode: FirewallOwn},
		StateFile:           "vipsentinel.state",
		TLS:                 tlsconf.Defaults(),
		Masters: []*Master{{
			masterConfig: masterConfig{
				Name:            "m",
				Addr:            sentinel.Addr{Host: "198.18.0.1", Port: 6379},
				Quorum:          2,
				DownAfter:       30 * time.Second,
				FailoverTimeout: 180 * time.Second,
				ParallelSyncs:   1,
			},
			GARP:          GARP{Count: 5, Interval: time.Second},
			ReleaseOnStop: true,
		}},
	}
	if !equalFiles(f, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", f, want)
	}
	if got := f.StatePath(); got != "/var/lib/vipsentinel/vipsentinel.state" {
		t.Errorf("StatePath = %s", got)
	}
	if f.Masters[0].Fence {
		t.Error("fence defaults to yes without a VIP")
	}
	f, _ = mustParse(t, mon+"sentinel vip m 198.18.0.100/24 eth0\n")
	if !f.Masters[0].Fence {
		t.Error("fence defaults to no with a VIP")
	}
}

// equalFiles compares the exported content of two Files.
func equalFiles(a, b *File) bool {
	strip := func(f *File) *File {
		c := *f
		c.Masters = nil
		for _, m := range f.Masters {
			mc := *m
			mc.monitorAt, mc.vipAt, mc.fenceSet, mc.garpLine, mc.releaseSet = pos{}, nil, false, pos{}, pos{}
			if len(mc.RenamedCommands) == 0 {
				mc.RenamedCommands = nil
			}
			c.Masters = append(c.Masters, &mc)
		}
		return &c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

func TestFull(t *testing.T) {
	f, w, err := Load("testdata/full.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || !strings.Contains(w[0].Msg, "imported into the state file") {
		t.Errorf("warnings: %v", w)
	}
	cache := f.Master("cache")
	sessions := f.Master("sessions")
	if cache == nil || sessions == nil || f.Master("nope") != nil {
		t.Fatalf("masters: %v", f.Masters)
	}
	if f.Masters[0] != cache {
		t.Error("masters are not in monitor-line order")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"port", f.Port, 26380},
		{"bind", f.Bind, []string{"127.0.0.1", "::1", "198.18.0.1"}},
		{"bind optional", f.BindOptional, []string{"198.18.0.1"}},
		{"dir", f.Dir, "/var/lib/vipsentinel"},
		{"requirepass", f.RequirePass, "it's"},
		{"loglevel", f.LogLevel, "verbose"},
		{"announce-ip", f.AnnounceIP, "198.18.0.1"},
		{"announce-port", f.AnnouncePort, 26390},
		{"resolve-hostnames", f.ResolveHostnames, true},
		{"announce-hostnames", f.AnnounceHostnames, true},
		{"deny-scripts-reconfig", f.DenyScriptsReconfig, false},
		{"sentinel-user", f.SentinelUser, "peer"},
		{"sentinel-pass", f.SentinelPass, "peer!pass"},
		{"myid", f.MyID, "fedcba9876543210fedcba9876543210fedcba98"},
		{"current-epoch", f.CurrentEpoch, uint64(9)},
		{"firewall", f.Firewall, Firewall{
			Enabled:    true,
			Allow:      []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("fd00::/64"), netip.MustParsePrefix("198.18.9.9/32")},
			Mode:       FirewallInject,
			KeepOnStop: true,
			Fence:      true,
		}},
		{"metrics-addr", f.MetricsAddr, "127.0.0.1:9479"},
		{"min-agents", f.MinAgents, 3},
		{"state path", f.StatePath(), "/var/lib/vipsentinel/agent.state"},
		{"monitor", cache.Addr, sentinel.Addr{Host: "198.18.0.1", Port: 6379}},
		{"quorum", cache.Quorum, 2},
		{"down-after", cache.DownAfter, 5 * time.Second},
		{"failover-timeout", cache.FailoverTimeout, time.Minute},
		{"parallel-syncs", cache.ParallelSyncs, 2},
		{"auth-pass", cache.AuthPass, "p@ss word"},
		{"auth-user", cache.AuthUser, "sentinel"},
		{"notification-script", cache.NotificationScript, "/usr/local/bin/notify.sh"},
		{"client-reconfig-script", cache.ClientReconfigScript, "/usr/local/bin/reconfig.sh"},
		{"master-reboot", cache.MasterRebootDownAfter, 10 * time.Second},
		{"rename-command", cache.RenamedCommands, map[string]string{"config": "GUARDED-CONFIG", "slaveof": ""}},
		{"vips", cache.VIPs, []VIP{
			{Master: "cache", Prefix: netip.MustParsePrefix("198.18.0.100/24"), Interface: "eth0"},
			{Master: "cache", Prefix: netip.MustParsePrefix("fd00::100/64"), Interface: "eth0"},
		}},
		{"vip-garp", cache.GARP, GARP{Count: 3, Interval: 1500 * time.Millisecond, Refresh: time.Minute}},
		{"fence", cache.Fence, false},
		{"release-on-stop", cache.ReleaseOnStop, false},
		{"imported", cache.Imported, Imported{
			ConfigEpoch:    7,
			LeaderEpoch:    8,
			KnownReplicas:  []sentinel.Addr{{Host: "198.18.0.2", Port: 6379}, {Host: "198.18.0.3", Port: 6379}},
			KnownSentinels: []sentinel.SentinelRecord{{Addr: sentinel.Addr{Host: "198.18.0.2", Port: 26379}, RunID: "0123456789abcdef0123456789abcdef01234567"}},
		}},
		{"hostname monitor", sessions.Addr, sentinel.Addr{Host: "db1.example.net", Port: 6380}},
		{"sessions fence default", sessions.Fence, true},
		{"all vips", len(f.VIPs()), 3},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestSentinelConfig(t *testing.T) {
	f, _, err := Load("testdata/full.conf")
	if err != nil {
		t.Fatal(err)
	}
	c := f.Sentinel([]string{"198.18.0.1"})
	if c.Port != 26380 || c.AnnounceIP != "198.18.0.1" || c.AnnouncePort != 26390 || c.DenyScriptsReconfig ||
		!c.ResolveHostnames || !c.AnnounceHostnames || c.SentinelUser != "peer" || c.SentinelPass != "peer!pass" ||
		c.RequirePass != "it's" || !slices.Equal(c.LocalIPs, []string{"198.18.0.1"}) || c.Rand != nil || c.MinAgents != 3 {
		t.Errorf("globals: %+v", c)
	}
	if len(c.Masters) != 2 {
		t.Fatalf("masters: %+v", c.Masters)
	}
	want := sentinel.MasterConfig{
		Name: "cache", Addr: sentinel.Addr{Host: "198.18.0.1", Port: 6379}, Quorum: 2,
		DownAfter: 5 * time.Second, FailoverTimeout: time.Minute, ParallelSyncs: 2,
		AuthUser: "sentinel", AuthPass: "p@ss word",
		NotificationScript: "/usr/local/bin/notify.sh", ClientReconfigScript: "/usr/local/bin/reconfig.sh",
		MasterRebootDownAfter: 10 * time.Second,
		RenamedCommands:       map[string]string{"config": "GUARDED-CONFIG", "slaveof": ""},
		HasVIP:                true, Fence: false,
	}
	if !reflect.DeepEqual(c.Masters[0], want) {
		t.Errorf("master:\n got %+v\nwant %+v", c.Masters[0], want)
	}
	if m := c.Masters[1]; !m.HasVIP || !m.Fence || m.RenamedCommands != nil {
		t.Errorf("sessions: %+v", m)
	}
	// The core's copy is independent of the File.
	c.Masters[0].RenamedCommands["ping"] = "x"
	if _, ok := f.Master("cache").RenamedCommands["ping"]; ok {
		t.Error("Sentinel shares the rename-command map with the File")
	}
}

// TestGood checks one setting at a time, including edge values.
func TestGood(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		text  string
		check func(f *File) bool
	}{
		{"empty file", "", func(f *File) bool { return len(f.Masters) == 0 }},
		{"white-space lines", "\v\n \f \n\t\v\r\n", func(f *File) bool { return len(f.Masters) == 0 }},
		{"comments and blanks", "# c\n\n   # indented\n\t\n" + mon, func(f *File) bool { return len(f.Masters) == 1 }},
		{"CRLF line ends", "port 1234\r\n" + mon, func(f *File) bool { return f.Port == 1234 }},
		{"BOM", "\xef\xbb\xbfport 1234\n", func(f *File) bool { return f.Port == 1234 }},
		{"case-insensitive names", "PORT 1234\nSentinel MONITOR M 198.18.0.1 6379 1\nsentinel Down-After-Milliseconds M 10\n", func(f *File) bool {
			return f.Port == 1234 && f.Master("M").DownAfter == 10*time.Millisecond
		}},
		{"master names are case-sensitive", "sentinel monitor a 198.18.0.1 1 1\nsentinel monitor A 198.18.0.2 1 1\n", func(f *File) bool { return len(f.Masters) == 2 }},
		{"last value wins", "port 1\nport 2\n", func(f *File) bool { return f.Port == 2 }},
		{"port max", "port 65535\n", func(f *File) bool { return f.Port == 65535 }},
		{"bind all", "bind * -::*\n", func(f *File) bool {
			return slices.Equal(f.Bind, []string{"0.0.0.0", "::"}) && slices.Equal(f.BindOptional, []string{"::"})
		}},
		{"bind dedupe", "bind 127.0.0.1 127.0.0.1\n", func(f *File) bool { return slices.Equal(f.Bind, []string{"127.0.0.1"}) }},
		{"bind replaces", "bind -::1\nbind 127.0.0.1\n", func(f *File) bool {
			return slices.Equal(f.Bind, []string{"127.0.0.1"}) && f.BindOptional == nil
		}},
		{"bind canonical", "bind 0:0::1\n", func(f *File) bool { return slices.Equal(f.Bind, []string{"::1"}) }},
		{"relative dir is under the working directory, as Redis's chdir makes it", "dir data\n", func(f *File) bool { return f.Dir == filepath.Join(cwd, "data") }},
		{"dir cleaned", "dir /var/lib//x/\n", func(f *File) bool { return f.Dir == "/var/lib/x" }},
		{"empty requirepass", `requirepass ""` + "\n", func(f *File) bool { return f.RequirePass == "" }},
		{"password with <x> inside", mon + "sentinel auth-pass m a<b>c\n", func(f *File) bool { return f.Masters[0].AuthPass == "a<b>c" }},
		{"loglevel case", "loglevel WARNING\n", func(f *File) bool { return f.LogLevel == "warning" }},
		{"loglevel nothing", "loglevel nothing\n", func(f *File) bool { return f.LogLevel == "nothing" }},
		{"logfile unset", "", func(f *File) bool { return !f.LogFileSet }},
		{"logfile stdout", "logfile \"\"\n", func(f *File) bool { return f.LogFileSet && f.LogFile == "" }},
		{"logfile path", "logfile /var/log/vipsentinel.log\n", func(f *File) bool { return f.LogFileSet && f.LogFile == "/var/log/vipsentinel.log" }},
		{"yes/no case", "firewall YES\n", func(f *File) bool { return f.Firewall.Enabled }},
		{"firewall-mode own-table alias", "firewall yes\nfirewall-mode own-table\n", func(f *File) bool { return f.Firewall.Mode == FirewallOwn }},
		{"firewall-allow host bits", "firewall yes\nfirewall-allow 198.18.0.5/24 198.18.0.0/24\n", func(f *File) bool {
			return slices.Equal(f.Firewall.Allow, []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")})
		}},
		{"metrics ipv6", "metrics-addr [::1]:9479\n", func(f *File) bool { return f.MetricsAddr == "[::1]:9479" }},
		{"metrics any", "metrics-addr :9479\n", func(f *File) bool { return f.MetricsAddr == ":9479" }},
		{"metrics off", `metrics-addr ""` + "\n", func(f *File) bool { return f.MetricsAddr == "" }},
		{"min-agents off", "min-agents 0\n", func(f *File) bool { return f.MinAgents == 0 && f.Sentinel(nil).MinAgents == 0 }},
		{"min-agents", "min-agents 5\n", func(f *File) bool { return f.MinAgents == 5 && f.Sentinel(nil).MinAgents == 5 }},
		{"min-agents max", "min-agents 1000\n", func(f *File) bool { return f.MinAgents == 1000 }},
		{"min-agents last wins", "min-agents 5\nmin-agents 3\n", func(f *File) bool { return f.MinAgents == 3 }},
		{"min-agents case", "MIN-AGENTS 3\n", func(f *File) bool { return f.MinAgents == 3 }},
		{"announce-ip empty", `sentinel announce-ip ""` + "\n", func(f *File) bool { return f.AnnounceIP == "" }},
		{"announce-ip hostname", "sentinel announce-ip agent1.example.net\n", func(f *File) bool { return f.AnnounceIP == "agent1.example.net" }},
		{"announce-port 0", "sentinel announce-port 0\n", func(f *File) bool { return f.AnnouncePort == 0 }},
		{"monitor ipv6 canonical", "sentinel monitor m fd00:0::0:1 6379 1\n", func(f *File) bool { return f.Masters[0].Addr.Host == "fd00::1" }},
		{"resolve-hostnames after monitor", "sentinel monitor m redis-1.example 6379 1\nsentinel resolve-hostnames yes\n", func(f *File) bool {
			return f.Masters[0].Addr.Host == "redis-1.example"
		}},
		{"master before directive", "sentinel parallel-syncs m 3\n" + mon, func(f *File) bool {
			return f.Masters[0].ParallelSyncs == 3
		}},
		{"master-reboot 0", mon + "sentinel master-reboot-down-after-period m 0\n", func(f *File) bool { return f.Masters[0].MasterRebootDownAfter == 0 }},
		{"rename lower-cased", mon + "sentinel rename-command m Config cfg\n", func(f *File) bool { return f.Masters[0].RenamedCommands["config"] == "cfg" }},
		{"known-sentinel dedupe by runid", mon +
			"sentinel known-sentinel m 198.18.0.2 26379 0123456789abcdef0123456789abcdef01234567\n" +
			"sentinel known-sentinel m 198.18.0.9 26379 0123456789abcdef0123456789abcdef01234567\n", func(f *File) bool {
			k := f.Masters[0].Imported.KnownSentinels
			return len(k) == 1 && k[0].Addr.Host == "198.18.0.9"
		}},
		{"known-replica dedupe", mon + "sentinel known-replica m 198.18.0.2 6379\nsentinel known-slave m 198.18.0.2 6379\n", func(f *File) bool {
			return len(f.Masters[0].Imported.KnownReplicas) == 1
		}},
		{"epoch max", "sentinel current-epoch 18446744073709551615\n", func(f *File) bool { return f.CurrentEpoch == 1<<64-1 }},
		{"vip /32 and /128", mon + "sentinel vip m 198.18.0.100/32 eth0\nsentinel vip m fd00::1/128 eth0.100\n", func(f *File) bool { return len(f.Masters[0].VIPs) == 2 }},
		{"vip /31", mon + "sentinel vip m 198.18.0.0/31 eth0\n", func(f *File) bool { return len(f.Masters[0].VIPs) == 1 }},
		{"vip long ifname", mon + "sentinel vip m 198.18.0.100/24 abcdefghijklmno\n", func(f *File) bool { return f.Masters[0].VIPs[0].Interface == "abcdefghijklmno" }},
		{"vip-garp without refresh", mon + "sentinel vip m 198.18.0.100/24 eth0\nsentinel vip-garp m 0 1000\n", func(f *File) bool {
			return f.Masters[0].GARP == GARP{Count: 0, Interval: time.Second}
		}},
		{"fence yes without vip", mon + "sentinel fence m yes\n", func(f *File) bool { return f.Masters[0].Fence }},
		{"unsynced promotion off by default", mon, func(f *File) bool { return !f.Masters[0].AllowUnsyncedPromotion }},
		{"unsynced promotion allowed", mon + "sentinel allow-unsynced-promotion m yes\n", func(f *File) bool {
			return f.Masters[0].AllowUnsyncedPromotion && f.Masters[0].MasterConfig().AllowUnsyncedPromotion
		}},
		{"unreplicated writes not accepted by default", mon, func(f *File) bool { return !f.Masters[0].AllowUnreplicatedWrites }},
		{"unreplicated writes accepted", mon + "sentinel allow-unreplicated-writes m yes\n", func(f *File) bool { return f.Masters[0].AllowUnreplicatedWrites }},
		{"fence no with vip", mon + "sentinel vip m 198.18.0.100/24 eth0\nsentinel fence m no\n", func(f *File) bool { return !f.Masters[0].Fence }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := mustParse(t, tt.text)
			if !tt.check(f) {
				t.Errorf("unexpected result:\n%s", f.Effective())
			}
		})
	}
}

// TestMinAgents: every accepted value is accepted by the core too, and a
// quorum up to min-agents is fine.
func TestMinAgents(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, sentinel.MaxMinAgents} {
		f, w := mustParse(t, mon+"min-agents "+strconv.Itoa(n)+"\n")
		if n != 1 && len(w) != 0 || n == 1 && len(w) != 1 {
			t.Errorf("min-agents %d: warnings %v", n, w)
		}
		c := f.Sentinel([]string{"198.18.0.1"})
		c.Rand = rand.New(rand.NewSource(1))
		if _, err := sentinel.New(c, nil); err != nil {
			t.Errorf("min-agents %d: the core refuses it: %v", n, err)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		text      string
		line      int    // of the (first) error
		directive string // of the (first) error
		msg       string // substring of the (first) error
	}{
		// Syntax.
		{`port "26379`, 1, "", "unbalanced quotes"},
		{`port "26379"x`, 1, "", "closing quote"},
		{"port 1\nport\x00 2\n", 2, "", "NUL byte"},
		{"bogus 1\n", 1, "bogus", "unknown directive"},
		{"sentinel\n", 1, "sentinel", "missing sub-directive"},
		{"sentinel bogus x\n", 1, "sentinel bogus", "unknown sentinel directive"},
		{"include x.conf\n", 1, "include", "includes are disabled"},
		// Arity: from the usage string.
		{"port\n", 1, "port", "wrong number of arguments (0): want port <port>"},
		{"port 1 2\n", 1, "port", "wrong number of arguments (2)"},
		{"bind\n", 1, "bind", "wrong number of arguments"},
		{"firewall-allow\n", 1, "firewall-allow", "wrong number of arguments"},
		{"\n\nsentinel monitor m 198.18.0.1 6379\n", 3, "sentinel monitor", "want sentinel monitor <name> <host> <port> <quorum>"},
		{mon + "sentinel vip-garp m 1\n", 2, "sentinel vip-garp", "wrong number of arguments"},
		{mon + "sentinel vip-garp m 1 2 3 4\n", 2, "sentinel vip-garp", "wrong number of arguments"},
		{mon + "sentinel known-sentinel m 198.18.0.2\n", 2, "sentinel known-sentinel", "wrong number of arguments"},
		{mon + "sentinel auth-pass m pa ss\n", 2, "sentinel auth-pass", "wrong number of arguments (3)"},
		// Unknown master, for every directive that names one.
		{mon + "sentinel down-after-milliseconds foo 10\n", 2, "sentinel down-after-milliseconds", `unknown master "foo"`},
		{"sentinel vip foo 198.18.0.100/24 eth0\n", 1, "sentinel vip", `unknown master "foo"`},
		// Values.
		{"port 0\n", 1, "port", "no tls-port is set"},
		{"port 65536\n", 1, "port", "invalid port"},
		{"port -1\n", 1, "port", "invalid port"},
		{"port 12ab\n", 1, "port", "invalid port"},
		{"bind 1.2.3\n", 1, "bind", "invalid address"},
		{"bind fe80::1%eth0\n", 1, "bind", "invalid address"},
		{"bind --1.2.3.4\n", 1, "bind", "invalid address"},
		{"dir \"\"\n", 1, "dir", "empty path"},
		{"loglevel loud\n", 1, "loglevel", "want one of debug, verbose, notice, warning, nothing"},
		{"firewall maybe\n", 1, "firewall", "want yes or no"},
		{"firewall-allow 198.18.0.0/33\n", 1, "firewall-allow", "invalid network"},
		{"firewall-allow fe80::1%eth0\n", 1, "firewall-allow", "invalid network"},
		{"firewall-mode both\n", 1, "firewall-mode", "want own or inject"},
		// Silently weaker than asked for.
		{"port 1\ntls-port 26380\n", 2, "tls-port", "tls-port needs tls-cert-file and tls-key-file"},
		{"port 1\ntls-port 26380\ntls-cert-file /x\ntls-key-file /y\n", 2, "tls-ca-cert-file", "tls-ca-cert-file or tls-ca-cert-dir"},
		{"tls-replication yes\ntls-ca-cert-file /ca\n", 1, "tls-replication", "needs a client certificate"},
		{"tls-port 26379\n", 1, "tls-port", "also port"},
		{"tls-auth-clients maybe\n", 1, "tls-auth-clients", "want yes, no or optional"},
		{"tls-bogus yes\n", 1, "tls-bogus", "unknown TLS directive"},
		{"tls-protocols SSLv3\n", 1, "tls-protocols", "unknown protocol"},
		{"tls-ciphers HIGH:!aNULL\n", 1, "tls-ciphers", "keyword"},
		{"tls-port 26380\ntls-cert-file /nonexistent.crt\ntls-key-file /nonexistent.key\ntls-ca-cert-file /nonexistent-ca.crt\n", 2, "tls", "no such file"},
		{"firewall yes\n\nfirewall-mode inject\n", 3, "firewall-mode", "inject without firewall-allow would accept every source"},
		{"firewall-keep-on-stop 1\n", 1, "firewall-keep-on-stop", "want yes or no"},
		{"firewall-fence 0\n", 1, "firewall-fence", "want yes or no"},
		{"metrics-addr 9479\n", 1, "metrics-addr", "want host:port"},
		{"metrics-addr :0\n", 1, "metrics-addr", "invalid port"},
		{"metrics-addr bad_host!:1\n", 1, "metrics-addr", "invalid IP address or hostname"},
		{"min-agents -1\n", 1, "min-agents", `invalid value "-1": want the number of agents in the group, 0..1000 (0 = off)`},
		{"min-agents 1001\n", 1, "min-agents", "0..1000"},
		{"min-agents three\n", 1, "min-agents", `invalid value "three"`},
		{"min-agents 2.5\n", 1, "min-agents", "invalid value"},
		{`min-agents ""` + "\n", 1, "min-agents", "invalid value"},
		{"min-agents\n", 1, "min-agents", "wrong number of arguments (0): want min-agents <n>"},
		{"min-agents 3 5\n", 1, "min-agents", "wrong number of arguments (2)"},
		{"min-agents <n>\n", 1, "min-agents", "<n> is a placeholder"},
		{"state-file a/b\n", 1, "state-file", "want a file name"},
		{"state-file ..\n", 1, "state-file", "want a file name"},
		{"sentinel announce-ip not/valid\n", 1, "sentinel announce-ip", "invalid IP address or hostname"},
		{"sentinel announce-port 65536\n", 1, "sentinel announce-port", "invalid port"},
		{"sentinel resolve-hostnames 1\n", 1, "sentinel resolve-hostnames", "want yes or no"},
		{"sentinel announce-hostnames x\n", 1, "sentinel announce-hostnames", "want yes or no"},
		{"sentinel deny-scripts-reconfig x\n", 1, "sentinel deny-scripts-reconfig", "want yes or no"},
		{"sentinel myid abc\n", 1, "sentinel myid", "want 40 hex digits"},
		{"sentinel myid 0123456789abcdef0123456789abcdef0123456z\n", 1, "sentinel myid", "want 40 hex digits"},
		{"sentinel current-epoch -1\n", 1, "sentinel current-epoch", "invalid epoch"},
		{"sentinel current-epoch 18446744073709551616\n", 1, "sentinel current-epoch", "invalid epoch"},
		{"sentinel monitor a,b 198.18.0.1 6379 1\n", 1, "sentinel monitor", "commas are not allowed"},
		{"sentinel monitor \"a b\" 198.18.0.1 6379 1\n", 1, "sentinel monitor", "invalid master name"},
		{"sentinel monitor \"\" 198.18.0.1 6379 1\n", 1, "sentinel monitor", "empty master name"},
		{"sentinel monitor m redis.example 6379 1\n", 1, "sentinel monitor", "hostnames need sentinel resolve-hostnames yes"},
		{"sentinel resolve-hostnames yes\nsentinel monitor m -bad-.example 6379 1\n", 2, "sentinel monitor", "invalid IP address or hostname"},
		{"sentinel monitor m fe80::1%eth0 6379 1\n", 1, "sentinel monitor", "zones are not supported"},
		{"sentinel monitor m 198.18.0.1 0 1\n", 1, "sentinel monitor", "invalid port"},
		{"sentinel monitor m 198.18.0.1 6379 0\n", 1, "sentinel monitor", "invalid quorum"},
		{"sentinel monitor m 198.18.0.1 6379 x\n", 1, "sentinel monitor", "invalid quorum"},
		{mon + "# again\n" + mon, 3, "sentinel monitor", `duplicate master "m" (already defined at ` + testPath + ":1)"},
		{mon + "sentinel down-after-milliseconds m 0\n", 2, "sentinel down-after-milliseconds", "milliseconds >= 1"},
		{mon + "sentinel down-after-milliseconds m 9223372036855\n", 2, "sentinel down-after-milliseconds", "invalid value"},
		{mon + "sentinel failover-timeout m -5\n", 2, "sentinel failover-timeout", "invalid value"},
		{mon + "sentinel parallel-syncs m 0\n", 2, "sentinel parallel-syncs", "want an integer in 1.."},
		{mon + "sentinel master-reboot-down-after-period m -1\n", 2, "sentinel master-reboot-down-after-period", "milliseconds >= 0"},
		{mon + "sentinel notification-script m notify.sh\n", 2, "sentinel notification-script", "is not absolute"},
		{mon + "sentinel client-reconfig-script m ./r.sh\n", 2, "sentinel client-reconfig-script", "is not absolute"},
		{mon + "sentinel rename-command m \"\" x\n", 2, "sentinel rename-command", "empty command name"},
		{mon + "sentinel rename-command m config \"a b\"\n", 2, "sentinel rename-command", "invalid new name"},
		{mon + "sentinel rename-command m info FLUSHALL\n", 2, "sentinel rename-command", `invalid new name "FLUSHALL": it is the name of another Redis command`},
		{mon + "sentinel known-replica m 198.18.0.2 99999\n", 2, "sentinel known-replica", "invalid port"},
		{mon + "sentinel known-slave m host.example 6379\n", 2, "sentinel known-slave", "hostnames need"},
		{mon + "sentinel known-sentinel m 198.18.0.2 26379 short\n", 2, "sentinel known-sentinel", "invalid run id"},
		{mon + "sentinel config-epoch m x\n", 2, "sentinel config-epoch", "invalid epoch"},
		{mon + "sentinel leader-epoch m 1.5\n", 2, "sentinel leader-epoch", "invalid epoch"},
		{mon + "sentinel vip m 198.18.0.100 eth0\n", 2, "sentinel vip", "want <address>/<prefix length>"},
		{mon + "sentinel vip m 198.18.0.100/33 eth0\n", 2, "sentinel vip", "want <address>/<prefix length>"},
		{mon + "sentinel vip m 198.18.0.100/0 eth0\n", 2, "sentinel vip", "invalid prefix length"},
		{mon + "sentinel vip m 127.0.0.2/8 lo\n", 2, "sentinel vip", "loopback"},
		{mon + "sentinel vip m 0.0.0.0/24 eth0\n", 2, "sentinel vip", "unspecified"},
		{mon + "sentinel vip m 224.0.0.1/24 eth0\n", 2, "sentinel vip", "multicast"},
		{mon + "sentinel vip m ::ffff:198.18.0.1/120 eth0\n", 2, "sentinel vip", "plain IPv4 form"},
		{mon + "sentinel vip m 198.18.0.0/24 eth0\n", 2, "sentinel vip", "network or broadcast"},
		{mon + "sentinel vip m 198.18.0.255/24 eth0\n", 2, "sentinel vip", "network or broadcast"},
		{mon + "sentinel vip m 198.18.0.100/24 abcdefghijklmnop\n", 2, "sentinel vip", "invalid interface name"},
		{mon + "sentinel vip m 198.18.0.100/24 eth/0\n", 2, "sentinel vip", "invalid interface name"},
		{mon + "sentinel vip m 198.18.0.100/24 eth0:1\n", 2, "sentinel vip", "invalid interface name"},
		{mon + "sentinel vip m 198.18.0.100/24 ..\n", 2, "sentinel vip", "invalid interface name"},
		{mon + "sentinel vip m 198.18.0.100/24 eth0\nsentinel vip m 198.18.0.100/25 eth1\n", 3, "sentinel vip", "duplicate VIP 198.18.0.100"},
		{mon + "sentinel monitor n 198.18.0.2 6379 2\nsentinel vip m 198.18.0.100/24 eth0\nsentinel vip n 198.18.0.100/24 eth0\n", 4, "sentinel vip", `already a VIP of master "m"`},
		{mon + "sentinel vip-garp m 101 1000\n", 2, "sentinel vip-garp", "invalid count"},
		{mon + "sentinel vip-garp m 5 5\n", 2, "sentinel vip-garp", "invalid interval"},
		{mon + "sentinel vip-garp m 5 1000 -1\n", 2, "sentinel vip-garp", "invalid refresh"},
		{mon + "sentinel fence m sure\n", 2, "sentinel fence", "want yes or no"},
		{mon + "sentinel allow-unsynced-promotion m 1\n", 2, "sentinel allow-unsynced-promotion", "want yes or no"},
		{mon + "sentinel allow-unreplicated-writes m 1\n", 2, "sentinel allow-unreplicated-writes", "want yes or no"},
		{"sentinel allow-unreplicated-writes m yes\n", 1, "sentinel allow-unreplicated-writes", ""},
		{mon + "sentinel vip-release-on-stop m 1\n", 2, "sentinel vip-release-on-stop", "want yes or no"},
		{"sentinel monitor m <master-ip> 6379 2\n", 1, "sentinel monitor", "<master-ip> is a placeholder: replace it with the real value"},
		{mon + "sentinel vip m <vip>/24 eth0\n", 2, "sentinel vip", "<vip> is a placeholder"},
		{mon + "sentinel auth-pass m <redis-password>\n", 2, "sentinel auth-pass", "<redis-password> is a placeholder"},
		{"requirepass <agent-password>\n", 1, "requirepass", "<agent-password> is a placeholder"},
		{mon + "sentinel rename-command m config <new-name>\n", 2, "sentinel rename-command", "<new-name> is a placeholder"},
		// A password is never quoted, even in part.
		{mon + "sentinel auth-pass x pre<abc>post\n", 2, "sentinel auth-pass", `unknown master "x"`},
	}
	for _, tt := range tests {
		_, _, err := parse(t, tt.text)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error %q", tt.text, tt.msg)
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("Parse(%q) error %v is not a *config.Error", tt.text, err)
			continue
		}
		if ce.File != testPath || ce.Line != tt.line || ce.Directive != tt.directive || !strings.Contains(ce.Error(), tt.msg) {
			t.Errorf("Parse(%q):\n got %q (line %d, directive %q)\nwant line %d, directive %q, containing %q",
				tt.text, ce.Error(), ce.Line, ce.Directive, tt.line, tt.directive, tt.msg)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	_, _, err := parse(t, mon+"\n\nport 1\nsentinel down-after-milliseconds foo 10\n")
	const want = `/etc/vipsentinel/vipsentinel.conf:5: sentinel down-after-milliseconds: unknown master "foo" (no sentinel monitor line defines it)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

func TestMultipleErrors(t *testing.T) {
	// Errors from all passes are reported, in line order.
	_, _, err := parse(t, "sentinel parallel-syncs nope 1\nport x\nbogus\n")
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], ":1:") || !strings.Contains(lines[1], ":2:") || !strings.Contains(lines[2], ":3:") {
		t.Errorf("errors:\n%v", err)
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 1 {
		t.Errorf("errors.As: %v", ce)
	}
	// The number of errors reported is bounded.
	_, _, err = parse(t, strings.Repeat("bogus\n", 200))
	if n := strings.Count(err.Error(), "\n"); n != maxErrors {
		t.Errorf("%d error lines, want %d", n+1, maxErrors+1)
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		text      string
		line      int
		directive string
		msg       string
	}{
		{"daemonize yes\n", 1, "daemonize", "systemd"},
		{"pidfile /run/x.pid\n", 1, "pidfile", "systemd"},
		{"protected-mode no\n", 1, "protected-mode", "no requirepass: any client that reaches the API port"},
		{"supervised systemd\n", 1, "supervised", "Type=notify"},
		{"syslog-enabled yes\n", 1, "syslog-enabled", "journal"},
		{"latency-tracking-info-percentiles 50 99 99.9\n", 1, "latency-tracking-info-percentiles", "not used"},
		{"hz 10\n", 1, "hz", "not used"},
		{"rename-command CONFIG x\n", 1, "rename-command", "sentinel rename-command"},
		{mon + "sentinel rename-command m FLUSHALL x\n", 2, "sentinel rename-command", "never sends FLUSHALL"},
		{mon + "sentinel known-sentinel m 198.18.0.2 26379\n", 2, "sentinel known-sentinel", "no run id"},
		{mon + "sentinel vip-garp m 5 1000 10\nsentinel vip-garp m 5 1000 0\nsentinel vip-garp m 3 1000\n", 4, "sentinel vip-garp", "no sentinel vip"},
		{mon + "sentinel vip-release-on-stop m no\n", 2, "sentinel vip-release-on-stop", "no sentinel vip"},
		{"min-agents 3\n" + mon + "sentinel vip m 198.18.0.100/24 eth0\nsentinel vip-garp m 5 500\n", 4, "sentinel vip-garp", "below the kernel's default 1 s ARP locktime"},
		{mon + "sentinel vip m 198.18.0.100/24 eth0\n", 1, "min-agents", "fenced but min-agents is not set"},
		{"firewall-allow 198.18.0.0/24\n", 1, "firewall-allow", "firewall is not enabled"},
		{"firewall-mode inject\n", 1, "firewall-mode", "firewall is not enabled"},
		{"firewall-fence yes\nfirewall-keep-on-stop yes\nfirewall-keep-on-stop no\n", 1, "firewall-fence", "firewall is not enabled"},
		{"firewall yes\nfirewall-allow 198.18.0.1/24\n", 2, "firewall-allow", "host bits set; using 198.18.0.0/24"},
		{mon + "sentinel current-epoch 3\n", 0, "", "imported into the state file on first start only"},
		{"min-agents 2\n" + "sentinel monitor m 198.18.0.1 6379 3\n", 2, "sentinel monitor", `quorum 3 of master "m" is more than the 2 agents of min-agents`},
	}
	for _, tt := range tests {
		_, w := mustParse(t, tt.text)
		if len(w) != 1 {
			t.Errorf("Parse(%q) warnings = %v, want one", tt.text, w)
			continue
		}
		if w[0].File != testPath || w[0].Line != tt.line || w[0].Directive != tt.directive || !strings.Contains(w[0].Msg, tt.msg) {
			t.Errorf("Parse(%q) warning = %+v, want line %d, directive %q, containing %q", tt.text, w[0], tt.line, tt.directive, tt.msg)
		}
	}
	_, w := mustParse(t, "hz 10\n")
	if got := w[0].String(); got != testPath+":1: hz: Redis server directive not used by vipsentinel; ignored" {
		t.Errorf("Warning.String() = %s", got)
	}
}

// TestOrderIndependence parses the lines of a configuration in many orders:
// Sentinel's two-pass loading makes order irrelevant, except between
// repeated directives.
func TestOrderIndependence(t *testing.T) {
	data, err := os.ReadFile("testdata/full.conf")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	ref, _, err := Parse("testdata/full.conf", data)
	if err != nil {
		t.Fatal(err)
	}
	want := ref.Effective()
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 50; i++ {
		r.Shuffle(len(lines), func(a, b int) { lines[a], lines[b] = lines[b], lines[a] })
		f, _, err := Parse("testdata/full.conf", []byte(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
		// Repeated directives keep their relative order only when the file
		// does; compare sets for those.
		got := f.Effective()
		if !sameLines(got, want) {
			t.Fatalf("order %d:\n%s\nwant\n%s", i, got, want)
		}
	}
}

func sameLines(a, b string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}

func TestEffective(t *testing.T) {
	for _, name := range []string{"testdata/full.conf", "testdata/minimal.conf", "testdata/three-hosts.conf", "testdata/redis-rewritten.conf"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			f, _, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			eff := f.Effective()
			for _, secret := range []string{f.RequirePass, f.SentinelPass} {
				if secret != "" && strings.Contains(eff, secret) {
					t.Errorf("secret %q in effective config", secret)
				}
			}
			for _, m := range f.Masters {
				if m.AuthPass != "" && strings.Contains(eff, m.AuthPass) {
					t.Errorf("auth-pass %q in effective config", m.AuthPass)
				}
			}
			// The rendering is valid configuration meaning the same thing.
			g, w, err := Parse(name, []byte(eff), NoInclude())
			if err != nil {
				t.Fatalf("effective config does not parse: %v\n%s", err, eff)
			}
			for _, x := range w {
				// The protected-mode warning is about the setting
				// itself (no requirepass), which the rendering keeps.
				if !strings.Contains(x.Msg, "imported into the state file") && x.Directive != "protected-mode" {
					t.Errorf("effective config gives warning %v", x)
				}
			}
			if again := g.Effective(); again != eff {
				t.Errorf("not a fixed point:\n%s\n---\n%s", eff, again)
			}
			mask := func(f *File) {
				f.Path, f.Files = "", nil
				f.userAt, f.aclFileAt = nil, pos{}
				for i, u := range f.Users {
					f.Users[i] = maskedRules(u)
				}
				if f.RequirePass != "" {
					f.RequirePass = Masked
				}
				if f.SentinelPass != "" {
					f.SentinelPass = Masked
				}
				for _, m := range f.Masters {
					if m.AuthPass != "" {
						m.AuthPass = Masked
					}
				}
			}
			mask(f)
			mask(g)
			if !equalFiles(f, g) {
				t.Errorf("effective config means something else:\n%+v\n%+v", f, g)
			}
		})
	}
}

func TestEffectiveText(t *testing.T) {
	f, _ := mustParse(t, mon+"sentinel vip m 198.18.0.100/24 eth0\nsentinel auth-pass m secret\nrequirepass pw\n")
	want := `# Effective configuration of /etc/vipsentinel/vipsentinel.conf
# Defaults are explicit; secrets are shown as ******.

port 26379
# bind: not set (all addresses)
dir /var/lib/vipsentinel
requirepass ******
protected-mode yes
maxclients 10000
timeout 0
# aclfile: not set
acl-pubsub-default resetchannels
loglevel notice
# logfile: not set
# sentinel announce-ip: not set
sentinel announce-port 0
sentinel resolve-hostnames no
sentinel announce-hostnames no
sentinel deny-scripts-reconfig yes
# sentinel sentinel-user: not set
# sentinel sentinel-pass: not set
min-agents 0

firewall no
# firewall-allow: not set
firewall-mode own
firewall-keep-on-stop no
firewall-fence no
# metrics-addr: not set (no metrics endpoint)
state-file vipsentinel.state
# state file: /var/lib/vipsentinel/vipsentinel.state

sentinel monitor m 198.18.0.1 6379 2
sentinel down-after-milliseconds m 30000
sentinel failover-timeout m 180000
sentinel parallel-syncs m 1
sentinel master-reboot-down-after-period m 0
# sentinel auth-user m: not set
sentinel auth-pass m ******
# sentinel notification-script m: not set
# sentinel client-reconfig-script m: not set
sentinel vip m 198.18.0.100/24 eth0
sentinel vip-garp m 5 1000 0
sentinel fence m yes
sentinel allow-unsynced-promotion m no
sentinel allow-unreplicated-writes m no
sentinel vip-release-on-stop m yes
`
	if got := f.Effective(); got != want {
		t.Errorf("Effective:\n%s\nwant:\n%s", got, want)
	}
}

// TestRedisRewritten loads a sentinel.conf as redis-sentinel 7.0 rewrote it
// (testdata/gen-rewritten.sh): after discovering a replica and a peer, a
// failover, SENTINEL SET and SENTINEL CONFIG SET.
func TestRedisRewritten(t *testing.T) {
	f, w, err := Load("testdata/redis-rewritten.conf")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, x := range w {
		dirs = append(dirs, x.Directive)
	}
	if !slices.Equal(dirs, []string{"latency-tracking-info-percentiles", "protected-mode", ""}) {
		t.Errorf("warnings: %v", w)
	}
	mm, other := f.Master("mymaster"), f.Master("other")
	if mm == nil || other == nil {
		t.Fatal("masters missing")
	}
	if !redisrule.IsRunID(f.MyID) || f.CurrentEpoch != 1 || f.AnnounceIP != "127.0.0.1" || !f.ResolveHostnames || f.SentinelUser != "sentuser" {
		t.Errorf("globals: myid %q epoch %d announce-ip %q resolve %v user %q", f.MyID, f.CurrentEpoch, f.AnnounceIP, f.ResolveHostnames, f.SentinelUser)
	}
	if mm.DownAfter != 5*time.Second || mm.FailoverTimeout != time.Minute || mm.ParallelSyncs != 2 || mm.AuthPass != "s3cret" ||
		!maps.Equal(mm.RenamedCommands, map[string]string{"config": "MYCONFIG"}) {
		t.Errorf("mymaster: %+v", mm)
	}
	if mm.Imported.ConfigEpoch != 1 || mm.Imported.LeaderEpoch != 1 || len(mm.Imported.KnownReplicas) != 1 || len(mm.Imported.KnownSentinels) != 1 {
		t.Errorf("mymaster state: %+v", mm.Imported)
	}
	// After the failover the rewrite moved the monitor line to the promoted
	// replica and listed the old master as a replica.
	if mm.Addr == mm.Imported.KnownReplicas[0] || mm.Addr.Host != "127.0.0.1" {
		t.Errorf("monitor %v, known replica %v", mm.Addr, mm.Imported.KnownReplicas)
	}
	if other.MasterRebootDownAfter != time.Second || other.Imported.ConfigEpoch != 0 {
		t.Errorf("other: %+v", other)
	}
	// Redis 7.0 writes auth-pass unquoted: a password with a space makes the
	// rewritten file unreadable, to Redis and to us. The error says where.
	_, _, err = Load("testdata/redis-rewritten-spacepass.conf")
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 7 || ce.Directive != "sentinel auth-pass" {
		t.Errorf("space in auth-pass: %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	_, _, err := Load("testdata/does-not-exist.conf")
	var ce *Error
	if !errors.As(err, &ce) || ce.File != "testdata/does-not-exist.conf" || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
	if got, want := err.Error(), "testdata/does-not-exist.conf: no such file or directory"; got != want {
		t.Errorf("err = %q, want %q", got, want)
	}
}
