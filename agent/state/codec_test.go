package state

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

const (
	id1 = "0123456789abcdef0123456789abcdef01234567"
	id2 = "89abcdef0123456789abcdef0123456789abcdef"
	id3 = "fedcba9876543210fedcba9876543210fedcba98"
)

func addr(h string, p int) sentinel.Addr { return sentinel.Addr{Host: h, Port: p} }

func masterConfig(name, host string) sentinel.MasterConfig {
	return sentinel.MasterConfig{
		Name: name, Addr: addr(host, 6379), Quorum: 2,
		DownAfter: 30 * time.Second, FailoverTimeout: 3 * time.Minute, ParallelSyncs: 1,
	}
}

// sample is a snapshot using every field.
func sample() *Snapshot {
	c := masterConfig("cache", "198.18.0.1")
	c.AuthUser, c.AuthPass = "sentinel", "p\"ss\n\x01word\xff" // not UTF-8
	c.NotificationScript, c.ClientReconfigScript = "/usr/local/bin/n.sh", "/usr/local/bin/r.sh"
	c.MasterRebootDownAfter = 10 * time.Second
	c.RenamedCommands = map[string]string{"config": "GUARDED", "slaveof": ""}
	c.HasVIP, c.Fence = true, true
	v6 := masterConfig("sessions", "fd00::1")
	v6.DownAfter = 1500 * time.Millisecond
	dyn := masterConfig("dyn", "redis-3.example.net")
	return &Snapshot{
		State: sentinel.HardState{
			MyID:         id1,
			CurrentEpoch: 1<<64 - 1,
			Masters: []sentinel.MasterState{
				{
					Config:         c,
					CurrentAddr:    addr("198.18.0.2", 6379),
					ConfigEpoch:    41,
					Leader:         id2,
					LeaderEpoch:    42,
					LeaseAddr:      addr("198.18.0.2", 6379),
					KnownReplicas:  []sentinel.Addr{addr("198.18.0.1", 6379), addr("198.18.0.3", 6380)},
					KnownSentinels: []sentinel.SentinelRecord{{Addr: addr("198.18.0.2", 26379), RunID: id2}, {Addr: addr("fd00::3", 26379), RunID: id3}},
				},
				{Config: v6, CurrentAddr: addr("fd00::1", 6379), Maintenance: sentinel.Maintenance{On: true, Until: 1_800_000_000_000}},
				{Config: dyn, CurrentAddr: addr("redis-3.example.net", 6379), Monitored: true, Maintenance: sentinel.Maintenance{On: true}},
			},
		},
		Base: []sentinel.MasterConfig{masterConfig("cache", "198.18.0.1"), v6},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []*Snapshot{sample(), {}, {State: sentinel.HardState{CurrentEpoch: 3}}} {
		data, err := Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode: %v\n%s", err, data)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
		}
		again, err := Encode(got)
		if err != nil || !bytes.Equal(again, data) {
			t.Errorf("encoding is not deterministic:\n%s\n%s", data, again)
		}
	}
}

func TestEncodeReadable(t *testing.T) {
	data, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{
		"{\n  \"format\": \"vipsentinel-state\",\n  \"version\": 1,\n  \"checksum\": \"sha256:",
		`"current_epoch": 18446744073709551615,`,
		`"current_addr": "[fd00::1]:6379",`,
		`"down_after_ms": 1500,`,
		`"leader": "` + id2 + `",`,
		`"monitored": true,`,
		"\"maintenance\": {\n          \"until_unix_ms\": 1800000000000\n        }",
		`"base64": "cCJzcwoBd29yZP8="`,
		"    \"masters\": [\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("encoding lacks %q:\n%s", want, text)
		}
	}
}

