package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestUnsyncedReplicaNotPromotedRealRedis runs one agent (quorum 1) against
// a real master holding 200,000 keys and a real replica in its initial full
// sync (loaded from the socket at key-load-delay, about 20 s, answering
// PING and INFO between small chunks as a loading replica does): while the
// sync runs, VIPSENTINEL STATUS says why the replica cannot be promoted and
// SENTINEL FAILOVER is refused; when the master is killed mid-sync the
// failover aborts (-failover-abort-no-good-slave) and the empty replica is
// not promoted (issue 13).
func TestUnsyncedReplicaNotPromotedRealRedis(t *testing.T) {
	master := redistest.Start(t, "enable-debug-command local", "repl-diskless-sync yes", "repl-diskless-sync-delay 0")
	if got := master.CLI(t, "DEBUG", "POPULATE", "200000", "key", "16"); got != "OK" {
		t.Fatalf("DEBUG POPULATE: %s", got)
	}
	replica := redistest.Start(t, "repl-diskless-load on-empty-db", "key-load-delay 100", "loading-process-events-interval-bytes 1024",
		fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))

	mc := masterCfg("mymaster", master.Port, 1)
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"}, Masters: []sentinel.MasterConfig{mc}}
	a := startAgent(t, cfg, nil, &memStore{}, Options{})
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: a.addr})
	defer rc.Close()
	replicaStatus := func() ReplicaStatus {
		raw, err := rc.Do(ctx, "VIPSENTINEL", "STATUS").Text()
		if err != nil {
			t.Fatal(err)
		}
		var st Status
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Masters) != 1 || len(st.Masters[0].Replicas) != 1 {
			return ReplicaStatus{}
		}
		return st.Masters[0].Replicas[0]
	}
	want := fmt.Sprintf("127.0.0.1:%d", replica.Port)
	var rs ReplicaStatus
	testenv.Until(t, 15*time.Second, "the replica's sync in VIPSENTINEL STATUS", func() bool {
		rs = replicaStatus()
		return rs.Address == want && (strings.Contains(rs.Rejected, "loading:1") || strings.Contains(rs.Rejected, "master_sync_in_progress:1"))
	})
	t.Logf("mid-sync: %+v", rs)
	if rs.Eligible {
		t.Fatalf("a replica in its initial sync is eligible: %+v", rs)
	}
	if err := rc.Do(ctx, "SENTINEL", "FAILOVER", "mymaster").Err(); err == nil || !strings.Contains(err.Error(), "NOGOODSLAVE") {
		t.Fatalf("SENTINEL FAILOVER mid-sync: %v, want NOGOODSLAVE", err)
	}

	sc := redis.NewSentinelClient(&redis.Options{Addr: a.addr})
	defer sc.Close()
	ps := sc.Subscribe(ctx, "-failover-abort-no-good-slave", "+selected-slave")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if info := replica.CLI(t, "INFO", "replication"); !strings.Contains(info, "master_sync_in_progress:1") {
		t.Fatalf("the sync ended before the kill; INFO:\n%s", info)
	}
	master.Kill()
	if msg := testenv.Receive(t, ps.Channel(), 30*time.Second, "-failover-abort-no-good-slave"); msg.Channel != "-failover-abort-no-good-slave" {
		t.Fatalf("%s %s", msg.Channel, msg.Payload)
	}
	rs = replicaStatus()
	t.Logf("after the master's death: %+v", rs)
	// The replica may still be loading what it received (loading:1, never
	// promotable) or have given the sync up (never synced): refused either
	// way, which of the two depends on how far its load got.
	if rs.Eligible || !strings.Contains(rs.Rejected, "never synced") && !strings.Contains(rs.Rejected, "loading:1") {
		t.Errorf("replica after the aborted sync: %+v", rs)
	}
	if role := replica.CLI(t, "ROLE"); !strings.HasPrefix(role, "slave") {
		t.Errorf("the unsynced replica was promoted: %s", role)
	}
}
