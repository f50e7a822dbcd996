package compat

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestACLUsersSurviveRestart: with no aclfile, users changed by ACL
// SETUSER/DELUSER are kept across a restart without ACL SAVE (in the state
// file, where redis-sentinel would have rewritten them into
// sentinel.conf), until the operator edits the file's user lines: then
// the file's users apply.
func TestACLUsersSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port := testenv.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	conf := func(extra ...string) string {
		return strings.Join(append([]string{
			"port " + strconv.Itoa(port),
			"bind 127.0.0.1",
			"dir .",
			"user default off",
			"user admin on >adminpw +@all allchannels",
		}, extra...), "\n") + "\n"
	}
	path := filepath.Join(dir, "vs.conf")
	stop := startIn(t, dir, agentBin, path, conf(), addr)
	for _, args := range [][]string{
		{"ACL", "SETUSER", "ops", "on", ">opspw", "-@all", "+ping", "+sentinel|masters"},
		{"ACL", "SETUSER", "admin", ">adminpw2"},
	} {
		if _, err := asUser(addr, "admin", "adminpw", args...); err != nil {
			t.Fatal(err)
		}
	}
	before, err := asUser(addr, "admin", "adminpw", "ACL", "LIST")
	if err != nil {
		t.Fatal(err)
	}
	stop()

	stop = startIn(t, dir, agentBin, path, conf(), addr)
	after, err := asUser(addr, "ops", "opspw", "PING")
	if err != nil || after.str != "PONG" {
		t.Fatalf("after a restart, ops (ACL SETUSER, never saved): %v %q", err, after.str)
	}
	list, err := asUser(addr, "admin", "adminpw2", "ACL", "LIST")
	if err != nil {
		t.Fatalf("after a restart, admin's second password: %v", err)
	}
	if got, want := list.render(), before.render(); got != want {
		t.Errorf("ACL LIST after a restart:\n%s\nbefore:\n%s", got, want)
	}
	stop()

	// The operator edits the user lines: the file's users apply.
	startIn(t, dir, agentBin, path, conf("user viewer on >viewpw -@all +ping"), addr)
	if _, err := asUser(addr, "ops", "opspw", "PING"); err == nil {
		t.Errorf("ops still exists after the file's user lines were edited")
	}
	if _, err := asUser(addr, "viewer", "viewpw", "PING"); err != nil {
		t.Errorf("viewer from the edited file: %v", err)
	}
	if _, err := asUser(addr, "admin", "adminpw", "PING"); err != nil {
		t.Errorf("admin with the file's password: %v", err)
	}
	if b, _ := os.ReadFile(path + ".out"); !strings.Contains(string(b), "user lines edited in the configuration file") {
		t.Errorf("the start after the edit did not log why the run-time users were dropped")
	}
}
