package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vipsentinel/vipsentinel/agent/api"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/clock"
	"github.com/vipsentinel/vipsentinel/internal/defaults"
	"github.com/vipsentinel/vipsentinel/systemd"
)

// Script limits, as Sentinel's SENTINEL_SCRIPT_MAX_QUEUE, _MAX_RUNNING and
// _MAX_RETRY.
const (
	scriptMaxQueue   = 256
	scriptMaxRunning = 16
	scriptMaxRetry   = 10
)

// scriptRunner runs notification and client-reconfig scripts with
// Sentinel's conventions: fork+exec without a shell (arguments are passed
// as they are, never interpreted), the environment inherited, SIGKILL after
// the maximum run time, a retry with a doubling delay when the script exits
// with 1 or is killed by a signal (up to 10 times), and no retry for exit
// codes >= 2. Unlike Sentinel's, scripts run without the agent's
// capabilities (startWithoutCaps). Its methods are safe for concurrent use.
type scriptRunner struct {
	log   *slog.Logger
	emit  func(sentinel.Event)
	clock clock.Clock
	// capset, when set by a test, stands in for unix.Capset.
	capset func(*unix.CapUserHeader, *unix.CapUserData) error

	mu       sync.Mutex
	jobs     []*scriptJob
	running  int
	stopping bool
	wg       sync.WaitGroup
}

type scriptJob struct {
	run        sentinel.ScriptRun
	maxRuntime time.Duration
	retryDelay time.Duration
	retry      int
	running    bool
	pid        int
	started    time.Time
	next       time.Time
	stopRetry  func() // cancels the retry's timer
	cmd        *exec.Cmd
}

func newScriptRunner(log *slog.Logger, emit func(sentinel.Event), clk clock.Clock) *scriptRunner {
	return &scriptRunner{log: log, emit: emit, clock: clk}
}

// run queues a script. t supplies the run-time limit and retry delay.
func (s *scriptRunner) run(sr sentinel.ScriptRun, t sentinel.Timing) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	if len(s.jobs) >= scriptMaxQueue {
		// Drop the oldest script that is not running, as Sentinel does.
		for i, j := range s.jobs {
			if !j.running {
				s.log.Warn("script queue full, dropping the oldest queued script", "path", j.run.Path, "master", j.run.Master)
				if j.stopRetry != nil {
					j.stopRetry()
				}
				s.jobs = append(s.jobs[:i], s.jobs[i+1:]...)
				break
			}
		}
		if len(s.jobs) >= scriptMaxQueue {
			s.log.Warn("script queue full of running scripts, not queuing", "path", sr.Path)
			return
		}
	}
	s.jobs = append(s.jobs, &scriptJob{run: sr, next: s.clock.Now(),
		maxRuntime: defaults.Positive(t.ScriptMaxRuntime, 60*time.Second),
		retryDelay: defaults.Positive(t.ScriptRetryDelay, 30*time.Second)})
	s.scheduleLocked()
}

// scheduleLocked starts due scripts while slots are free.
func (s *scriptRunner) scheduleLocked() {
	if s.stopping {
		return
	}
	now := s.clock.Now()
	for _, j := range s.jobs {
		if s.running >= scriptMaxRunning {
			return
		}
		if j.running || j.next.After(now) {
			continue
		}
		s.startLocked(j)
	}
}

func (s *scriptRunner) startLocked(j *scriptJob) {
	cmd := exec.Command(j.run.Path, j.run.Args...)
	// Own process group, so that SIGKILL on timeout also reaches what the
	// script started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Scripts inherit the environment, as Sentinel's do, minus the agent's
	// own systemd variables (NOTIFY_SOCKET, WATCHDOG_*), which would let a
	// script speak for the agent to systemd.
	cmd.Env = systemd.ChildEnv(os.Environ())
	out := &limitedBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	// A grandchild keeping the output pipe open must not hold Wait.
	cmd.WaitDelay = time.Second
	capset := s.capset
	if capset == nil {
		capset = unix.Capset
	}
	if err := startWithoutCaps(cmd, capset); err != nil {
		// Sentinel's child exits with 2 when execve fails: an error, no
		// retry.
		s.removeLocked(j)
		s.log.Warn("script cannot be started", "path", j.run.Path, "master", j.run.Master, "err", err)
		s.emitAsync(j.run, "-script-error", fmt.Sprintf("%s %d %d", j.run.Path, 0, 2))
		return
	}
	j.running, j.pid, j.started, j.cmd = true, cmd.Process.Pid, s.clock.Now(), cmd
	s.running++
	s.wg.Add(1)
	go s.wait(j, out)
}

