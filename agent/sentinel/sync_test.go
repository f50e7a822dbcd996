package sentinel

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// drive answers the Node's commands like answer, except those drop selects,
// for d, ticking every 10 ms.
func (h *harness) drive(d time.Duration, info func(Ref) string, drop func(Command) bool) {
	end := h.now + d
	for {
		for len(h.cmds) > 0 {
			for _, c := range h.takeCmds() {
				if drop == nil || !drop(c) {
					h.answerOne(c, info)
				}
			}
		}
		if h.now >= end {
			return
		}
		h.now += 10 * time.Millisecond
		h.step(Tick{})
	}
}

// singles lists the CmdOther commands among cmds, as "addr args...".
func singles(cmds []Command) []string {
	var out []string
	for _, c := range cmds {
		if c.Kind == CmdOther {
			out = append(out, c.To.Addr.String()+" "+strings.Join(c.Cmds[0], " "))
		}
	}
	return out
}

func promotions(cmds []Command) int {
	n := 0
	for _, c := range cmds {
		if c.Kind == CmdTransaction && slices.ContainsFunc(c.Cmds, func(x []string) bool { return len(x) == 3 && x[1] == "NO" }) {
			n++
		}
	}
	return n
}

// TestForcedFailoverPause checks the rules of the write pause of a forced
// failover one at a time, on a single Node whose replicas replicate from
// tMaster at offset 100 (the master's own offset).
func TestForcedFailoverPause(t *testing.T) {
	m0 := tMaster.String()
	elsewhere := false // the replicas replicate from another instance
	tests := []struct {
		name    string
		renamed map[string]string
		// before runs between the healthy start and SENTINEL FAILOVER.
		before func(h *harness)
		// drop loses commands after SENTINEL FAILOVER; done answers
		// CLIENT PAUSE with an error when refuse is set.
		drop   func(Command) bool
		refuse string
		info   func(Ref) string

		events   []string // subsequence of the published events
		absent   []string // events that must not appear
		singles  []string // CLIENT commands sent, exactly
		promoted bool
	}{
		{
			name:     "healthy master: paused, replica caught up, promoted",
			events:   []string{"+failover-pause-master", "+failover-wait-replica-offset", "+failover-replica-caught-up", "+failover-state-wait-promotion", "+promoted-slave"},
			singles:  []string{m0 + " CLIENT PAUSE 1000 WRITE", m0 + " CLIENT UNPAUSE"},
			promoted: true,
		},
		{
			name:     "rename-command applies to CLIENT",
			renamed:  map[string]string{"client": "GUARDED-CLIENT"},
			events:   []string{"+failover-pause-master", "+failover-replica-caught-up", "+promoted-slave", "-failover-pause-master"},
			singles:  []string{m0 + " GUARDED-CLIENT PAUSE 1000 WRITE", m0 + " GUARDED-CLIENT UNPAUSE"},
			promoted: true,
		},
		{
			// SENTINEL FAILOVER answered +OK: the failover goes on as
			// Sentinel's, with a warning, instead of aborting.
			name:     "CLIENT disabled: promoted without a pause, as Sentinel does",
			renamed:  map[string]string{"client": ""},
			events:   []string{"+failover-state-send-slaveof-noone", "+failover-no-pause", "+failover-state-wait-promotion", "+promoted-slave"},
			absent:   []string{"+failover-pause-master", "-failover-abort-pause-failed"},
			promoted: true,
		},
		{
			name: "Redis 6.0 master: no CLIENT PAUSE WRITE, promoted without a pause",
			info: func(r Ref) string {
				if r.Kind == KindMaster {
					return "redis_version:6.0.16\r\n" + masterInfo(tRep1, tRep2)
				}
				return replicaInfo(tMaster, true, 100, 100, strings.Repeat(string(rune('b'+r.Addr.Port%5)), 40))
			},
			events:   []string{"+failover-no-pause", "+failover-state-wait-promotion", "+promoted-slave"},
			absent:   []string{"+failover-pause-master", "-failover-abort-pause-failed"},
			promoted: true,
		},
		{
			name:     "CLIENT PAUSE refused: promoted without a pause, nothing to unpause",
			refuse:   "ERR syntax error",
			events:   []string{"+failover-pause-master", "+failover-no-pause", "+failover-state-wait-promotion", "+promoted-slave"},
			absent:   []string{"+failover-wait-replica-offset", "-failover-abort-pause-failed", "-failover-pause-master"},
			singles:  []string{m0 + " CLIENT PAUSE 1000 WRITE"},
			promoted: true,
		},
		{
			// Selection refuses a replica of another instance (select.go);
			// these move after the selection, and the master took writes.
			name:   "replica of another master: its offset does not count",
			before: func(*harness) { elsewhere = true },
			info: func(r Ref) string {
				switch {
				case !elsewhere:
					return defaultInfo(r)
				case r.Kind == KindMaster:
					return strings.Replace(defaultInfo(r), "master_repl_offset:100", "master_repl_offset:200", 1)
				}
				return replicaInfo(Addr{Host: "198.18.0.99", Port: 6379}, true, 100, 500, strings.Repeat(string(rune('b'+r.Addr.Port%5)), 40))
			},
			events:  []string{"+failover-pause-master", "+failover-wait-replica-offset", "-failover-abort-replica-lagging", "-failover-pause-master"},
			absent:  []string{"+failover-state-wait-promotion"},
			singles: []string{m0 + " CLIENT PAUSE 1000 WRITE", m0 + " CLIENT UNPAUSE"},
		},
		{
			name:    "master silent after the pause: abort at the bound, then unpause",
			drop:    func(c Command) bool { return c.To.Kind == KindMaster && c.Kind == CmdInfo },
			events:  []string{"+failover-pause-master", "-failover-abort-pause-failed", "-failover-pause-master"},
			absent:  []string{"+failover-wait-replica-offset", "+failover-state-wait-promotion"},
			singles: []string{m0 + " CLIENT PAUSE 1000 WRITE", m0 + " CLIENT UNPAUSE"},
		},
		{
			name: "master SDOWN: promoted without a pause, as before",
			before: func(h *harness) {
				h.drive(1500*time.Millisecond, defaultInfo, func(c Command) bool { return c.To.Kind == KindMaster && c.Kind == CmdPing })
			},
			drop:     func(c Command) bool { return c.To.Kind == KindMaster && c.Kind == CmdPing },
			events:   []string{"+sdown", "+failover-state-send-slaveof-noone", "+failover-state-wait-promotion", "+promoted-slave"},
			absent:   []string{"+failover-pause-master", "+convert-to-slave"},
			promoted: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Masters[0].RenamedCommands = tt.renamed
			h := newHarness(t, cfg)
			info := tt.info
			if info == nil {
				info = defaultInfo
			}
			h.healthy(time.Second, info)
			if tt.before != nil {
				tt.before(h)
			}
			h.takeCmds()
			if err := h.n.Failover(h.now, "mymaster"); err != nil {
				t.Fatal(err)
			}
			h.ready()
			var sent []Command
			promotedAt := map[string]bool{}
			follows := map[string]Addr{}
			end := h.now + 2*time.Second
			for h.now < end {
				for _, c := range h.takeCmds() {
					sent = append(sent, c)
					if tt.drop != nil && tt.drop(c) {
						continue
					}
					switch {
					case c.Kind == CmdOther && tt.refuse != "":
						h.step(CommandDone{ID: c.ID, To: c.To, Err: tt.refuse})
					case c.Kind == CmdTransaction:
						if promotions([]Command{c}) > 0 {
							promotedAt[c.To.Addr.String()] = true
						} else {
							follows[c.To.Addr.String()] = Addr{Host: c.Cmds[1][1], Port: 6379}
						}
						h.step(CommandDone{ID: c.ID, To: c.To})
					case c.Kind == CmdInfo:
						text := info(c.To)
						if promotedAt[c.To.Addr.String()] {
							text = masterInfo()
						} else if to, ok := follows[c.To.Addr.String()]; ok {
							text = replicaInfo(to, true, 100, 100, strings.Repeat("d", 40))
						}
						in, _ := ParseInfo(text)
						h.step(InfoReply{To: c.To, Info: in, Raw: text})
					default:
						h.answerOne(c, nil)
					}
				}
				h.now += 10 * time.Millisecond
				h.step(Tick{})
			}
			got := types(h.events)
			if !testenv.IsSubsequence(tt.events, got) {
				t.Errorf("events %v, want subsequence %v", got, tt.events)
			}
			for _, a := range tt.absent {
				if slices.Contains(got, a) {
					t.Errorf("event %s in %v", a, got)
				}
			}
			// Renewals of the pause are not counted.
			var client []string
			for _, s := range singles(sent) {
				if len(client) == 0 || client[len(client)-1] != s {
					client = append(client, s)
				}
			}
			if !slices.Equal(client, tt.singles) {
				t.Errorf("CLIENT commands %q, want %q", client, tt.singles)
			}
			if got := promotions(sent) > 0; got != tt.promoted {
				t.Errorf("promoted %v, want %v", got, tt.promoted)
			}
			m := h.n.masters["mymaster"]
			if !tt.promoted && (m.inst.flags&fFailoverInProgress != 0 || m.hold.active) {
				t.Errorf("after an abort: flags %s, hold %+v", m.inst.flagsString(), m.hold)
			}
		})
	}
}

