package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRunAndStatus runs the real binary against a real redis-server on
// loopback and reads it back with `vipsentinel status`.
func TestRunAndStatus(t *testing.T) {
	testenv.NeedTool(t, "redis-server")
	dir := t.TempDir()
	bin := filepath.Join(dir, "vipsentinel")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	rport, aport, mport := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	redis := exec.Command("redis-server", "--port", fmt.Sprint(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := redis.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { redis.Process.Kill(); redis.Wait() })
	conf := filepath.Join(dir, "agent.conf")
	base := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nmetrics-addr 127.0.0.1:%d\nsentinel monitor m1 127.0.0.1 %d 1\n", aport, dir, mport, rport)
	writeFile(t, conf, base+"sentinel down-after-milliseconds m1 1000\n")
	var logs bytes.Buffer
	agent := exec.Command(bin, conf)
	agent.Stdout, agent.Stderr = &logs, &logs
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agent.Wait() }()
	t.Cleanup(func() {
		agent.Process.Kill()
		<-exited
	})

	addr := fmt.Sprintf("127.0.0.1:%d", aport)
	var out string
	deadline := time.Now().Add(15 * time.Second)
	for {
		var o, e bytes.Buffer
		code := run([]string{"status", "--addr", addr, "--config", conf, "--timeout", "500ms"}, &o, &e)
		out = o.String()
		// The VIPSentinel line appears once the agent has heard from its
		// master. Without a replica, nothing could be failed over to:
		// degraded.
		if code == exitDegraded && strings.Contains(out, "this host") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never succeeded: exit %d\n%s\n%s\nagent log:\n%s", code, out, e.String(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		"agent " + addr + " (vipsentinel",
		fmt.Sprintf("master m1 at 127.0.0.1:%d", rport),
		"quorum 1, down-after 1000ms",
		"this host: the master is on this host",
		"floating IP: none configured",
		"health: degraded\n  - master m1: no replica could be promoted (0 known)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}

	// --json: the same verdict in the document, the same exit status.
	var o, e bytes.Buffer
	if code := run([]string{"status", "--json", "--addr", addr, "--config", conf}, &o, &e); code != exitDegraded {
		t.Errorf("status --json: exit %d\n%s%s", code, o.String(), e.String())
	}
	var doc StatusDocument
	if err := json.Unmarshal(o.Bytes(), &doc); err != nil || doc.Health.State != "degraded" || len(doc.Masters) != 1 || doc.Masters[0].Name != "m1" || doc.VIPs == nil {
		t.Errorf("status --json: %v %+v\n%s", err, doc, o.String())
	}

	// Metrics and health are served on metrics-addr.
	for _, want := range []struct{ path, text string }{
		{"/metrics", "vipsentinel_current_epoch"},
		{"/metrics", `vipsentinel_master_config_epoch{master="m1"}`},
		{"/metrics", "vipsentinel_bad_replies_total 0"},
		{"/metrics", `vipsentinel_panics_recovered_total{component="redislink"} 0`},
		{"/healthz", "ok"},
	} {
		body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d%s", mport, want.path))
		if !strings.Contains(body, want.text) {
			t.Errorf("GET %s lacks %q:\n%.2000s", want.path, want.text, body)
		}
	}

	// SIGHUP applies a changed down-after and a new master without a restart.
	writeFile(t, conf, base+"sentinel down-after-milliseconds m1 2500\nsentinel monitor m2 127.0.0.1 "+fmt.Sprint(rport)+" 1\n")
	if err := agent.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		var o, e bytes.Buffer
		run([]string{"status", "--addr", addr, "--config", conf, "--timeout", "500ms"}, &o, &e)
		if strings.Contains(o.String(), "down-after 2500ms") && strings.Contains(o.String(), "master m2 at") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reload not applied:\n%s\nagent log:\n%s", o.String(), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// SIGTERM stops the agent cleanly and promptly.
	start := time.Now()
	if err := agent.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("agent exited with %v after SIGINT\n%s", err, logs.String())
		}
		t.Logf("agent stopped %v after SIGINT", time.Since(start))
	case <-ctx.Done():
		t.Errorf("agent still running 5s after SIGINT")
	}
}

// TestStatusPassword: status takes the password from the environment or the
// configuration file, never needing it on the command line.
func TestStatusPassword(t *testing.T) {
	dir := t.TempDir()
	both := filepath.Join(dir, "both.conf")
	writeFile(t, both, "dir "+dir+"\nrequirepass local-pw\nsentinel sentinel-pass peer-pw\nsentinel monitor m 198.18.0.1 6379 2\n")
	local := filepath.Join(dir, "local.conf")
	writeFile(t, local, "dir "+dir+"\nrequirepass local-pw\nsentinel monitor m 198.18.0.1 6379 2\n")
	broken := filepath.Join(dir, "broken.conf")
	writeFile(t, broken, "requirepass\n")
	missing := filepath.Join(dir, "missing.conf")
	noEnv := func(string) (string, bool) { return "", false }
	env := func(k string) (string, bool) { return "env-pw", k == "REDISCLI_AUTH" }
	tests := []struct {
		name, flag, addr, path string
		explicit               bool
		env                    func(string) (string, bool)
		want, err              string
	}{
		{"requirepass for the local agent", "", "127.0.0.1:26379", both, false, noEnv, "local-pw", ""},
		{"localhost", "", "localhost:26379", both, false, noEnv, "local-pw", ""},
		{"sentinel-pass for another agent", "", "198.18.0.2:26379", both, false, noEnv, "peer-pw", ""},
		{"requirepass when no sentinel-pass", "", "198.18.0.2:26379", local, false, noEnv, "local-pw", ""},
		{"environment first", "", "127.0.0.1:26379", both, false, env, "env-pw", ""},
		{"deprecated flag first", "flag-pw", "127.0.0.1:26379", both, false, env, "flag-pw", ""},
		{"default file missing: none", "", "127.0.0.1:26379", missing, false, noEnv, "", ""},
		{"named file missing: error", "", "127.0.0.1:26379", missing, true, noEnv, "", "missing.conf"},
		{"named file broken: error", "", "127.0.0.1:26379", broken, true, noEnv, "", "broken.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statusPassword(tt.flag, tt.addr, tt.path, tt.explicit, tt.env)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
