package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// cli runs the vipsentinel command line on the client host and returns its
// standard output (followed, when it fails, by the error, which holds its
// standard error) and exit status.
func (cl *cluster) cli(t *testing.T, ctx context.Context, args ...string) (string, int) {
	t.Helper()
	out, err := cl.cl.Exec(ctx, binary, args...)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		t.Logf("vipsentinel %s: %v", strings.Join(args, " "), err)
		return string(out) + "\n" + err.Error(), ee.ExitCode()
	}
	t.Fatalf("vipsentinel %s: %v", strings.Join(args, " "), err)
	return "", -1
}

// statusJSON is the part of `vipsentinel status --json` these tests read.
type statusJSON struct {
	Masters []struct {
		Name     string `json:"name"`
		Address  string `json:"address"`
		Paused   bool   `json:"paused"`
		ODown    bool   `json:"odown"`
		Replicas []struct {
			Address  string `json:"address"`
			Eligible bool   `json:"eligible"`
			LagBytes int64  `json:"lag_bytes"`
		} `json:"replicas"`
	} `json:"masters"`
	Health struct {
		State   string   `json:"state"`
		Reasons []string `json:"reasons"`
	} `json:"health"`
}

func (cl *cluster) status(t *testing.T, ctx context.Context, a *agent) (statusJSON, int) {
	t.Helper()
	out, code := cl.cli(t, ctx, "status", "--json", "--addr", a.addr(), "--config", a.conf)
	var st statusJSON
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&st); err != nil {
		t.Fatalf("status --json of %s: %v\n%s", a.host.Name, err, out)
	}
	return st, code
}