// TestForcedFailoverPauseAfterReconnect: a command link lost while the
// pause was on its way pauses again once reconnected, and the offset read
// is the one after that pause.
func TestForcedFailoverPauseAfterReconnect(t *testing.T) {
	h := newHealthy(t)
	h.takeCmds()
	if err := h.n.Failover(h.now, "mymaster"); err != nil {
		t.Fatal(err)
	}
	h.ready()
	pauses := func(cmds []Command) int { return len(singles(cmds)) }
	first := h.takeCmds()
	if pauses(first) != 1 {
		t.Fatalf("commands %v", singles(first))
	}
	ref := h.n.masters["mymaster"].inst.link.ref
	h.step(LinkDown{To: ref, Link: LinkCmd, Err: "connection reset"})
	var again []Command
	for i := 0; i < 30 && pauses(again) == 0; i++ {
		for _, c := range h.takeCmds() {
			if c.Kind == CmdConnect {
				h.step(LinkUp{To: c.To, Link: c.Link, Proof: ProofSecret})
				continue
			}
			again = append(again, c)
		}
		h.now += 10 * time.Millisecond
		h.step(Tick{})
	}
	if pauses(again) != 1 || h.n.masters["mymaster"].sync.phase != syncPausing {
		t.Fatalf("after reconnecting: %v, phase %d", singles(again), h.n.masters["mymaster"].sync.phase)
	}
	// The lost pause's reply never comes; the new one's does.
	for _, c := range again {
		if c.Kind == CmdOther {
			h.step(CommandDone{ID: c.ID, To: c.To})
		}
	}
	if h.n.masters["mymaster"].sync.phase != syncReading {
		t.Errorf("phase %d after the new pause's reply", h.n.masters["mymaster"].sync.phase)
	}
}

