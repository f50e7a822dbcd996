package sentinel

import (
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// harness drives one Node by hand for rule tests.
type harness struct {
	t       *testing.T
	n       *Node
	now     Time
	events  []Event
	cmds    []Command
	states  []*HardState
	vips    [][]VIPIntent
	scripts []ScriptRun
}

var (
	tMaster = Addr{Host: "198.18.0.10", Port: 6379}
	tRep1   = Addr{Host: "198.18.0.11", Port: 6379}
	tRep2   = Addr{Host: "198.18.0.12", Port: 6379}
)

func testConfig() Config {
	return Config{
		LocalIPs: []string{"198.18.0.1"},
		Port:     26379,
		Masters: []MasterConfig{{Name: "mymaster", Addr: tMaster, Quorum: 2,
			DownAfter: time.Second, FailoverTimeout: 10 * time.Second}},
		Rand: rand.New(rand.NewSource(1)),
	}
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	n, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, n: n, now: 100 * time.Second}
	h.step(Tick{})
	return h
}

func (h *harness) ready() {
	rd := h.n.Ready()
	h.events = append(h.events, rd.Events...)
	h.cmds = append(h.cmds, rd.Commands...)
	h.scripts = append(h.scripts, rd.Scripts...)
	if rd.State != nil {
		h.states = append(h.states, rd.State)
	}
	if rd.VIPs != nil {
		h.vips = append(h.vips, rd.VIPs)
	}
}

func (h *harness) step(in Input) {
	h.n.Step(h.now, in)
	h.ready()
}

func (h *harness) takeEvents() []Event {
	e := h.events
	h.events = nil
	return e
}

func (h *harness) takeCmds() []Command {
	c := h.cmds
	h.cmds = nil
	return c
}

func types(evs []Event) []string {
	var out []string
	for _, e := range evs {
		if e.Level != LevelDebug {
			out = append(out, e.Type)
		}
	}
	return out
}

func findEvent(evs []Event, typ string) (Event, bool) {
	for _, e := range evs {
		if e.Type == typ {
			return e, true
		}
	}
	return Event{}, false
}

// answer replies to pending commands: PINGs with PONG, INFO with info(ref).
func (h *harness) answer(info func(Ref) string) {
	for _, c := range h.takeCmds() {
		h.answerOne(c, info)
	}
}

// answerOne replies to one command as answer does.
func (h *harness) answerOne(c Command, info func(Ref) string) {
	switch c.Kind {
	case CmdConnect:
		h.step(LinkUp{To: c.To, Link: c.Link, LocalIP: "198.18.0.1", Proof: ProofSecret})
	case CmdPing:
		h.step(PingReply{To: c.To, Status: "PONG"})
	case CmdInfo:
		if info != nil {
			text := info(c.To)
			in, err := ParseInfo(text)
			if err != nil {
				h.t.Fatal(err)
			}
			h.step(InfoReply{To: c.To, Info: in, Raw: text})
		}
	case CmdPublish:
		h.step(PublishReply{To: c.To, OK: true})
	case CmdTransaction, CmdOther:
		h.step(CommandDone{ID: c.ID, To: c.To})
	}
}

func masterInfo(reps ...Addr) string {
	s := "# Replication\r\nrole:master\r\nrun_id:" + strings.Repeat("a", 40) + "\r\n"
	for i, r := range reps {
		s += "slave" + string(rune('0'+i)) + ":ip=" + r.Host + ",port=6379,state=online,offset=100,lag=0\r\n"
	}
	return s + "master_repl_offset:100\r\n"
}

func replicaInfo(master Addr, up bool, prio int, offset int64, runid string) string {
	st := "down"
	if up {
		st = "up"
	}
	return "role:slave\r\nrun_id:" + runid + "\r\nmaster_host:" + master.Host + "\r\nmaster_port:6379\r\nmaster_link_status:" + st +
		"\r\nslave_priority:" + strconv.Itoa(prio) + "\r\nslave_repl_offset:" + strconv.Itoa(int(offset)) + "\r\n"
}

// newHealthy returns a harness on testConfig() after a second of healthy
// replies (defaultInfo): the settled group most tests start from.
func newHealthy(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t, testConfig())
	h.healthy(time.Second, defaultInfo)
	return h
}

// healthy brings the master's links up and answers everything for d.
func (h *harness) healthy(d time.Duration, info func(Ref) string) {
	end := h.now + d
	for h.now < end {
		h.answer(info)
		h.now += 10 * time.Millisecond
		h.step(Tick{})
	}
	h.answer(info)
}

func defaultInfo(r Ref) string {
	if r.Kind == KindMaster {
		return masterInfo(tRep1, tRep2)
	}
	return replicaInfo(tMaster, true, 100, 100, strings.Repeat(string(rune('b'+r.Addr.Port%5)), 40))
}

