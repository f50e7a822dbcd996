package sentinel

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestReplicaNotReceiving checks the rule of replwatch.go one case at a
// time: the master (local unless stated) takes 100 bytes of writes every
// 10 ms; tRep2 always keeps up; tRep1 follows the case.
func TestReplicaNotReceiving(t *testing.T) {
	const rate = 100 // master offset bytes per 10 ms
	type repState struct {
		offset int64  // acknowledged offset, -1: keeps up
		state  string // "" is online
		lag    int
	}
	tests := []struct {
		name        string
		remote      bool // the master is not on this host
		guard       bool // min_slaves_good_slaves in INFO
		allow       bool // allow-unreplicated-writes
		idle        bool // the master takes no writes
		noConn      bool // CLIENT LIST shows no connection from tRep1
		rep2Loading bool // tRep2 is in a full sync (not online): tRep1 is the only replica the guard can count
		rep1        func(since time.Duration) repState
		kill        bool             // CLIENT KILL ID 11 (tRep1's connection) expected
		killIn      [2]time.Duration // after 2.9 s into the run; [replicationBound, ReplicationWindow] if zero
		event       string
		infoMax     int // at most this many INFOs to the master in the run
		infoMin     int
		// heldOff: the master's INFO shows a state that holds the watch
		// off (loading:1 stands for any: TILT, a pause, a failover) then.
		heldOff func(since time.Duration) bool
	}{
		{name: "healthy replicas", guard: true, rep1: func(time.Duration) repState { return repState{offset: -1} },
			infoMin: 30, infoMax: 45},
		{name: "replica stops receiving, keeps acknowledging", guard: true,
			rep1: func(since time.Duration) repState {
				if since < 3*time.Second {
					return repState{offset: -1}
				}
				return repState{offset: 300 * rate}
			}, kill: true, event: "+replica-not-receiving"},
		{name: "idle master: a frozen offset is not a stall", guard: true, idle: true,
			rep1: func(time.Duration) repState { return repState{offset: 1000} }},
		{name: "guard off: not watched, INFO at the normal period",
			rep1: func(time.Duration) repState { return repState{offset: 5} }, infoMax: 2},
		{name: "allow-unreplicated-writes", guard: true, allow: true,
			rep1: func(time.Duration) repState { return repState{offset: 5} }, infoMax: 2},
		{name: "remote master", guard: true, remote: true,
			rep1: func(time.Duration) repState { return repState{offset: 5} }, infoMax: 2},
		{name: "replica Redis no longer counts (stale lag)", guard: true,
			rep1: func(time.Duration) repState { return repState{offset: 5, lag: 4} }},
		{name: "replica not online (full sync)", guard: true,
			rep1: func(time.Duration) repState { return repState{offset: 0, state: "send_bulk"} }},
		{name: "freshly online replica shows offset 0 until its first ACK", guard: true,
			rep1: func(since time.Duration) repState {
				switch {
				case since < 4*time.Second:
					return repState{state: "wait_bgsave"}
				case since < 5*time.Second:
					return repState{offset: 0}
				}
				return repState{offset: -1}
			}},
		{name: "loading after a full sync: online, offset 0, lag fresh, the only replica counted", guard: true, rep2Loading: true,
			rep1: func(since time.Duration) repState {
				switch {
				case since < 2*time.Second:
					return repState{state: "wait_bgsave"}
				case since < 2900*time.Millisecond:
					return repState{state: "send_bulk"}
				}
				return repState{offset: 0}
			}, kill: true, killIn: [2]time.Duration{0, 2 * ReplWatchPeriod}, event: "+replica-not-receiving"},
		{name: "full sync of an idle master: its RDB holds everything", guard: true, rep2Loading: true, idle: true,
			rep1: func(since time.Duration) repState {
				if since < 2900*time.Millisecond {
					return repState{state: "wait_bgsave"}
				}
				return repState{offset: 0}
			}},
		{name: "loading when the watch began: online at offset 0 past the bound, the only replica counted", guard: true, rep2Loading: true,
			rep1: func(since time.Duration) repState {
				if since < 2900*time.Millisecond {
					return repState{state: "online"} // offset 0: the watch never saw its sync
				}
				return repState{offset: 0}
			}, kill: true, killIn: [2]time.Duration{replicationBound - 2900*time.Millisecond, ReplicationWindow - 2900*time.Millisecond}, event: "+replica-not-receiving"},
		{name: "partial resync, the only replica counted: offset 0 until its first ACK", guard: true, rep2Loading: true,
			rep1: func(since time.Duration) repState {
				if since > 4*time.Second && since < 4800*time.Millisecond {
					return repState{offset: 0, lag: 0}
				}
				return repState{offset: -1}
			}},
		{name: "loading after a full sync while another counted replica receives", guard: true,
			rep1: func(since time.Duration) repState {
				if since < 2900*time.Millisecond {
					return repState{state: "wait_bgsave"}
				}
				return repState{offset: 0}
			}},
		{name: "reconnected between two INFOs: offset 0 until its first ACK", guard: true,
			rep1: func(since time.Duration) repState {
				if since > 4*time.Second && since < 4800*time.Millisecond {
					return repState{offset: 0, lag: 1}
				}
				return repState{offset: -1}
			}},
		{name: "loading after a full sync whose start the watch was held off for", guard: true, rep2Loading: true,
			heldOff: func(since time.Duration) bool { return since > 500*time.Millisecond && since < 2500*time.Millisecond },
			rep1: func(since time.Duration) repState {
				if since < 2900*time.Millisecond {
					return repState{state: "wait_bgsave"}
				}
				return repState{offset: 0}
			}, kill: true, killIn: [2]time.Duration{0, 2 * ReplWatchPeriod}, event: "+replica-not-receiving"},
		{name: "loading after a full sync that began and ended while the watch was held off", guard: true, rep2Loading: true,
			heldOff: func(since time.Duration) bool { return since > 500*time.Millisecond && since < 3*time.Second },
			rep1: func(since time.Duration) repState {
				switch {
				case since < 600*time.Millisecond:
					return repState{offset: -1}
				case since < 1800*time.Millisecond:
					return repState{state: "send_bulk"}
				}
				return repState{offset: 0}
			}, kill: true, killIn: [2]time.Duration{0, 2 * ReplWatchPeriod}, event: "+replica-not-receiving"},
		{name: "no connection from the replica's address", guard: true, noConn: true,
			rep1: func(time.Duration) repState { return repState{offset: 5} }, event: "+replica-not-receiving"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.LocalIPs = []string{tMaster.Host}
			if tc.remote {
				cfg.LocalIPs = []string{"198.18.0.1"}
			}
			cfg.Masters[0].AllowUnreplicatedWrites = tc.allow
			h := newHarness(t, cfg)
			start := h.now
			var kills []string
			off := func(at Time) int64 {
				if tc.idle || at < start {
					return 1000
				}
				return 1000 + int64((at-start)/(10*time.Millisecond))*rate
			}
			info := func(r Ref) string {
				if r.Kind != KindMaster {
					return replicaInfo(tMaster, true, 100, off(h.now), strings.Repeat(string(rune('b'+r.Addr.Port%5)), 40))
				}
				s := "# Replication\r\nrole:master\r\nrun_id:" + strings.Repeat("a", 40) + "\r\nconnected_slaves:2\r\n"
				if tc.guard {
					s += "min_slaves_good_slaves:2\r\n"
				}
				if tc.heldOff != nil && tc.heldOff(h.now-start) {
					s += "loading:1\r\n"
				}
				r1 := tc.rep1(h.now - start)
				if r1.state == "" {
					r1.state = "online"
				}
				if r1.offset < 0 {
					r1.offset = off(h.now - 500*time.Millisecond)
				}
				if len(kills) == 0 { // a killed replica is gone (its cut keeps it out)
					s += fmt.Sprintf("slave0:ip=%s,port=6379,state=%s,offset=%d,lag=%d\r\n", tRep1.Host, r1.state, r1.offset, r1.lag)
				}
				if tc.rep2Loading {
					s += fmt.Sprintf("slave1:ip=%s,port=6379,state=wait_bgsave,offset=0,lag=0\r\n", tRep2.Host)
				} else {
					s += fmt.Sprintf("slave1:ip=%s,port=6379,state=online,offset=%d,lag=0\r\n", tRep2.Host, off(h.now-500*time.Millisecond))
				}
				return s + fmt.Sprintf("master_repl_offset:%d\r\n", off(h.now))
			}
			masterInfos := 0
			firstKill := never
			for h.now < start+10*time.Second {
				for len(h.cmds) > 0 {
					for _, c := range h.takeCmds() {
						switch {
						case c.Kind == CmdInfo && c.To.Kind == KindMaster:
							if h.now-start > 2*time.Second { // after the start-up's first INFOs
								masterInfos++
							}
							h.answerOne(c, info)
						case c.Kind == CmdOther && strings.Join(c.Cmds[0], " ") == "CLIENT LIST TYPE replica":
							list := "id=12 addr=" + tRep2.Host + ":40001 laddr=" + tMaster.Host + ":6379 fd=9 name= flags=S cmd=replconf\n"
							if !tc.noConn {
								list = "id=11 addr=" + tRep1.Host + ":40000 laddr=" + tMaster.Host + ":6379 fd=8 name= flags=S cmd=replconf\n" + list
							}
							h.step(CommandDone{ID: c.ID, To: c.To, Reply: list})
						case c.Kind == CmdOther && c.Cmds[0][0] == "CLIENT" && c.Cmds[0][1] == "KILL":
							kills = append(kills, strings.Join(c.Cmds[0], " "))
							if firstKill == never {
								firstKill = h.now
							}
							h.answerOne(c, info)
						default:
							h.answerOne(c, info)
						}
					}
				}
				h.now += 10 * time.Millisecond
				h.step(Tick{})
			}
			evs := h.takeEvents()
			ev, got := findEvent(evs, "+replica-not-receiving")
			if tc.event == "" && got {
				t.Errorf("unexpected %s %s (%s)", ev.Type, ev.Payload, ev.Detail)
			}
			if tc.event != "" {
				if !got {
					t.Fatalf("no %s; events %v", tc.event, types(evs))
				}
				if !strings.HasPrefix(ev.Payload, "slave "+tRep1.String()) || ev.Level != LevelWarning {
					t.Errorf("event %q level %v, want about %v at warning", ev.Payload, ev.Level, tRep1)
				}
				t.Logf("%s %s (%s)", ev.Type, ev.Payload, ev.Detail)
			}
			switch {
			case tc.kill && (len(kills) != 1 || kills[0] != "CLIENT KILL ID 11"):
				t.Errorf("kills %q, want exactly tRep1's connection once", kills)
			case !tc.kill && len(kills) > 0:
				t.Errorf("kills %q, want none", kills)
			case tc.kill:
				// tRep1 stopped at 3 s having acknowledged what the master
				// had at 2.9 s; the kill must come within the window.
				in := tc.killIn
				if in == [2]time.Duration{} {
					in = [2]time.Duration{replicationBound, ReplicationWindow}
				}
				if d := firstKill - (start + 2900*time.Millisecond); d > in[1] || d < in[0] {
					t.Errorf("killed %v after the replica stopped receiving, want within [%v, %v]", d, in[0], in[1])
				} else {
					t.Logf("killed %v after the replica stopped receiving (want within [%v, %v])", d, in[0], in[1])
				}
			}
			if tc.infoMax > 0 && masterInfos > tc.infoMax || masterInfos < tc.infoMin {
				t.Errorf("%d INFOs to the master in 8 s, want [%d, %d]", masterInfos, tc.infoMin, tc.infoMax)
			}
		})
	}
}

func TestParseReplicaConns(t *testing.T) {
	tests := []struct {
		in   string
		want []replicaConn
		bad  bool
	}{
		{in: "", want: nil},
		{in: "id=3 addr=127.0.0.1:41346 laddr=127.0.0.1:16391 fd=8 name= age=2 flags=S\n", want: []replicaConn{{3, "127.0.0.1"}}},
		{in: "id=3 addr=[fd00::2]:41346 flags=S\r\nid=4 addr=198.18.0.3:5 flags=S\r\n", want: []replicaConn{{3, "fd00::2"}, {4, "198.18.0.3"}}},
		{in: "id=x addr=1.2.3.4:5\n", bad: true},
		{in: "id=3 addr=nonsense\n", bad: true},
		{in: "garbage\n", bad: true},
		{in: strings.Repeat("x", maxListReply+1), bad: true},
	}
	for _, tc := range tests {
		got, why := parseReplicaConns(tc.in)
		if tc.bad != (why != "") || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("parseReplicaConns(%.40q) = %v, %q; want %v, bad %v", tc.in, got, why, tc.want, tc.bad)
		}
	}
}
