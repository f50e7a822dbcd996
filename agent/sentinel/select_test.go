package sentinel

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// Replication sections as redis-server 7.0.15 prints them for a replica of
// tMaster in each state (captured from real processes; other fields cut).
const (
	infoSynced = "# Replication\r\nrole:slave\r\nmaster_host:198.18.0.10\r\nmaster_port:6379\r\nmaster_link_status:up\r\n" +
		"master_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:28\r\nslave_repl_offset:28\r\n" +
		"slave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\nmaster_repl_offset:28\r\n# Persistence\r\nloading:0\r\n"
	// The master died after the replica synced: Sentinel's own case.
	infoMasterGone = "# Replication\r\nrole:slave\r\nmaster_host:198.18.0.10\r\nmaster_port:6379\r\nmaster_link_status:down\r\n" +
		"master_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:28\r\nslave_repl_offset:28\r\n" +
		"master_link_down_since_seconds:2\r\nslave_priority:100\r\nreplica_announced:1\r\nmaster_repl_offset:28\r\n# Persistence\r\nloading:0\r\n"
	// Receiving (and loading) the RDB of its first full sync.
	infoTransfer = "# Replication\r\nrole:slave\r\nmaster_host:198.18.0.10\r\nmaster_port:6379\r\nmaster_link_status:down\r\n" +
		"master_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:1\r\nslave_read_repl_offset:0\r\nslave_repl_offset:0\r\n" +
		"master_sync_total_bytes:6977923\r\nmaster_sync_read_bytes:16384\r\nmaster_sync_left_bytes:6961539\r\nmaster_sync_perc:0.23\r\n" +
		"master_sync_last_io_seconds_ago:0\r\nmaster_link_down_since_seconds:-1\r\nslave_priority:100\r\nreplica_announced:1\r\n" +
		"master_repl_offset:0\r\n# Persistence\r\nloading:0\r\n"
	// Connecting or in the handshake: nothing received yet.
	infoHandshake = "# Replication\r\nrole:slave\r\nmaster_host:198.18.0.10\r\nmaster_port:6379\r\nmaster_link_status:down\r\n" +
		"master_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:1\r\nslave_repl_offset:1\r\n" +
		"master_link_down_since_seconds:-1\r\nslave_priority:100\r\nreplica_announced:1\r\nmaster_repl_offset:0\r\n# Persistence\r\nloading:0\r\n"
	// Restarted with its data (RDB), the master already gone.
	infoRestarted = "# Replication\r\nrole:slave\r\nmaster_host:198.18.0.10\r\nmaster_port:6379\r\nmaster_link_status:down\r\n" +
		"master_last_io_seconds_ago:-1\r\nmaster_sync_in_progress:0\r\nslave_read_repl_offset:50\r\nslave_repl_offset:50\r\n" +
		"master_link_down_since_seconds:-1\r\nslave_priority:100\r\nreplica_announced:1\r\nmaster_repl_offset:50\r\n# Persistence\r\nloading:0\r\n"
	// In sync with a master that never took a write.
	infoSyncedEmpty = "# Replication\r\nrole:slave\r\nmaster_host:198.18.0.10\r\nmaster_port:6379\r\nmaster_link_status:up\r\n" +
		"master_sync_in_progress:0\r\nslave_repl_offset:0\r\nslave_priority:100\r\nmaster_repl_offset:0\r\n# Persistence\r\nloading:0\r\n"
)

