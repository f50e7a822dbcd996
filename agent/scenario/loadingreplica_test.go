package scenario

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

const (
	// loadKeys, loadKeyDelay (key-load-delay, µs slept per key loaded)
	// and saveKeyDelay (rdb-key-save-delay, µs per key saved) make the
	// replica's load last at least loadKeys × loadKeyDelay = 2 s and the
	// master's diskless transfer at least 0.4 s, longer than the agent's
	// INFO period of a watched master, so that it sees the full sync
	// begin, while neither server burns CPU (both sleep).
	loadKeys     = 20000
	loadKeyDelay = 100
	saveKeyDelay = 20
	// loadingBound is how long after a full sync's transfer ends the
	// master may still acknowledge writes while its only replica loads:
	// the agent's first INFO after the transfer shows the replica online
	// at offset 0 within one watch period; if the master had not advanced
	// yet then (nothing acknowledged so far), the next one, a period
	// later, does; then CLIENT LIST and CLIENT KILL, two round trips on
	// the loopback. notReceivingSlack covers the loaded cores.
	loadingBound = 2*sentinel.ReplWatchPeriod + notReceivingSlack
)

// TestReplicaLoading (issue 13): the master's only replica restarts empty
// and is fully synced from a master holding enough data that loading the
// RDB takes seconds. Redis 7.0 counts it as a good replica (online, offset
// 0, fresh lag) from the end of the transfer, while the writes it
// acknowledges wait unsent until the load ends. The master's agent must
// disconnect it at once (+replica-not-receiving, "loading its RDB"), so
// that writes through the VIP are refused (-NOREPLICAS) within
// loadingBound of the transfer's end and none is acknowledged later while
// it loads; once loaded, the replica resumes with a partial resync (no
// second full sync) and writes resume.
func TestReplicaLoading(t *testing.T) {
	o := Recommended("loadlab", binary)
	o.Hosts = 3
	o.RedisExtra = []string{"min-replicas-to-write 1", fmt.Sprintf("min-replicas-max-lag %d", guardMaxLag)}
	c := startCluster(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	h1, h2 := c.Hosts[0], c.Hosts[1]
	master := c.Redis[0]
	mc := master.Client()

	pipe := mc.Pipeline()
	for i := 0; i < loadKeys; i++ {
		pipe.Set(ctx, "load:"+strconv.Itoa(i), strings.Repeat("v", 64), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("populate the master: %v", err)
	}
	evs, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := oneReplicaWriter(ctx, t, c)
	defer w.Stop()

	stats := func() (full, partial int) {
		t.Helper()
		s, err := master.Info(ctx, "stats")
		if err != nil {
			t.Fatal(err)
		}
		full, _ = strconv.Atoi(s["sync_full"])
		partial, _ = strconv.Atoi(s["sync_partial_ok"])
		return full, partial
	}
	full0, partial0 := stats()

	// h2's redis-server restarts without data (no persistence): it needs
	// a full sync, the slow one the settings above make.
	if err := mc.ConfigSet(ctx, "rdb-key-save-delay", strconv.Itoa(saveKeyDelay)).Err(); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(c.Redis[1].Dir, "redis.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "key-load-delay %d\n", loadKeyDelay)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	if err := c.Redis[1].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.RestartRedis(1); err != nil {
		t.Fatal(err)
	}

	// Follow h2 in the master's INFO: full sync, online (the transfer
	// ended), gone (disconnected), online again with an acknowledged
	// offset (loaded and resynced). Times are the writer's.
	const (
		syncing = iota
		transferred
		disconnected
		back
	)
	phase := -1
	var transferEnd, goneAt, lastGone, backAt time.Duration
	var trace []string // the replica's states as the polls saw them change
	lastSeen := "-"
	poll := func() error {
		info, err := master.Info(ctx, "replication")
		if err != nil {
			return err
		}
		now := w.Since(time.Now())
		state, off := replicaState(info, h2.IP4.String())
		if seen := fmt.Sprintf("%q acked %v", state, off > 0); seen != lastSeen {
			trace = append(trace, fmt.Sprintf("%v %s (offset %d)", now, seen, off))
			lastSeen = seen
		}
		switch {
		case phase < syncing:
			if state == "wait_bgsave" || state == "send_bulk" {
				phase, transferEnd = syncing, now
			}
		case phase == syncing:
			if state == "online" {
				phase = transferred
			} else {
				transferEnd = now // the last INFO before the transfer's end
			}
		case phase == transferred:
			if state != "online" {
				phase, goneAt, lastGone = disconnected, now, now
			} else if off > 0 {
				return wait.Permanent(errors.New("the replica acknowledged its load without having been disconnected"))
			}
		case phase == disconnected:
			if state == "online" && off > 0 {
				phase, backAt = back, now
				return nil
			}
			if state != "online" {
				lastGone = now
			}
		}
		return fmt.Errorf("replica %s at phase %d (state %q offset %d)", h2.IP4, phase, state, off)
	}
	if err := wait.For(ctx, 10*time.Millisecond, poll); err != nil {
		var logged []string
		for _, e := range AgentLogEvents(c.Agents[0]) {
			if e.At.After(killedAt) {
				logged = append(logged, fmt.Sprintf("%v %s", w.Since(e.At), e))
			}
		}
		t.Fatalf("following the replica's full sync: %v\nthe replica in the master's INFO: %s\nh1's agent's events since the replica's restart:\n%s",
			err, strings.Join(trace, ", "), strings.Join(logged, "\n"))
	}

	// Writes are refused while the replica is down; Redis counts it from
	// the transfer's end, so the refusal that matters is the first one
	// after a write acknowledged since then.
	firstAck := w.FirstAfter(transferEnd)
	var refusedAt time.Duration
	for _, r := range w.Refused() {
		if r.Code == "NOREPLICAS" && r.At > transferEnd && r.At > firstAck {
			refusedAt = r.At
			break
		}
	}
	t.Logf("bound %v (2 × watch period %v + slack %v); transfer ended by %v; first write acknowledged %v after it; replica disconnected by %v after it; next -NOREPLICAS %v after it; back online, resynced, %v after it",
		loadingBound, sentinel.ReplWatchPeriod, notReceivingSlack, transferEnd, firstAck-transferEnd, goneAt-transferEnd, refusedAt-transferEnd, backAt-transferEnd)
	if refusedAt == 0 {
		t.Errorf("no write refused after the transfer ended")
	} else if refusedAt-transferEnd > loadingBound {
		t.Errorf("writes refused again %v after the transfer ended, bound %v", refusedAt-transferEnd, loadingBound)
	}
	if backAt-transferEnd < time.Second {
		t.Errorf("the replica was back %v after the transfer: the load was too short to test anything", backAt-transferEnd)
	}

	var event *Event
	if err := wait.For(ctx, 10*time.Millisecond, func() error {
		for {
			select {
			case e := <-evs:
				if e.Type == "+replica-not-receiving" {
					event = &e
					return nil
				}
			default:
				return errors.New("no +replica-not-receiving event yet")
			}
		}
	}); err != nil {
		t.Errorf("replica disconnected, but not by the agent: %v", err)
	} else {
		if event.Host != h1.Name || !strings.Contains(event.Payload, h2.IP4.String()) {
			t.Errorf("event from %s about %q, want h1's agent about %s", event.Host, event.Payload, h2.IP4)
		}
	}
	// The published payload has no detail; the agent's log of the same
	// event says why.
	detail := ""
	for _, e := range AgentLogEvents(c.Agents[0]) {
		if e.Type == "+replica-not-receiving" && strings.Contains(e.Payload, h2.IP4.String()) {
			detail = e.Detail
			t.Logf("%s on %s at %v: %s (%s)", e.Type, e.Host, w.Since(e.At)-transferEnd, e.Payload, e.Detail)
		}
	}
	if !strings.Contains(detail, "loading its RDB") {
		t.Errorf("h1's agent logged no +replica-not-receiving for %s loading its RDB (detail %q)", h2.IP4, detail)
	}

	full, partial := stats()
	t.Logf("master: sync_full %d → %d, sync_partial_ok %d → %d", full0, full, partial0, partial)
	if full != full0+1 {
		t.Errorf("sync_full went from %d to %d, want one full sync (the restart's)", full0, full)
	}
	if partial <= partial0 {
		t.Errorf("sync_partial_ok stayed %d: the replica did not resume with a partial resync", partial)
	}
	if log := c.Redis[1].Proc.Log(); !strings.Contains(log, "Partial Resynchronization") {
		t.Errorf("the replica's log shows no partial resynchronization:\n%s", tail(log, 3000))
	}

	// The load's end is the heal: nothing to do but check that writes
	// resume and that nobody failed the master over.
	healAndResume(ctx, t, c, w, func() error { return nil })
	t.Logf("replica last seen disconnected %v after the transfer ended; first write acknowledged %v after that (the resync's first REPLCONF ACK seen %v after that)",
		lastGone-transferEnd, w.FirstAfter(lastGone)-lastGone, backAt-lastGone)
	lastAck, acked, n := transferEnd, 0, 0
	for _, a := range w.Stop() {
		if a.At <= transferEnd || a.At >= lastGone {
			continue // before the transfer's end, or once the replica may be back
		}
		lastAck = a.At
		acked++
		if a.At > transferEnd+loadingBound {
			n++
		}
	}
	t.Logf("writes acknowledged while the replica loaded: %d, the last %v after the transfer ended; %d later than the bound", acked, lastAck-transferEnd, n)
	if n > 0 {
		t.Errorf("%d writes acknowledged later than %v after the transfer ended while the replica loaded (the last %v after it)", n, loadingBound, lastAck-transferEnd)
	}
}

// replicaState returns the state and acknowledged offset of the replica at
// ip in a master's INFO replication, "" if it is not listed.
func replicaState(info map[string]string, ip string) (state string, offset int64) {
	for i := 0; ; i++ {
		line, ok := info["slave"+strconv.Itoa(i)]
		if !ok {
			return "", 0
		}
		fields := map[string]string{}
		for _, kv := range strings.Split(line, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				fields[k] = v
			}
		}
		if fields["ip"] == ip {
			off, _ := strconv.ParseInt(fields["offset"], 10, 64)
			return fields["state"], off
		}
	}
}
