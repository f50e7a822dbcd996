package sentinel

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// serve runs the Node for d, answering each command with reply(c) (nil: no
// answer) and every tick.
func (h *harness) serve(d time.Duration, reply func(Command) Input) {
	end := h.now + d
	for {
		for _, c := range h.takeCmds() {
			if in := reply(c); in != nil {
				h.step(in)
			}
		}
		if h.now >= end {
			return
		}
		h.now += 10 * time.Millisecond
		h.step(Tick{})
	}
}

// std answers like a healthy group: links come up, PINGs get PONG, INFO
// comes from info, everything else succeeds.
func std(info func(Ref) string) func(Command) Input {
	return func(c Command) Input {
		switch c.Kind {
		case CmdConnect:
			return LinkUp{To: c.To, Link: c.Link, LocalIP: "198.18.0.1", Proof: ProofSecret}
		case CmdPing:
			return PingReply{To: c.To, Status: "PONG"}
		case CmdInfo:
			text := info(c.To)
			in, _ := ParseInfo(text)
			return InfoReply{To: c.To, Info: in, Raw: text}
		case CmdPublish:
			return PublishReply{To: c.To, OK: true}
		case CmdTransaction, CmdOther:
			return CommandDone{ID: c.ID, To: c.To}
		case CmdAskMasterDown:
			if a := c.Cmds[0]; len(a) == 6 && isLeaseRequest(0, a[5]) && a[4] == "0" {
				return IsDownReply{To: c.To, Valid: true, Leader: a[5]} // a grant
			}
			return IsDownReply{To: c.To, Valid: true, Leader: "*"}
		}
		return nil
	}
}

func hasCmd(cmds []Command, pred func(Command) bool) bool {
	for _, c := range cmds {
		if pred(c) {
			return true
		}
	}
	return false
}

func TestForcedLinkClose(t *testing.T) {
	h := newHarness(t, testConfig())
	h.serve(16*time.Second, std(defaultInfo))
	var closed []Command
	h.serve(700*time.Millisecond, func(c Command) Input {
		if c.Kind == CmdClose {
			closed = append(closed, c)
		}
		if c.To.Kind == KindMaster && c.Kind == CmdPing {
			return nil // the master stops answering
		}
		return std(defaultInfo)(c)
	})
	if !hasCmd(closed, func(c Command) bool { return c.To.Kind == KindMaster && c.Link == LinkCmd }) {
		t.Fatalf("stale command link not closed: %+v", closed)
	}
	// The pub/sub link is closed after 3 publish periods without activity.
	h2 := newHarness(t, testConfig())
	closed = nil
	h2.serve(22*time.Second, func(c Command) Input {
		if c.Kind == CmdClose {
			closed = append(closed, c)
		}
		return std(defaultInfo)(c)
	})
	if !hasCmd(closed, func(c Command) bool { return c.To.Kind == KindMaster && c.Link == LinkPubSub }) {
		t.Fatalf("silent pub/sub link not closed")
	}
}

func TestConvertAndFixSlaveConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Masters[0].FailoverTimeout = 15 * time.Second
	h := newHarness(t, cfg)
	rogue := func(r Ref) string {
		switch {
		case r.Kind == KindReplica && r.Addr == tRep1:
			return masterInfo() // a replica that claims role:master
		case r.Kind == KindReplica && r.Addr == tRep2:
			return replicaInfo(Addr{Host: "198.18.0.99"}, false, 100, 1, strings.Repeat("d", 40))
		}
		return defaultInfo(r)
	}
	var slaveofs []Command
	serve := func(d time.Duration) {
		h.serve(d, func(c Command) Input {
			if c.Kind == CmdTransaction {
				slaveofs = append(slaveofs, c)
			}
			return std(rogue)(c)
		})
	}
	serve(7 * time.Second)
	if len(slaveofs) != 0 {
		t.Fatalf("reconfigured before Sentinel's waits: %v", slaveofs)
	}
	serve(4 * time.Second) // acted upon at the next INFO after 8 s
	if !hasCmd(slaveofs, func(c Command) bool { return c.To.Addr == tRep1 && c.Cmds[1][1] == tMaster.Host }) {
		t.Fatalf("no +convert-to-slave after 8 s")
	}
	if _, ok := findEvent(h.events, "+convert-to-slave"); !ok {
		t.Error("no +convert-to-slave event")
	}
	if hasCmd(slaveofs, func(c Command) bool { return c.To.Addr == tRep2 }) {
		t.Fatal("+fix-slave-config before failover-timeout")
	}
	serve(10 * time.Second)
	if !hasCmd(slaveofs, func(c Command) bool { return c.To.Addr == tRep2 && c.Cmds[1][1] == tMaster.Host }) {
		t.Fatalf("no +fix-slave-config after failover-timeout")
	}
	if _, ok := findEvent(h.events, "+fix-slave-config"); !ok {
		t.Error("no +fix-slave-config event")
	}
}

