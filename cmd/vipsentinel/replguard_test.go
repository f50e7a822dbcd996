package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

func TestJudgeGuard(t *testing.T) {
	master := func(replicas int, guarded bool, good int) guardState {
		return guardState{Addr: "198.18.0.1:6379", Role: "master", Replicas: replicas, Guarded: guarded, Good: good}
	}
	replica := func(guarded bool) guardState {
		return guardState{Addr: "198.18.0.2:6379", Role: "slave", Guarded: guarded}
	}
	tests := []struct {
		name            string
		allow           bool
		states          []guardState
		warns, problems int
	}{
		{"guarded group", false, []guardState{master(1, true, 1), replica(true)}, 0, 0},
		{"master alone, no guard: nothing to lose to", false, []guardState{master(0, false, 0)}, 0, 0},
		{"master with a replica, no guard", false, []guardState{master(1, false, 0), replica(true)}, 1, 0},
		{"replica without the guard: unguarded once promoted", false, []guardState{master(1, true, 1), replica(false)}, 1, 0},
		{"no guard anywhere", false, []guardState{master(1, false, 0), replica(false)}, 2, 0},
		{"no guard, accepted by the operator", true, []guardState{master(1, false, 0), replica(false)}, 0, 0},
		{"guarded master refusing writes", false, []guardState{master(1, true, 0), replica(true)}, 0, 1},
		{"refusing even when unguarded writes are accepted elsewhere", true, []guardState{master(0, true, 0)}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, p := judgeGuard("m", tt.allow, tt.states)
			if len(w) != tt.warns || len(p) != tt.problems {
				t.Fatalf("warnings %q, problems %q; want %d and %d", w, p, tt.warns, tt.problems)
			}
			for _, x := range w {
				if !strings.Contains(x, guardMsg) || !strings.Contains(x, "allow-unreplicated-writes m yes") {
					t.Errorf("warning %q lacks the message or the way to accept it", x)
				}
			}
		})
	}
}

// TestCheckConfigReplicaGuard runs check-config against a real
// redis-server master with a replica: without min-replicas-to-write it
// warns that writes may be acknowledged with no replica receiving them
// (unless allow-unreplicated-writes yes); with the guard it does not, and
// the check status uses reports the master as refusing writes once its
// replica is gone.
func TestCheckConfigReplicaGuard(t *testing.T) {
	testenv.NeedTool(t, "redis-server")
	dir := t.TempDir()
	mport, rport := testenv.FreePort(t), testenv.FreePort(t)
	start := func(port int, extra ...string) *exec.Cmd {
		args := append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
			"--dbfilename", fmt.Sprintf("%d.rdb", port)}, extra...)
		cmd := exec.Command("redis-server", args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	start(mport)
	replica := start(rport, "--replicaof", "127.0.0.1", fmt.Sprint(mport))
	mcl := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", mport), Protocol: 2})
	defer mcl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	streaming := func() error {
		info, err := mcl.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "state=online") {
			return fmt.Errorf("replica not online yet")
		}
		return nil
	}
	if err := wait.For(ctx, 20*time.Millisecond, streaming); err != nil {
		t.Fatal(err)
	}

	port := testenv.FreePort(t)
	conf := filepath.Join(dir, "agent.conf")
	base := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor m 127.0.0.1 %d 1\n", port, dir, mport)
	checkConfig := func(text string) string {
		t.Helper()
		writeFile(t, conf, text)
		var o, e bytes.Buffer
		if code := run([]string{"check-config", conf}, &o, &e); code != exitOK {
			t.Fatalf("check-config: exit %d\n%s", code, e.String())
		}
		return e.String()
	}
	if out := checkConfig(base); !strings.Contains(out, "warning: master m: 127.0.0.1:"+fmt.Sprint(mport)+" (master) has min-replicas-to-write 0: "+guardMsg) {
		t.Errorf("no guard: check-config does not warn:\n%s", out)
	}
	if out := checkConfig(base + "sentinel allow-unreplicated-writes m yes\n"); strings.Contains(out, guardMsg) {
		t.Errorf("allow-unreplicated-writes yes: check-config still warns:\n%s", out)
	}
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", mport), fmt.Sprintf("127.0.0.1:%d", rport)} {
		cl := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
		if err := cl.ConfigSet(ctx, "min-replicas-to-write", "1").Err(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ConfigSet(ctx, "min-replicas-max-lag", "2").Err(); err != nil {
			t.Fatal(err)
		}
		cl.Close()
	}
	if out := checkConfig(base); strings.Contains(out, guardMsg) || strings.Contains(out, "cannot check") {
		t.Errorf("guarded: check-config warns:\n%s", out)
	}

	// status's check, on the master and its replica: healthy while the
	// replica acknowledges, the master refusing writes once it is gone.
	f, _, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	both := func(context.Context, config.Master) []string {
		return []string{fmt.Sprintf("127.0.0.1:%d", mport), fmt.Sprintf("127.0.0.1:%d", rport)}
	}
	if w, p := checkGuards(f, both, guardBudget); len(w) != 0 || len(p) != 0 {
		t.Errorf("guarded group with its replica: warnings %q, problems %q", w, p)
	}
	replica.Process.Kill()
	replica.Wait()
	err = wait.For(ctx, 100*time.Millisecond, func() error {
		if mcl.Set(ctx, "k", "v", 0).Err() == nil {
			return fmt.Errorf("the master still acknowledges writes")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	master := func(context.Context, config.Master) []string { return []string{fmt.Sprintf("127.0.0.1:%d", mport)} }
	if _, p := checkGuards(f, master, guardBudget); len(p) != 1 || !strings.Contains(p[0], "refuses writes (-NOREPLICAS)") {
		t.Errorf("master without its replica: problems %q, want it refusing writes", p)
	}
	if h := (Health{State: "healthy"}).degradedBy([]string{"x"}); h.State != "degraded" || len(h.Reasons) != 1 {
		t.Errorf("degradedBy: %+v", h)
	}
}