func (s *scriptRunner) wait(j *scriptJob, out *limitedBuffer) {
	defer s.wg.Done()
	pid := j.pid
	timedOut := make(chan struct{})
	stopKiller := afterFunc(s.clock, j.maxRuntime, func() {
		close(timedOut)
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		s.emitEvent(j.run, "-script-timeout", fmt.Sprintf("%s %d", j.run.Path, pid))
	})
	err := j.cmd.Wait()
	stopKiller()

	sig, code := 0, 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = int(ws.Signal())
		} else {
			code = ee.ExitCode()
		}
	} else if err != nil {
		code = 2
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	j.running, j.cmd = false, nil
	retryable := sig != 0 || code == 1
	switch {
	case sig == 0 && code == 0:
		s.removeLocked(j)
		s.log.Debug("script done", "path", j.run.Path, "master", j.run.Master)
	case retryable && j.retry < scriptMaxRetry && !s.stopping:
		j.retry++
		delay := j.retryDelay << (j.retry - 1)
		j.next = s.clock.Now().Add(delay)
		s.log.Warn("script failed, will retry", "path", j.run.Path, "master", j.run.Master, "signal", sig, "exit_code", code,
			"retry", j.retry, "delay", delay.String(), "output", out.String())
		j.stopRetry = afterFunc(s.clock, delay, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.scheduleLocked()
		})
	default:
		s.removeLocked(j)
		s.log.Warn("script failed", "path", j.run.Path, "master", j.run.Master, "signal", sig, "exit_code", code, "output", out.String())
		s.emitAsync(j.run, "-script-error", fmt.Sprintf("%s %d %d", j.run.Path, sig, code))
	}
	s.scheduleLocked()
}

func (s *scriptRunner) removeLocked(j *scriptJob) {
	for i, x := range s.jobs {
		if x == j {
			s.jobs = append(s.jobs[:i], s.jobs[i+1:]...)
			return
		}
	}
}

// emitAsync publishes an event without holding the runner's lock.
func (s *scriptRunner) emitAsync(sr sentinel.ScriptRun, typ, payload string) {
	go s.emitEvent(sr, typ, payload)
}

func (s *scriptRunner) emitEvent(sr sentinel.ScriptRun, typ, payload string) {
	if s.emit != nil {
		s.emit(sentinel.Event{Type: typ, Level: sentinel.LevelWarning, Master: sr.Master, Payload: payload})
	}
}

// counts returns the running and queued (waiting) scripts, for INFO.
func (s *scriptRunner) counts() (running, queued int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running, len(s.jobs) - s.running
}

// pending lists the scripts for SENTINEL PENDING-SCRIPTS.
func (s *scriptRunner) pending() []api.Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]api.Script, 0, len(s.jobs))
	for _, j := range s.jobs {
		sc := api.Script{Argv: append([]string{j.run.Path}, j.run.Args...), Running: j.running, RetryNum: j.retry}
		if j.running {
			sc.PID = j.pid
			sc.RunTimeMillis = now.Sub(j.started).Milliseconds()
		} else if d := j.next.Sub(now); d > 0 {
			sc.RunTimeMillis = d.Milliseconds()
		}
		out = append(out, sc)
	}
	return out
}

// stop cancels queued scripts and gives running ones up to grace before
// killing them.
func (s *scriptRunner) stop(grace time.Duration) {
	s.mu.Lock()
	s.stopping = true
	var pids []int
	for _, j := range s.jobs {
		if j.stopRetry != nil {
			j.stopRetry()
		}
		if j.running {
			pids = append(pids, j.pid)
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	bound := s.clock.NewTimer(grace)
	defer bound.Stop()
	select {
	case <-done:
	case <-bound.C():
		for _, pid := range pids {
			s.log.Warn("killing script still running at stop", "pid", pid)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
		<-done
	}
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strconv.Quote(b.buf.String())
}