func TestNewValidation(t *testing.T) {
	bad := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"nil rand", func(c *Config) { c.Rand = nil }, "Rand"},
		{"bad local ip", func(c *Config) { c.LocalIPs = []string{"nope"} }, "local IP"},
		{"empty name", func(c *Config) { c.Masters[0].Name = "" }, "empty master name"},
		{"comma name", func(c *Config) { c.Masters[0].Name = "a,b" }, "comma"},
		{"bad port", func(c *Config) { c.Masters[0].Addr.Port = 70000 }, "port"},
		{"hostname", func(c *Config) { c.Masters[0].Addr.Host = "redis.example" }, "resolve-hostnames"},
		{"quorum", func(c *Config) { c.Masters[0].Quorum = 0 }, "quorum"},
		{"dup", func(c *Config) { c.Masters = append(c.Masters, c.Masters[0]) }, "duplicate"},
	}
	for _, tc := range bad {
		cfg := testConfig()
		tc.mut(&cfg)
		_, err := New(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want mention of %q", tc.name, err, tc.want)
		}
	}
	cfg := testConfig()
	cfg.ResolveHostnames = true
	cfg.Masters[0].Addr.Host = "Redis.Example"
	if _, err := New(cfg, nil); err != nil {
		t.Errorf("hostname with resolve-hostnames: %v", err)
	}
	if _, err := New(testConfig(), &HardState{MyID: "xyz"}); err == nil {
		t.Error("bad myid accepted")
	}
}

