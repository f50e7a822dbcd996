package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCatalog checks the catalog's format: one entry per event, every
// header line systemd's parser accepts, no body line over 80 columns.
func TestCatalog(t *testing.T) {
	var b strings.Builder
	if err := WriteCatalog(&b); err != nil {
		t.Fatal(err)
	}
	cat := b.String()
	ids := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(cat))
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "-- "); ok {
			if ids[id] {
				t.Errorf("entry %s twice", id)
			}
			ids[id] = true
		}
		if len(line) > 80 && !strings.HasPrefix(line, "Subject:") {
			t.Errorf("line over 80 columns: %q", line)
		}
	}
	for _, e := range Events() {
		if !ids[e.MessageID] {
			t.Errorf("%s (%s) has no catalog entry", e.Name, e.MessageID)
		}
	}
	if len(ids) != len(Events()) {
		t.Errorf("%d entries for %d events", len(ids), len(Events()))
	}

	// journalctl itself parses it, where it is installed: --update-catalog
	// under a scratch root reads <root>/usr/lib/systemd/catalog/*.catalog.
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		t.Log("journalctl not installed: format checked by this test only")
		return
	}
	root := t.TempDir()
	dir := filepath.Join(root, "usr/lib/systemd/catalog")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "var/lib/systemd/catalog"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vipsentinel.catalog"), []byte(cat), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(journalctl, "--root="+root, "--update-catalog").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("journalctl --update-catalog: %v\n%s", err, out)
	}
	out, err = exec.Command(journalctl, "--root="+root, "--list-catalog").CombinedOutput()
	if err != nil {
		t.Fatalf("journalctl --list-catalog: %v\n%s", err, out)
	}
	for _, e := range Events() {
		if !strings.Contains(string(out), e.MessageID) {
			t.Errorf("journalctl does not list %s (%s)", e.MessageID, e.Name)
		}
	}
}
