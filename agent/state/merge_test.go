package state

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/redisrule"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

func cfgOf(t *testing.T, text string) *config.File {
	t.Helper()
	f, _, err := config.Parse("/etc/vipsentinel/vipsentinel.conf", []byte(text), config.NoInclude())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestImportRewritten(t *testing.T) {
	cfg, _, err := config.Load("testdata/redis-rewritten.conf")
	if err != nil {
		t.Fatal(err)
	}
	hs := Import(cfg)
	if hs.MyID != cfg.MyID || !redisrule.IsRunID(hs.MyID) || hs.CurrentEpoch != 1 || len(hs.Masters) != 2 {
		t.Fatalf("imported %+v", hs)
	}
	byName := map[string]sentinel.MasterState{}
	for _, m := range hs.Masters {
		byName[m.Config.Name] = m
	}
	mm, other := byName["mymaster"], byName["other"]
	if mm.ConfigEpoch != 1 || mm.LeaderEpoch != 1 || mm.Leader != "" || mm.CurrentAddr != mm.Config.Addr ||
		len(mm.KnownReplicas) != 1 || len(mm.KnownSentinels) != 1 || !redisrule.IsRunID(mm.KnownSentinels[0].RunID) {
		t.Errorf("mymaster: %+v", mm)
	}
	if mm.Config.DownAfter != 5*time.Second || mm.Config.FailoverTimeout != time.Minute || mm.Config.ParallelSyncs != 2 ||
		mm.Config.AuthPass != "s3cret" || mm.Config.RenamedCommands["config"] != "MYCONFIG" {
		t.Errorf("mymaster config: %+v", mm.Config)
	}
	if other.ConfigEpoch != 0 || other.Config.MasterRebootDownAfter != time.Second || len(other.KnownSentinels) != 1 {
		t.Errorf("other: %+v", other)
	}
	// The import is written and read back intact.
	snap, _ := Merge(cfg, nil)
	data, err := Encode(snap)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data)
	if err != nil || !reflect.DeepEqual(back.State, *hs) {
		t.Errorf("imported state does not round-trip: %v\n%+v\n%+v", err, back, hs)
	}
}

func TestImportRaisesEpoch(t *testing.T) {
	hs := Import(cfgOf(t, "sentinel monitor m 198.18.0.1 6379 2\nsentinel current-epoch 3\nsentinel config-epoch m 5\nsentinel leader-epoch m 4\n"))
	if hs.CurrentEpoch != 5 {
		t.Errorf("current epoch %d, want 5", hs.CurrentEpoch)
	}
}

// prevOf builds the snapshot a previous run would have written: base from
// the configuration text it ran with, state from edit applied to what that
// configuration imports.
func prevOf(t *testing.T, text string, edit func(hs *sentinel.HardState)) *Snapshot {
	t.Helper()
	s, _ := Merge(cfgOf(t, text), nil)
	if edit != nil {
		edit(&s.State)
	}
	return s
}

func master(hs *sentinel.HardState, name string) *sentinel.MasterState {
	for i := range hs.Masters {
		if hs.Masters[i].Config.Name == name {
			return &hs.Masters[i]
		}
	}
	return nil
}

func names(hs *sentinel.HardState) []string {
	var out []string
	for _, m := range hs.Masters {
		out = append(out, m.Config.Name)
	}
	return out
}

