package state

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

func cfgIn(t *testing.T, dir, text string) *config.File {
	t.Helper()
	return cfgOf(t, "dir "+dir+"\n"+text)
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	cfg := cfgIn(t, dir, "sentinel monitor m 198.18.0.1 6379 2\n")
	st, hs, changes, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Path() != filepath.Join(dir, "vipsentinel.state") || hs.CurrentEpoch != 0 || len(hs.Masters) != 1 || len(changes) != 1 {
		t.Fatalf("first open: %s %+v %v", st.Path(), hs, changes)
	}
	assertMode(t, st.Path())

	// A second agent on the same state file is refused while the first runs.
	if _, _, _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "in use by another vipsentinel process") {
		t.Errorf("second Open: %v", err)
	}

	// The core moves on: a vote, a failover, SENTINEL SET.
	hs.MyID, hs.CurrentEpoch = id1, 4
	m := &hs.Masters[0]
	m.Leader, m.LeaderEpoch, m.ConfigEpoch, m.CurrentAddr = id2, 4, 4, addr("198.18.0.2", 6379)
	m.Config.DownAfter = 5 * time.Second
	if err := st.Save(hs); err != nil {
		t.Fatal(err)
	}
	back := *hs
	back.CurrentEpoch = 3
	if err := st.Save(&back); err == nil || !strings.Contains(err.Error(), "epochs never go backwards") {
		t.Errorf("epoch going backwards was saved: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(hs); err == nil {
		t.Error("Save after Close succeeded")
	}

	// Restart: everything learnt is back; the SET value too.
	st, hs2, _, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m2 := hs2.Masters[0]
	if hs2.MyID != id1 || hs2.CurrentEpoch != 4 || m2.Leader != id2 || m2.LeaderEpoch != 4 || m2.ConfigEpoch != 4 ||
		m2.CurrentAddr != addr("198.18.0.2", 6379) || m2.Config.DownAfter != 5*time.Second {
		t.Errorf("after restart: %+v", hs2)
	}
	assertNoTemps(t, dir)
}

func TestOpenImportsRewritten(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/redis-rewritten.conf")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte(`dir "/var/lib/redis"`), []byte(`dir "`+dir+`"`), 1)
	cfg, _, err := config.Parse(filepath.Join(dir, "sentinel.conf"), data)
	if err != nil {
		t.Fatal(err)
	}
	hs, changes := openClosed(t, cfg)
	if hs.MyID != cfg.MyID || hs.CurrentEpoch != 1 || len(changes) != 1 || !strings.Contains(changes[0].Msg, "imported") {
		t.Errorf("import: %+v %v", hs, changes)
	}
	// Once the state file exists, the file's runtime lines are history:
	// advancing the state and restarting keeps the state's values.
	snap, err := Load(cfg.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	snap.State.CurrentEpoch = 9
	if err := Write(cfg.StatePath(), snap); err != nil {
		t.Fatal(err)
	}
	if hs, _ := openClosed(t, cfg); hs.CurrentEpoch != 9 {
		t.Errorf("current epoch %d after restart, want 9", hs.CurrentEpoch)
	}
}

// TestOpenRefusesBadState: a damaged state file stops the agent and is left
// exactly as it was, for the operator to inspect.
func TestOpenRefusesBadState(t *testing.T) {
	good, err := Encode(&Snapshot{State: sentinel.HardState{MyID: id1, CurrentEpoch: 12}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		data []byte
		is   error
	}{
		{"truncated", good[:40], ErrCorrupt},
		{"checksum", bytes.Replace(good, []byte(`"current_epoch": 12`), []byte(`"current_epoch": 0`), 1), ErrCorrupt},
		{"version", bytes.Replace(good, []byte(`"version": 1`), []byte(`"version": 3`), 1), ErrVersion},
		{"empty", []byte{}, ErrCorrupt},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := cfgIn(t, dir, "sentinel monitor m 198.18.0.1 6379 2\n")
			path := cfg.StatePath()
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, _, err := Open(cfg)
			var se *Error
			if !errors.Is(err, tt.is) || !errors.As(err, &se) || se.Path != path {
				t.Fatalf("Open: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, tt.data) {
				t.Error("the bad state file was modified")
			}
			// The lock was released: fixing the file lets the agent start.
			if err := os.WriteFile(path, good, 0o600); err != nil {
				t.Fatal(err)
			}
			if hs, _ := openClosed(t, cfg); hs.CurrentEpoch != 12 {
				t.Errorf("epoch %d", hs.CurrentEpoch)
			}
		})
	}
}

func TestOpenCleansTemps(t *testing.T) {
	dir := t.TempDir()
	cfg := cfgIn(t, dir, "")
	stray := filepath.Join(dir, tempPrefix(cfg.StatePath())+"123")
	other := filepath.Join(dir, ".other.tmp-1")
	for _, p := range []string{stray, other} {
		if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	openClosed(t, cfg)
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Error("stray temporary file not removed")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("someone else's file removed")
	}
}

func TestOpenMissingDir(t *testing.T) {
	cfg := cfgIn(t, filepath.Join(t.TempDir(), "missing"), "")
	_, _, _, err := Open(cfg)
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open in a missing dir: %v", err)
	}
}

// SENTINEL CONFIG SET values survive a restart, as Sentinel's configuration
// rewrite makes them; an operator's later edit of the same parameter in the
// file wins, and a value the file already has is no longer carried.
func TestSettingsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	const mon = "sentinel monitor m 198.18.0.1 6379 2\n"
	cfg := cfgIn(t, dir, "sentinel announce-ip 198.18.0.7\n"+mon)
	st, hs, _, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Settings = []sentinel.Setting{{Name: "announce-ip", Value: "198.18.0.9"}, {Name: "loglevel", Value: "debug"}, {Name: "sentinel-pass", Value: "s3cret"}}
	if err := st.Save(hs); err != nil {
		t.Fatal(err)
	}
	st.Close()

	hs2, changes := openClosed(t, cfg)
	if got, want := hs2.Settings, hs.Settings; !slices.Equal(got, want) {
		t.Fatalf("after restart: settings %v, want %v", got, want)
	}
	for _, c := range changes {
		if strings.Contains(c.String(), "s3cret") {
			t.Errorf("change log shows the password: %s", c)
		}
	}
	// The operator edits announce-ip in the file; loglevel debug is now
	// also the file's; sentinel-pass stays the run-time value.
	hs2, _ = openClosed(t, cfgIn(t, dir, "sentinel announce-ip 198.18.0.8\nloglevel debug\n"+mon))
	if got, want := hs2.Settings, []sentinel.Setting{{Name: "sentinel-pass", Value: "s3cret"}}; !slices.Equal(got, want) {
		t.Errorf("after editing the file: settings %v, want %v", got, want)
	}
}

// openClosed opens cfg's state as the agent does at start, closes it at
// once (releasing the lock) and returns the state and changes Open
// returned.
func openClosed(t *testing.T, cfg *config.File) (*sentinel.HardState, []Change) {
	t.Helper()
	st, hs, changes, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	return hs, changes
}