func TestNewFreshStateAndRestore(t *testing.T) {
	n, err := New(testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rd := n.Ready()
	if rd.State == nil || !redisrule.IsRunID(rd.State.MyID) || !IsAgentID(rd.State.MyID) {
		t.Fatalf("fresh node must persist a tagged 40-hex myid, got %+v", rd.State)
	}
	if rd2 := n.Ready(); rd2.State != nil {
		t.Fatal("state returned twice")
	}
	st := rd.State
	st.CurrentEpoch = 7
	st.Masters[0].ConfigEpoch = 9 // inconsistent: repaired upwards
	st.Masters[0].LeaderEpoch = 9
	st.Masters[0].Leader = st.MyID
	st.Masters[0].CurrentAddr = tRep1
	st.Masters[0].KnownReplicas = []Addr{tMaster, tRep2, {Host: "bogus", Port: 1}}
	st.Masters[0].KnownSentinels = []SentinelRecord{{Addr: Addr{Host: "198.18.0.2", Port: 26379}, RunID: strings.Repeat("c", 40)}}
	st.Masters = append(st.Masters, MasterState{Config: MasterConfig{Name: "dyn", Addr: tRep2, Quorum: 1}, Monitored: true},
		MasterState{Config: MasterConfig{Name: "gone", Addr: tRep2, Quorum: 1}})
	n2, err := New(testConfig(), st)
	if err != nil {
		t.Fatal(err)
	}
	if n2.CurrentEpoch() != 9 || n2.MyID() != st.MyID {
		t.Errorf("epoch %d id %s", n2.CurrentEpoch(), n2.MyID())
	}
	if a, _ := n2.MasterAddr("mymaster"); a != tRep1 {
		t.Errorf("restored address %v", a)
	}
	if got := n2.MasterNames(); !slices.Equal(got, []string{"dyn", "mymaster"}) {
		t.Errorf("masters %v (monitored kept, removed-from-file dropped)", got)
	}
	m := n2.masters["mymaster"]
	if len(m.replicas) != 2 || len(m.sentinels) != 1 {
		t.Errorf("replicas %d sentinels %d", len(m.replicas), len(m.sentinels))
	}
	// A vote in epoch 9 is never given again after the restart.
	_, leader, le := n2.IsMasterDownByAddr(0, tRep1.Host, tRep1.Port, 9, strings.Repeat("d", 40))
	if leader != st.MyID || le != 9 {
		t.Errorf("vote after restart: %s %d", leader, le)
	}
}

func TestFlagsAndDescribe(t *testing.T) {
	h := newHarness(t, testConfig())
	m := h.n.masters["mymaster"]
	mi := m.inst
	if got := mi.flagsString(); got != "master,disconnected" {
		t.Errorf("flags %q", got)
	}
	mi.flags = fSDown | fODown | fFailoverInProgress | fMasterReboot | fScriptKillSent | fForceFailover
	mi.link.cc, mi.link.pc = connUp, connUp
	if got := mi.flagsString(); got != "s_down,o_down,master,failover_in_progress,force_failover,script_kill_sent,master_reboot" {
		t.Errorf("flags %q", got)
	}
	r := h.n.addReplica(m, Addr{Host: "fd00::2", Port: 6380})
	r.flags = fPromoted | fReconfSent | fReconfInprog | fReconfDone
	if got := r.flagsString(); got != "slave,disconnected,promoted,reconf_sent,reconf_inprog,reconf_done" {
		t.Errorf("flags %q", got)
	}
	s := h.n.addSentinel(m, Addr{Host: "198.18.0.2", Port: 26379}, strings.Repeat("e", 40))
	s.flags = fMasterDown
	if got := s.flagsString(); got != "sentinel,disconnected,master_down" {
		t.Errorf("flags %q", got)
	}
	if got := h.n.describe(mi); got != "master mymaster 198.18.0.10 6379" {
		t.Errorf("%%@ master %q", got)
	}
	if got := h.n.describe(r); got != "slave [fd00::2]:6380 fd00::2 6380 @ mymaster 198.18.0.10 6379" {
		t.Errorf("%%@ replica %q", got)
	}
	if got := h.n.describe(s); got != "sentinel "+strings.Repeat("e", 40)+" 198.18.0.2 26379 @ mymaster 198.18.0.10 6379" {
		t.Errorf("%%@ sentinel %q", got)
	}
}

func TestConnectCommands(t *testing.T) {
	cfg := testConfig()
	cfg.Masters[0].AuthUser = "sentinel"
	cfg.Masters[0].AuthPass = "s3cret"
	cfg.Masters[0].RenamedCommands = map[string]string{"CLIENT": "xclient", "config": "xconfig", "SLAVEOF": "xslaveof"}
	h := newHarness(t, cfg)
	cmds := h.takeCmds()
	var cc, pc *Command
	for i := range cmds {
		if cmds[i].Kind == CmdConnect && cmds[i].To.Kind == KindMaster {
			if cmds[i].Link == LinkCmd {
				cc = &cmds[i]
			} else {
				pc = &cmds[i]
			}
		}
	}
	if cc == nil || pc == nil {
		t.Fatalf("connects missing: %+v", cmds)
	}
	id8 := h.n.MyID()[:8]
	want := [][]string{{"AUTH", "sentinel", "s3cret"}, {"xclient", "SETNAME", "sentinel-" + id8 + "-cmd"}}
	if !slices.EqualFunc(cc.Cmds, want, slices.Equal) {
		t.Errorf("cmd set-up %v, want %v", cc.Cmds, want)
	}
	want = [][]string{{"AUTH", "sentinel", "s3cret"}, {"xclient", "SETNAME", "sentinel-" + id8 + "-pubsub"}, {"SUBSCRIBE", HelloChannel}}
	if !slices.EqualFunc(pc.Cmds, want, slices.Equal) {
		t.Errorf("pubsub set-up %v, want %v", pc.Cmds, want)
	}
	// The failover transaction goes through the table too.
	m := h.n.masters["mymaster"]
	r := h.n.addReplica(m, tRep1)
	r.link.cc, r.link.pc = connUp, connUp
	h.n.sendSlaveOf(r, tMaster, purposeDemote)
	h.ready()
	tx := h.takeCmds()[0]
	want = [][]string{{"MULTI"}, {"xslaveof", "198.18.0.10", "6379"}, {"xconfig", "REWRITE"},
		{"xclient", "KILL", "TYPE", "normal"}, {"xclient", "KILL", "TYPE", "pubsub"}, {"EXEC"}}
	if tx.Kind != CmdTransaction || !slices.EqualFunc(tx.Cmds, want, slices.Equal) {
		t.Errorf("transaction %v", tx.Cmds)
	}
}

func TestSDownTiming(t *testing.T) {
	h := newHarness(t, testConfig())
	h.healthy(2*time.Second, defaultInfo)
	h.takeEvents()
	// The master stops answering: PINGs go unanswered.
	var lastPong Time
	silence := func(d time.Duration) {
		end := h.now + d
		for h.now < end {
			for _, c := range h.takeCmds() {
				if c.To.Kind != KindMaster {
					switch c.Kind {
					case CmdPing:
						h.step(PingReply{To: c.To, Status: "PONG"})
					case CmdConnect:
						h.step(LinkUp{To: c.To, Link: c.Link, Proof: ProofSecret})
					}
				}
			}
			h.now += 10 * time.Millisecond
			h.step(Tick{})
		}
	}
	lastPong = h.now
	silence(900 * time.Millisecond)
	if _, ok := findEvent(h.events, "+sdown"); ok {
		t.Fatal("+sdown before down-after")
	}
	// A PONG now (a blip shorter than down-after) resets everything.
	h.step(PingReply{To: Ref{Master: "mymaster", Kind: KindMaster, Addr: tMaster}, Status: "PONG"})
	silence(900 * time.Millisecond)
	if _, ok := findEvent(h.events, "+sdown"); ok {
		t.Fatal("+sdown after a blip")
	}
	start := h.now
	silence(1200 * time.Millisecond)
	ev, ok := findEvent(h.events, "+sdown")
	if !ok || ev.Payload != "master mymaster 198.18.0.10 6379" || ev.Level != LevelWarning {
		t.Fatalf("no +sdown: %v", types(h.events))
	}
	_ = lastPong
	_ = start
	h.takeEvents()
	// Any acceptable reply clears it.
	h.step(PingReply{To: Ref{Master: "mymaster", Kind: KindMaster, Addr: tMaster}, Status: "LOADING"})
	h.step(Tick{})
	if _, ok := findEvent(h.events, "-sdown"); !ok {
		t.Fatalf("no -sdown: %v", types(h.events))
	}
}

func TestSDownRoleSlaveAndReboot(t *testing.T) {
	cfg := testConfig()
	cfg.Masters[0].MasterRebootDownAfter = 500 * time.Millisecond
	h := newHarness(t, cfg)
	h.healthy(time.Second, defaultInfo)
	h.takeEvents()
	// The master reports role:slave: SDOWN after down-after + 2*info-period.
	h.healthy(32*time.Second, func(r Ref) string {
		if r.Kind == KindMaster {
			return replicaInfo(tRep1, true, 100, 1, strings.Repeat("a", 40))
		}
		return defaultInfo(r)
	})
	evs := h.takeEvents()
	if !testenv.IsSubsequence([]string{"-role-change", "+sdown"}, types(evs)) {
		t.Fatalf("role:slave master: %v", types(evs))
	}
	h.healthy(11*time.Second, defaultInfo)
	evs = h.takeEvents()
	if !testenv.IsSubsequence([]string{"+role-change", "-sdown"}, types(evs)) {
		t.Fatalf("back to master: %v", types(evs))
	}
	// The master reboots (new run id) and then answers only LOADING.
	m := h.n.masters["mymaster"]
	ref := m.inst.link.ref
	text := strings.Replace(masterInfo(tRep1, tRep2), strings.Repeat("a", 40), strings.Repeat("f", 40), 1)
	in, _ := ParseInfo(text)
	h.step(InfoReply{To: ref, Info: in, Raw: text})
	if _, ok := findEvent(h.events, "+reboot"); !ok || m.inst.flags&fMasterReboot == 0 {
		t.Fatalf("+reboot / MASTER_REBOOT: %v", types(h.events))
	}
	end := h.now + 600*time.Millisecond
	for h.now < end {
		for _, c := range h.takeCmds() {
			if c.Kind == CmdPing {
				h.step(PingReply{To: c.To, Status: "LOADING"})
			}
		}
		h.now += 10 * time.Millisecond
		h.step(Tick{})
	}
	if _, ok := findEvent(h.events, "+sdown"); !ok {
		t.Fatalf("rebooted master answering LOADING not SDOWN: %v", types(h.events))
	}
	h.takeEvents()
	h.step(PingReply{To: ref, Status: "PONG"})
	h.step(Tick{})
	if _, ok := findEvent(h.events, "-sdown"); !ok || m.inst.flags&fMasterReboot != 0 {
		t.Fatalf("PONG must clear MASTER_REBOOT: %v", types(h.events))
	}
}

func TestAuthFailureIsNotDown(t *testing.T) {
	h := newHarness(t, testConfig())
	for i := 0; i < 500; i++ { // 5 s
		for _, c := range h.takeCmds() {
			if c.Kind == CmdConnect {
				h.step(LinkDown{To: c.To, Link: c.Link, Err: "WRONGPASS invalid username-password pair", AuthFailed: true})
			}
		}
		h.now += 10 * time.Millisecond
		h.step(Tick{})
	}
	if _, ok := findEvent(h.events, "+sdown"); ok {
		t.Fatalf("auth failure made the master SDOWN: %v", types(h.events))
	}
	n := 0
	for _, e := range h.events {
		if e.Type == "+auth-error" {
			n++
			if e.Payload != "master mymaster 198.18.0.10 6379" || e.Level != LevelWarning {
				t.Errorf("+auth-error %+v", e)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d +auth-error events, want 1 (per link failure streak)", n)
	}
}

func TestTilt(t *testing.T) {
	h := newHealthy(t)
	h.takeEvents()
	h.now += 2500 * time.Millisecond // the process was stalled
	h.step(Tick{})
	ev, ok := findEvent(h.events, "+tilt")
	if !ok || ev.Payload != "#tilt mode entered" || !strings.Contains(ev.Detail, "2.5") {
		t.Fatalf("+tilt: %+v", ev)
	}
	if !h.n.Tilt() {
		t.Fatal("not in TILT")
	}
	if kv := h.n.InfoSection(h.now); kv[1] != (KV{"sentinel_tilt", "1"}) || kv[2].Value != "0" {
		t.Errorf("INFO %v", kv)
	}
	// No SDOWN while in TILT even though the master is silent.
	for i := 0; i < 300; i++ {
		h.takeCmds()
		h.now += 10 * time.Millisecond
		h.step(Tick{})
	}
	if _, ok := findEvent(h.events, "+sdown"); ok {
		t.Fatal("+sdown in TILT")
	}
	if d, _, _ := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, 0, "*"); d {
		t.Fatal("down reported in TILT")
	}
	h.healthy(28*time.Second, defaultInfo)
	if _, ok := findEvent(h.events, "-tilt"); !ok {
		t.Fatalf("no -tilt: %v", types(h.events))
	}
	// A clock going backwards is a TILT too.
	h.takeEvents()
	h.now -= time.Second
	h.step(Tick{})
	if _, ok := findEvent(h.events, "+tilt"); !ok {
		t.Fatal("negative delta did not TILT")
	}
}

func TestVoteRules(t *testing.T) {
	cand := strings.Repeat("1", 40)
	other := strings.Repeat("2", 40)
	cases := []struct {
		name                       string
		current, leaderEp, reqEp   uint64
		prevLeader                 string
		wantLeader                 string
		wantEpoch, wantCurrent     uint64
		wantVoteEvent, wantPersist bool
	}{
		{"first vote adopts epoch", 3, 0, 5, "", cand, 5, 5, true, true},
		{"same epoch already voted", 5, 5, 5, other, other, 5, 5, false, false},
		{"older request gets old vote", 6, 5, 4, other, other, 5, 6, false, false},
		{"newer request", 5, 5, 6, other, cand, 6, 6, true, true},
		{"current ahead of request", 8, 5, 7, other, other, 5, 8, false, false},
	}
	for _, tc := range cases {
		h := newHarness(t, testConfig())
		h.healthy(100*time.Millisecond, defaultInfo)
		h.verifiedPeer("198.18.0.7", cand)
		h.states = nil
		h.takeEvents()
		m := h.n.masters["mymaster"]
		h.n.currentEpoch = tc.current
		m.leaderEpoch, m.leader = tc.leaderEp, tc.prevLeader
		_, leader, ep := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, tc.reqEp, cand)
		h.ready()
		if leader != tc.wantLeader || ep != tc.wantEpoch || h.n.CurrentEpoch() != tc.wantCurrent {
			t.Errorf("%s: got %s %d current %d", tc.name, leader, ep, h.n.CurrentEpoch())
		}
		ev, voted := findEvent(h.events, "+vote-for-leader")
		if voted != tc.wantVoteEvent || voted && ev.Payload != cand+" "+strconv.Itoa(int(tc.wantEpoch)) {
			t.Errorf("%s: vote event %v %+v", tc.name, voted, ev)
		}
		if (len(h.states) > 0) != tc.wantPersist {
			t.Errorf("%s: persisted %v", tc.name, len(h.states) > 0)
		}
		if tc.wantPersist && h.states[0].Masters[0].LeaderEpoch != tc.wantEpoch {
			t.Errorf("%s: persisted vote epoch %d", tc.name, h.states[0].Masters[0].LeaderEpoch)
		}
	}
	// Unknown address: not down, no vote.
	h := newHarness(t, testConfig())
	if d, l, e := h.n.IsMasterDownByAddr(h.now, "198.18.0.99", 6379, 1, cand); d || l != "*" || e != 0 {
		t.Errorf("unknown master: %v %s %d", d, l, e)
	}
	// "*" asks no vote.
	if _, l, e := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, 1, "*"); l != "*" || e != 0 {
		t.Errorf("* request: %s %d", l, e)
	}
}

