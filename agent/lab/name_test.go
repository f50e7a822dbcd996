package lab

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		pid  int
		ok   bool
	}{
		{"vsl-123-beef-h1", "", 123, true},
		{"vsl-demo-123-beef-sw", "demo", 123, true},
		{"vsl-demo-123-beef-xyz12", "demo", 123, true}, // temp dir
		{"vsl-123-beef", "", 123, true},
		{"vsl-demo-123-bee-h1", "", 0, false},
		{"vsl-demo-123-zzzz-h1", "", 0, false},
		{"vsl-demo-0-beef-h1", "", 0, false},
		{"vsl-demo-x-beef-h1", "", 0, false},
		{"vsl-demo", "", 0, false},
		{"other-123-beef-h1", "", 0, false},
		{"vsl--123-beef-h1", "", 0, false},
	} {
		name, pid, ok := parseName(tc.in)
		if name != tc.name || pid != tc.pid || ok != tc.ok {
			t.Errorf("parseName(%q) = %q, %d, %v; want %q, %d, %v", tc.in, name, pid, ok, tc.name, tc.pid, tc.ok)
		}
	}
}

// recorder is a testing.TB that reports failure and keeps what is logged.
type recorder struct {
	testing.TB
	logs []string
}

func (r *recorder) Helper()      {}
func (r *recorder) Failed() bool { return true }
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func TestDumpLogs(t *testing.T) {
	RequireRoot(t)
	l, err := New(Config{Hosts: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := l.Hosts()[0].Start("sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 4")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(context.Background()); err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Fatalf("wait: %v", err)
	}
	rec := &recorder{TB: t}
	l.dumpLogs(rec)
	got := strings.Join(rec.logs, "\n")
	for _, want := range []string{"to-stdout", "to-stderr", "exit status 4", "h1:sh"} {
		if !strings.Contains(got, want) {
			t.Errorf("dump lacks %q:\n%s", want, got)
		}
	}
}
