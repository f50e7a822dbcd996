package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestDebInstallWithoutSystemd installs, upgrades and purges the deb in a
// root file system where systemd is not running, as an image build would:
// the user is created before unpacking (the conffile's group resolves), the
// unit is enabled for the next boot, nothing is started, and purge removes
// user, state and the enablement.
func TestDebInstallWithoutSystemd(t *testing.T) {
	testenv.NeedRoot(t)
	needTools(t, "systemd-nspawn")
	v1, v2 := upgradeBuilds(t)
	root := newRootfs(t)
	binds := []string{filepath.Dir(v1.Deb) + ":/srv/v1", filepath.Dir(v2.Deb) + ":/srv/v2"}
	in := func(args ...string) string {
		t.Helper()
		out, err := nspawnPipe(t, root, binds, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	in("dpkg", "-i", "/srv/v1/"+filepath.Base(v1.Deb))
	pw := strings.TrimSpace(in("getent", "passwd", "vipsentinel"))
	if f := strings.Split(pw, ":"); len(f) != 7 || f[5] != "/var/lib/vipsentinel" || !strings.HasSuffix(f[6], "nologin") {
		t.Errorf("service user: %q", pw)
	}
	if got := strings.TrimSpace(in("stat", "-c", "%U:%G %a", "/etc/vipsentinel/vipsentinel.conf")); got != "root:vipsentinel 640" {
		t.Errorf("configuration file: %s, want root:vipsentinel 640", got)
	}
	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/vipsentinel.service")
	if target, err := os.Readlink(wants); err != nil || target != "/lib/systemd/system/vipsentinel.service" && target != "/usr/lib/systemd/system/vipsentinel.service" {
		t.Errorf("not enabled for the next boot: %s -> %q (%v)", wants, target, err)
	}

	conf := filepath.Join(root, "etc/vipsentinel/vipsentinel.conf")
	appendFile(t, conf, "\n# edited before the upgrade\n")
	in("dpkg", "-i", "/srv/v2/"+filepath.Base(v2.Deb))
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "# edited before the upgrade") {
		t.Error("upgrade lost the edited configuration")
	}

	in("dpkg", "--purge", "vipsentinel")
	if out, err := nspawnPipe(t, root, nil, "getent", "passwd", "vipsentinel"); err == nil {
		t.Errorf("purge kept the service user: %s", out)
	}
	if out, err := nspawnPipe(t, root, nil, "getent", "group", "vipsentinel"); err == nil {
		t.Errorf("purge kept the service group: %s", out)
	}
	for _, p := range []string{"etc/vipsentinel", "var/lib/vipsentinel", "usr/bin/vipsentinel",
		"etc/systemd/system/multi-user.target.wants/vipsentinel.service"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("purge left /%s", p)
		}
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRPMScriptlets runs the rpm's scriptlets for real with rpm --root on the
// Debian root file system (the scriptlets run chrooted there; --nodeps since
// Debian's rpm database knows no "systemd" package): install creates the
// user and applies the preset, upgrade keeps the edited %config(noreplace),
// erase disables the unit and keeps the user, as Fedora/RHEL packages do.
func TestRPMScriptlets(t *testing.T) {
	testenv.NeedRoot(t)
	needTools(t, "rpm")
	v1, v2 := upgradeBuilds(t)
	root := newRootfs(t)
	rpm := func(args ...string) string {
		t.Helper()
		return host(t, nil, append([]string{"rpm", "--root=" + root}, args...)...)
	}
	rpm("--initdb")
	rpm("-ivh", "--nodeps", v1.RPM)
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "\nvipsentinel:") {
		t.Errorf("%%pre did not create the user")
	}
	conf := filepath.Join(root, "etc/vipsentinel/vipsentinel.conf")
	if got := strings.TrimSpace(host(t, nil, "chroot", root, "stat", "-c", "%U:%G %a", "/etc/vipsentinel/vipsentinel.conf")); got != "root:vipsentinel 640" {
		t.Errorf("configuration file: %s, want root:vipsentinel 640", got)
	}
	// Debian's preset policy enables everything; Fedora's would not.
	wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants/vipsentinel.service")
	if _, err := os.Lstat(wants); err != nil {
		t.Errorf("%%post preset did not enable the unit: %v", err)
	}

	appendFile(t, conf, "\n# edited before the upgrade\n")
	rpm("-Uvh", "--nodeps", v2.RPM)
	if got := strings.TrimSpace(rpm("-q", "--qf", "%{VERSION}", "vipsentinel")); got != strings.Replace(v2.Version, "-", "~", 1) {
		t.Errorf("after upgrade: version %s, want %s", got, v2.Version)
	}
	if b, _ := os.ReadFile(conf); !strings.Contains(string(b), "# edited before the upgrade") {
		t.Error("upgrade replaced the edited noreplace configuration")
	}
	if _, err := os.Lstat(wants); err != nil {
		t.Errorf("upgrade disabled the unit: %v", err)
	}

	rpm("-e", "vipsentinel")
	if _, err := os.Lstat(wants); err == nil {
		t.Error("the preun scriptlet did not disable the unit")
	}
	if _, err := os.Stat(filepath.Join(root, "usr/bin/vipsentinel")); err == nil {
		t.Error("erase left /usr/bin/vipsentinel")
	}
	if _, err := os.Stat(conf + ".rpmsave"); err != nil {
		t.Errorf("erase did not keep the edited configuration as .rpmsave: %v", err)
	}
	passwd, _ = os.ReadFile(filepath.Join(root, "etc/passwd"))
	if !strings.Contains(string(passwd), "\nvipsentinel:") {
		t.Error("erase removed the service user (rpm packages keep it)")
	}
}
