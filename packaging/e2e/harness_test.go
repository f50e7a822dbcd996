package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// repoRoot is the repository's top directory (this package is packaging/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nfpm.yaml")); err != nil {
		t.Fatalf("repository root not found from %s: %v", dir, err)
	}
	return dir
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, "%s not installed (.ci/deps installs it): %v", tool, err)
		}
	}
}

// cmdError formats a failed command with its output.
func cmdError(args []string, err error, stdout, stderr []byte) error {
	return fmt.Errorf("%s: %w\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
}

// host runs a command on the host and returns its stdout; it fails the test
// on a non-zero exit.
func host(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, err := hostCmd(env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hostCmd(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), cmdError(args, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String(), nil
}

// packages are one build of the deb and the rpm.
type packages struct {
	Version string // as build.sh was given it (semver)
	Deb     string
	RPM     string
}

// builds caches package builds per version for the test binary's lifetime:
// building takes seconds and several tests need the same packages.
var builds = struct {
	sync.Mutex
	dir     string
	version string
	m       map[string]packages
}{m: map[string]packages{}}

func TestMain(m *testing.M) {
	start := time.Now()
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	fmt.Printf("packaging/e2e: took %v\n", time.Since(start).Round(time.Second))
	os.Exit(code)
}

// defaultVersion is the version build.sh derives from git describe, taken
// once per test binary: commits landing during the run must not make each
// test build its own packages.
func defaultVersion(t *testing.T) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if builds.version == "" {
		builds.version = strings.TrimSpace(host(t, nil, filepath.Join(repoRoot(t), "packaging/version.sh")))
	}
	return builds.version
}

// upgradeVersion returns a version that dpkg and rpm sort after v.
func upgradeVersion(v string) string {
	if strings.Contains(v, "+") {
		return v + ".e2e"
	}
	return v + "+e2e"
}

// build runs packaging/build.sh for version, once per test binary.
func build(t *testing.T, version string) packages {
	t.Helper()
	return buildWith(t, version, "")
}

// upgradePackages packages the binary of the default build again under a
// later version: compiling once is enough to test an upgrade.
func upgradePackages(t *testing.T, base packages) packages {
	t.Helper()
	dir := t.TempDir()
	host(t, nil, "dpkg-deb", "-x", base.Deb, dir)
	return buildWith(t, upgradeVersion(base.Version), filepath.Join(dir, "usr/bin/vipsentinel"))
}

// upgradeBuilds returns the two ends of an upgrade: the default build and
// its binary packaged again under a later version (upgradePackages).
func upgradeBuilds(t *testing.T) (v1, v2 packages) {
	t.Helper()
	v1 = build(t, defaultVersion(t))
	return v1, upgradePackages(t, v1)
}

func buildWith(t *testing.T, version, binary string) packages {
	t.Helper()
	needTools(t, "git")
	builds.Lock()
	defer builds.Unlock()
	if p, ok := builds.m[version]; ok {
		return p
	}
	if builds.dir == "" {
		d, err := os.MkdirTemp("", "vipsentinel-e2e-pkgs-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir = d
	}
	dist := filepath.Join(builds.dir, version)
	start := time.Now()
	env := []string{"VERSION=" + version, "DIST=" + dist}
	if binary != "" {
		env = append(env, "VIPSENTINEL_BINARY="+binary)
	}
	out := host(t, env, "bash", filepath.Join(repoRoot(t), "packaging/build.sh"))
	lines := strings.Fields(out)
	p := packages{Version: version}
	for _, l := range lines {
		switch {
		case strings.HasSuffix(l, ".deb"):
			p.Deb = l
		case strings.HasSuffix(l, ".rpm"):
			p.RPM = l
		}
	}
	if p.Deb != filepath.Join(dist, "vipsentinel_"+version+"_amd64.deb") ||
		p.RPM != filepath.Join(dist, "vipsentinel-"+version+".x86_64.rpm") {
		t.Fatalf("build.sh printed %q; want dist/vipsentinel_%s_amd64.deb and dist/vipsentinel-%s.x86_64.rpm", out, version, version)
	}
	t.Logf("built %s packages in %v", version, time.Since(start).Round(time.Millisecond))
	builds.m[version] = p
	return p
}