func TestLeaderCounting(t *testing.T) {
	a, b, c, d := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40), strings.Repeat("d", 40)
	cases := []struct {
		name    string
		peers   []string // votes of the known peers in the epoch ("" = none)
		quorum  int
		want    string // "me" for ourselves
		counted string
	}{
		{"alone with no votes, 3 voters", []string{"", ""}, 2, "", ""},
		{"one peer for me", []string{"me", ""}, 2, "me", ""},
		{"majority of all known, not of reachable", []string{"me", "", "", ""}, 2, "", ""},
		{"peer majority for b: I follow", []string{b, b, ""}, 2, b, ""},
		{"quorum above majority", []string{"me", ""}, 3, "", ""},
		{"split", []string{a, c, d}, 2, "", ""},
	}
	cases = append(cases, struct {
		name    string
		peers   []string
		quorum  int
		want    string
		counted string
	}{"min-agents: 2 of 3 known is not a majority of 5", []string{"me", ""}, 2, "", "min5"})
	for _, tc := range cases {
		cfg := testConfig()
		cfg.Masters[0].Quorum = tc.quorum
		if tc.counted == "min5" {
			cfg.MinAgents = 5
		}
		h := newHarness(t, cfg)
		m := h.n.masters["mymaster"]
		h.n.currentEpoch = 4
		for i, v := range tc.peers {
			s := h.verifiedPeer("198.18.0."+strconv.Itoa(50+i), strings.Repeat(string(rune('e'+i)), 40))
			if v == "me" {
				v = h.n.myid
			}
			if v != "" {
				s.leader, s.leaderEpoch = v, 4
			}
		}
		got := h.n.getLeader(m, 4)
		want := tc.want
		if want == "me" {
			want = h.n.myid
		}
		if got != want {
			t.Errorf("%s: leader %q want %q", tc.name, got, want)
		}
	}
}

