package sentinel

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

func keys(kv []KV) []string {
	var out []string
	for _, x := range kv {
		out = append(out, x.Key)
	}
	return out
}

func value(kv []KV, k string) string {
	for _, x := range kv {
		if x.Key == k {
			return x.Value
		}
	}
	return "<missing>"
}

func TestSetCommand(t *testing.T) {
	cfg := testConfig()
	cfg.Masters = append(cfg.Masters, MasterConfig{Name: "other", Addr: tRep2, Quorum: 1, NotificationScript: "/usr/local/bin/notify"})
	h := newHarness(t, cfg)
	h.takeEvents()
	h.states = nil
	n := h.n
	cases := []struct {
		args []string
		want string // error text, "" for OK
	}{
		{[]string{"down-after-milliseconds", "5000", "quorum", "3", "parallel-syncs", "2", "failover-timeout", "60000"}, ""},
		{[]string{"down-after-milliseconds", "0"}, "ERR Invalid argument '0' for SENTINEL SET 'down-after-milliseconds'"},
		{[]string{"quorum", "x"}, "ERR Invalid argument 'x' for SENTINEL SET 'quorum'"},
		{[]string{"master-reboot-down-after-period", "0"}, ""},
		{[]string{"master-reboot-down-after-period", "-1"}, "ERR Invalid argument '-1' for SENTINEL SET 'master-reboot-down-after-period'"},
		{[]string{"bogus", "1"}, "ERR Unknown option or number of arguments for SENTINEL SET 'bogus'"},
		{[]string{"quorum"}, "ERR wrong number of arguments for 'sentinel|set' command"},
		{[]string{"rename-command", "CONFIG"}, "ERR Unknown option or number of arguments for SENTINEL SET 'rename-command'"},
		{[]string{"rename-command", "CONFIG", ""}, "ERR Invalid argument '' for SENTINEL SET 'rename-command'"},
		{[]string{"rename-command", "INFO", "FLUSHALL"}, "ERR Invalid argument 'FLUSHALL' for SENTINEL SET 'rename-command': it is the name of another Redis command"},
		{[]string{"rename-command", "config", "replicaof"}, "ERR Invalid argument 'replicaof' for SENTINEL SET 'rename-command': it is the name of another Redis command"},
		{[]string{"rename-command", "info", "INFO"}, ""},
		{[]string{"rename-command", "CONFIG", "GUESSME", "auth-pass", "pw"}, ""},
		{[]string{"notification-script", "/usr/local/bin/notify"}, ""},
		{[]string{"client-reconfig-script", "/tmp/evil"}, "ERR Client reconfiguration script seems non existing or non executable"},
		{[]string{"quorum", "2", "bogus", "1"}, "ERR Unknown option"},
	}
	for _, tc := range cases {
		err := n.Set(h.now, "mymaster", tc.args)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("SET %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	m := n.masters["mymaster"]
	if m.cfg.DownAfter != 5*time.Second || m.cfg.ParallelSyncs != 2 || m.cfg.FailoverTimeout != time.Minute ||
		m.cfg.AuthPass != "pw" || m.cfg.RenamedCommands["config"] != "GUESSME" || m.cfg.NotificationScript != "/usr/local/bin/notify" {
		t.Errorf("cfg %+v", m.cfg)
	}
	if m.cfg.Quorum != 2 {
		t.Errorf("quorum %d: the change before the error stays", m.cfg.Quorum)
	}
	h.ready()
	var sets []string
	for _, e := range h.events {
		if e.Type == "+set" {
			sets = append(sets, strings.TrimPrefix(e.Payload, "master mymaster 198.18.0.10 6379 "))
		}
	}
	want := []string{"down-after-milliseconds 5000", "quorum 3", "parallel-syncs 2", "failover-timeout 60000",
		"master-reboot-down-after-period 0", "rename-command info INFO", "rename-command CONFIG GUESSME", "auth-pass ******",
		"notification-script /usr/local/bin/notify", "quorum 2"}
	if !slices.Equal(sets, want) {
		t.Errorf("+set events\n got %q\nwant %q", sets, want)
	}
	if len(h.states) == 0 {
		t.Error("SET not persisted")
	}
	if err := n.Set(h.now, "nope", []string{"quorum", "1"}); err == nil || err.Error() != "ERR No such master with that name" {
		t.Errorf("unknown master: %v", err)
	}
	// deny-scripts-reconfig: scripts can never be changed.
	cfg.DenyScriptsReconfig = true
	h2 := newHarness(t, cfg)
	err := h2.n.Set(h2.now, "mymaster", []string{"notification-script", "/usr/local/bin/notify"})
	if err == nil || !strings.HasPrefix(err.Error(), "ERR Reconfiguration of scripts path is denied for security reasons.") {
		t.Errorf("deny-scripts-reconfig: %v", err)
	}
	if h2.n.masters["mymaster"].cfg.NotificationScript != "" {
		t.Error("script changed despite deny-scripts-reconfig")
	}
}

func TestMonitorRemoveReset(t *testing.T) {
	h := newHarness(t, testConfig())
	n := h.n
	// Every master of the configuration is announced at start, as
	// Sentinel's initial +monitor events do.
	if ev, ok := findEvent(h.takeEvents(), "+monitor"); !ok || ev.Payload != "master mymaster 198.18.0.10 6379 quorum 2" {
		t.Errorf("+monitor at start %+v", ev)
	}
	for _, tc := range []struct{ name, host, port, quorum, want string }{
		{"m2", "198.18.0.20", "6379", "x", "ERR Invalid quorum"},
		{"m2", "198.18.0.20", "x", "2", "ERR Invalid port"},
		{"m2", "198.18.0.20", "6379", "0", "ERR Quorum must be 1 or greater."},
		{"m2", "not-an-ip", "6379", "2", "ERR Invalid IP address or hostname specified"},
		{"m2", "198.18.0.20", "70000", "2", "ERR Invalid port number"},
		{"mymaster", "198.18.0.20", "6379", "2", "ERR Duplicate master name."},
		{"m2", "198.18.0.20", "6379", "2", ""},
	} {
		err := n.Monitor(h.now, tc.name, tc.host, tc.port, tc.quorum)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("MONITOR %v: %v want %q", tc, err, tc.want)
		}
	}
	h.ready()
	if ev, ok := findEvent(h.events, "+monitor"); !ok || ev.Payload != "master m2 198.18.0.20 6379 quorum 2" {
		t.Errorf("+monitor %+v", ev)
	}
	if st := h.states[len(h.states)-1]; len(st.Masters) != 2 || !st.Masters[0].Monitored {
		t.Errorf("state %+v", st.Masters)
	}
	if got := n.Reset(h.now, "m*"); got != 2 {
		t.Errorf("RESET m* = %d", got)
	}
	if got := n.Reset(h.now, "nomatch"); got != 0 {
		t.Errorf("RESET nomatch = %d", got)
	}
	if err := n.Remove(h.now, "m2"); err != nil {
		t.Fatal(err)
	}
	if err := n.Remove(h.now, "m2"); err == nil {
		t.Error("double remove")
	}
	h.ready()
	if !testenv.IsSubsequence([]string{"+reset-master", "+reset-master", "-monitor"}, types(h.events)) {
		t.Errorf("events %v", types(h.events))
	}
}

func TestCKQuorumAndViews(t *testing.T) {
	h := newHarness(t, testConfig())
	n := h.n
	m := n.masters["mymaster"]
	if s, err := n.CKQuorum("mymaster"); err == nil || err.Error() !=
		"NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master" {
		t.Errorf("ckquorum alone: %q %v", s, err)
	}
	for i := 0; i < 3; i++ {
		h.verifiedPeer("198.18.0."+strconv.Itoa(2+i), strings.Repeat(string(rune('a'+i)), 40))
	}
	if s, err := n.CKQuorum("mymaster"); err != nil || s != "OK 4 usable Sentinels. Quorum and failover authorization can be reached" {
		t.Errorf("ckquorum: %q %v", s, err)
	}
	for _, s := range m.sentinels {
		s.flags |= fSDown
	}
	if _, err := n.CKQuorum("mymaster"); err == nil || err.Error() != "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach "+
		"the specified quorum for this master. Not enough available Sentinels to reach the majority and authorize a failover" {
		t.Errorf("ckquorum down: %v", err)
	}
	r := n.addReplica(m, tRep1)
	r.slaveMasterHost, r.slaveMasterPort = "198.18.0.10", 6379
	mm, _ := n.Master(h.now, "mymaster")
	want := []string{"name", "ip", "port", "runid", "flags", "link-pending-commands", "link-refcount", "last-ping-sent",
		"last-ok-ping-reply", "last-ping-reply", "down-after-milliseconds", "info-refresh", "role-reported", "role-reported-time",
		"config-epoch", "num-slaves", "num-other-sentinels", "quorum", "failover-timeout", "parallel-syncs"}
	if !slices.Equal(keys(mm), want) {
		t.Errorf("master keys %v", keys(mm))
	}
	if value(mm, "num-other-sentinels") != "3" || value(mm, "num-slaves") != "1" || value(mm, "flags") != "master,disconnected" {
		t.Errorf("master map %v", mm)
	}
	// Status counts the same, a replica that is not announced included.
	n.addReplica(m, tRep2).replicaAnnounced = false
	if st := n.Status(h.now); len(st) != 1 || st[0].KnownReplicas != 2 || st[0].KnownSentinels != 3 {
		t.Errorf("status %+v", st)
	}
	if mm, _ := n.Master(h.now, "mymaster"); value(mm, "num-slaves") != "2" {
		t.Errorf("num-slaves %s", value(mm, "num-slaves"))
	}
	delete(m.replicas, tRep2.String())
	m.inst.flags |= fSDown | fODown | fFailoverInProgress
	m.failoverState = stateWaitStart
	mm, _ = n.Master(h.now, "mymaster")
	want = slices.Insert(slices.Clone(want), 7, "failover-state")
	want = slices.Insert(want, 11, "s-down-time", "o-down-time")
	if !slices.Equal(keys(mm), want) || value(mm, "failover-state") != "wait_start" {
		t.Errorf("master keys in failover %v", keys(mm))
	}
	reps, _ := n.Replicas(h.now, "mymaster")
	want = []string{"name", "ip", "port", "runid", "flags", "link-pending-commands", "link-refcount", "last-ping-sent",
		"last-ok-ping-reply", "last-ping-reply", "down-after-milliseconds", "info-refresh", "role-reported", "role-reported-time",
		"master-link-down-time", "master-link-status", "master-host", "master-port", "slave-priority", "slave-repl-offset", "replica-announced"}
	if len(reps) != 1 || !slices.Equal(keys(reps[0]), want) || value(reps[0], "name") != "198.18.0.11:6379" {
		t.Errorf("replica map %v", reps)
	}
	r.replicaAnnounced = false
	if reps, _ = n.Replicas(h.now, "mymaster"); len(reps) != 0 {
		t.Error("unannounced replica listed")
	}
	ss, _ := n.Sentinels(h.now, "mymaster")
	want = []string{"name", "ip", "port", "runid", "flags", "link-pending-commands", "link-refcount", "last-ping-sent",
		"last-ok-ping-reply", "last-ping-reply", "s-down-time", "down-after-milliseconds", "last-hello-message", "voted-leader", "voted-leader-epoch"}
	if len(ss) != 3 || !slices.Equal(keys(ss[0]), want) || value(ss[0], "voted-leader") != "?" {
		t.Errorf("sentinel map %v", ss)
	}
	info := n.InfoSection(h.now)
	if info[6] != (KV{"master0", "name=mymaster,status=odown,address=198.18.0.10:6379,slaves=1,sentinels=4"}) {
		t.Errorf("INFO %v", info)
	}
	if _, err := n.Master(h.now, "nope"); err != ErrNoSuchMaster {
		t.Error(err)
	}
}

func TestConfigSetGetDebug(t *testing.T) {
	h := newHarness(t, testConfig())
	n := h.n
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"announce-ip", "198.18.0.100", "announce-port", "26380", "resolve-hostnames", "yes"}, ""},
		{[]string{"bogus", "1"}, "ERR Invalid argument 'bogus' to SENTINEL CONFIG SET"},
		{[]string{"loglevel", "debug", "loglevel", "notice"}, "ERR Duplicate argument 'loglevel' to SENTINEL CONFIG SET"},
		{[]string{"announce-port"}, "ERR Missing argument 'announce-port' value"},
		{[]string{"announce-port", "70000"}, "ERR Invalid value '70000' to SENTINEL CONFIG SET 'announce-port'"},
		{[]string{"loglevel", "verbose", "announce-hostnames", "maybe"}, "ERR Invalid value 'maybe' to SENTINEL CONFIG SET 'announce-hostnames'"},
	} {
		err := n.ConfigSet(h.now, tc.args)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("CONFIG SET %v: %v want %q", tc.args, err, tc.want)
		}
	}
	if n.LogLevel() != "notice" {
		t.Error("a failed CONFIG SET applied part of its arguments")
	}
	got := n.ConfigGet([]string{"announce-*", "ANNOUNCE-IP", "loglevel"})
	want := []KV{{"announce-hostnames", "no"}, {"announce-ip", "198.18.0.100"}, {"announce-port", "26380"}, {"loglevel", "notice"}}
	if !slices.Equal(got, want) {
		t.Errorf("CONFIG GET %v", got)
	}
	if all := n.ConfigGet([]string{"*"}); len(all) != 7 || all[0].Key != "resolve-hostnames" || all[0].Value != "yes" {
		t.Errorf("CONFIG GET * %v", all)
	}
	d := n.Debug()
	if d[0] != (KV{"INFO-PERIOD", "10000"}) || d[12] != (KV{"SCRIPT-RETRY-DELAY", "30000"}) || len(d) != 13 {
		t.Errorf("DEBUG %v", d)
	}
	if err := n.DebugSet([]string{"ping-period", "500", "tilt-trigger", "0"}); err == nil ||
		err.Error() != "ERR Invalid argument '0' for SENTINEL DEBUG 'tilt-trigger'" {
		t.Errorf("DEBUG set: %v", err)
	}
	if n.Timing().PingPeriod != 500*time.Millisecond {
		t.Error("ping-period not applied")
	}
	if err := n.DebugSet([]string{"nope", "1"}); err == nil {
		t.Error("unknown debug param accepted")
	}
	f, err := ParseSimFailure([]string{"crash-after-election", "CRASH-AFTER-PROMOTION"})
	if err != nil || f != SimCrashAfterElection|SimCrashAfterPromotion {
		t.Errorf("simfailure %v %v", f, err)
	}
	if _, err := ParseSimFailure([]string{"x"}); err == nil {
		t.Error("bad simfailure accepted")
	}
}

