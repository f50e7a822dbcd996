package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionFromGitDescribe(t *testing.T) {
	script := filepath.Join(repoRoot(t), "packaging/version.sh")
	for _, tc := range []struct{ describe, count, hash, want string }{
		{"v1.2.3", "0", "0", "1.2.3"},
		{"v1.2.3-4-gabc1234", "0", "0", "1.2.3+git.4.gabc1234"},
		{"v1.2.3-rc.1", "0", "0", "1.2.3-rc.1"},
		{"v1.2.3-rc.1-4-gabc1234", "0", "0", "1.2.3-rc.1+git.4.gabc1234"},
		{"v1.2.3-4-gabc1234-dirty", "0", "0", "1.2.3+git.4.gabc1234.dirty"},
		{"v1.2.3-dirty", "0", "0", "1.2.3+dirty"},
		{"", "12", "abc1234", "0.0.0+git.12.gabc1234"},
		{"-dirty", "12", "abc1234", "0.0.0+git.12.gabc1234.dirty"},
	} {
		out, err := exec.Command(script, tc.describe, tc.count, tc.hash).Output()
		if err != nil {
			t.Fatalf("version.sh %q: %v", tc.describe, err)
		}
		if got := strings.TrimSpace(string(out)); got != tc.want {
			t.Errorf("version.sh %q %s %s = %q, want %q", tc.describe, tc.count, tc.hash, got, tc.want)
		}
	}
	if v := defaultVersion(t); v == "" || strings.ContainsAny(v, " \n") {
		t.Errorf("version of the checkout: %q", v)
	}
}

// The mapped versions must sort the way releases happen, in dpkg and in rpm
// (with the release "-1" nfpm appends, and nfpm's "~" for prereleases).
func TestVersionsSort(t *testing.T) {
	needTools(t, "dpkg", "rpm")
	ordered := []string{ // ascending
		"0.0.0+git.12.gabc1234",
		"0.0.0+git.13.gdef5678",
		"1.2.3~rc.1",
		"1.2.3~rc.1+git.4.gabc1234",
		"1.2.3",
		"1.2.3+git.4.gabc1234",
		"1.2.3+git.4.gabc1234.dirty",
		"1.2.3+git.4.gabc1234.dirty.e2e", // upgradeVersion
		"1.2.3+git.10.gabc1234",
		"1.2.4",
	}
	for i := 0; i+1 < len(ordered); i++ {
		a, b := ordered[i]+"-1", ordered[i+1]+"-1"
		if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg: %s is not < %s", a, b)
		}
		out, err := exec.Command("rpm", "--eval", `%{lua: print(rpm.vercmp("`+a+`", "`+b+`"))}`).Output()
		if err != nil || strings.TrimSpace(string(out)) != "-1" {
			t.Errorf("rpm: vercmp(%s, %s) = %q (%v), want -1", a, b, out, err)
		}
	}
	if upgradeVersion("1.2.3") != "1.2.3+e2e" || upgradeVersion("1.2.3+git.4.gabc") != "1.2.3+git.4.gabc.e2e" {
		t.Error("upgradeVersion")
	}
}