func TestElectionLostAndBackoff(t *testing.T) {
	h := newHarness(t, testConfig())
	m := h.n.masters["mymaster"]
	peers := []*instance{}
	for i := 0; i < 2; i++ {
		peers = append(peers, h.verifiedPeer("198.18.0."+strconv.Itoa(50+i), NewID(rand.New(rand.NewSource(int64(100+i))))))
	}
	h.n.currentEpoch = 5
	h.n.voteLeader(m, 5, h.n.myid)
	if lost, _ := h.n.electionLost(m, 5); lost {
		t.Fatal("lost with undecided peers")
	}
	peers[0].leader, peers[0].leaderEpoch = peers[1].name, 5
	if lost, _ := h.n.electionLost(m, 5); lost {
		t.Fatal("lost with one undecided peer")
	}
	peers[1].leader, peers[1].leaderEpoch = peers[1].name, 5
	lost, winner := h.n.electionLost(m, 5)
	if !lost || winner != peers[1].name {
		t.Fatalf("want lost to %s, got %v %q", peers[1].name, lost, winner)
	}
	// An agent leader blocks us briefly, a real redis-sentinel for 2×failover-timeout.
	if d := h.n.voteBlock(m, peers[1].name); d > 3*time.Second {
		t.Errorf("agent vote block %v", d)
	}
	if d := h.n.voteBlock(m, strings.Repeat("9", 40)); d < 20*time.Second {
		t.Errorf("redis-sentinel vote block %v", d)
	}
	// Backoff doubles and stays below 2×failover-timeout.
	prev := time.Duration(0)
	for i := 1; i <= 10; i++ {
		m.attempts = i
		b := h.n.backoff(m)
		if b > 2*m.cfg.FailoverTimeout || (i <= 4 && b < prev/2) {
			t.Errorf("attempt %d backoff %v", i, b)
		}
		prev = b
	}
}