// TestPauseResume: `vipsentinel pause` reaches every agent; while paused,
// a kill -9 of the master is detected but not failed over, the pause
// survives an agent's restart, and status reports it (exit 1); `vipsentinel
// resume` lets the group fail the dead master over.
func TestPauseResume(t *testing.T) {
	const pass = "opspw"
	cl := newCluster(t, agentConf{quorum: 2, requirepass: pass, labName: "opspause"}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	rec := cl.recordEvents(t)
	ctx := testenv.Context(t, 150*time.Second)
	a0 := cl.agents[0]

	// Healthy: exit 0 from every agent once all replicas are eligible.
	for _, a := range cl.agents {
		lab.Eventually(ctx, t, func() error {
			st, code := cl.status(t, ctx, a)
			if code != 0 {
				return fmt.Errorf("%s: exit %d: %v", a.host.Name, code, st.Health.Reasons)
			}
			return nil
		}, "healthy status")
	}

	out, code := cl.cli(t, ctx, "pause", "mymaster", "--addr", a0.addr(), "--config", a0.conf)
	if code != 0 || !strings.Contains(out, "mymaster paused on 3 of 3 agents") {
		t.Fatalf("pause: exit %d\n%s", code, out)
	}
	for _, a := range cl.agents {
		st, code := cl.status(t, ctx, a)
		if code != 1 || !st.Masters[0].Paused || !strings.Contains(strings.Join(st.Health.Reasons, ";"), "paused") {
			t.Fatalf("%s while paused: exit %d %+v", a.host.Name, code, st)
		}
	}
	if n, _ := rec.count("+maintenance"); n != 3 {
		t.Errorf("%d +maintenance events, want 3", n)
	}

	// The pause is in the state file: a restarted agent is still paused.
	a2 := cl.agents[2]
	if err := a2.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	a2.start(t)
	lab.Eventually(ctx, t, func() error {
		c := a2.client(cl.cl, pass)
		raw, err := c.Do(ctx, "VIPSENTINEL", "STATUS").Text()
		if err != nil {
			return err
		}
		if !strings.Contains(raw, `"paused":true`) {
			return fmt.Errorf("restarted agent not paused: %s", raw)
		}
		return nil
	}, "pause kept across a restart")
	cl.waitDiscovered(t)
	rec = cl.recordEvents(t) // the restarted agent's events too

	old := cl.redis[0].Addr
	killed := time.Now()
	if err := cl.redis[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	// Every agent sees the master objectively down and suppresses the
	// failover; then, for three more down-after periods (a failover takes
	// about one), nothing moves.
	lab.Eventually(ctx, t, func() error {
		if n, _ := rec.count("-failover-suppressed-maintenance"); n < 3 {
			return fmt.Errorf("%d agents suppressed a failover", n)
		}
		return nil
	}, "failover suppressed on every agent")
	time.Sleep(3 * downAfter * time.Millisecond)
	for _, typ := range []string{"+try-failover", "+elected-leader", "+promoted-slave", "+switch-master"} {
		if n, lines := rec.count(typ); n != 0 {
			t.Fatalf("paused master failed over: %v", lines)
		}
	}
	for _, a := range cl.agents {
		if got, err := masterAddr(ctx, a.client(cl.cl, pass)); err != nil || got != old {
			t.Fatalf("%s reports %s (%v) while paused", a.host.Name, got, err)
		}
	}
	t.Logf("no failover for %v after the kill while paused", time.Since(killed).Round(time.Millisecond))

	resumed := time.Now()
	out, code = cl.cli(t, ctx, "resume", "--addr", a0.addr(), "--config", a0.conf)
	if code != 0 || !strings.Contains(out, "* resumed on 3 of 3 agents") {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	cl.waitAllReport(t, cl.redis[1].Addr, 60*time.Second)
	t.Logf("failover done %v after resume", time.Since(resumed).Round(time.Millisecond))
	if n, _ := rec.count("-maintenance"); n != 3 {
		t.Errorf("%d -maintenance events, want 3", n)
	}

	// An agent that is gone: status exits 2.
	if err := a2.proc.Kill(); err != nil {
		t.Fatal(err)
	}
	if st, code := cl.status(t, ctx, a2); code != 2 || st.Health.State != "unreachable" {
		t.Errorf("status of a killed agent: exit %d %+v", code, st.Health)
	}
}

// TestSwitchoverTo: `vipsentinel failover mymaster --to` moves the master to
// the named replica, not the one the priorities prefer, while a client
// writes through the group, and loses none of the writes the master
// acknowledged; a replica that does not qualify is refused.
func TestSwitchoverTo(t *testing.T) {
	const pass = "opspw"
	cl := newCluster(t, agentConf{quorum: 2, requirepass: pass, labName: "opsswitch"}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	ctx := testenv.Context(t, 120*time.Second)
	a0 := cl.agents[0]
	target := cl.redis[2] // replica-priority 100; h2's 10 would be Sentinel's choice

	out, code := cl.cli(t, ctx, "failover", "mymaster", "--to", "198.19.255.1:6379", "--addr", a0.addr(), "--config", a0.conf)
	if code != 1 || !strings.Contains(out, "198.19.255.1:6379 is not a known replica of mymaster") {
		t.Fatalf("unknown replica: exit %d\n%s", code, out)
	}

	w := cl.startWriter(t, ctx, pass, 2*time.Millisecond)
	w.waitAcked(t, ctx, 100, "writes before the switchover")

	start := time.Now()
	out, code = cl.cli(t, ctx, "failover", "mymaster", "--to", target.Addr, "--addr", a0.addr(), "--config", a0.conf)
	if code != 0 || !strings.Contains(out, "mymaster is now at "+target.Addr) {
		t.Fatalf("switchover: exit %d\n%s", code, out)
	}
	t.Logf("switchover: %s", strings.TrimSpace(out))
	cl.waitAllReport(t, target.Addr, 60*time.Second)
	w.waitAcked(t, ctx, 100, "writes through the new master")
	acked := w.stop()
	_, failed, _ := w.counts()
	t.Logf("switchover took %v; client: %d acknowledged writes, %d errors", time.Since(start).Round(time.Millisecond), len(acked), failed)

	info, err := role(ctx, target)
	if err != nil || info["role"] != "master" {
		t.Fatalf("target is %v (%v)", info["role"], err)
	}
	// Every acknowledged write is on the new master.
	rc := target.Client()
	lost := 0
	for _, k := range acked {
		if rc.Exists(ctx, k).Val() != 1 {
			lost++
		}
	}
	if lost != 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, len(acked))
	}
	t.Logf("0 of %d acknowledged writes lost", len(acked))
}