// TestUnsyncedRejection checks each rule on a replica's sync with the
// master, from the INFO text a real replica sends, through refreshInfo, to
// the candidate list (issue 13).
func TestUnsyncedRejection(t *testing.T) {
	const (
		asMaster     = "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_repl_offset:40\r\n# Persistence\r\nloading:0\r\n"
		listsRep1    = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=198.18.0.11,port=6379,state=online,offset=28,lag=0\r\n"
		listsAnother = "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=198.18.0.12,port=6379,state=online,offset=28,lag=0\r\n"
		notOurs      = "reports role:master and the master's last INFO did not list it as a replica"
	)
	tests := []struct {
		name       string
		info       string
		rejected   string // "" for an eligible replica
		unsynced   bool   // promotable with allow-unsynced-promotion yes
		masterInfo string // the master's last INFO, "" for none in this run
	}{
		{"in sync", infoSynced, "", false, ""},
		{"master gone after the sync", infoMasterGone, "", false, ""},
		{"restarted with its data", infoRestarted, "", false, ""},
		{"in sync with an empty master", infoSyncedEmpty, "", false, ""},
		{"full sync in progress", infoTransfer, "sync from the master in progress (master_sync_in_progress:1)", true, ""},
		{"loading the sync's RDB", strings.Replace(infoTransfer, "loading:0", "loading:1", 1), "loading its dataset (loading:1)", false, ""},
		{"never connected", infoHandshake, "never synced with the master (link down since it became a replica, slave_repl_offset:1)", true, ""},
		{"replica of another instance", strings.Replace(infoSynced, "master_host:198.18.0.10", "master_host:198.18.0.99", 1),
			"replicating from 198.18.0.99:6379, not from the master 198.18.0.10:6379", true, ""},
		{"replica of another port", strings.Replace(infoSynced, "master_port:6379", "master_port:6380", 1),
			"replicating from 198.18.0.10:6380", true, ""},
		{"master named by host name, same port", strings.Replace(infoSynced, "master_host:198.18.0.10", "master_host:redis-a.example", 1), "", false, ""},
		{"host name, another port", strings.Replace(strings.Replace(infoSynced, "master_host:198.18.0.10", "master_host:redis-a.example", 1), "master_port:6379", "master_port:6380", 1),
			"replicating from redis-a.example:6380", true, ""},
		{"loading at start-up, in sync otherwise", strings.Replace(infoSynced, "loading:0", "loading:1", 1), "loading its dataset", false, ""},
		// A promotion that timed out: it followed the master.
		{"role:master, listed by the master", asMaster, "", false, listsRep1},
		// The previous master, never demoted (the one-hour campaign's
		// 5,080 lost writes), or the master's INFO unknown to an agent
		// just restarted.
		{"role:master, not listed by the master", asMaster, notOurs, true, listsAnother},
		{"role:master, the master's INFO unknown", asMaster, notOurs, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testConfig())
			m := h.n.masters["mymaster"]
			r := h.n.addReplica(m, tRep1)
			r.link.cc, r.link.pc = connUp, connUp
			r.link.lastAvail = h.n.now
			info, err := ParseInfo(tt.info)
			if err != nil {
				t.Fatal(err)
			}
			if tt.masterInfo != "" {
				mi, err := ParseInfo(tt.masterInfo)
				if err != nil {
					t.Fatal(err)
				}
				m.inst.info = mi
			}
			h.n.refreshInfo(r, info, tt.info)
			cs := h.n.candidates(m)
			if len(cs) != 1 {
				t.Fatalf("%d candidates", len(cs))
			}
			c := cs[0]
			if tt.rejected == "" && c.Rejected != "" || !strings.HasPrefix(c.Rejected, tt.rejected) {
				t.Errorf("rejected %q, want %q", c.Rejected, tt.rejected)
			}
			if c.Unsynced != tt.unsynced {
				t.Errorf("unsynced %v, want %v", c.Unsynced, tt.unsynced)
			}
		})
	}
}

