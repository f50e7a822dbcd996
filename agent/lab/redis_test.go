package lab_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestRedisReplication starts a real master and two replicas (replicaof) and
// checks that a write on the master reaches both replicas.
func TestRedisReplication(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 3, IPv6: true, Name: "repl"})
	ctx := testenv.Context(t, 15*time.Second)
	h := l.Hosts()
	const pass = "s3cret pass"
	master, err := h[0].StartRedis(lab.RedisOptions{RequirePass: pass, MasterAuth: pass})
	if err != nil {
		t.Fatal(err)
	}
	var replicas []*lab.Redis
	for _, host := range h[1:] {
		r, err := host.StartRedis(lab.RedisOptions{ReplicaOf: master.AddrPort(), RequirePass: pass, MasterAuth: pass})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, r)
	}
	for _, r := range replicas {
		if err := r.WaitLinkUp(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := master.Client().Set(ctx, "k", "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		c := r.Client()
		lab.Eventually(ctx, t, func() error { return c.Get(ctx, "k").Err() }, "key on "+r.Host.Name)
		if got := c.Get(ctx, "k").Val(); got != "v1" {
			t.Errorf("%s: k = %q", r.Host.Name, got)
		}
	}
	info, err := master.Info(ctx, "replication")
	if err != nil {
		t.Fatal(err)
	}
	if info["role"] != "master" || info["connected_slaves"] != "2" {
		t.Errorf("master replication info: role=%s connected_slaves=%s", info["role"], info["connected_slaves"])
	}

	// The server listens on the IPv6 address too, reachable from another host.
	c6 := h[1].RedisClient(&redisOpts{Addr: "[" + h[0].IP6.String() + "]:6379", Password: pass})
	if err := c6.Ping(ctx).Err(); err != nil {
		t.Errorf("ping over IPv6 from h2: %v", err)
	}
	// Without the password the server refuses.
	if err := h[2].RedisClient(&redisOpts{Addr: master.Addr}).Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("ping without password: %v", err)
	}
	if log := master.Proc.Log(); !strings.Contains(log, "Ready to accept connections") {
		t.Errorf("master log lacks start-up line:\n%s", log)
	}
}

// TestRedisStartFailure checks that a server that cannot start is reported
// with its log, promptly.
func TestRedisStartFailure(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 1})
	start := time.Now()
	_, err := l.Hosts()[0].StartRedis(lab.RedisOptions{Extra: []string{"no-such-directive yes"}})
	if err == nil || !strings.Contains(err.Error(), "no-such-directive") {
		t.Fatalf("err = %v, want the config error from the log", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("failure took %v to report", d)
	}
}

// TestStopCont freezes a server with SIGSTOP (commands time out, the process
// is in state T) and resumes it.
func TestStopCont(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 1})
	ctx := testenv.Context(t, 15*time.Second)
	r, err := l.Hosts()[0].StartRedis(lab.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Hosts()[0].RedisClient(&redisOpts{Addr: r.Addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Proc.Stop(); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(ctx, t, func() error { return procState(r.Proc.Pid(), "T") }, "stopped state")
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping answered by a stopped server")
	}
	if !r.Proc.Running() {
		t.Fatal("stopped process reported as not running")
	}
	if err := r.Proc.Cont(); err != nil {
		t.Fatal(err)
	}
	lab.Eventually(ctx, t, func() error { return c.Ping(ctx).Err() }, "ping after SIGCONT")

	if err := r.Proc.Term(); err != nil {
		t.Fatal(err)
	}
	if err := r.Proc.Wait(ctx); err != nil {
		t.Errorf("redis after SIGTERM: %v", err)
	}
	if err := r.Proc.Stop(); err == nil {
		t.Error("Stop of an exited process succeeded")
	}
	if err := r.Proc.Kill(); err != nil {
		t.Errorf("Kill of an exited process: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	p, err := l.Hosts()[0].Start("sleep", "30")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(wctx); err == nil {
		t.Error("Wait returned before the process exited")
	}
}

// TestRedisRestart kills a persistent server and restarts it from its own
// directory: the data and the configuration it rewrote survive.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	l := lab.NewT(t, lab.Config{Hosts: 1, Name: "rst"})
	ctx := testenv.Context(t, 15*time.Second)
	r, err := l.Hosts()[0].StartRedis(lab.RedisOptions{Persist: true, RequirePass: "pw", Extra: []string{"appendfsync always"}})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigRewrite(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	n, err := r.Restart()
	if err != nil {
		t.Fatal(err)
	}
	c = n.Client()
	if got := c.Get(ctx, "k").Val(); got != "v" {
		t.Errorf("after restart k = %q, want v", got)
	}
	if n.Proc == r.Proc || !n.Proc.Running() {
		t.Errorf("restart did not start a new process")
	}
}
