package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpOnStdout: every way of asking for help answers on standard output
// with exit status 0, so that `vipsentinel status --help | less` works.
func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"run", "--help"}, {"check-config", "--help"}, {"check-config", "-h"},
		{"status", "--help"}, {"status", "-h"},
	} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		if code != exitOK || !strings.Contains(out.String(), "Usage") || errb.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0, the usage on stdout, nothing on stderr",
				args, code, out.String(), errb.String())
		}
	}
}