func TestEncodeZeroCurrentAddr(t *testing.T) {
	s := &Snapshot{State: sentinel.HardState{Masters: []sentinel.MasterState{{Config: masterConfig("m", "198.18.0.1")}}}}
	data, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil || got.State.Masters[0].CurrentAddr != addr("198.18.0.1", 6379) {
		t.Errorf("zero current address: %v %+v", err, got)
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	s := sample()
	s.State.Masters[1].Config.Name = s.State.Masters[0].Config.Name
	if _, err := Encode(s); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate master encoded: %v", err)
	}
}

// reseal replaces the state member of an encoded file and fixes the
// checksum, to test what lies behind the checksum check.
func reseal(t *testing.T, data []byte, edit func(state string) string) []byte {
	t.Helper()
	i := bytes.Index(data, []byte(`"state": `))
	if i < 0 {
		t.Fatal("no state member")
	}
	st := string(data[i+len(`"state": `) : bytes.LastIndexByte(data, '}')-1])
	st = edit(st)
	sum := sha256.Sum256([]byte(st))
	j := bytes.Index(data, []byte(`"checksum": "sha256:`)) + len(`"checksum": "sha256:`)
	out := append([]byte{}, data[:j]...)
	out = append(out, fmt.Sprintf("%x", sum)...)
	out = append(out, data[j+64:i+len(`"state": `)]...)
	out = append(out, st...)
	return append(out, "\n}\n"...)
}