func TestReplicaSelection(t *testing.T) {
	h := newHarness(t, testConfig())
	m := h.n.masters["mymaster"]
	now := h.n.now
	mk := func(ip string, prio int, off int64, runid string) *instance {
		r := h.n.addReplica(m, Addr{Host: ip, Port: 6379})
		r.link.cc, r.link.pc = connUp, connUp
		r.link.lastAvail = now
		r.infoRefresh = now
		r.slavePriority, r.slaveReplOffset, r.runid = prio, off, runid
		return r
	}
	best := mk("198.18.0.21", 10, 5, "b")
	mk("198.18.0.22", 10, 5, "a").runid = ""           // same keys, no run id: after "b"
	mk("198.18.0.23", 10, 9, "z")                      // higher offset wins over run id
	mk("198.18.0.24", 100, 1000, "a")                  // higher priority number loses
	mk("198.18.0.25", 0, 1e6, "a")                     // priority 0: excluded
	mk("198.18.0.26", 1, 1e6, "a").flags = fSDown      // excluded
	mk("198.18.0.27", 1, 1e6, "a").link.cc = connDown  // excluded
	mk("198.18.0.28", 1, 1e6, "a").infoRefresh = never // excluded
	mk("198.18.0.29", 1, 1e6, "a").masterLinkDownTime = 11 * time.Second
	old := mk("198.18.0.30", 1, 1e6, "a")
	old.infoRefresh = now - 31*time.Second // older than 3×info-period
	stale := mk("198.18.0.31", 1, 1e6, "a")
	stale.link.lastAvail = now - 6*time.Second
	cs := h.n.candidates(m)
	var order []string
	rejected := map[string]string{}
	for _, c := range cs {
		if c.Rejected == "" {
			order = append(order, c.Addr.Host)
		} else {
			rejected[c.Addr.Host] = c.Rejected
		}
	}
	if want := []string{"198.18.0.23", "198.18.0.21", "198.18.0.22", "198.18.0.24"}; !slices.Equal(order, want) {
		t.Errorf("order %v want %v", order, want)
	}
	for ip, want := range map[string]string{"198.18.0.25": "priority is 0", "198.18.0.26": "s_down", "198.18.0.27": "disconnected",
		"198.18.0.28": "no INFO", "198.18.0.29": "link to master down", "198.18.0.30": "INFO is", "198.18.0.31": "no valid PING reply"} {
		if !strings.Contains(rejected[ip], want) {
			t.Errorf("%s rejected %q, want %q", ip, rejected[ip], want)
		}
	}
	r, detail, _ := h.n.selectReplica(m)
	if r == nil || r.addr.Host != "198.18.0.23" || !strings.Contains(detail, "198.18.0.25:6379 rejected: replica-priority is 0") {
		t.Errorf("selected %v detail %s", r, detail)
	}
	_ = best
	// With the master SDOWN, INFO must be within 5×ping-period, and the
	// master's down time is added to the link-down allowance.
	m.inst.flags |= fSDown
	m.inst.sdownSince = now - 5*time.Second
	cs = h.n.candidates(m)
	for _, c := range cs {
		if c.Addr.Host == "198.18.0.29" && c.Rejected != "" {
			t.Errorf("link down 11s with master down 5s: %s", c.Rejected)
		}
	}
}