func TestMerge(t *testing.T) {
	const (
		monM = "sentinel monitor m 198.18.0.1 6379 2\n"
		monN = "sentinel monitor n 198.18.0.11 6379 2\n"
	)
	// failedOver is a failover learnt at run time: m moved to 198.18.0.2
	// in epoch 3.
	failedOver := func(hs *sentinel.HardState) {
		m := master(hs, "m")
		m.CurrentAddr, m.ConfigEpoch = addr("198.18.0.2", 6379), 3
		hs.CurrentEpoch = 3
	}
	tests := []struct {
		name    string
		prevCfg string                       // configuration of the previous run ("" with prevNil)
		prevNil bool                         // no state file
		runtime func(hs *sentinel.HardState) // what happened at run time
		cfg     string                       // configuration now
		check   func(t *testing.T, hs *sentinel.HardState)
		changes []string // substrings, in order; nil means no changes
	}{
		{
			name: "first start", prevNil: true, cfg: monM,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if hs.CurrentEpoch != 0 || hs.MyID != "" || !slices.Equal(names(hs), []string{"m"}) {
					t.Errorf("%+v", hs)
				}
			},
			changes: []string{"state: no state file: first start at epoch 0"},
		},
		{
			name: "first start imports", prevNil: true, cfg: monM + "sentinel myid " + id1 + "\nsentinel current-epoch 7\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				if hs.CurrentEpoch != 7 || hs.MyID != id1 {
					t.Errorf("%+v", hs)
				}
			},
			changes: []string{"imported myid, epochs and known instances from /etc/vipsentinel/vipsentinel.conf (current epoch 7)"},
		},
		{
			name: "nothing changed", prevCfg: monM, cfg: monM,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if !slices.Equal(names(hs), []string{"m"}) {
					t.Errorf("%+v", hs)
				}
			},
		},
		{
			name: "learnt state kept", prevCfg: monM,
			runtime: func(hs *sentinel.HardState) {
				hs.MyID, hs.CurrentEpoch = id1, 9
				m := master(hs, "m")
				m.CurrentAddr, m.ConfigEpoch, m.Leader, m.LeaderEpoch = addr("198.18.0.2", 6379), 8, id2, 9
				m.KnownReplicas = []sentinel.Addr{addr("198.18.0.1", 6379)}
				m.KnownSentinels = []sentinel.SentinelRecord{{Addr: addr("198.18.0.3", 26379), RunID: id3}}
			},
			// Stale runtime directives in the file do not override the state.
			cfg: monM + "sentinel myid " + id3 + "\nsentinel current-epoch 2\nsentinel config-epoch m 1\nsentinel known-replica m 198.18.0.9 6379\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				m := master(hs, "m")
				if hs.MyID != id1 || hs.CurrentEpoch != 9 || m.CurrentAddr != addr("198.18.0.2", 6379) || m.ConfigEpoch != 8 ||
					m.Leader != id2 || m.LeaderEpoch != 9 || len(m.KnownReplicas) != 1 || m.KnownReplicas[0].Host != "198.18.0.1" || len(m.KnownSentinels) != 1 {
					t.Errorf("%+v", hs)
				}
			},
		},
		{
			name: "empty myid in state falls back to the file's", prevCfg: monM, cfg: monM + "sentinel myid " + id3 + "\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				if hs.MyID != id3 {
					t.Errorf("myid %q", hs.MyID)
				}
			},
		},
		{
			name: "SET kept while the file is unchanged", prevCfg: monM + "sentinel down-after-milliseconds m 30000\n",
			runtime: func(hs *sentinel.HardState) { master(hs, "m").Config.DownAfter = 5 * time.Second },
			cfg:     monM + "sentinel down-after-milliseconds m 30000\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				if d := master(hs, "m").Config.DownAfter; d != 5*time.Second {
					t.Errorf("down-after %v", d)
				}
			},
			changes: []string{"master m: down-after-milliseconds: keeping 5000 set at run time (SENTINEL SET); the configuration file says 30000"},
		},
		{
			name: "file edit wins over SET", prevCfg: monM,
			runtime: func(hs *sentinel.HardState) { master(hs, "m").Config.DownAfter = 5 * time.Second },
			cfg:     monM + "sentinel down-after-milliseconds m 10000\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				if d := master(hs, "m").Config.DownAfter; d != 10*time.Second {
					t.Errorf("down-after %v", d)
				}
			},
			changes: []string{"master m: down-after-milliseconds: 5000 -> 10000 (edited in the configuration file"},
		},
		{
			name: "file edit without SET", prevCfg: monM, cfg: monM + "sentinel failover-timeout m 60000\nsentinel parallel-syncs m 3\nsentinel master-reboot-down-after-period m 100\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				c := master(hs, "m").Config
				if c.FailoverTimeout != time.Minute || c.ParallelSyncs != 3 || c.MasterRebootDownAfter != 100*time.Millisecond {
					t.Errorf("%+v", c)
				}
			},
			changes: []string{"failover-timeout: 180000 -> 60000", "parallel-syncs: 1 -> 3", "master-reboot-down-after-period: 0 -> 100"},
		},
		{
			name: "quorum: edit and SET are per setting", prevCfg: "sentinel monitor m 198.18.0.1 6379 2\n",
			runtime: func(hs *sentinel.HardState) {
				c := &master(hs, "m").Config
				c.Quorum, c.ParallelSyncs = 3, 4
			},
			cfg: "sentinel monitor m 198.18.0.1 6379 1\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				c := master(hs, "m").Config
				if c.Quorum != 1 || c.ParallelSyncs != 4 {
					t.Errorf("quorum %d parallel-syncs %d", c.Quorum, c.ParallelSyncs)
				}
			},
			changes: []string{"quorum: 3 -> 1", "parallel-syncs: keeping 4"},
		},
		{
			name: "secrets are masked", prevCfg: monM + "sentinel auth-pass m old\n",
			runtime: func(hs *sentinel.HardState) { master(hs, "m").Config.AuthPass = "runtime" },
			cfg:     monM + "sentinel auth-pass m new\nsentinel auth-user m u\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				c := master(hs, "m").Config
				if c.AuthPass != "new" || c.AuthUser != "u" {
					t.Errorf("%+v", c)
				}
			},
			changes: []string{`auth-user: "" -> u`, "auth-pass: ****** -> ******"},
		},
		{
			name: "scripts", prevCfg: monM + "sentinel notification-script m /a\n",
			runtime: func(hs *sentinel.HardState) { master(hs, "m").Config.ClientReconfigScript = "/r" },
			cfg:     monM,
			check: func(t *testing.T, hs *sentinel.HardState) {
				c := master(hs, "m").Config
				if c.NotificationScript != "" || c.ClientReconfigScript != "/r" {
					t.Errorf("%+v", c)
				}
			},
			changes: []string{`notification-script: /a -> ""`, `client-reconfig-script: keeping /r`},
		},
		{
			name: "rename-command per command", prevCfg: monM + "sentinel rename-command m config c1\nsentinel rename-command m slaveof s1\n",
			runtime: func(hs *sentinel.HardState) {
				rc := master(hs, "m").Config.RenamedCommands
				rc["slaveof"] = "s2" // SET at run time, file unchanged: kept
				rc["ping"] = "p2"    // SET at run time: kept
			},
			cfg: monM + "sentinel rename-command m config c3\nsentinel rename-command m slaveof s1\nsentinel rename-command m info i3\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				want := map[string]string{"config": "c3", "slaveof": "s2", "ping": "p2", "info": "i3"}
				if rc := master(hs, "m").Config.RenamedCommands; !reflect.DeepEqual(rc, want) {
					t.Errorf("renamed %v, want %v", rc, want)
				}
			},
			changes: []string{`rename-command config: "c1" -> "c3"`, `rename-command info: (not renamed) -> "i3"`, `rename-command ping: keeping "p2"`, `rename-command slaveof: keeping "s2"`},
		},
		{
			name: "rename-command removed from the file", prevCfg: monM + "sentinel rename-command m config c1\n", cfg: monM,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if rc := master(hs, "m").Config.RenamedCommands; rc != nil {
					t.Errorf("renamed %v", rc)
				}
			},
			changes: []string{`rename-command config: "c1" -> (not renamed)`},
		},
		{
			name: "vip and fence follow the file", prevCfg: monM,
			cfg: monM + "sentinel vip m 198.18.0.100/24 eth0\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				if c := master(hs, "m").Config; !c.HasVIP || !c.Fence {
					t.Errorf("%+v", c)
				}
			},
		},
		{
			name: "failover learnt, monitor line unchanged", prevCfg: monM,
			runtime: failedOver,
			cfg:     monM,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if m := master(hs, "m"); m.CurrentAddr != addr("198.18.0.2", 6379) || m.Config.Addr != addr("198.18.0.1", 6379) {
					t.Errorf("%+v", m)
				}
			},
		},
		{
			name: "monitor address edited", prevCfg: monM,
			runtime: failedOver,
			cfg:     "sentinel monitor m 198.18.0.5 6380 2\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				m := master(hs, "m")
				if m.CurrentAddr != addr("198.18.0.5", 6380) || m.Config.Addr != m.CurrentAddr || m.ConfigEpoch != 3 || hs.CurrentEpoch != 3 {
					t.Errorf("%+v", m)
				}
			},
			changes: []string{"master m: monitor: address 198.18.0.2:6379 -> 198.18.0.5:6380 (edited in the configuration file; replaces the address learnt at run time, config epoch 3)"},
		},
		{
			name: "monitor line edited to the learnt address", prevCfg: monM,
			runtime: func(hs *sentinel.HardState) { master(hs, "m").CurrentAddr = addr("198.18.0.2", 6379) },
			cfg:     "sentinel monitor m 198.18.0.2 6379 2\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				if m := master(hs, "m"); m.CurrentAddr != addr("198.18.0.2", 6379) || m.Config.Addr != m.CurrentAddr {
					t.Errorf("%+v", m)
				}
			},
		},
		{
			name: "master added to the file", prevCfg: monM, cfg: monM + monN,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if !slices.Equal(names(hs), []string{"m", "n"}) || master(hs, "n").CurrentAddr != addr("198.18.0.11", 6379) {
					t.Errorf("%+v", hs)
				}
			},
			changes: []string{"master n: master: new in the configuration file: monitoring 198.18.0.11:6379"},
		},
		{
			name: "master removed from the file", prevCfg: monM + monN,
			runtime: func(hs *sentinel.HardState) { master(hs, "n").ConfigEpoch = 4; hs.CurrentEpoch = 4 },
			cfg:     monM,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if !slices.Equal(names(hs), []string{"m"}) || hs.CurrentEpoch != 4 {
					t.Errorf("%+v", hs)
				}
			},
			changes: []string{"master n: master: removed from the configuration file: no longer monitored"},
		},
		{
			name: "REMOVE sticks", prevCfg: monM + monN,
			runtime: func(hs *sentinel.HardState) {
				hs.Masters = slices.DeleteFunc(hs.Masters, func(m sentinel.MasterState) bool { return m.Config.Name == "n" })
			},
			cfg: monM + monN,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if !slices.Equal(names(hs), []string{"m"}) {
					t.Errorf("%+v", hs)
				}
			},
			changes: []string{"master n: master: removed at run time (SENTINEL REMOVE): stays removed until its sentinel monitor line is edited"},
		},
		{
			name: "REMOVE undone by editing the monitor line", prevCfg: monM + monN,
			runtime: func(hs *sentinel.HardState) {
				hs.Masters = slices.DeleteFunc(hs.Masters, func(m sentinel.MasterState) bool { return m.Config.Name == "n" })
			},
			cfg: monM + "sentinel monitor n 198.18.0.11 6379 1\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				if !slices.Equal(names(hs), []string{"m", "n"}) || master(hs, "n").Config.Quorum != 1 {
					t.Errorf("%+v", hs)
				}
			},
			changes: []string{"master n: master: removed at run time (SENTINEL REMOVE), but its sentinel monitor line was edited since: monitoring 198.18.0.11:6379 again"},
		},
		{
			name: "MONITOR kept", prevCfg: monM,
			runtime: func(hs *sentinel.HardState) {
				c := masterConfig("dyn", "198.18.0.21")
				hs.Masters = append(hs.Masters, sentinel.MasterState{Config: c, CurrentAddr: c.Addr, Monitored: true})
			},
			cfg: monM,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if !slices.Equal(names(hs), []string{"m", "dyn"}) || !master(hs, "dyn").Monitored {
					t.Errorf("%+v", hs)
				}
			},
			changes: []string{"master dyn: master: added at run time (SENTINEL MONITOR): still monitored"},
		},
		{
			name: "MONITORed master adopted by the file", prevCfg: monM,
			runtime: func(hs *sentinel.HardState) {
				c := masterConfig("dyn", "198.18.0.21")
				c.ParallelSyncs = 5
				hs.Masters = append(hs.Masters, sentinel.MasterState{Config: c, CurrentAddr: addr("198.18.0.22", 6379), ConfigEpoch: 2, Monitored: true})
				hs.CurrentEpoch = 2
			},
			cfg: monM + "sentinel monitor dyn 198.18.0.21 6379 2\n",
			check: func(t *testing.T, hs *sentinel.HardState) {
				d := master(hs, "dyn")
				if d.Monitored || d.Config.ParallelSyncs != 1 || d.CurrentAddr != addr("198.18.0.22", 6379) || d.ConfigEpoch != 2 {
					t.Errorf("%+v", d)
				}
			},
			changes: []string{"master dyn: parallel-syncs: 5 -> 1"},
		},
		{
			name: "epoch raised to the highest learnt epoch", prevCfg: monM,
			runtime: func(hs *sentinel.HardState) { master(hs, "m").LeaderEpoch = 6; hs.CurrentEpoch = 2 },
			cfg:     monM,
			check: func(t *testing.T, hs *sentinel.HardState) {
				if hs.CurrentEpoch != 6 {
					t.Errorf("current epoch %d", hs.CurrentEpoch)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev *Snapshot
			if !tt.prevNil {
				prev = prevOf(t, tt.prevCfg, tt.runtime)
				// Merge must work on what the file holds, not on shared memory.
				data, err := Encode(prev)
				if err != nil {
					t.Fatal(err)
				}
				if prev, err = Decode(data); err != nil {
					t.Fatal(err)
				}
			}
			cfg := cfgOf(t, tt.cfg)
			snap, changes := Merge(cfg, prev)
			tt.check(t, &snap.State)
			// Base is always the file's current configuration.
			var wantBase []sentinel.MasterConfig
			for _, m := range cfg.Masters {
				wantBase = append(wantBase, m.MasterConfig())
			}
			if !reflect.DeepEqual(snap.Base, wantBase) {
				t.Errorf("base %+v\nwant %+v", snap.Base, wantBase)
			}
			var got []string
			for _, c := range changes {
				got = append(got, c.String())
			}
			if len(got) != len(tt.changes) {
				t.Fatalf("changes:\n%s\nwant %d containing %q", strings.Join(got, "\n"), len(tt.changes), tt.changes)
			}
			for i, want := range tt.changes {
				if !strings.Contains(got[i], want) {
					t.Errorf("change %d = %q, want it to contain %q", i, got[i], want)
				}
			}
			// The result is a valid state file, and merging again with the
			// same file changes nothing more.
			data, err := Encode(snap)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			snap2, _ := Merge(cfg, again)
			if !reflect.DeepEqual(snap2.State, snap.State) {
				t.Errorf("merge is not idempotent:\n%+v\n%+v", snap.State, snap2.State)
			}
		})
	}
}

func TestMergeDoesNotAlias(t *testing.T) {
	prev := prevOf(t, "sentinel monitor m 198.18.0.1 6379 2\nsentinel rename-command m config c\n", func(hs *sentinel.HardState) {
		master(hs, "m").KnownReplicas = []sentinel.Addr{addr("198.18.0.2", 6379)}
	})
	snap, _ := Merge(cfgOf(t, "sentinel monitor m 198.18.0.1 6379 2\nsentinel rename-command m config c\n"), prev)
	m := master(&snap.State, "m")
	m.Config.RenamedCommands["x"] = "y"
	m.KnownReplicas[0].Port = 1
	if p := master(&prev.State, "m"); p.Config.RenamedCommands["x"] != "" || p.KnownReplicas[0].Port != 6379 {
		t.Error("Merge result shares memory with its input")
	}
	cs := MasterConfigs(&snap.State)
	cs[0].RenamedCommands["z"] = "z"
	if m.Config.RenamedCommands["z"] != "" || len(cs) != 1 || cs[0].Name != "m" {
		t.Error("MasterConfigs shares memory with the state")
	}
}
