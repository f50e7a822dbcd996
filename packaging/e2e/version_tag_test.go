package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVersionFromTag runs packaging/version.sh in a scratch repository (the
// project's own gets no tag from a test): no tag yet gives 0.0.0+git.N,
// an annotated release tag gives its version, and a commit after it sorts
// after that release.
func TestVersionFromTag(t *testing.T) {
	needTools(t, "git")
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "packaging/version.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "packaging"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "packaging/version.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	version := func() string {
		t.Helper()
		out, err := exec.Command(filepath.Join(dir, "packaging/version.sh")).CombinedOutput()
		if err != nil {
			t.Fatalf("version.sh: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "first")
	if got, want := version(), "0.0.0+git.1.g"+git("rev-parse", "--short=7", "HEAD"); got != want {
		t.Errorf("untagged: %q, want %q", got, want)
	}
	git("tag", "-a", "v1.2.3", "-m", "release 1.2.3")
	if got := version(); got != "1.2.3" {
		t.Errorf("at tag v1.2.3: %q, want 1.2.3", got)
	}
	git("commit", "-q", "--allow-empty", "-m", "second")
	if got, want := version(), "1.2.3+git.1.g"+git("rev-parse", "--short=7", "HEAD"); got != want {
		t.Errorf("after the tag: %q, want %q", got, want)
	}
}
