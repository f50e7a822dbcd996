package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// killWait bounds how long Close waits for a killed process to be reaped.
const killWait = 5 * time.Second

// Proc is a background process started by Host.Start. Signals go to its whole
// process group, so children it forks are included.
type Proc struct {
	Host *Host
	Cmd  []string // program and arguments

	pid     int
	logPath string
	done    chan struct{} // closed once the process has been reaped

	mu  sync.Mutex
	err error // Wait result, valid after done
}

// Pid is the process id (also its process group id).
func (p *Proc) Pid() int { return p.pid }

func (p *Proc) String() string {
	return fmt.Sprintf("%s:%s[%d]", p.Host.Name, p.Cmd[0], p.pid)
}

// Running reports whether the process has not exited yet (a stopped process
// is running).
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process group unless the process has been reaped,
// in which case the pid may already belong to someone else.
func (p *Proc) signal(sig syscall.Signal) error {
	if !p.Running() {
		return fmt.Errorf("%s: signal %v: %w", p, sig, os.ErrProcessDone)
	}
	if err := syscall.Kill(-p.pid, sig); err != nil {
		return fmt.Errorf("%s: signal %v: %w", p, sig, err)
	}
	return nil
}

// Kill sends SIGKILL to the process group. Killing an exited process is not
// an error.
func (p *Proc) Kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// Term sends SIGTERM to the process group. Terminating an exited process is
// not an error.
func (p *Proc) Term() error {
	if err := p.signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// Stop freezes the process group with SIGSTOP (a stall: sockets stay open,
// nothing answers). It fails if the process has exited.
func (p *Proc) Stop() error { return p.signal(syscall.SIGSTOP) }

// Cont resumes a stopped process group with SIGCONT.
func (p *Proc) Cont() error { return p.signal(syscall.SIGCONT) }

// Wait waits until the process exits or ctx is done. It returns the exit
// error (nil for status 0; a killed process gives "signal: killed").
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.err != nil {
			return fmt.Errorf("%s: %w", p, p.err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: wait: %w", p, ctx.Err())
	}
}

// waitExit waits for the reaper after a kill.
func (p *Proc) waitExit(d time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(d):
		return fmt.Errorf("%s: still running %v after SIGKILL", p, d)
	}
}

// Log returns everything the process wrote to standard output and error so
// far. After the lab is closed the log is gone and Log returns "".
func (p *Proc) Log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	return string(b)
}

// LogPath is the file the process's output goes to (inside Lab.Dir).
func (p *Proc) LogPath() string { return p.logPath }

// describe is a one-line status for failure dumps.
func (p *Proc) describe() string {
	state := "running"
	if !p.Running() {
		p.mu.Lock()
		state = "exited"
		if p.err != nil {
			state = "exited: " + p.err.Error()
		}
		p.mu.Unlock()
	}
	return fmt.Sprintf("%s %s (%s)", p, strings.Join(p.Cmd, " "), state)
}