func TestHelloFormatParse(t *testing.T) {
	h := HelloMsg{Addr: Addr{Host: "fd00::1", Port: 26379}, RunID: strings.Repeat("a", 40), CurrentEpoch: 7,
		Master: "mymaster", MasterAddr: Addr{Host: "198.18.0.2", Port: 6379}, ConfigEpoch: 6}
	s := FormatHello(h)
	if s != "fd00::1,26379,"+strings.Repeat("a", 40)+",7,mymaster,198.18.0.2,6379,6" {
		t.Errorf("format %q", s)
	}
	got, err := ParseHello(s)
	if err != nil || got != h {
		t.Errorf("parse %+v %v", got, err)
	}
	for _, bad := range []string{"", "a,b", "1.2.3.4,x,id,1,m,1.2.3.4,6379,1", "1.2.3.4,1,id,-1,m,1.2.3.4,6379,1",
		"1.2.3.4,1,id,1,m,1.2.3.4,99999,1", "1.2.3.4,1,,1,m,1.2.3.4,6379,1", "1,2,3,4,5,6,7,8,9"} {
		if _, err := ParseHello(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestHelloDiscoveryAndSwitch(t *testing.T) {
	h := newHealthy(t)
	h.takeEvents()
	m := h.n.masters["mymaster"]
	p1 := NewID(rand.New(rand.NewSource(9)))
	hello := func(ip string, id string, epoch uint64, maddr Addr, cep uint64) {
		h.step(Hello{Via: m.inst.link.ref, Payload: FormatHello(HelloMsg{Addr: Addr{Host: ip, Port: 26379}, RunID: id,
			CurrentEpoch: epoch, Master: "mymaster", MasterAddr: maddr, ConfigEpoch: cep})})
	}
	// A hello only proposes a peer: nothing is announced or persisted
	// until its link proves it.
	hello("198.18.0.2", p1, 0, tMaster, 0)
	if _, ok := findEvent(h.events, "+sentinel"); ok || len(h.n.snapshot().Masters[0].KnownSentinels) != 0 {
		t.Fatalf("unverified peer announced or persisted: %v", types(h.events))
	}
	h.verify()
	if ev, ok := findEvent(h.events, "+sentinel"); !ok || ev.Payload != "sentinel "+p1+" 198.18.0.2 26379 @ mymaster 198.18.0.10 6379" {
		t.Fatalf("+sentinel: %+v", h.events)
	}
	if len(h.states) == 0 || len(h.states[len(h.states)-1].Masters[0].KnownSentinels) != 1 {
		t.Error("verified peer not persisted")
	}
	h.takeEvents()
	// Our own hello is ignored.
	hello("198.18.0.1", h.n.myid, 0, tMaster, 0)
	if len(types(h.takeEvents())) != 0 {
		t.Error("own hello processed")
	}
	// The verified peer's link is up: a hello claiming its run id at
	// another address is refused.
	hello("198.18.0.3", p1, 0, tMaster, 0)
	if _, ok := findEvent(h.events, "+hello-rejected"); !ok || m.sentinels[p1].addr.Host != "198.18.0.2" {
		t.Fatalf("address switch of a live verified peer: %v", types(h.events))
	}
	// Once it is down, the address switch of the same run id happens.
	h.step(LinkDown{To: m.sentinels[p1].link.ref, Link: LinkCmd, Err: "reset"})
	h.now += 2 * time.Second // the rejection log's period
	h.takeEvents()
	hello("198.18.0.3", p1, 0, tMaster, 0)
	if ev, ok := findEvent(h.events, "+sentinel-address-switch"); !ok ||
		ev.Payload != "master mymaster 198.18.0.10 6379 ip 198.18.0.3 port 26379 for "+p1 {
		t.Fatalf("address switch: %v", h.events)
	}
	h.verify()
	h.takeEvents()
	// Another run id at the address of a live verified peer: refused.
	p2 := NewID(rand.New(rand.NewSource(10)))
	h.now += 2 * time.Second
	hello("198.18.0.3", p2, 0, tMaster, 0)
	if _, ok := findEvent(h.events, "+hello-rejected"); !ok || len(m.sentinels) != 1 || m.sentinels[p1] == nil {
		t.Fatalf("run id switch at a live verified address: %v, %d sentinels", types(h.events), len(m.sentinels))
	}
	// Once its link is down, the new run id replaces it there.
	h.step(LinkDown{To: m.sentinels[p1].link.ref, Link: LinkCmd, Err: "reset"})
	h.takeEvents()
	hello("198.18.0.3", p2, 0, tMaster, 0)
	h.verify()
	if !testenv.IsSubsequence([]string{"+sentinel-invalid-addr", "+sentinel"}, types(h.events)) || len(m.sentinels) != 1 {
		t.Fatalf("invalid addr: %v, %d sentinels", types(h.events), len(m.sentinels))
	}
	h.takeEvents()
	// A newer epoch and config through pub/sub: not evidence.
	hello("198.18.0.3", p2, 12, tRep1, 11)
	if a, _ := h.n.MasterAddr("mymaster"); a != tMaster || h.n.CurrentEpoch() != 0 {
		t.Fatalf("pub/sub hello adopted: addr %v epoch %d", a, h.n.CurrentEpoch())
	}
	hello = func(ip string, id string, epoch uint64, maddr Addr, cep uint64) {
		h.step(direct(ip, HelloMsg{Addr: Addr{Host: ip, Port: 26379}, RunID: id,
			CurrentEpoch: epoch, Master: "mymaster", MasterAddr: maddr, ConfigEpoch: cep}))
	}
	h.takeEvents()
	// A newer epoch and config: adopt and switch.
	hello("198.18.0.3", p2, 12, tRep1, 11)
	want := []string{"+new-epoch", "+config-update-from", "+switch-master", "+slave", "+slave"}
	if !testenv.IsSubsequence(want, types(h.events)) {
		t.Fatalf("switch: %v", types(h.events))
	}
	ev, _ := findEvent(h.events, "+switch-master")
	if ev.Payload != "mymaster 198.18.0.10 6379 198.18.0.11 6379" || ev.Epoch != 11 {
		t.Errorf("+switch-master %+v", ev)
	}
	if a, _ := h.n.MasterAddr("mymaster"); a != tRep1 || h.n.CurrentEpoch() != 12 {
		t.Errorf("addr %v epoch %d", a, h.n.CurrentEpoch())
	}
	// The old master is now a replica; the new one is not.
	if m = h.n.masters["mymaster"]; m.replicas[tMaster.String()] == nil || m.replicas[tRep1.String()] != nil {
		t.Errorf("replicas after switch: %v", m.sortedReplicas())
	}
	// An older config never switches back.
	h.takeEvents()
	hello("198.18.0.3", p2, 12, tMaster, 10)
	if _, ok := findEvent(h.events, "+switch-master"); ok {
		t.Error("older config applied")
	}
}

func TestEventPayloadsOfFailover(t *testing.T) {
	// A forced failover on a single node walks every state.
	cfg := testConfig()
	cfg.Masters[0].ClientReconfigScript = "/etc/vipsentinel/reconf.sh"
	cfg.Masters[0].NotificationScript = "/etc/vipsentinel/notify.sh"
	h := newHarness(t, cfg)
	h.healthy(time.Second, defaultInfo)
	h.takeEvents()
	if err := h.n.Failover(h.now, "mymaster"); err != nil {
		t.Fatal(err)
	}
	if err := h.n.Failover(h.now, "mymaster"); err == nil || err.Error() != "INPROG Failover already in progress" {
		t.Errorf("second failover: %v", err)
	}
	h.scripts = nil
	h.ready()
	promoted := map[string]bool{}
	follows := map[string]Addr{} // SLAVEOF targets; replicas start on tMaster
	var others []string
	scripts := h.scripts
	for i := 0; i < 100; i++ {
		rd := h.n.Ready()
		h.events = append(h.events, rd.Events...)
		scripts = append(scripts, rd.Scripts...)
		for _, c := range append(h.takeCmds(), rd.Commands...) {
			switch c.Kind {
			case CmdTransaction:
				if c.Cmds[1][1] == "NO" {
					promoted[c.To.Addr.String()] = true
				} else {
					follows[c.To.Addr.String()] = Addr{Host: c.Cmds[1][1], Port: 6379}
				}
				h.n.Step(h.now, CommandDone{ID: c.ID, To: c.To})
			case CmdOther:
				others = append(others, c.To.Addr.String()+" "+strings.Join(c.Cmds[0], " "))
				h.n.Step(h.now, CommandDone{ID: c.ID, To: c.To})
			case CmdInfo:
				var text string
				a := c.To.Addr.String()
				switch to, ok := follows[a]; {
				case promoted[a]:
					text = masterInfo()
				case ok:
					text = replicaInfo(to, true, 100, 100, strings.Repeat("c", 40))
				case c.To.Kind == KindReplica:
					text = replicaInfo(tMaster, true, 100, 100, strings.Repeat("c", 40))
				default:
					text = masterInfo(tRep1, tRep2)
				}
				in, _ := ParseInfo(text)
				h.n.Step(h.now, InfoReply{To: c.To, Info: in, Raw: text})
			case CmdPing:
				h.n.Step(h.now, PingReply{To: c.To, Status: "PONG"})
			case CmdConnect:
				h.n.Step(h.now, LinkUp{To: c.To, Link: c.Link, Proof: ProofSecret})
			case CmdPublish:
				h.n.Step(h.now, PublishReply{To: c.To, OK: true})
			}
		}
		h.now += 10 * time.Millisecond
		h.n.Step(h.now, Tick{})
	}
	h.ready()
	got := types(h.events)
	want := []string{"+new-epoch", "+try-failover", "+vote-for-leader", "+elected-leader", "+failover-state-select-slave",
		"+selected-slave", "+failover-state-send-slaveof-noone",
		"+failover-pause-master", "+failover-wait-replica-offset", "+failover-replica-caught-up",
		"+failover-state-wait-promotion", "+promoted-slave",
		"+failover-state-reconf-slaves", "+slave-reconf-sent", "+convert-to-slave", "-failover-pause-master",
		"+slave-reconf-inprog", "+slave-reconf-done", "+failover-end", "+switch-master"}
	if !testenv.IsSubsequence(want, got) {
		t.Fatalf("events %v", got)
	}
	// The old master is paused, then demoted, then unpaused, in that order.
	m0 := tMaster.String()
	if !slices.Equal(others, []string{m0 + " CLIENT PAUSE 1000 WRITE", m0 + " CLIENT UNPAUSE"}) {
		t.Errorf("single commands: %v", others)
	}
	pay := map[string]string{}
	for _, e := range h.events {
		if _, seen := pay[e.Type]; !seen {
			pay[e.Type] = e.Payload
		}
	}
	r1 := "slave 198.18.0.11:6379 198.18.0.11 6379 @ mymaster 198.18.0.10 6379"
	for typ, want := range map[string]string{
		"+new-epoch":                    "1",
		"+try-failover":                 "master mymaster 198.18.0.10 6379",
		"+vote-for-leader":              h.n.myid + " 1",
		"+elected-leader":               "master mymaster 198.18.0.10 6379",
		"+selected-slave":               r1,
		"+promoted-slave":               r1,
		"+failover-state-reconf-slaves": "master mymaster 198.18.0.10 6379",
		"+slave-reconf-sent":            "slave 198.18.0.12:6379 198.18.0.12 6379 @ mymaster 198.18.0.10 6379",
		"+failover-end":                 "master mymaster 198.18.0.10 6379",
		"+switch-master":                "mymaster 198.18.0.10 6379 198.18.0.11 6379",
		"+failover-pause-master":        "master mymaster 198.18.0.10 6379",
		"+failover-wait-replica-offset": r1 + " 100 100",
		"+failover-replica-caught-up":   r1 + " 100 100",
		"+convert-to-slave":             "slave 198.18.0.10:6379 198.18.0.10 6379 @ mymaster 198.18.0.11 6379",
		"-failover-pause-master":        "master mymaster 198.18.0.10 6379",
	} {
		if pay[typ] != want {
			t.Errorf("%s payload %q want %q", typ, pay[typ], want)
		}
	}
	var reconf, notify int
	notified := map[string]string{}
	for _, s := range scripts {
		switch s.Path {
		case "/etc/vipsentinel/reconf.sh":
			reconf++
			if !slices.Equal(s.Args, []string{"mymaster", "leader", "start", "198.18.0.10", "6379", "198.18.0.11", "6379"}) {
				t.Errorf("reconf script args %v", s.Args)
			}
		case "/etc/vipsentinel/notify.sh":
			notify++
			if len(s.Args) != 2 {
				t.Errorf("notify args %v", s.Args)
				continue
			}
			notified[s.Args[0]] = s.Args[1]
		}
	}
	if reconf != 1 || notify == 0 {
		t.Errorf("scripts: reconf %d notify %d", reconf, notify)
	}
	// Sentinel runs the notification script for every warning about a
	// master or its instances, not only those formatted with "%@".
	for _, typ := range []string{"+new-epoch", "+vote-for-leader", "+switch-master", "+promoted-slave", "+failover-end"} {
		if notified[typ] != pay[typ] {
			t.Errorf("notification script for %s: args %q, want %q", typ, notified[typ], pay[typ])
		}
	}
	if a, _ := h.n.MasterAddr("mymaster"); a != tRep1 {
		t.Errorf("master %v", a)
	}
}
