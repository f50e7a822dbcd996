package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	cacheDir = "/var/cache/vipsentinel-e2e"
	suite    = "bookworm"
	// rootfsRecipe names the cached root file system's content; change it
	// (or the package list) to make the next run rebuild the cache.
	rootfsRecipe = "minbase-1"
)

// rootfsPackages are installed on top of debootstrap's minbase: a booting
// systemd, the agent's runtime dependencies and what the tests inspect with.
var rootfsPackages = []string{
	"systemd", "systemd-sysv", "dbus", "adduser", "procps", "iproute2", "nftables",
	"redis-server", "redis-tools", "iputils-ping",
}

// debianMirror returns the URI of the machine's configured Debian archive for
// suite, from /etc/apt/sources.list and sources.list.d (one-line and deb822
// formats).
func debianMirror(suite string) (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var uri string
		switch {
		case strings.HasSuffix(f, ".sources"):
			uri = mirrorFromDeb822(string(b), suite)
		case strings.HasSuffix(f, ".list") || f == "/etc/apt/sources.list":
			uri = mirrorFromOneLine(string(b), suite)
		}
		if uri != "" {
			return uri, nil
		}
	}
	return "", fmt.Errorf("no apt source for Debian %s main in /etc/apt/sources.list{,.d}", suite)
}

func mirrorFromOneLine(s, suite string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] != "deb" {
			continue
		}
		f = f[1:]
		if strings.HasPrefix(f[0], "[") { // [signed-by=... arch=...]
			for len(f) > 0 && !strings.HasSuffix(f[0], "]") {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			f = f[1:]
		}
		if len(f) >= 3 && f[1] == suite && slices.Contains(f[2:], "main") {
			return f[0]
		}
	}
	return ""
}

func mirrorFromDeb822(s, suite string) string {
	for _, stanza := range strings.Split(s, "\n\n") {
		fields := map[string][]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.Fields(v)
			}
		}
		if slices.Contains(fields["types"], "deb") && slices.Contains(fields["suites"], suite) &&
			slices.Contains(fields["components"], "main") && len(fields["uris"]) > 0 {
			return fields["uris"][0]
		}
	}
	return ""
}

