package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// placeholder matches the <...> fields of the configuration file the
// packages install (packaging/vipsentinel.conf): <master-ip>, <vip>,
// <interface>, <agent-password>.
var placeholder = regexp.MustCompile(`<[a-z][a-z-]*>`)

// cmdConfigured is `vipsentinel configured <config>`, the unit's
// ExecCondition=: it exits 1 (systemd then skips the start, and the unit
// is inactive rather than failed) while the file is still the packages'
// template, whose placeholders an operator has not filled in, and 0
// otherwise. A configuration that is edited but wrong passes, so that the
// agent itself starts and fails with the error (exit 78), which is what
// an operator must see.
func cmdConfigured(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "Usage: vipsentinel configured <config>\n\nExit 0 when <config> has been configured, 1 while it still holds the package's <placeholders>.")
		if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
			return exitOK
		}
		return exitUsage
	}
	if n, p := firstPlaceholder(args[0]); p != "" {
		fmt.Fprintf(stderr, "%s:%d: %s is a placeholder: vipsentinel is not configured yet (edit the file, or run vipsentinel import /etc/redis/sentinel.conf), so it is not started\n", args[0], n, p)
		return exitFail
	}
	return exitOK
}

// isTemplate reports whether path is still the packages' unedited
// template (it holds a placeholder).
func isTemplate(path string) bool {
	_, p := firstPlaceholder(path)
	return p != ""
}

// firstPlaceholder returns the line number and text of the first
// placeholder outside a comment in path, or "" (also when path cannot be
// read: the agent reports that itself; ConditionFileNotEmpty= already
// skips a missing file).
func firstPlaceholder(path string) (int, string) {
	f, err := os.Open(path)
	if err != nil {
		return 0, ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if p := placeholder.FindString(line); p != "" {
			return n, p
		}
	}
	return 0, ""
}