// With deny-scripts-reconfig off, SENTINEL SET accepts any script path the
// runtime reports executable, as Redis does, and still refuses the others.
func TestSetScriptsAllowed(t *testing.T) {
	executable := map[string]bool{"/opt/hooks/notify": true}
	for _, tc := range []struct {
		deny bool
		path string
		want string // error prefix, "" for OK
	}{
		{false, "/opt/hooks/notify", ""},
		{false, "/usr/local/bin/notify", ""}, // named by the configuration
		{false, "/tmp/missing", "ERR Notification script seems non existing or non executable"},
		{true, "/opt/hooks/notify", "ERR Reconfiguration of scripts path is denied"},
	} {
		cfg := testConfig()
		cfg.Masters = append(cfg.Masters, MasterConfig{Name: "other", Addr: tRep2, Quorum: 1, NotificationScript: "/usr/local/bin/notify"})
		cfg.DenyScriptsReconfig = tc.deny
		cfg.ScriptExecutable = func(p string) bool { return executable[p] }
		h := newHarness(t, cfg)
		err := h.n.Set(h.now, "mymaster", []string{"notification-script", tc.path})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("deny %v, SET notification-script %s: %v, want %q", tc.deny, tc.path, err, tc.want)
		}
	}
}

// SENTINEL CONFIG SET values go into the persisted state, and a Node
// started from that state has them.
func TestConfigSetPersisted(t *testing.T) {
	h := newHarness(t, testConfig())
	if err := h.n.ConfigSet(h.now, []string{"announce-ip", "198.18.0.9", "LogLevel", "debug"}); err != nil {
		t.Fatal(err)
	}
	h.ready()
	st := h.states[len(h.states)-1]
	want := []Setting{{"announce-ip", "198.18.0.9"}, {"loglevel", "debug"}}
	if !slices.Equal(st.Settings, want) {
		t.Fatalf("persisted settings %v, want %v", st.Settings, want)
	}
	n2, err := New(testConfig(), st)
	if err != nil {
		t.Fatal(err)
	}
	if got := n2.ConfigGet([]string{"announce-ip", "loglevel"}); len(got) != 2 || got[0].Value != "198.18.0.9" || got[1].Value != "debug" {
		t.Errorf("restarted node: %v", got)
	}
	bad := *st
	bad.Settings = []Setting{{"announce-port", "99999"}}
	if _, err := New(testConfig(), &bad); !errors.Is(err, ErrState) {
		t.Errorf("invalid persisted setting: %v", err)
	}
}
