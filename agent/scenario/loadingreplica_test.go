package scenario

import (
	"fmt"
	"net"
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
// acknowledges wait unsent until the load ends. What must hold: no write
// through the VIP is acknowledged later than loadingBound after the
// transfer's end while the replica loads. The master's agent makes it
// hold by disconnecting the replica at once (+replica-not-receiving,
// "loading its RDB"), so that writes are refused (-NOREPLICAS); once
// loaded, the replica resumes with a partial resync (no second full sync)
// and writes resume.
//
// The replica's milestones are taken from the master's log (millisecond
// timestamps), not from polling its INFO: the agent may disconnect the
// replica between two polls of a loaded test, so that the polls never see
// it online at offset 0, and only the master's log says when the transfer
// ended and when the replica was disconnected.
func TestReplicaLoading(t *testing.T) {
	c, ctx := startGuardedCluster(t, "ldl")
	h1, h2 := c.Hosts[0], c.Hosts[1]
	master := c.Redis[0]
	mc := master.Client()
	replica := net.JoinHostPort(h2.IP4.String(), "6379") // as the master names it in its log

	// h1's agent logs its debug events too: if it does not act, they say
	// what it saw (a stall, a failed command).
	ac := c.AgentClient(0)
	if err := ac.Do(ctx, "SENTINEL", "CONFIG", "SET", "loglevel", "debug").Err(); err != nil {
		t.Logf("h1's agent stays at its log level: %v", err)
	}
	ac.Close()

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

	// Wait until the replica is back: online with an acknowledged offset
	// after the master logged the end of its full sync's transfer. The
	// polls keep the replica's states as the master's INFO showed them,
	// for the diagnosis.
	var (
		trace      []string // the replica's states as the polls saw them change
		lastSeen   = "-"
		sawLoading bool          // a poll saw it online at offset 0 after the transfer
		maxGap     time.Duration // the longest time between two polls
		lastPoll   time.Duration
		ackedAt    time.Duration // the first poll showing it acknowledging after the transfer
		s          replicaSync
	)
	poll := func() error {
		info, err := master.Info(ctx, "replication")
		if err != nil {
			return err
		}
		now := w.Since(time.Now())
		if lastPoll > 0 {
			maxGap = max(maxGap, now-lastPoll)
		}
		lastPoll = now
		r := replicaLine(info, h2.IP4.String())
		if seen := fmt.Sprintf("%q acked %v lag %d, guard counts %s", r.state, r.offset > 0, r.lag, info["min_slaves_good_slaves"]); seen != lastSeen && len(trace) < 50 {
			trace = append(trace, fmt.Sprintf("%v %s", now, seen))
			lastSeen = seen
		}
		s = followSync(master.Proc.Log(), replica, killedAt)
		if s.transferEnd.IsZero() {
			return fmt.Errorf("the master has not logged the end of %s's full sync transfer (state %q)", replica, r.state)
		}
		if r.state == "online" && r.offset == 0 && s.lost.IsZero() {
			sawLoading = true
		}
		if r.state != "online" || r.offset == 0 {
			return fmt.Errorf("replica %s not acknowledging (state %q offset %d)", replica, r.state, r.offset)
		}
		ackedAt = now
		return nil
	}
	diagnosis := func() string {
		var logged []string
		for _, e := range AgentLogEvents(c.Agents[0]) {
			if e.At.After(killedAt) && !strings.HasSuffix(e.Type, "-link-reconnection") {
				logged = append(logged, fmt.Sprintf("%v %s", w.Since(e.At), e))
			}
		}
		return fmt.Sprintf("the replica in the master's INFO (polls, at most %v apart): %s\nthe master's log about %s: %s\nh1's agent's events since the replica's restart:\n%s",
			maxGap, strings.Join(trace, ", "), replica, strings.Join(s.lines, "; "), strings.Join(logged, "\n"))
	}
	if err := wait.For(ctx, 10*time.Millisecond, poll); err != nil {
		t.Fatalf("following the replica's full sync: %v\n%s", err, diagnosis())
	}
	defer func() {
		if t.Failed() {
			t.Logf("%s", diagnosis())
		}
	}()

	// The window in which the master's acknowledgements wait unsent: from
	// the transfer's end to the replica's resync after its disconnection,
	// or, if nobody disconnected it, to its first acknowledgement.
	transferEnd := w.Since(s.transferEnd)
	disconnected := !s.lost.IsZero()
	loadEnd, goneAt := ackedAt, time.Duration(0)
	if disconnected {
		goneAt = w.Since(s.lost)
		loadEnd = goneAt
		if !s.partial.IsZero() {
			loadEnd = w.Since(s.partial)
		}
	}
	firstAck := w.FirstAfter(transferEnd)
	var refusedAt time.Duration
	for _, r := range w.Refused() {
		if r.Code == "NOREPLICAS" && r.At > transferEnd && r.At > firstAck {
			refusedAt = r.At
			break
		}
	}
	refuser := "nobody"
	switch {
	case refusedAt == 0:
	case disconnected && goneAt <= refusedAt:
		refuser = "the agent (Redis's guard once the agent had disconnected the replica)"
	default:
		refuser = "Redis's guard on its own (the replica still connected, its lag past min-replicas-max-lag)"
	}
	gone := "never disconnected"
	if disconnected {
		gone = fmt.Sprintf("disconnected %v after it", goneAt-transferEnd)
	}
	t.Logf("bound %v (2 × watch period %v + slack %v); master's log: transfer ended at %v, replica %s; first write acknowledged %v after it; next -NOREPLICAS %v after it, refused by %s; replica back %v after it; the test's polls (at most %v apart) saw it online at offset 0: %v",
		loadingBound, sentinel.ReplWatchPeriod, notReceivingSlack, transferEnd, gone, firstAck-transferEnd,
		refusedAt-transferEnd, refuser, loadEnd-transferEnd, maxGap, sawLoading)

	// The load's end is the heal: nothing to do but check that writes
	// resume and that nobody failed the master over.
	healAndResume(ctx, t, c, w, func() error { return nil })
	lastAck, acked, late := transferEnd, 0, 0
	for _, a := range w.Stop() {
		if a.At <= transferEnd || a.At >= loadEnd {
			continue // before the transfer's end, or once the replica may be back
		}
		lastAck = a.At
		acked++
		if a.At > transferEnd+loadingBound {
			late++
		}
	}
	t.Logf("writes acknowledged while the replica loaded: %d, the last %v after the transfer ended; %d later than the bound", acked, lastAck-transferEnd, late)
	if late > 0 {
		t.Errorf("%d writes acknowledged later than %v after the transfer ended while the replica loaded (the last %v after it)", late, loadingBound, lastAck-transferEnd)
	}
	if refusedAt == 0 {
		t.Errorf("no write refused after the transfer ended")
	} else if refusedAt-transferEnd > loadingBound {
		t.Errorf("writes refused again %v after the transfer ended, bound %v", refusedAt-transferEnd, loadingBound)
	}
	if loadEnd-transferEnd < time.Second {
		t.Errorf("the replica was back %v after the transfer: the load was too short to test anything", loadEnd-transferEnd)
	}
	if !disconnected {
		// Redis's guard alone cannot refuse within the bound: it counts
		// the replica until its lag passes min-replicas-max-lag.
		t.Fatalf("the replica was never disconnected while it loaded")
	}

	event, err := notReceivingEvent(ctx, evs)
	if err != nil {
		t.Errorf("replica disconnected, but not by the agent: %v", err)
	} else if event.Host != h1.Name || !strings.Contains(event.Payload, h2.IP4.String()) {
		t.Errorf("event from %s about %q, want h1's agent about %s", event.Host, event.Payload, h2.IP4)
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
	if partial <= partial0 || s.partial.IsZero() {
		t.Errorf("sync_partial_ok %d → %d, master's log of a partial resync at %v: the replica did not resume with a partial resync", partial0, partial, s.partial)
	}
	if log := c.Redis[1].Proc.Log(); !strings.Contains(log, "Partial Resynchronization") {
		t.Errorf("the replica's log shows no partial resynchronization:\n%s", tail(log, 3000))
	}
}

// replicaSync is what a master's log says about one replica's full sync.
type replicaSync struct {
	transferEnd time.Time // the RDB sent: Redis counts the replica from here
	lost        time.Time // the connection closed after that, zero if not
	partial     time.Time // a partial resync accepted after that, zero if not
	lines       []string  // every line about the replica since the restart
}

// followSync reads a redis-server log for the first sync of replica
// ("ip:port") requested after since. Lines look like
// "1234:M 06 Dec 2026 22:40:01.123 * Streamed RDB transfer with replica
// 198.18.0.2:6379 succeeded (socket)...".
func followSync(log, replica string, since time.Time) replicaSync {
	var s replicaSync
	asked := false
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, replica) {
			continue
		}
		f := strings.SplitN(line, " ", 7)
		if len(f) < 7 {
			continue
		}
		at, err := time.ParseInLocation("02 Jan 2006 15:04:05.000", strings.Join(f[1:5], " "), time.Local)
		if err != nil || at.Before(since.Truncate(time.Millisecond)) {
			continue
		}
		msg := f[6]
		s.lines = append(s.lines, at.Format("15:04:05.000")+" "+msg)
		switch {
		case strings.HasPrefix(msg, "Replica "+replica+" asks for synchronization"):
			asked = true
		case !asked:
		case strings.HasPrefix(msg, "Streamed RDB transfer with replica "+replica+" succeeded"):
			if s.transferEnd.IsZero() {
				s.transferEnd = at
			}
		case s.transferEnd.IsZero():
		case strings.HasPrefix(msg, "Connection with replica "+replica+" lost"):
			if s.lost.IsZero() {
				s.lost = at
			}
		case s.lost.IsZero():
		case strings.HasPrefix(msg, "Partial resynchronization request from "+replica+" accepted"):
			if s.partial.IsZero() {
				s.partial = at
			}
		}
	}
	return s
}

// replicaInfo is a replica as a master's INFO replication shows it.
type replicaInfo struct {
	state  string // "" if not listed
	offset int64
	lag    int
}

// replicaLine returns the replica at ip in a master's INFO replication.
func replicaLine(info map[string]string, ip string) replicaInfo {
	for i := 0; ; i++ {
		line, ok := info["slave"+strconv.Itoa(i)]
		if !ok {
			return replicaInfo{lag: -1}
		}
		fields := map[string]string{}
		for _, kv := range strings.Split(line, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				fields[k] = v
			}
		}
		if fields["ip"] == ip {
			r := replicaInfo{state: fields["state"], lag: -1}
			r.offset, _ = strconv.ParseInt(fields["offset"], 10, 64)
			if l, err := strconv.Atoi(fields["lag"]); err == nil {
				r.lag = l
			}
			return r
		}
	}
}
