package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/config"
)

// A logfile is appended to, and after logrotate moves it away, a reopen
// (SIGHUP) writes to a new file at the same path.
func TestLogFileReopens(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vipsentinel.log")
	def := slog.New(slog.DiscardHandler)
	log, lf, err := configLogger(&config.File{LogFile: path, LogFileSet: true}, slog.LevelInfo, def)
	if err != nil || lf == nil || log == def {
		t.Fatalf("configLogger: %v, %v", lf, err)
	}
	log.Info("before rotation")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	log.Info("still the old file")
	if err := lf.Reopen(); err != nil {
		t.Fatal(err)
	}
	log.Info("after rotation")
	for file, want := range map[string][]string{
		path + ".1": {"before rotation", "still the old file"},
		path:        {"after rotation"},
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(string(b), "\n"); got != len(want) {
			t.Errorf("%s: %d lines, want %d:\n%s", file, got, len(want), b)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q:\n%s", file, w, b)
			}
		}
	}
}

func TestLogFileChoice(t *testing.T) {
	def := slog.New(slog.DiscardHandler)
	if log, lf, err := configLogger(&config.File{}, slog.LevelInfo, def); log != def || lf != nil || err != nil {
		t.Errorf("unset logfile: want the default logger")
	}
	if log, lf, err := configLogger(&config.File{LogFileSet: true}, slog.LevelInfo, def); log == def || lf != nil || err != nil {
		t.Errorf(`logfile "": want a standard output logger`)
	}
	if _, _, err := configLogger(&config.File{LogFile: "/nonexistent/dir/x.log", LogFileSet: true}, slog.LevelInfo, def); err == nil || !strings.Contains(err.Error(), "logfile") {
		t.Errorf("unwritable logfile: %v", err)
	}
}
