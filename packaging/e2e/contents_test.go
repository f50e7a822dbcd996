package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDebContents checks the deb's metadata, files, owners and modes, and
// that lintian (pedantic, all tags, run unprivileged) reports nothing beyond
// the reasoned overrides in packaging/lintian-overrides.
func TestDebContents(t *testing.T) {
	needTools(t, "dpkg-deb", "lintian", "setpriv")
	p := build(t, defaultVersion(t))

	field := func(name string) string {
		return strings.TrimSpace(host(t, nil, "dpkg-deb", "-f", p.Deb, name))
	}
	for name, want := range map[string]string{
		"Package":      "vipsentinel",
		"Version":      strings.Replace(p.Version, "-", "~", 1) + "-1",
		"Architecture": "amd64",
		"Depends":      "adduser, procps",
		"Recommends":   "redis-server",
	} {
		if got := field(name); got != want {
			t.Errorf("control %s = %q, want %q", name, got, want)
		}
	}

	listing := host(t, nil, "dpkg-deb", "-c", p.Deb)
	// The shipped documentation (internal/docgen, docs/, monitoring/).
	docs := map[string]string{
		"./usr/share/man/man8/vipsentinel.8.gz":               "-rw-r--r-- root/root",
		"./usr/share/man/man5/vipsentinel.conf.5.gz":          "-rw-r--r-- root/root",
		"./usr/share/doc/vipsentinel/metrics.md":              "-rw-r--r-- root/root",
		"./usr/share/doc/vipsentinel/troubleshooting.md":      "-rw-r--r-- root/root",
		"./usr/share/doc/vipsentinel/status-json.md":          "-rw-r--r-- root/root",
		"./usr/share/doc/vipsentinel/changelog.gz":            "-rw-r--r-- root/root",
		"./usr/share/bash-completion/completions/vipsentinel": "-rw-r--r-- root/root",
		"./usr/share/zsh/vendor-completions/_vipsentinel":     "-rw-r--r-- root/root",
		"./usr/lib/systemd/catalog/vipsentinel.catalog":       "-rw-r--r-- root/root",
		"./usr/share/vipsentinel/vipsentinel-alerts.yml":      "-rw-r--r-- root/root",
		"./usr/share/vipsentinel/vipsentinel-dashboard.json":  "-rw-r--r-- root/root",
	}
	for path, wantPerm := range map[string]string{
		"./usr/bin/vipsentinel":                           "-rwxr-xr-x root/root",
		"./usr/lib/systemd/system/vipsentinel.service":    "-rw-r--r-- root/root",
		"./usr/lib/sysusers.d/vipsentinel.conf":           "-rw-r--r-- root/root",
		"./etc/vipsentinel/vipsentinel.conf":              "-rw-r----- root/vipsentinel",
		"./usr/share/doc/vipsentinel/copyright":           "-rw-r--r-- root/root",
		"./usr/share/doc/vipsentinel/changelog.Debian.gz": "-rw-r--r--",
		"./usr/share/doc/vipsentinel/README.md":           "-rw-r--r-- root/root",
		"./usr/share/lintian/overrides/vipsentinel":       "-rw-r--r-- root/root",
	} {
		docs[path] = wantPerm
	}
	for path, wantPerm := range docs {
		line := grepLine(listing, path)
		if line == "" {
			t.Errorf("deb lacks %s:\n%s", path, listing)
		} else if !strings.HasPrefix(line, wantPerm) {
			t.Errorf("deb %s: %q, want %q", path, line, wantPerm)
		}
	}
	for _, forbidden := range []string{"./lib/", "./var/lib/vipsentinel", "./usr/sbin/"} {
		if strings.Contains(listing, forbidden) {
			t.Errorf("deb ships %s:\n%s", forbidden, listing)
		}
	}
	conffiles := host(t, nil, "sh", "-c", `dpkg-deb --ctrl-tarfile "$1" | tar -xO ./conffiles`, "sh", p.Deb)
	if strings.TrimSpace(conffiles) != "/etc/vipsentinel/vipsentinel.conf" {
		t.Errorf("conffiles = %q", conffiles)
	}

	// lintian refuses nothing as root but warns; run it as nobody on a
	// world-readable copy.
	dir, err := os.MkdirTemp("", "vipsentinel-lintian-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	deb := filepath.Join(dir, filepath.Base(p.Deb))
	host(t, nil, "cp", p.Deb, deb)
	for _, chmod := range [][]string{{"0755", dir}, {"0644", deb}} {
		host(t, nil, "chmod", chmod[0], chmod[1])
	}
	out, err := hostCmd(nil, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"env", "HOME="+dir, "TMPDIR="+dir,
		"lintian", "--pedantic", "--display-info", "--display-experimental", "--fail-on=error,warning,info,pedantic", deb)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("lintian: %v\n%s", err, out)
	}
}