// TestSelectUnsynced checks the last resort: an unsynced replica is
// promoted only when no synced one is eligible and the operator allowed it.
func TestSelectUnsynced(t *testing.T) {
	rep3 := Addr{Host: "198.18.0.13", Port: 6379}
	tests := []struct {
		name   string
		allow  bool
		infos  map[Addr]string // replica -> INFO
		prio   map[Addr]int
		want   Addr // zero: none
		detail []string
	}{
		{
			name:   "a synced replica beats a better-ranked unsynced one",
			infos:  map[Addr]string{tRep1: infoTransfer, tRep2: infoMasterGone},
			prio:   map[Addr]int{tRep1: 1},
			want:   tRep2,
			detail: []string{"198.18.0.11:6379 rejected: sync from the master in progress", "198.18.0.12:6379 eligible"},
		},
		{
			name:   "only unsynced replicas, not allowed",
			infos:  map[Addr]string{tRep1: infoTransfer, tRep2: infoHandshake},
			detail: []string{"rejected: sync from the master in progress", "rejected: never synced with the master", "allow-unsynced-promotion is no"},
		},
		{
			name:   "only unsynced replicas, allowed: the best of them",
			allow:  true,
			infos:  map[Addr]string{tRep1: infoTransfer, tRep2: infoHandshake, rep3: infoTransfer},
			prio:   map[Addr]int{rep3: 5},
			want:   rep3,
			detail: []string{"promoting 198.18.0.13:6379 anyway (allow-unsynced-promotion yes)"},
		},
		{
			name:   "allowed, but a synced replica exists",
			allow:  true,
			infos:  map[Addr]string{tRep1: infoTransfer, tRep2: infoSynced},
			want:   tRep2,
			detail: []string{"198.18.0.12:6379 eligible"},
		},
		{
			name:   "allowed does not promote a loading replica",
			allow:  true,
			infos:  map[Addr]string{tRep1: strings.Replace(infoTransfer, "loading:0", "loading:1", 1)},
			detail: []string{"rejected: loading its dataset"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Masters[0].AllowUnsyncedPromotion = tt.allow
			h := newHarness(t, cfg)
			m := h.n.masters["mymaster"]
			for a, text := range tt.infos {
				r := h.n.addReplica(m, a)
				r.link.cc, r.link.pc = connUp, connUp
				r.link.lastAvail = h.n.now
				if p, ok := tt.prio[a]; ok {
					text = strings.Replace(text, "slave_priority:100", "slave_priority:"+strconv.Itoa(p), 1)
				}
				info, err := ParseInfo(text)
				if err != nil {
					t.Fatal(err)
				}
				h.n.refreshInfo(r, info, text)
			}
			r, detail, _ := h.n.selectReplica(m)
			switch {
			case tt.want == (Addr{}) && r != nil:
				t.Errorf("selected %s, want none", r.addr)
			case tt.want != (Addr{}) && (r == nil || r.addr != tt.want):
				t.Errorf("selected %v, want %s", r, tt.want)
			}
			for _, d := range tt.detail {
				if !strings.Contains(detail, d) {
					t.Errorf("detail %q lacks %q", detail, d)
				}
			}
		})
	}
}

// TestFailoverAbortsOnUnsyncedReplicas: a master that dies while its only
// replicas are in their initial sync is not failed over; the abort event
// says why, and SENTINEL FAILOVER refuses too.
func TestFailoverAbortsOnUnsyncedReplicas(t *testing.T) {
	info := func(r Ref) string {
		if r.Kind == KindMaster {
			return masterInfo(tRep1, tRep2)
		}
		if r.Addr == tRep1 {
			return infoTransfer
		}
		return infoHandshake
	}
	cfg := testConfig()
	cfg.Masters[0].Quorum = 1
	h := newHarness(t, cfg)
	h.healthy(time.Second, info)
	if err := h.n.Failover(h.now, "mymaster"); err == nil || !strings.Contains(err.Error(), "NOGOODSLAVE") {
		t.Errorf("SENTINEL FAILOVER: %v, want NOGOODSLAVE", err)
	}
	h.takeEvents()
	h.drive(3*time.Second, info, func(c Command) bool { return c.To.Kind == KindMaster && c.Kind == CmdPing })
	evs := h.takeEvents()
	ev, ok := findEvent(evs, "-failover-abort-no-good-slave")
	if !ok {
		t.Fatalf("no -failover-abort-no-good-slave in %v", types(evs))
	}
	for _, want := range []string{"198.18.0.11:6379 rejected: sync from the master in progress",
		"198.18.0.12:6379 rejected: never synced with the master", "allow-unsynced-promotion is no"} {
		if !strings.Contains(ev.Detail, want) {
			t.Errorf("detail %q lacks %q", ev.Detail, want)
		}
	}
	if _, ok := findEvent(evs, "+selected-slave"); ok || promotions(h.takeCmds()) > 0 {
		t.Error("an unsynced replica was selected")
	}
	cs, _ := h.n.ReplicaCandidates(h.now, "mymaster")
	for _, c := range cs {
		if c.Rejected == "" || !c.Unsynced {
			t.Errorf("candidate %s: rejected %q unsynced %v", c.Addr, c.Rejected, c.Unsynced)
		}
	}
}