func TestBusyScriptKill(t *testing.T) {
	h := newHarness(t, testConfig())
	h.serve(time.Second, std(defaultInfo))
	var kills int
	h.serve(1500*time.Millisecond, func(c Command) Input {
		if c.Kind == CmdOther && c.Cmds[0][0] == "SCRIPT" {
			kills++
		}
		if c.To.Kind == KindMaster && c.Kind == CmdPing {
			return PingReply{To: c.To, Status: "BUSY Redis is busy running a script"}
		}
		return std(defaultInfo)(c)
	})
	if kills != 1 {
		t.Errorf("%d SCRIPT KILL, want exactly 1 once SDOWN", kills)
	}
	if mi := h.n.masters["mymaster"].inst; mi.flags&fScriptKillSent == 0 {
		t.Error("script_kill_sent not set")
	}
}

// peers adds n agent peers with connected links.
func (h *harness) peers(n int) []*instance {
	var out []*instance
	for i := 0; i < n; i++ {
		out = append(out, h.verifiedPeer("198.18.0."+strconv.Itoa(2+i), NewID(rand.New(rand.NewSource(int64(1000+i))))))
	}
	return out
}

// verifiedPeer adds runid at host as a peer of mymaster verified over
// its link.
func (h *harness) verifiedPeer(host, runid string) *instance {
	s := h.n.addSentinel(h.n.masters["mymaster"], Addr{Host: host, Port: 26379}, runid)
	s.verifiedAddr = s.addr
	return s
}

// verify answers the pending connects to peers with a proven LinkUp.
func (h *harness) verify() {
	h.step(Tick{})
	var rest []Command
	for _, c := range h.takeCmds() {
		if c.Kind == CmdConnect && c.To.Kind == KindSentinel {
			h.step(LinkUp{To: c.To, Link: c.Link, Proof: ProofSecret})
			continue
		}
		rest = append(rest, c)
	}
	h.cmds = append(rest, h.cmds...)
}

// direct is a hello PUBLISHed to our API by the authenticated peer at
// host: the path that carries evidence (trust.go).
func direct(host string, h HelloMsg) Hello {
	return Hello{Via: Ref{Kind: KindSentinel, Addr: Addr{Host: host, Port: 50000}}, Payload: FormatHello(h), Authenticated: true}
}

func TestSplitVoteRetriesQuickly(t *testing.T) {
	h := newHarness(t, testConfig())
	ps := h.peers(2)
	h.serve(time.Second, std(defaultInfo))
	h.takeEvents()
	// The master dies; both peers agree it is down but vote for themselves.
	var t0 Time = h.now
	h.serve(4*time.Second, func(c Command) Input {
		switch {
		case c.To.Kind == KindMaster && c.Kind != CmdConnect && c.Kind != CmdClose:
			return nil
		case c.Kind == CmdAskMasterDown:
			ep := h.n.CurrentEpoch()
			for _, p := range ps {
				if p.runid == c.To.RunID && c.Cmds[0][5] != "*" {
					return IsDownReply{To: c.To, Valid: true, Down: true, Leader: p.runid, LeaderEpoch: ep}
				}
			}
			return IsDownReply{To: c.To, Valid: true, Down: true, Leader: "*"}
		}
		return std(defaultInfo)(c)
	})
	var tries, aborts []Time
	var abortDetail string
	for _, e := range h.events {
		switch e.Type {
		case "+try-failover":
			tries = append(tries, 0)
		case "-failover-abort-not-elected":
			aborts = append(aborts, 0)
			abortDetail = e.Detail
		}
	}
	if len(tries) < 2 || len(aborts) < 2 {
		t.Fatalf("want quick retries after split votes, got %d tries %d aborts: %v", len(tries), len(aborts), types(h.events))
	}
	if !strings.Contains(abortDetail, "election lost") {
		t.Errorf("abort detail %q", abortDetail)
	}
	// Epochs are fresh for every attempt and never reused for a second vote.
	if h.n.CurrentEpoch() < uint64(len(tries)) {
		t.Errorf("epoch %d after %d tries", h.n.CurrentEpoch(), len(tries))
	}
	_ = t0
}