func grepLine(listing, path string) string {
	for _, l := range strings.Split(listing, "\n") {
		if strings.HasSuffix(l, " "+path) {
			return l
		}
	}
	return ""
}

// TestRPMContents inspects the rpm with rpm -qp (never rpmlint as root: with
// nfpm's absolute cpio paths it would write the package into /).
func TestRPMContents(t *testing.T) {
	needTools(t, "rpm")
	p := build(t, defaultVersion(t))
	q := func(args ...string) string {
		return host(t, nil, append([]string{"rpm", "-qp"}, append(args, p.RPM)...)...)
	}
	if got, want := strings.TrimSpace(q("--qf", "%{NAME} %{VERSION}-%{RELEASE} %{ARCH} %{LICENSE}")),
		"vipsentinel "+strings.Replace(p.Version, "-", "~", 1)+"-1 x86_64 BSD-3-Clause"; got != want {
		t.Errorf("rpm header: %q, want %q", got, want)
	}
	files := q("--qf", `[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]`)
	for path, want := range map[string]string{
		"/usr/bin/vipsentinel":                               "-rwxr-xr-x root root ",
		"/usr/lib/systemd/system/vipsentinel.service":        "-rw-r--r-- root root ",
		"/usr/lib/sysusers.d/vipsentinel.conf":               "-rw-r--r-- root root ",
		"/etc/vipsentinel/vipsentinel.conf":                  "-rw-r----- root vipsentinel cn ", // %config(noreplace)
		"/etc/vipsentinel":                                   "drwxr-xr-x root root ",
		"/usr/share/licenses/vipsentinel/LICENSE":            "-rw-r--r-- root root l ",
		"/usr/share/doc/vipsentinel/README.md":               "-rw-r--r-- root root d ",
		"/usr/share/doc/vipsentinel/CHANGELOG.md":            "-rw-r--r-- root root d ",
		"/usr/share/doc/vipsentinel/metrics.md":              "-rw-r--r-- root root d ",
		"/usr/share/doc/vipsentinel/troubleshooting.md":      "-rw-r--r-- root root d ",
		"/usr/share/doc/vipsentinel/status-json.md":          "-rw-r--r-- root root d ",
		"/usr/share/man/man8/vipsentinel.8.gz":               "-rw-r--r-- root root ",
		"/usr/share/man/man5/vipsentinel.conf.5.gz":          "-rw-r--r-- root root ",
		"/usr/share/bash-completion/completions/vipsentinel": "-rw-r--r-- root root ",
		"/usr/share/zsh/site-functions/_vipsentinel":         "-rw-r--r-- root root ",
		"/usr/lib/systemd/catalog/vipsentinel.catalog":       "-rw-r--r-- root root ",
		"/usr/share/vipsentinel/vipsentinel-alerts.yml":      "-rw-r--r-- root root ",
		"/usr/share/vipsentinel/vipsentinel-dashboard.json":  "-rw-r--r-- root root ",
		"/usr/share/vipsentinel":                             "drwxr-xr-x root root ",
	} {
		line := grepLine(files, path)
		if !strings.HasPrefix(line, want) {
			t.Errorf("rpm %s: %q, want prefix %q\n%s", path, line, want, files)
		}
	}
	// The distribution's directories are not claimed.
	for _, dir := range []string{"/usr/lib/systemd/system", "/usr/lib/sysusers.d", "/usr/bin", "/etc",
		"/usr/share/man/man8", "/usr/lib/systemd/catalog", "/usr/share/bash-completion/completions"} {
		if grepLine(files, dir) != "" {
			t.Errorf("rpm owns the distribution directory %s", dir)
		}
	}
	scripts := q("--scripts")
	for _, want := range []string{
		"preinstall scriptlet", "systemd-sysusers --replace=/usr/lib/sysusers.d/vipsentinel.conf",
		"postinstall scriptlet", "systemctl --no-reload preset vipsentinel.service",
		"preuninstall scriptlet", "systemctl --no-reload disable --now vipsentinel.service",
		"postuninstall scriptlet", "systemctl try-reload-or-restart vipsentinel.service", "systemctl try-restart vipsentinel.service",
	} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm scriptlets lack %q:\n%s", want, scripts)
		}
	}
	if req := strings.Fields(q("--requires")); !slices.Contains(req, "systemd") {
		t.Errorf("rpm requires %q, want systemd", req)
	}
	if !strings.Contains(q("--changelog"), "Package build of commit") {
		t.Error("rpm has no changelog")
	}
}