// TestForcedFailoverSyncTimeout: the catch-up bound never exceeds
// down-after/2, failover-timeout or 5 s.
func TestForcedFailoverSyncTimeout(t *testing.T) {
	for _, tt := range []struct {
		downAfter, failover, want time.Duration
	}{
		{time.Second, 10 * time.Second, 500 * time.Millisecond},
		{30 * time.Second, 3 * time.Minute, 5 * time.Second},
		{30 * time.Second, 2 * time.Second, 2 * time.Second},
		{10 * time.Millisecond, time.Second, 10 * time.Millisecond},
	} {
		cfg := testConfig()
		cfg.Masters[0].DownAfter, cfg.Masters[0].FailoverTimeout = tt.downAfter, tt.failover
		n, err := New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.syncTimeout(n.masters["mymaster"]); got != tt.want {
			t.Errorf("down-after %v failover-timeout %v: bound %v, want %v", tt.downAfter, tt.failover, got, tt.want)
		}
	}
}

// TestForcedFailoverReplicaLinkLost: the promoted replica's link drops
// during the catch-up; the bound still aborts the failover and lifts the
// pause, and nothing is promoted when the link comes back.
func TestForcedFailoverReplicaLinkLost(t *testing.T) {
	h, m, r := catchingUp(t)
	h.step(LinkDown{To: r.link.ref, Link: LinkCmd, Err: "connection reset"})
	var sent []Command
	keep := func(c Command) bool {
		sent = append(sent, c)
		return c.To.Kind == KindReplica && c.To.Addr == r.addr // stays unreachable
	}
	h.drive(time.Second, lagging, keep)
	got := types(h.events)
	if !testenv.IsSubsequence([]string{"+failover-wait-replica-offset", "-failover-abort-replica-lagging", "-failover-pause-master"}, got) {
		t.Errorf("events %v", got)
	}
	if promotions(sent) != 0 || m.inst.flags&fFailoverInProgress != 0 || m.hold.active {
		t.Errorf("promotions %d flags %s hold %+v", promotions(sent), m.inst.flagsString(), m.hold)
	}
}

// lagging answers INFO as defaultInfo does, except that the replicas are
// at offset 50, behind the master's 100: they never catch up.
func lagging(r Ref) string {
	if r.Kind == KindMaster {
		return masterInfo(tRep1, tRep2)
	}
	return replicaInfo(tMaster, true, 100, 50, strings.Repeat(string(rune('b'+r.Addr.Port%5)), 40))
}

// catchingUp returns a Node whose forced failover of mymaster waits for
// its lagging replica to catch up (the master paused), and that replica.
func catchingUp(t *testing.T) (*harness, *master, *instance) {
	t.Helper()
	h := newHarness(t, testConfig())
	h.healthy(time.Second, lagging)
	h.takeCmds()
	if err := h.n.Failover(h.now, "mymaster"); err != nil {
		t.Fatal(err)
	}
	h.ready()
	m := h.n.masters["mymaster"]
	h.drive(50*time.Millisecond, lagging, nil)
	if m.sync.phase != syncWaiting {
		t.Fatalf("phase %d, want waiting for the replica", m.sync.phase)
	}
	return h, m, m.promoted
}