// rootfsTarball returns the cached bookworm root file system tarball,
// building it first when missing. Concurrent test processes serialise on a
// lock file.
func rootfsTarball(t *testing.T) string {
	t.Helper()
	needTools(t, "debootstrap", "tar")
	sum := sha256.Sum256([]byte(suite + "\n" + rootfsRecipe + "\n" + strings.Join(rootfsPackages, ",")))
	tarball := filepath.Join(cacheDir, suite+"-"+hex.EncodeToString(sum[:6])+".tar")
	if _, err := os.Stat(tarball); err == nil {
		return tarball
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(cacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", cacheDir, err)
	}
	if _, err := os.Stat(tarball); err == nil { // built while we waited
		return tarball
	}
	mirror, err := debianMirror(suite)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dir, err := os.MkdirTemp(cacheDir, "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	t.Logf("building the %s root file system from %s (cached in %s)", suite, mirror, cacheDir)
	host(t, nil, "debootstrap", "--variant=minbase", "--include="+strings.Join(rootfsPackages, ","),
		suite, root, mirror)
	// The redis-server the package list installed stays enabled: the
	// single-node tests monitor it. The machine id debootstrap wrote stays
	// too: an empty one would make every boot a "first boot" that applies
	// unit presets. Downloaded .debs and package lists are not needed.
	host(t, nil, "chroot", root, "apt-get", "clean")
	lists, _ := filepath.Glob(filepath.Join(root, "var/lib/apt/lists/*_*"))
	for _, l := range lists {
		os.Remove(l)
	}
	tmp := tarball + ".tmp"
	host(t, nil, "tar", "-C", root, "--numeric-owner", "--xattrs", "-cf", tmp, ".")
	if err := os.Rename(tmp, tarball); err != nil {
		t.Fatal(err)
	}
	// Older recipes' tarballs are dead weight.
	old, _ := filepath.Glob(filepath.Join(cacheDir, suite+"-*.tar"))
	for _, o := range old {
		if o != tarball {
			os.Remove(o)
		}
	}
	t.Logf("root file system built in %v", time.Since(start).Round(time.Second))
	return tarball
}

// newRootfs extracts a fresh copy of the cached root file system; it is
// removed when the test ends.
func newRootfs(t *testing.T) string {
	t.Helper()
	tarball := rootfsTarball(t)
	sweepLeftovers(t)
	dir, err := os.MkdirTemp("/var/tmp", fmt.Sprintf("vipsentinel-e2e-root-%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeRootfs(t, dir) })
	host(t, nil, "tar", "-C", dir, "--numeric-owner", "--xattrs", "-xpf", tarball)
	return dir
}

// removeRootfs deletes dir, refusing if anything is still mounted below it
// (rm -rf would then reach into the mounted file system).
func removeRootfs(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
				t.Errorf("not removing %s: %s is still mounted", dir, f[4])
				return
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("remove %s: %v", dir, err)
	}
}

// nspawnPipe runs a command in root without booting it, as an image build
// would install a package: no systemd is running (/run/systemd/system is
// absent), so maintainer scripts take their offline paths.
func nspawnPipe(t *testing.T, root string, binds []string, args ...string) (string, error) {
	t.Helper()
	pipeRuns++
	full := inCgroups(containerCgroups(t, fmt.Sprintf("pipe-%d-%d", os.Getpid(), pipeRuns)),
		"-q", "--register=no", "--keep-unit", "--pipe", "-D", root)
	for _, b := range binds {
		full = append(full, "--bind-ro="+b)
	}
	return hostCmd(nil, append(full, args...)...)
}

// pipeRuns numbers nspawnPipe's cgroups (tests in this package run one at
// a time).
var pipeRuns int

// inCgroups returns the command line that moves itself into the cgroups
// whose cgroup.procs files are given, then runs systemd-nspawn with args.
func inCgroups(procs []string, args ...string) []string {
	cmd := append([]string{"/bin/sh", "-c",
		`while [ "$1" != -- ]; do echo $$ > "$1" || exit 1; shift; done; shift; exec systemd-nspawn "$@"`, "sh"}, procs...)
	return append(append(cmd, "--"), args...)
}

// container is a booted systemd-nspawn container.
type container struct {
	t      *testing.T
	name   string
	nspawn *exec.Cmd
	leader int // the container's PID 1, as seen from the host
	log    string
	done   chan struct{}
}

// boot starts systemd in root with systemd-nspawn and waits until it is
// running. extra are further nspawn options (networking, binds).
func boot(t *testing.T, root, name string, extra ...string) *container {
	t.Helper()
	c := startContainer(t, root, name, extra...)
	c.waitRunning()
	return c
}

// startContainer starts systemd in root with systemd-nspawn without waiting
// for the boot to finish (see waitRunning), so that several containers boot
// at once. --register=no --keep-unit make nspawn work without systemd as the
// host's PID 1.
func startContainer(t *testing.T, root, name string, extra ...string) *container {
	t.Helper()
	needTools(t, "systemd-nspawn", "nsenter")
	c := &container{t: t, name: name, log: filepath.Join(t.TempDir(), name+".console"), done: make(chan struct{})}
	logf, err := os.Create(c.log)
	if err != nil {
		t.Fatal(err)
	}
	// nspawn --keep-unit leaves the container in nspawn's own cgroup (it
	// splits it into "supervisor" and "payload"): containers started from
	// one cgroup would share and fight over the same tree ("Failed at step
	// CGROUP"), so each nspawn starts in a cgroup of its own.
	args := inCgroups(containerCgroups(t, name), append([]string{"-q", "--register=no", "--keep-unit", "-D", root, "-b",
		"--machine=" + name, "--console=pipe"}, extra...)...)
	c.nspawn = exec.Command(args[0], args[1:]...)
	c.nspawn.Stdout, c.nspawn.Stderr = logf, logf
	// If the test process dies (a -timeout panic skips cleanups), nspawn gets
	// SIGTERM and shuts the container down.
	c.nspawn.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	// The kernel sends Pdeathsig when the *thread* that forked nspawn
	// ends, not the process, and Go ends threads: one a goroutine leaves
	// locked after entering a network namespace (the VIP writers and
	// samplers do) is discarded when that goroutine returns. Forked from
	// such a thread, the container was shut down in the middle of
	// TestClusterUpgradeBooted (CI: "deactivating" right after the
	// writer stopped). So nspawn is forked, and waited for, on a thread
	// locked for the container's whole life.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := c.nspawn.Start()
		started <- err
		if err != nil {
			return
		}
		c.nspawn.Wait()
		logf.Close()
		close(c.done)
	}()
	if err := <-started; err != nil {
		logf.Close()
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	return c
}

// waitRunning waits until the container's systemd reports "running".
func (c *container) waitRunning() {
	t := c.t
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for c.leader == 0 {
		select {
		case <-c.done:
			t.Fatalf("systemd-nspawn %s exited during boot:\n%s", c.name, c.console())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: no systemd PID 1:\n%s", c.name, c.console())
		}
		c.leader = initChild(c.nspawn.Process.Pid)
		if c.leader == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Until systemd has created /run/systemd/system ("offline") and its
	// private socket, systemctl cannot answer.
	var (
		state string
		err   error
	)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		state, err = c.execCtx(ctx, "", "systemctl", "is-system-running", "--wait")
		cancel()
		early := strings.TrimSpace(state) == "offline" || err != nil && strings.Contains(err.Error(), "Failed to connect to bus")
		if !early || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.TrimSpace(state) != "running" {
		failed, _ := c.exec("systemctl", "--failed", "--no-legend")
		t.Fatalf("container %s: system state %q, want running (%v); failed units:\n%s\nconsole:\n%s",
			c.name, state, err, failed, c.console())
	}
}

// containerCgroups creates a cgroup for one container in the hierarchies
// systemd uses (cgroup v2, or on a hybrid host name=systemd and the unified
// one), removed when the test ends, and returns their cgroup.procs files.
func containerCgroups(t *testing.T, name string) []string {
	t.Helper()
	var parents []string
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		parents = []string{"/sys/fs/cgroup"}
	} else {
		for _, p := range []string{"/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"} {
			if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err == nil {
				parents = append(parents, p)
			}
		}
	}
	if len(parents) == 0 {
		t.Fatal("no cgroup hierarchy for systemd found under /sys/fs/cgroup")
	}
	var procs []string
	for _, p := range parents {
		dir := filepath.Join(p, "vipsentinel-e2e-"+name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("create cgroup: %v", err)
		}
		t.Cleanup(func() {
			if n, err := removeCgroup(dir); err != nil || n > 0 {
				t.Errorf("container %s: killed %d leftover processes; remove cgroup: %v", name, n, err)
			}
		})
		procs = append(procs, filepath.Join(dir, "cgroup.procs"))
	}
	return procs
}

// removeCgroup removes a container's cgroup and the ones its systemd left
// below it, deepest first (cgroups are removed with rmdir, one level at a
// time). Processes still in them belong to a container that did not shut
// down: they are killed, so that no container outlives its test, and
// counted.
func removeCgroup(dir string) (killed int, err error) {
	var dirs []string
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, d := range dirs {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		var rmErr error
		// A cgroup whose last process just exited can stay busy briefly.
		for try := 0; try < 50; try++ {
			if rmErr = syscall.Rmdir(dirs[i]); rmErr == nil || errors.Is(rmErr, syscall.ENOENT) {
				rmErr = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if rmErr != nil {
			return killed, fmt.Errorf("rmdir %s: %w", dirs[i], rmErr)
		}
	}
	return killed, nil
}

// initChild returns nspawn's child once it runs systemd, else 0.
func initChild(nspawn int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", nspawn, nspawn))
	if err != nil {
		return 0
	}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err == nil && strings.TrimSpace(string(comm)) == "systemd" {
			return pid
		}
	}
	return 0
}

func (c *container) console() string {
	b, _ := os.ReadFile(c.log)
	return string(b)
}

// execCtx runs a command inside the container (all its namespaces) with a
// clean environment, feeding it stdin.
func (c *container) execCtx(ctx context.Context, stdin string, args ...string) (string, error) {
	full := append([]string{"-t", strconv.Itoa(c.leader), "-a", "/usr/bin/env", "-i",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
		"SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", full...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), cmdError(append([]string{c.name + ":"}, args...), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String(), nil
}

// exec runs a command inside the container and returns its stdout.
func (c *container) exec(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return c.execCtx(ctx, "", args...)
}

// must is exec that fails the test on error.
func (c *container) must(args ...string) string {
	c.t.Helper()
	out, err := c.exec(args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// execCtxStdin is exec with stdin.
func (c *container) execCtxStdin(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return c.execCtx(ctx, stdin, args...)
}

// writeFile replaces the content of path inside the container, keeping the
// file's owner and mode when it exists.
func (c *container) writeFile(path, content string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.execCtx(ctx, content, "sh", "-c", `cat > "$1"`, "sh", path); err != nil {
		c.t.Fatal(err)
	}
}

// show returns systemctl show properties of a unit.
func (c *container) show(unit string, props ...string) map[string]string {
	c.t.Helper()
	out := c.must("systemctl", "show", "-p", strings.Join(props, ","), unit)
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// stop shuts the container down: SIGTERM makes systemd-nspawn ask the
// container's systemd for an orderly shutdown (SIGRTMIN+3). systemd ignores
// that while it is still starting, so the request is repeated. As a last
// resort the container's PID 1 is killed, which ends its PID namespace
// (killing only nspawn would leave the container running).
func (c *container) stop() {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.nspawn.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			c.t.Errorf("signal systemd-nspawn: %v", err)
		}
		select {
		case <-c.done:
			return
		case <-time.After(10 * time.Second):
		}
	}
	c.t.Errorf("container %s did not shut down within 60s; killing it", c.name)
	if leader := initChild(c.nspawn.Process.Pid); leader != 0 {
		syscall.Kill(leader, syscall.SIGKILL)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.nspawn.Process.Kill()
		<-c.done
	}
}

// sweepLeftovers removes what killed earlier runs of these tests left
// behind (a -timeout panic skips t.Cleanup): root file systems and network
// namespaces named after a process that no longer exists, after shutting
// down any container still running on such a root.
func sweepLeftovers(t *testing.T) {
	sweepOnce.Do(func() {
		dead := func(name, prefix string) bool {
			rest, ok := strings.CutPrefix(name, prefix)
			if !ok {
				return false
			}
			end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
			if end <= 0 {
				return false
			}
			pid, _ := strconv.Atoi(rest[:end])
			_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
			return pid != os.Getpid() && errors.Is(err, os.ErrNotExist)
		}
		if out, err := hostCmd(nil, "ip", "netns", "list"); err == nil {
			for _, line := range strings.Split(out, "\n") {
				if f := strings.Fields(line); len(f) > 0 && dead(f[0], "vse2e") {
					hostCmd(nil, "ip", "netns", "del", f[0])
				}
			}
		}
		roots, _ := filepath.Glob("/var/tmp/vipsentinel-e2e-root-*")
		for _, root := range roots {
			if !dead(filepath.Base(root), "vipsentinel-e2e-root-") {
				continue
			}
			for _, pid := range nspawnsOn(root) {
				syscall.Kill(pid, syscall.SIGTERM)
				for i := 0; i < 600 && processExists(pid); i++ {
					time.Sleep(100 * time.Millisecond)
				}
			}
			t.Logf("removing the leftover %s", root)
			removeRootfs(t, root)
		}
	})
}

var sweepOnce sync.Once

// nspawnsOn returns the systemd-nspawn processes running a container on root.
func nspawnsOn(root string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "systemd-nspawn" {
			continue
		}
		for i, a := range args {
			if a == "-D" && i+1 < len(args) && args[i+1] == root {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func processExists(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}
