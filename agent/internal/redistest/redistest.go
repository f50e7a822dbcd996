// Package redistest starts real redis-server and redis-sentinel processes on
// 127.0.0.1 for tests. Each process gets a free port and a temporary
// directory, and is killed in t.Cleanup.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// Server is a running redis-server (or redis-sentinel) process.
type Server struct {
	Port int
	Dir  string
	Cmd  *exec.Cmd
	done chan struct{}
}

// Addr returns "127.0.0.1:<port>".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// Start runs redis-server with the given extra configuration lines (for
// example "requirepass secret" or "rename-command CONFIG xyz") and waits until
// it accepts connections.
func Start(t testing.TB, conf ...string) *Server {
	t.Helper()
	return start(t, "redis-server", conf)
}

// StartSentinel runs redis-sentinel with the given configuration lines
// (typically "sentinel monitor ..." directives).
func StartSentinel(t testing.TB, conf ...string) *Server {
	t.Helper()
	return start(t, "redis-sentinel", conf)
}

func start(t testing.TB, bin string, conf []string) *Server {
	t.Helper()
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("%s not installed: %v", bin, err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := tryStart(t, bin, conf)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("start %s: %v", bin, lastErr)
	return nil
}

func tryStart(t testing.TB, bin string, conf []string) (*Server, error) {
	dir := t.TempDir()
	port := testenv.FreePort(t)
	lines := []string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"dir " + dir,
		"save \"\"",
		"appendonly no",
		"protected-mode no",
		"logfile " + filepath.Join(dir, "redis.log"),
	}
	for _, l := range conf {
		// {port} stands for the port chosen here: "port 0" and
		// "tls-port {port}" make a TLS-only server (tls.go).
		lines = append(lines, strings.ReplaceAll(l, "{port}", strconv.Itoa(port)))
	}
	cfg := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, cfg)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Port: port, Dir: dir, Cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Kill)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "redis.log"))
			return nil, fmt.Errorf("%s exited early: %s", bin, lastLines(string(log), 5))
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr(), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Kill()
	return nil, fmt.Errorf("%s on port %d did not start listening", bin, port)
}

// Kill stops the process with SIGKILL and waits for it. It is idempotent.
func (s *Server) Kill() {
	if s.Cmd.Process != nil {
		_ = s.Cmd.Process.Kill()
	}
	<-s.done
}

// CLI runs redis-cli against s with args and returns its trimmed output.
func (s *Server) CLI(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	full := append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.Port)}, args...)
	out, err := exec.CommandContext(ctx, "redis-cli", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