// TestSplitVoteLowestIDRetriesAtOnce: after a split vote in which every
// other candidate has a higher run id (they yield, splitRivals), the
// candidate with the lowest run id retries after the start jitter, not
// after a backoff of at least the election window (issue 18).
func TestSplitVoteLowestIDRetriesAtOnce(t *testing.T) {
	h := newHarness(t, testConfig())
	m := h.n.masters["mymaster"]
	var ps []*instance
	for seed := int64(1000); len(ps) < 2; seed++ {
		if id := NewID(rand.New(rand.NewSource(seed))); id > h.n.myid {
			ps = append(ps, h.verifiedPeer("198.18.0."+strconv.Itoa(2+len(ps)), id))
		}
	}
	h.serve(time.Second, std(defaultInfo))
	h.takeEvents()
	// The master dies; both peers see it down and vote for themselves in
	// every epoch we ask them about.
	reply := func(c Command) Input {
		switch {
		case c.To.Kind == KindMaster && c.Kind != CmdConnect && c.Kind != CmdClose:
			return nil
		case c.Kind == CmdAskMasterDown:
			for _, p := range ps {
				if p.runid == c.To.RunID && c.Cmds[0][5] != "*" {
					return IsDownReply{To: c.To, Valid: true, Down: true, Leader: p.runid, LeaderEpoch: h.n.CurrentEpoch()}
				}
			}
			return IsDownReply{To: c.To, Valid: true, Down: true, Leader: "*"}
		}
		return std(defaultInfo)(c)
	}
	var abortAt, retryAt Time = never, never
	for end := h.now + 4*time.Second; h.now < end && retryAt == never; {
		h.serve(0, reply)
		for _, e := range h.takeEvents() {
			switch {
			case e.Type == "-failover-abort-not-elected" && abortAt == never:
				abortAt = h.now
			case e.Type == "+try-failover" && abortAt != never:
				retryAt = h.now
			}
		}
		h.now += 10 * time.Millisecond
		h.step(Tick{})
	}
	if abortAt == never || retryAt == never {
		t.Fatalf("no split vote and retry (abort %v, retry %v)", abortAt, retryAt)
	}
	if d, most := retryAt-abortAt, h.n.startJitterMax(m)+h.n.t.Tick; d > most {
		t.Errorf("retried %v after the split vote, want at most %v (the start jitter)", d, most)
	}
}

func TestVoteForPeerCancelsJitteredStart(t *testing.T) {
	h := newHarness(t, testConfig())
	ps := h.peers(2)
	m := h.n.masters["mymaster"]
	h.serve(time.Second, std(defaultInfo))
	h.takeEvents()
	// Make the master ODOWN, then a peer asks for our vote before our start.
	m.inst.flags |= fSDown | fODown
	m.inst.sdownSince = h.n.now
	m.startAt = h.n.now + 15*time.Millisecond
	_, leader, _ := h.n.IsMasterDownByAddr(h.now, tMaster.Host, tMaster.Port, h.n.CurrentEpoch()+1, ps[0].runid)
	h.ready()
	if leader != ps[0].runid {
		t.Fatalf("vote went to %s", leader)
	}
	if m.startAt != never || m.blockUntil <= h.n.now {
		t.Fatalf("vote did not cancel our start: startAt %v block %v", m.startAt, m.blockUntil-h.n.now)
	}
	if b := m.blockUntil - h.n.now; b > 3*time.Second {
		t.Errorf("block %v for an agent leader", b)
	}
}