func TestCorrupt(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(reseal(t, good, func(s string) string { return s })); err != nil {
		t.Fatalf("reseal helper broken: %v", err)
	}
	replace := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("%q not in state", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	tests := []struct {
		name string
		data []byte
		is   error
		msg  string
	}{
		{"empty", nil, ErrCorrupt, "empty file"},
		{"blank", []byte(" \n"), ErrCorrupt, "empty file"},
		{"not json", []byte("sentinel myid x\n"), ErrCorrupt, "invalid JSON at byte 1"},
		{"truncated", good[:len(good)/2], ErrCorrupt, "truncated"},
		{"trailing data", append(append([]byte{}, good...), "{}"...), ErrCorrupt, "invalid JSON"},
		{"other json", []byte(`{"a":1}`), ErrCorrupt, `format is "", want "vipsentinel-state"`},
		{"wrong format", bytes.Replace(good, []byte(`"vipsentinel-state"`), []byte(`"redis"`), 1), ErrCorrupt, `format is "redis"`},
		{"missing version", bytes.Replace(good, []byte(`"version": 1,`), nil, 1), ErrCorrupt, "version (missing) is not an integer"},
		{"version garbage", bytes.Replace(good, []byte(`"version": 1,`), []byte(`"version": "one",`), 1), ErrCorrupt, `version "one" is not an integer`},
		{"unknown version", bytes.Replace(good, []byte(`"version": 1,`), []byte(`"version": 2,`), 1), ErrVersion, "version 2, this vipsentinel reads version 1"},
		{"version 0", bytes.Replace(good, []byte(`"version": 1,`), []byte(`"version": 0,`), 1), ErrVersion, "version 0"},
		{"unknown envelope field", bytes.Replace(good, []byte(`"version": 1,`), []byte(`"version": 1, "x": 1,`), 1), ErrCorrupt, `unknown field "x"`},
		{"missing checksum", bytes.Replace(good, []byte(`"checksum"`), []byte(`"x_checksum"`), 1), ErrCorrupt, "unknown field"},
		{"checksum not sha256", bytes.Replace(good, []byte(`"sha256:`), []byte(`"md5:`), 1), ErrCorrupt, "is not sha256:<hex>"},
		{"bad checksum", bytes.Replace(good, []byte(`"config_epoch": 41`), []byte(`"config_epoch": 40`), 1), ErrCorrupt, "checksum mismatch"},
		{"no state", []byte(`{"format":"vipsentinel-state","version":1,"checksum":"sha256:00"}`), ErrCorrupt, "no state member"},
		{"epoch garbage", reseal(t, good, replace(`"current_epoch": 18446744073709551615`, `"current_epoch": "x"`)), ErrCorrupt, "field current_epoch: string is not a valid uint64"},
		{"epoch negative", reseal(t, good, replace(`"current_epoch": 18446744073709551615`, `"current_epoch": -1`)), ErrCorrupt, "current_epoch"},
		{"epoch fraction", reseal(t, good, replace(`"current_epoch": 18446744073709551615`, `"current_epoch": 1.5`)), ErrCorrupt, "current_epoch"},
		{"epoch overflow", reseal(t, good, replace(`"current_epoch": 18446744073709551615`, `"current_epoch": 18446744073709551616`)), ErrCorrupt, "current_epoch"},
		{"config epoch garbage", reseal(t, good, replace(`"config_epoch": 41`, `"config_epoch": null, "x": 1`)), ErrCorrupt, `unknown field "x"`},
		{"unknown state field", reseal(t, good, replace(`"myid"`, `"my_id"`)), ErrCorrupt, `unknown field "my_id"`},
		{"bad myid", reseal(t, good, replace(id1, "abc")), ErrCorrupt, `myid "abc" is not 40 hex digits`},
		{"bad leader", reseal(t, good, replace(`"leader": "`+id2, `"leader": "x`+id2[1:]+"x")), ErrCorrupt, "leader"},
		{"bad current_addr", reseal(t, good, replace(`"current_addr": "198.18.0.2:6379"`, `"current_addr": "198.18.0.2"`)), ErrCorrupt, `master "cache": current_addr: address "198.18.0.2": want host:port`},
		{"bad port", reseal(t, good, replace(`"current_addr": "198.18.0.2:6379"`, `"current_addr": "198.18.0.2:0"`)), ErrCorrupt, "bad port"},
		{"bad lease_addr", reseal(t, good, replace(`"lease_addr": "198.18.0.2:6379"`, `"lease_addr": "198.18.0.2"`)), ErrCorrupt, `master "cache": lease_addr: address "198.18.0.2": want host:port`},
		{"bad replica", reseal(t, good, replace(`"198.18.0.3:6380"`, `"198.18.0.3:x"`)), ErrCorrupt, "known_replicas"},
		{"bad sentinel runid", reseal(t, good, replace(`"runid": "`+id3, `"runid": "`+id3[:39])), ErrCorrupt, "known_sentinels: runid"},
		{"bad quorum", reseal(t, good, replace(`"quorum": 2`, `"quorum": 0`)), ErrCorrupt, `master "cache": config: quorum 0 < 1`},
		{"bad down-after", reseal(t, good, replace(`"down_after_ms": 30000`, `"down_after_ms": -1`)), ErrCorrupt, "down_after_ms -1 out of range"},
		{"bad rename key", reseal(t, good, replace(`"config": "GUARDED"`, `"CONFIG": "GUARDED"`)), ErrCorrupt, "renamed_commands"},
		{"duplicate master", reseal(t, good, replace(`"name": "sessions"`, `"name": "cache"`)), ErrCorrupt, `master "cache" appears twice`},
		{"bad master name", reseal(t, good, replace(`"name": "sessions"`, `"name": "a b"`)), ErrCorrupt, `invalid master name "a b"`},
		{"myid not a string", reseal(t, good, replace(`"myid": "`+id1+`"`, `"myid": 5`)), ErrCorrupt, "myid"},
		{"bad base64", reseal(t, good, replace(`"base64": "`, `"base64": "!`)), ErrCorrupt, "bad base64"},
		{"base64 extra field", reseal(t, good, replace(`"base64": "`, `"x": 1, "base64": "`)), ErrCorrupt, `unknown field "x"`},
		{"negative pause end", reseal(t, good, replace(`"until_unix_ms": 1800000000000`, `"until_unix_ms": -5`)), ErrCorrupt, `master "sessions": maintenance: until_unix_ms -5 is negative`},
		{"bad base", reseal(t, good, replace(`"failover_timeout_ms": 180000`, `"failover_timeout_ms": 0`)), ErrCorrupt, "failover_timeout_ms 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.data)
			t.Log(err)
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Decode error = %v\nwant %v containing %q", err, tt.is, tt.msg)
			}
		})
	}
}

