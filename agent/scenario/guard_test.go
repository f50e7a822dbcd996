package scenario

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// guardMaxLag is the min-replicas-max-lag the README recommends.
const guardMaxLag = 2

// guardBound is how long after its last replica is cut off a master with
// min-replicas-to-write 1 may still acknowledge writes: the replica's last
// acknowledgement may be up to min-replicas-max-lag + 1 s old before Redis
// counts it out (its lag has 1 s granularity), Redis recounts its good
// replicas once a second, and a second more covers the two loaded cores
// delaying either server's timers.
const guardBound = (guardMaxLag + 3) * time.Second

// TestReplicaGuard: a master whose only replica is cut off stops
// acknowledging writes within guardBound (-NOREPLICAS, so nothing it
// acknowledges exists on it alone), resumes once the replica is back, and
// vipsentinel status reports it: degraded while it refuses writes, and the
// warning "writes may be acknowledged with no replica receiving them" once
// the guard is removed.
func TestReplicaGuard(t *testing.T) {
	o := Recommended("campguard", binary)
	o.Hosts = 3
	o.RedisExtra = []string{"min-replicas-to-write 1", fmt.Sprintf("min-replicas-max-lag %d", guardMaxLag)}
	c := startCluster(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h1, h2 := c.Hosts[0], c.Hosts[1]

	status := func() (string, int) {
		t.Helper()
		conf := filepath.Join(c.Lab.Dir(), "agent-"+h1.Name, "agent.conf")
		out, err := h1.Exec(ctx, binary, "status", "--addr", fmt.Sprintf("127.0.0.1:%d", AgentPort), "--config", conf, "--timeout", "3s")
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		return string(out), 0
	}
	if out, _ := status(); strings.Contains(out, "writes may be acknowledged with no replica receiving them") || strings.Contains(out, "refuses writes") {
		t.Errorf("guarded group: status reports the guard:\n%s", out)
	}

	w := oneReplicaWriter(ctx, t, c)
	defer w.Stop()

	// Cut the master from its replica only: the agents still reach a
	// majority and the master, so nobody fails it over or fences it.
	cut := w.Since(time.Now())
	if err := c.Lab.Cut(h1, h2); err != nil {
		t.Fatal(err)
	}
	refusedAt := firstRefusal(ctx, t, w, cut, "its replica was cut off")
	lastAck := w.LastAck()
	t.Logf("replica cut off at %v; first -NOREPLICAS %v later; last write acknowledged %v after the cut",
		cut, refusedAt-cut, lastAck-cut)
	if lastAck-cut > guardBound {
		t.Errorf("writes acknowledged for %v after the replica was cut off, bound %v", lastAck-cut, guardBound)
	}
	if out, code := status(); code != 1 || !strings.Contains(out, "refuses writes (-NOREPLICAS)") {
		t.Errorf("master refusing writes: status exit %d, want 1 (degraded) with the reason:\n%s", code, out)
	}
	held := time.Now()
	if err := wait.For(ctx, 50*time.Millisecond, func() error {
		if time.Since(held) < time.Second {
			return errors.New("holding the cut")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if a := w.LastAck(); a != lastAck {
		t.Errorf("a write was acknowledged at %v, %v after the cut, while the replica was still cut off", a, a-cut)
	}

	healAndResume(ctx, t, c, w, func() error { return c.Lab.Heal(h1, h2) })

	// Without the guard the same group acknowledges such writes: status
	// says so.
	for _, r := range c.Redis[:2] {
		if err := r.Client().ConfigSet(ctx, "min-replicas-to-write", "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	if out, _ := status(); !strings.Contains(out, "writes may be acknowledged with no replica receiving them") {
		t.Errorf("unguarded group: status does not warn:\n%s", out)
	}
}
