package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stream is govulncheck -format json output, cut down: one called
// vulnerability in the standard library, one in a module, one only imported.
const stream = `{"config": {"protocol_version": "v1.0.0", "scanner_name": "govulncheck"}}
{"progress": {"message": "Scanning your code"}}
{"osv": {"id": "GO-2026-0001", "modified": "2026-01-01T00:00:00Z"}}
{"finding": {"osv": "GO-2026-0001", "fixed_version": "v1.26.9", "trace": [{"module": "stdlib", "version": "v1.26.8", "package": "net/http", "function": "Serve"}, {"module": "example.com/m", "package": "example.com/m", "function": "main"}]}}
{"finding": {"osv": "GO-2026-0002", "fixed_version": "v0.60.0", "trace": [{"module": "golang.org/x/net", "version": "v0.59.0", "package": "golang.org/x/net/http2", "function": "ReadFrame"}]}}
{"finding": {"osv": "GO-2026-0003", "fixed_version": "v1.2.0", "trace": [{"module": "example.com/dep", "version": "v1.1.0", "package": "example.com/dep/x"}]}}
`

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		accepted map[string]string
		failed   bool
		want     []string
	}{
		{"nothing accepted", nil, true, []string{"VULNERABLE GO-2026-0001 in stdlib@v1.26.8 net/http.Serve", "VULNERABLE GO-2026-0002", "2 vulnerabilities called (0 accepted), 1 more"}},
		{"stdlib accepted", map[string]string{"GO-2026-0001": "needs go1.26.9"}, true, []string{"accepted  GO-2026-0001", "VULNERABLE GO-2026-0002"}},
		{"all accepted", map[string]string{"GO-2026-0001": "a", "GO-2026-0002": "b"}, false, []string{"2 vulnerabilities called (2 accepted)"}},
		{"stale entry", map[string]string{"GO-2026-0001": "a", "GO-2026-0002": "b", "GO-2026-0009": "c"}, false, []string{"GO-2026-0009 is accepted in the list but no longer found"}},
		{"uncalled does not fail", map[string]string{"GO-2026-0001": "a", "GO-2026-0002": "b"}, false, []string{"1 more in imported code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			failed, err := check(strings.NewReader(stream), tt.accepted, &out)
			if err != nil {
				t.Fatal(err)
			}
			if failed != tt.failed {
				t.Errorf("failed = %v, want %v\n%s", failed, tt.failed, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	if _, err := check(strings.NewReader("{not json"), nil, &strings.Builder{}); err == nil {
		t.Error("malformed input accepted")
	}
}

func TestReadAccepted(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("# comment\n\nGO-2026-0001 fixed in go1.26.9 only\n"), 0o644)
	got, err := readAccepted(good)
	if err != nil || got["GO-2026-0001"] != "fixed in go1.26.9 only" {
		t.Errorf("readAccepted = %v, %v", got, err)
	}
	for _, bad := range []string{"GO-2026-0001\n", "CVE-1 reason\n"} {
		p := filepath.Join(dir, "bad")
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := readAccepted(p); err == nil {
			t.Errorf("%q accepted without error", bad)
		}
	}
	// The project's own list parses.
	if _, err := readAccepted("../../.ci/govulncheck-accepted"); err != nil {
		t.Error(err)
	}
}
