package scenario

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// TestRebootedOldMasterNotServed powers the master's host off (its agent
// and redis-server die at once, its links are cut), lets the group fail
// over, and boots it again: its redis-server comes back as a master from
// its own files and its agent from a state that names it. Issue 13's
// campaign saw that agent send clients to the old master for 1 to 4 s;
// here it must never name it (a null until a majority of agents confirmed
// its configuration or a newer one arrived), and the old master must become
// a replica of the new one.
func TestRebootedOldMasterNotServed(t *testing.T) {
	c := startCluster(t, Options{Name: "trustboot", Persist: true})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var old string
	if err := wait.For(ctx, 50*time.Millisecond, func() (err error) {
		old, err = c.Converged(ctx)
		return err
	}); err != nil {
		t.Fatalf("not converged: %v", err)
	}
	host, _, _ := net.SplitHostPort(old)
	mi := c.HostIndex(host)
	if mi < 0 {
		t.Fatalf("master %s on no host", old)
	}
	var others []int
	for i := range c.Hosts {
		if i != mi {
			others = append(others, i)
		}
	}
	if err := c.Lab.IsolateFromHosts(c.Hosts[mi]); err != nil {
		t.Fatal(err)
	}
	if err := c.Agents[mi].Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Redis[mi].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	newMaster, err := c.WaitNewMaster(ctx, old, others)
	if err != nil {
		t.Fatalf("no failover: %v", err)
	}
	if err := c.Lab.HealAll(); err != nil {
		t.Fatal(err)
	}
	if err := c.RestartRedis(mi); err != nil {
		t.Fatal(err)
	}
	booted := time.Now()
	if err := c.StartAgent(mi); err != nil {
		t.Fatal(err)
	}
	// Poll the rebooted agent as a client following it would.
	cl := c.AgentClient(mi)
	defer cl.Close()
	var stale, nulls, answers int
	var firstNew time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rctx, rcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		addr, err := cl.Do(rctx, "SENTINEL", "get-master-addr-by-name", MasterName).StringSlice()
		rcancel()
		switch {
		case err == redis.Nil:
			nulls++
		case err != nil: // not listening yet
		case len(addr) == 2:
			answers++
			a := net.JoinHostPort(addr[0], addr[1])
			if a == old {
				stale++
			}
			if a == newMaster && firstNew == 0 {
				firstNew = time.Since(booted)
			}
		}
		if firstNew > 0 && time.Since(booted) > firstNew+time.Second {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("rebooted agent: %d answers naming the old master %s, %d nulls, new master %s named %v after the agent started",
		stale, old, nulls, newMaster, firstNew)
	if stale > 0 {
		t.Errorf("rebooted agent named the old master %s in %d of %d answers", old, stale, answers)
	}
	if firstNew == 0 {
		t.Errorf("rebooted agent never named the new master %s", newMaster)
	}
	if err := c.WaitReplicaOf(ctx, mi, newMaster); err != nil {
		t.Errorf("old master not a replica of %s: %v", newMaster, err)
	}
	if held, _ := c.VIPHolders(); slices.Contains(held, mi) && len(held) > 1 {
		t.Errorf("VIP on %v", held)
	}
}
