package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// tree writes files (name -> contents, names relative to a new temporary
// directory) and returns the directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInclude(t *testing.T) {
	dir := tree(t, map[string]string{
		"main.conf":          "port 1\nmin-agents 3\ninclude conf.d/*.conf\ninclude sub/masters.conf\nsentinel vip m 198.18.0.100/24 eth0\n",
		"conf.d/10-a.conf":   "port 2\n",
		"conf.d/20-b.conf":   "port 3\n# later file wins\n",
		"conf.d/ignored.txt": "bogus\n",
		"sub/masters.conf":   "sentinel monitor m 198.18.0.1 6379 2\ninclude ../extra/down.conf\n",
		"extra/down.conf":    "sentinel down-after-milliseconds m 1000\n",
	})
	main := filepath.Join(dir, "main.conf")
	f, w, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	if f.Port != 3 || f.Master("m") == nil || f.Master("m").DownAfter.Milliseconds() != 1000 || len(f.Master("m").VIPs) != 1 {
		t.Errorf("result:\n%s", f.Effective())
	}
	want := []string{main, filepath.Join(dir, "conf.d/10-a.conf"), filepath.Join(dir, "conf.d/20-b.conf"),
		filepath.Join(dir, "sub/masters.conf"), filepath.Join(dir, "sub/../extra/down.conf")}
	if !slices.Equal(f.Files, want) {
		t.Errorf("Files = %q\nwant %q", f.Files, want)
	}
	if !strings.Contains(f.Effective(), "# read from: "+main+", ") {
		t.Errorf("effective config does not list the files read")
	}
}

func TestIncludeErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		file  string // where the error is, relative
		line  int
		msg   string
	}{
		{"missing", map[string]string{"main.conf": "\ninclude nope.conf\n"}, "main.conf", 2, "nope.conf: no such file or directory"},
		{"self", map[string]string{"main.conf": "include main.conf\n"}, "main.conf", 1, "include loop"},
		{"loop", map[string]string{
			"main.conf": "include a.conf\n",
			"a.conf":    "include b.conf\n",
			"b.conf":    "port 1\ninclude a.conf\n",
		}, "b.conf", 2, "include loop"},
		{"glob loop", map[string]string{"main.conf": "include *.conf\n"}, "main.conf", 1, "include loop"},
		{"directory", map[string]string{"main.conf": "include d\n", "d/x": ""}, "main.conf", 1, "not a regular file (a directory)"},
		{"device", map[string]string{"main.conf": "port 1\ninclude /dev/zero\n"}, "main.conf", 2, "/dev/zero: not a regular file (a character device)"},
		{"too large", map[string]string{"main.conf": "include big.conf\n", "big.conf": "#" + strings.Repeat("x", maxConfigSize) + "\n"},
			"main.conf", 1, "big.conf: larger than 8388608 bytes"},
		{"too large together", map[string]string{
			"main.conf": "include *.inc\n",
			"a.inc":     "#" + strings.Repeat("x", maxConfigSize/2) + "\n",
			"b.inc":     "#" + strings.Repeat("x", maxConfigSize/2) + "\n",
		}, "main.conf", 1, "b.inc: larger than 8388608 bytes, the most a configuration (all its files together) may hold"},
		{"arity", map[string]string{"main.conf": "include a b\n"}, "main.conf", 1, "want include <path>"},
		{"empty", map[string]string{"main.conf": "include \"\"\n"}, "main.conf", 1, "empty path"},
		{"bad pattern", map[string]string{"main.conf": "include [x\n"}, "main.conf", 1, "bad pattern"},
		{"error inside include", map[string]string{
			"main.conf": "include inc.conf\n",
			"inc.conf":  "\n\nport zero\n",
		}, "inc.conf", 3, `port: invalid port "zero"`},
		{"unknown master across files", map[string]string{
			"main.conf": "include inc.conf\nsentinel monitor m 198.18.0.1 6379 1\n",
			"inc.conf":  "sentinel parallel-syncs n 1\n",
		}, "inc.conf", 1, `unknown master "n"`},
		{"duplicate master across files", map[string]string{
			"main.conf": "sentinel monitor m 198.18.0.1 6379 1\ninclude inc.conf\n",
			"inc.conf":  "sentinel monitor m 198.18.0.1 6379 1\n",
		}, "inc.conf", 1, "main.conf:1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree(t, tt.files)
			_, _, err := Load(filepath.Join(dir, "main.conf"))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *config.Error", err)
			}
			if ce.File != filepath.Join(dir, tt.file) || ce.Line != tt.line || !strings.Contains(ce.Error(), tt.msg) {
				t.Errorf("err = %v\nwant %s:%d containing %q", err, tt.file, tt.line, tt.msg)
			}
		})
	}
}

func TestIncludeGlobNoMatch(t *testing.T) {
	dir := tree(t, map[string]string{"main.conf": "include conf.d/*.conf\n"})
	f, w, err := Load(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != 1 || w[0].Directive != "include" || !strings.Contains(w[0].Msg, "matches no file") {
		t.Errorf("warnings: %v", w)
	}
	if len(f.Files) != 1 {
		t.Errorf("files: %v", f.Files)
	}
}

func TestIncludeAbsoluteAndSymlinkLoop(t *testing.T) {
	dir := tree(t, map[string]string{"real/a.conf": "port 7\n"})
	main := filepath.Join(dir, "main.conf")
	if err := os.WriteFile(main, []byte("include "+filepath.Join(dir, "real/a.conf")+"\ninclude link.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// link.conf is main.conf under another name: still a loop.
	if err := os.Symlink(main, filepath.Join(dir, "link.conf")); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(main)
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 || !strings.Contains(ce.Error(), "include loop") {
		t.Errorf("err = %v", err)
	}
}

func TestIncludeDepth(t *testing.T) {
	files := map[string]string{}
	for i := 0; i <= maxIncludeDepth+1; i++ {
		files[filepath.Join("d", string(rune('a'+i))+".conf")] = "include " + string(rune('a'+i+1)) + ".conf\n"
	}
	files["main.conf"] = "include d/a.conf\n"
	dir := tree(t, files)
	_, _, err := Load(filepath.Join(dir, "main.conf"))
	if err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("err = %v", err)
	}
}

// TestIncludeSpecialFilesFailFast: includes of a FIFO (which would block
// the open) and of devices fail at once, naming the problem.
func TestIncludeSpecialFilesFailFast(t *testing.T) {
	dir := tree(t, map[string]string{})
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, "not a regular file (a FIFO)"},
		{"/dev/zero", "not a regular file (a character device)"},
		{"/dev/urandom", "not a regular file (a character device)"},
	} {
		main := filepath.Join(dir, "main.conf")
		if err := os.WriteFile(main, []byte("include "+tc.path+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, _, err := Load(main); done <- err }()
		if err := testenv.Receive(t, done, 10*time.Second, "result of include "+tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("include %s: err = %v, want %q", tc.path, err, tc.want)
		}
		// The main file itself is held to the same rule.
		if _, _, err := Load(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s): err = %v, want %q", tc.path, err, tc.want)
		}
	}
	if _, _, err := Parse(testPath, make([]byte, maxConfigSize+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Parse of %d bytes: err = %v", maxConfigSize+1, err)
	}
}
