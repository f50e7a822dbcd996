package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/state"
)

// cmdImport is `vipsentinel import [--out file] <sentinel.conf>`: it turns
// a redis-sentinel configuration into one that works under the packaged,
// sandboxed unit, and moves the runtime state Redis wrote into it (myid,
// epochs, known replicas) into vipsentinel's state file, so that the agent
// takes over with the same identity and epochs. Run as root: Debian's
// /etc/redis/sentinel.conf is 0640 redis:redis, unreadable to the service
// user.
//
// Changes, each shown as a diff line:
//   - dir is set to the package's state directory: the old one
//     (/var/lib/redis) is read-only under ProtectSystem=strict;
//   - daemonize, pidfile and logfile are commented out: systemd supervises
//     the agent and the journal has its log (/var/log/redis is read-only
//     to it as well);
//   - the lines Redis's CONFIG REWRITE adds (sentinel myid, current-epoch,
//     config-epoch, leader-epoch, known-replica/known-slave) move to the
//     state file; known-sentinel lines stay, as they also let listed
//     redis-sentinel peers in while a group is migrated host by host.
func cmdImport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", defaultConfigPath, "configuration file to write")
	dir := fs.String("dir", config.DefaultDir, "state directory to set as dir (the package's StateDirectory)")
	force := fs.Bool("force", false, "replace an output file that is configured (the package's unedited template is always replaced)")
	dry := fs.Bool("dry-run", false, "show the differences only; write nothing")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vipsentinel import [--out file] [--dir dir] [--force] [--dry-run] /etc/redis/sentinel.conf\n\n"+
			"Writes a vipsentinel configuration from a redis-sentinel one (dir set to the state directory,\n"+
			"daemonize/pidfile/logfile commented out) and imports its runtime state (myid, epochs, known\n"+
			"replicas and sentinels) into the state file there; shows the differences. Run it as root.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, code, ok := parseCommand(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	src := pos[0]
	orig, _, err := config.Load(src)
	if err != nil {
		return configFailed(stderr, fmt.Errorf("import: %w", err))
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		return configFailed(stderr, err)
	}
	text, diff := convertSentinelConf(string(raw), src, *dir)
	fmt.Fprintf(stdout, "--- %s\n+++ %s\n", src, *out)
	for _, l := range diff {
		fmt.Fprintln(stdout, l)
	}
	if *dry {
		return exitOK
	}
	if fi, err := os.Stat(*out); err == nil && fi.Size() > 0 && !*force && !isTemplate(*out) {
		fmt.Fprintf(stderr, "vipsentinel import: %s exists and is configured: use --force to replace it\n", *out)
		return exitFail
	}
	if err := writeChecked(*out, text); err != nil {
		fmt.Fprintf(stderr, "vipsentinel import: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)

	// The state comes from the original file's runtime lines (state.Import
	// on a first start), written in the new dir.
	if err := prepareStateDir(*dir); err != nil {
		fmt.Fprintf(stderr, "vipsentinel import: %v\n", err)
		return exitFail
	}
	orig.Dir = *dir
	existed := fileExists(orig.StatePath())
	st, hs, _, err := state.Open(orig)
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel import: state: %v\n", err)
		return exitFail
	}
	st.Close()
	if err := chownLike(*dir, orig.StatePath(), orig.StatePath()+".lock"); err != nil {
		fmt.Fprintf(stderr, "vipsentinel import: %v\n", err)
		return exitFail
	}
	if existed {
		fmt.Fprintf(stdout, "kept the existing state file %s (merged with the configuration)\n", orig.StatePath())
	} else {
		id := hs.MyID
		if id == "" {
			id = "(none in the file: generated at the first start)"
		}
		fmt.Fprintf(stdout, "wrote %s: myid %s, current epoch %d, %d masters\n", orig.StatePath(), id, hs.CurrentEpoch, len(hs.Masters))
	}
	fmt.Fprintf(stdout, "next: vipsentinel check-config %s; systemctl disable --now redis-sentinel; systemctl enable --now vipsentinel\n", *out)
	return exitOK
}

// stateLines are the directives Redis's CONFIG REWRITE writes that the
// state file holds for vipsentinel.
var stateLines = map[string]bool{"myid": true, "current-epoch": true, "config-epoch": true, "leader-epoch": true,
	"known-replica": true, "known-slave": true}

// convertSentinelConf rewrites a sentinel.conf's text for vipsentinel (see
// cmdImport) and returns the new text and the changed lines as a diff.
func convertSentinelConf(in, src, dir string) (string, []string) {
	var b strings.Builder
	var diff []string
	sawDir := false
	header := "# Imported from " + src + " by vipsentinel import."
	b.WriteString(header + "\n")
	diff = append(diff, "+"+header)
	lines := strings.SplitAfter(in, "\n")
	for i, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		if body == "" && i == len(lines)-1 {
			break
		}
		f := strings.Fields(body)
		key, sub := "", ""
		if len(f) > 0 {
			key = strings.ToLower(f[0])
		}
		if len(f) > 1 {
			sub = strings.ToLower(f[1])
		}
		at := fmt.Sprintf("@@ line %d @@", i+1)
		switch {
		case key == "dir":
			sawDir = true
			nl := "dir " + dir
			if body != nl {
				diff = append(diff, at, "-"+body, "+"+nl)
			}
			b.WriteString(nl + "\n")
		case key == "daemonize" || key == "pidfile" || key == "logfile":
			nl := "# " + body + "   # vipsentinel import: systemd supervises the agent; its log is in the journal"
			diff = append(diff, at, "-"+body, "+"+nl)
			b.WriteString(nl + "\n")
		case key == "sentinel" && stateLines[sub]:
			diff = append(diff, at, "-"+body+"   (moved to the state file)")
		default:
			b.WriteString(body + "\n")
		}
	}
	if !sawDir {
		nl := "dir " + dir
		diff = append(diff, "@@ end @@", "+"+nl)
		b.WriteString(nl + "\n")
	}
	return b.String(), diff
}

// writeChecked writes text to path atomically (0640: it may hold
// passwords; the service's group reads it), after checking that it loads.
func writeChecked(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".import-*.conf")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if _, _, err := config.Load(tmp.Name()); err != nil {
		return fmt.Errorf("the converted configuration does not load (nothing written): %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return err
	}
	if g, err := user.LookupGroup("vipsentinel"); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			if err := os.Chown(tmp.Name(), 0, gid); err != nil && !errors.Is(err, syscall.EPERM) {
				return err
			}
		}
	}
	return os.Rename(tmp.Name(), path)
}

// prepareStateDir creates dir if needed, owned by the vipsentinel user
// when it exists (systemd's StateDirectory= would create it the same way
// at the first start).
func prepareStateDir(dir string) error {
	if fileExists(dir) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	if u, err := user.Lookup("vipsentinel"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return os.Chown(dir, uid, gid)
	}
	return nil
}

// chownLike gives files the owner of dir: the state file written by root
// must be the service user's, as the directory is.
func chownLike(dir string, files ...string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid == uint32(os.Geteuid()) {
		return nil
	}
	for _, f := range files {
		if err := os.Chown(f, int(sys.Uid), int(sys.Gid)); err != nil {
			return fmt.Errorf("give %s to the state directory's owner: %w", f, err)
		}
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
