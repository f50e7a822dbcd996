package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/systemd"
)

// logFile is the file named by the logfile directive. It is reopened on
// SIGHUP so that logrotate can move it away, as Redis (which opens it for
// every line) allows.
type logFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openLogFile(path string) (*logFile, error) {
	l := &logFile{path: path}
	return l, l.Reopen()
}

// Reopen closes the file and opens path again, creating it if it is gone.
func (l *logFile) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("logfile: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// configLogger is the logger the configuration asks for: the default
// (journal or stderr) unless logfile is set, standard output for an empty
// logfile, as in Redis, or the named file. The returned logFile is nil
// unless a file is open.
func configLogger(f *config.File, level slog.Leveler, def *slog.Logger) (*slog.Logger, *logFile, error) {
	if !f.LogFileSet {
		return def, nil, nil
	}
	if f.LogFile == "" {
		return slog.New(systemd.NewTextHandler(os.Stdout, level)), nil, nil
	}
	lf, err := openLogFile(f.LogFile)
	if err != nil {
		return nil, nil, err
	}
	var w io.Writer = lf
	return slog.New(systemd.NewTextHandler(w, level)), lf, nil
}