func TestPromotionTimeoutAndReconf(t *testing.T) {
	cfg := testConfig()
	cfg.Masters[0].ParallelSyncs = 2
	cfg.Timing.SlaveReconfTimeout = 3 * time.Second
	h := newHarness(t, cfg)
	reps := []Addr{tRep1, tRep2, {Host: "198.18.0.13", Port: 6379}, {Host: "198.18.0.14", Port: 6379}}
	info := func(r Ref) string {
		if r.Kind == KindMaster {
			return masterInfo(reps...)
		}
		return replicaInfo(tMaster, true, 100, 100, strings.Repeat(string(rune('b'+int(r.Addr.Host[len(r.Addr.Host)-1]-'0'))), 40))
	}
	h.serve(2*time.Second, std(info))
	// A forced failover whose replica never reports role:master.
	if err := h.n.Failover(h.now, "mymaster"); err != nil {
		t.Fatal(err)
	}
	h.serve(11*time.Second, std(info))
	if _, ok := findEvent(h.events, "-failover-abort-slave-timeout"); !ok {
		t.Fatalf("no slave timeout: %v", types(h.events))
	}
	m := h.n.masters["mymaster"]
	if m.blockUntil-h.n.now < 19*time.Second {
		t.Errorf("after a promotion timeout the next attempt must wait 2×failover-timeout, got %v", m.blockUntil-h.n.now)
	}
	h.takeEvents()
	// A failover that promotes: replicas are reconfigured one at a time; one
	// never follows (reconf-sent timeout), one stays INPROG until the end.
	promoted := map[Addr]bool{}
	following := map[Addr]Addr{}
	serve := func(d time.Duration) {
		h.serve(d, func(c Command) Input {
			switch c.Kind {
			case CmdTransaction:
				if c.Cmds[1][1] == "NO" {
					promoted[c.To.Addr] = true
				} else if c.To.Addr != reps[3] {
					following[c.To.Addr] = Addr{Host: c.Cmds[1][1], Port: 6379}
				}
			case CmdInfo:
				if promoted[c.To.Addr] {
					in, _ := ParseInfo(masterInfo())
					return InfoReply{To: c.To, Info: in}
				}
				if f, ok := following[c.To.Addr]; ok {
					in, _ := ParseInfo(replicaInfo(f, c.To.Addr != reps[2], 100, 100, strings.Repeat("e", 40)))
					return InfoReply{To: c.To, Info: in}
				}
			}
			return std(info)(c)
		})
	}
	m.blockUntil = never
	if err := h.n.Failover(h.now, "mymaster"); err != nil {
		t.Fatal(err)
	}
	var maxInFlight int
	for i := 0; i < 1200; i++ { // 12 s
		serve(10 * time.Millisecond)
		n := 0
		for _, r := range m.replicas {
			if r.flags&(fReconfSent|fReconfInprog) != 0 {
				n++
			}
		}
		maxInFlight = max(maxInFlight, n)
	}
	got := types(h.events)
	for _, want := range []string{"+promoted-slave", "+slave-reconf-sent", "+slave-reconf-done", "-slave-reconf-sent-timeout", "+failover-end-for-timeout", "+slave-reconf-sent-be", "+failover-end", "+switch-master"} {
		if !testenv.IsSubsequence([]string{want}, got) {
			t.Errorf("missing %s in %v", want, got)
		}
	}
	if maxInFlight != 2 {
		t.Errorf("parallel-syncs 2 but up to %d replicas reconfiguring at once", maxInFlight)
	}
}

func TestStallGuardAndStepRobustness(t *testing.T) {
	h := newHarness(t, testConfig())
	h.serve(time.Second, std(defaultInfo))
	h.takeEvents()
	// The whole process stalls 1.5 s (below the TILT trigger): the replies
	// queued meanwhile arrive right after the first late step, and must win.
	h.now += 1500 * time.Millisecond
	h.step(Tick{})
	h.serve(50*time.Millisecond, std(defaultInfo))
	if _, ok := findEvent(h.events, "+sdown"); ok {
		t.Fatalf("stall caused SDOWN: %v", types(h.events))
	}
	// Garbage never panics.
	r := rand.New(rand.NewSource(3))
	refs := []Ref{{}, {Master: "mymaster"}, {Master: "mymaster", Kind: KindReplica, Addr: tRep1},
		{Master: "mymaster", Kind: KindSentinel, Addr: Addr{Host: "198.18.0.2", Port: 26379}, RunID: "x"},
		{Master: "nope", Kind: 7}, h.n.masters["mymaster"].inst.link.ref}
	inputs := func() Input {
		ref := refs[r.Intn(len(refs))]
		switch r.Intn(11) {
		case 0:
			return LinkUp{To: ref, Link: Link(r.Intn(3)), LocalIP: "garbage"}
		case 1:
			return LinkDown{To: ref, Link: Link(r.Intn(3)), AuthFailed: r.Intn(2) == 0}
		case 2:
			return PingReply{To: ref, Status: []string{"", "PONG", "BUSY", "weird reply", "NOAUTH x"}[r.Intn(5)]}
		case 3:
			return InfoReply{To: ref}
		case 4:
			in, _ := ParseInfo(masterInfo(tRep1, Addr{Host: "bad host", Port: 1}))
			return InfoReply{To: ref, Info: in}
		case 5:
			return PublishReply{To: ref, OK: r.Intn(2) == 0}
		case 6:
			return Hello{Via: ref, Payload: []string{"", ",,,,,,,", "1.1.1.1,1,zz,1,mymaster,x,1,1",
				"198.18.0.9,26379," + strings.Repeat("a", 40) + ",18446744073709551615,mymaster,198.18.0.11,6379,18446744073709551615"}[r.Intn(4)]}
		case 7:
			return IsDownReply{To: ref, Valid: r.Intn(2) == 0, Down: true, Leader: "??", LeaderEpoch: r.Uint64()}
		case 8:
			return CommandDone{ID: uint64(r.Intn(100)), To: ref, Err: "ERR x"}
		case 9:
			return nil
		}
		return Tick{}
	}
	for i := 0; i < 20000; i++ {
		h.now += Time(r.Intn(20)) * time.Millisecond
		h.n.Step(h.now, inputs())
		h.n.Ready()
		if i%100 == 0 {
			h.n.IsMasterDownByAddr(h.now, "::1", -5, r.Uint64(), "nonsense")
		}
	}
}