// TestTruncatedEverywhere: no prefix of a state file is accepted.
func TestTruncatedEverywhere(t *testing.T) {
	good, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	// The final "}\n" minus the newline is still the complete document.
	for n := 0; n < len(good)-1; n++ {
		if _, err := Decode(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix of %d/%d bytes: err = %v", n, len(good), err)
		}
	}
}

func TestWriteLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vipsentinel.state")
	s := sample()
	if err := Write(path, s); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("Load after Write:\n got %+v\nwant %+v", got, s)
	}
	assertMode(t, path)
	assertNoTemps(t, dir)
}

func assertMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", path, fi.Mode().Perm())
	}
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if len(m) > 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// assertEpoch fails t unless the state file at path loads, with current
// epoch want; when says at which point of the test.
func assertEpoch(t *testing.T, path string, want uint64, when string) {
	t.Helper()
	if got, err := Load(path); err != nil || got.State.CurrentEpoch != want {
		t.Fatalf("%s: %+v, %v; want current epoch %d", when, got, err, want)
	}
}

func TestWriteMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	// An existing file with a wider mode is replaced by a 0600 one.
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, &Snapshot{}); err != nil {
		t.Fatal(err)
	}
	assertMode(t, path)
}

// TestCrashBeforeRename simulates a crash between writing the temporary file
// and renaming it: the old state is still what Load returns.
func TestCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vipsentinel.state")
	old := &Snapshot{State: sentinel.HardState{MyID: id1, CurrentEpoch: 5}}
	if err := Write(path, old); err != nil {
		t.Fatal(err)
	}
	newer, err := Encode(&Snapshot{State: sentinel.HardState{MyID: id1, CurrentEpoch: 6}})
	if err != nil {
		t.Fatal(err)
	}
	for _, partial := range [][]byte{newer, newer[:len(newer)/3], nil} {
		tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tmp.Write(partial); err != nil {
			t.Fatal(err)
		}
		tmp.Close()
	}
	assertEpoch(t, path, 5, "after crash")
	// The next Open cleans up and carries on from the old state.
	removeTemps(path)
	assertNoTemps(t, dir)
	assertEpoch(t, path, 5, "after cleanup")
}

func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vipsentinel.state")
	if err := Write(path, &Snapshot{State: sentinel.HardState{CurrentEpoch: 5}}); err != nil {
		t.Fatal(err)
	}
	// An invalid snapshot fails before anything is touched.
	bad := sample()
	bad.State.MyID = "nope"
	if err := Write(path, bad); err == nil {
		t.Fatal("invalid snapshot written")
	}
	// A rename failure (the target is now a non-empty directory) removes the
	// temporary file.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Write(blocked, &Snapshot{})
	var se *Error
	if !errors.As(err, &se) || se.Path != blocked || !strings.Contains(err.Error(), "rename") {
		t.Errorf("rename failure: %v", err)
	}
	// A missing directory.
	if err := Write(filepath.Join(dir, "no", "such"), &Snapshot{}); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	assertNoTemps(t, dir)
	assertEpoch(t, path, 5, "old state after the failed writes")
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.state")
	_, err := Load(missing)
	var se *Error
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &se) || se.Path != missing {
		t.Errorf("missing file: %v", err)
	}
	if got, want := err.Error(), "state file "+missing+": no such file or directory"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	bad := filepath.Join(dir, "bad.state")
	if err := os.WriteFile(bad, []byte(`{"format":"vipsentinel-state","version":9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if !errors.Is(err, ErrVersion) || !strings.HasPrefix(err.Error(), "state file "+bad+": unsupported state file version: version 9") {
		t.Errorf("unknown version: %v", err)
	}
}