func TestSharedPeerLinks(t *testing.T) {
	cfg := testConfig()
	cfg.Masters = append(cfg.Masters, MasterConfig{Name: "second", Addr: Addr{Host: "198.18.0.20", Port: 6379}, Quorum: 2})
	h := newHarness(t, cfg)
	h.serve(100*time.Millisecond, std(defaultInfo))
	id := NewID(rand.New(rand.NewSource(77)))
	hello := func(master string, ip string) {
		maddr := tMaster
		if master == "second" {
			maddr = Addr{Host: "198.18.0.20", Port: 6379}
		}
		h.step(Hello{Payload: FormatHello(HelloMsg{Addr: Addr{Host: ip, Port: 26379}, RunID: id, Master: master, MasterAddr: maddr})})
	}
	hello("mymaster", "198.18.0.2")
	hello("second", "198.18.0.2")
	s1, s2 := h.n.masters["mymaster"].sentinels[id], h.n.masters["second"].sentinels[id]
	if s1 == nil || s2 == nil || s1.link != s2.link || s1.link.refcount != 2 {
		t.Fatalf("link not shared: %p %p", s1, s2)
	}
	var connects int
	for _, c := range h.takeCmds() {
		if c.Kind == CmdConnect && c.To.Kind == KindSentinel {
			connects++
		}
	}
	h.serve(50*time.Millisecond, std(defaultInfo))
	if connects > 1 {
		t.Errorf("%d connections to one peer", connects)
	}
	// The peer moves: the switch on one master updates the other.
	h.takeEvents()
	hello("mymaster", "198.18.0.3")
	if !testenv.IsSubsequence([]string{"+sentinel-address-switch", "+sentinel-address-update"}, types(h.events)) {
		t.Fatalf("events %v", types(h.events))
	}
	if ev, _ := findEvent(h.events, "+sentinel-address-update"); !strings.HasSuffix(ev.Payload, " 1 additional matching instances") {
		t.Errorf("payload %q", ev.Payload)
	}
	s1, s2 = h.n.masters["mymaster"].sentinels[id], h.n.masters["second"].sentinels[id]
	if s2.addr.Host != "198.18.0.3" || s1.link != s2.link {
		t.Errorf("second master's record not moved: %v", s2.addr)
	}
	// Removing one master keeps the link for the other.
	if err := h.n.Remove(h.now, "second"); err != nil {
		t.Fatal(err)
	}
	h.ready()
	if s1.link.refcount != 1 || hasCmd(h.takeCmds(), func(c Command) bool {
		return c.Kind == CmdClose && c.To.Kind == KindSentinel && c.To.Addr.Host == "198.18.0.3"
	}) {
		t.Error("shared link closed while still used")
	}
}

// TestLeaselessHolderDoesNotConvert: on the master's host with fencing on,
// an agent that no majority grants the lease (here alone, with min-agents
// 3) does not convert a replica claiming role:master after Sentinel's
// wait: it may be the group's newly promoted master. Without fencing the
// same node converts it (TestConvertAndFixSlaveConfig).
func TestLeaselessHolderDoesNotConvert(t *testing.T) {
	cfg := testConfig()
	cfg.LocalIPs = append(cfg.LocalIPs, tMaster.Host)
	cfg.MinAgents = 3
	cfg.Masters[0].Fence = true
	cfg.Masters[0].FailoverTimeout = 15 * time.Second
	h := newHarness(t, cfg)
	rogue := func(r Ref) string {
		if r.Kind == KindReplica && r.Addr == tRep1 {
			return masterInfo()
		}
		return defaultInfo(r)
	}
	var slaveofs []Command
	h.serve(12*time.Second, func(c Command) Input {
		if c.Kind == CmdTransaction {
			slaveofs = append(slaveofs, c)
		}
		return std(rogue)(c)
	})
	if hasCmd(slaveofs, func(c Command) bool { return c.To.Addr == tRep1 }) {
		t.Fatalf("converted the replica claiming role:master without the lease: %v", slaveofs)
	}
	if _, ok := findEvent(h.events, "+convert-to-slave"); ok {
		t.Error("+convert-to-slave without the lease")
	}
}
