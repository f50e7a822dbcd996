package compat

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestFailoverEvents runs the same scripted failover (SENTINEL FAILOVER of a
// healthy master with one replica, one sentinel, quorum 1) under
// redis-sentinel and under an agent, and compares what each publishes
// (PSUBSCRIBE *), in order, and the argument lists each passes to the
// notification-script and the client-reconfig-script. Addresses, run ids
// and epochs are replaced by symbols first (normaliseEvent); the
// deliberate differences are removed by failoverDeliberate, each with its
// reason.
func TestFailoverEvents(t *testing.T) {
	t.Parallel()
	want := recordFailover(t, "redis-sentinel")
	got := recordFailover(t, "vipsentinel")
	want.events = failoverDeliberate(want.events)
	got.events = failoverDeliberate(got.events)
	if !slices.Equal(got.events, want.events) {
		t.Errorf("published events differ\n vipsentinel:\n  %s\n redis-sentinel:\n  %s",
			strings.Join(got.events, "\n  "), strings.Join(want.events, "\n  "))
	}
	for _, s := range []struct {
		what      string
		got, want []string
	}{
		{"notification-script", notifyDeliberate(got.notify), notifyDeliberate(want.notify)},
		{"client-reconfig-script", got.reconf, want.reconf},
	} {
		if !slices.Equal(s.got, s.want) {
			t.Errorf("%s arguments differ\n vipsentinel:\n  %s\n redis-sentinel:\n  %s",
				s.what, strings.Join(s.got, "\n  "), strings.Join(s.want, "\n  "))
		}
	}
}

// failoverRecord is what one sentinel did during the failover, normalised.
type failoverRecord struct {
	events []string // "<type> <payload>", in publication order
	notify []string // one notification-script argument list per run, sorted
	reconf []string // one client-reconfig-script argument list per run, sorted
}

// recordScript is a script that records each run's arguments, one per line,
// in a file of its own under runs. Scripts run concurrently (redis-sentinel
// starts up to 16 at once), so runs appending to one shared log interleave
// line by line; a file written aside and then renamed into place is read
// whole or not at all.
func recordScript(t *testing.T, dir, name, runs string) string {
	t.Helper()
	if err := os.MkdirAll(runs, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	body := "#!/bin/sh\n" +
		"t=$(mktemp " + strconv.Quote(filepath.Join(runs, "run.XXXXXX")) + ") || exit 1\n" +
		"for a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$t\"\n" +
		"mv \"$t\" \"$t.args\"\n"
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// scriptRuns reads a recordScript's runs directory: one "arg | arg | ..." per
// run, sorted (scripts run concurrently, so their order is not the events'
// order).
func scriptRuns(runs string, norm func(string) string) []string {
	files, _ := filepath.Glob(filepath.Join(runs, "run.*.args"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if run := strings.TrimSpace(string(b)); run != "" {
			out = append(out, norm(strings.ReplaceAll(run, "\n", " | ")))
		}
	}
	slices.Sort(out)
	return out
}

func recordFailover(t *testing.T, which string) failoverRecord {
	t.Helper()
	const name = "mymaster"
	master := redistest.Start(t)
	replica := redistest.Start(t, fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))
	dir := t.TempDir()
	notifyRuns, reconfRuns := filepath.Join(dir, "notify.runs"), filepath.Join(dir, "reconf.runs")
	lines := append(sentinelLines(name, master, 1),
		"sentinel notification-script "+name+" "+recordScript(t, dir, "notify.sh", notifyRuns),
		"sentinel client-reconfig-script "+name+" "+recordScript(t, dir, "reconf.sh", reconfRuns))
	var addr string
	if which == "redis-sentinel" {
		addr = redistest.StartSentinel(t, lines...).Addr()
	} else {
		addr = startAgent(t, lines...).Addr()
	}
	testenv.Eventually(t, 30*time.Second, which+" to see the replica", func() error {
		return settled(addr, name, 1, 0)
	})
	norm := eventNormaliser(map[string]string{
		strconv.Itoa(master.Port):  "M",
		strconv.Itoa(replica.Port): "R",
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	sub := c.PSubscribe(ctx, "*")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("%s: PSUBSCRIBE: %v", which, err)
	}
	var mu sync.Mutex
	var events []string
	go func() {
		for msg := range sub.Channel() {
			mu.Lock()
			events = append(events, norm(msg.Channel+" "+msg.Payload))
			mu.Unlock()
		}
	}()
	if err := c.Do(ctx, "SENTINEL", "FAILOVER", name).Err(); err != nil {
		t.Fatalf("%s: SENTINEL FAILOVER: %v", which, err)
	}
	// Done when the old master follows the promoted replica (which
	// redis-sentinel reports with +convert-to-slave, at least 8 s after
	// the switch), both scripts ran for +switch-master, the last warning,
	// and the old master's link to the new one is up.
	testenv.Eventually(t, 60*time.Second, which+" to finish the failover and convert the old master", func() error {
		mu.Lock()
		evs := slices.Clone(events)
		mu.Unlock()
		if !slices.ContainsFunc(evs, func(e string) bool { return strings.HasPrefix(e, "+convert-to-slave ") }) {
			return fmt.Errorf("no +convert-to-slave yet: %q", evs)
		}
		// A -role-change of the old master is followed by +role-change
		// once INFO shows it demoted (failoverDeliberate).
		demoted := func(e string) bool { return strings.HasPrefix(e, "+role-change slave 127.0.0.1:M ") }
		if slices.ContainsFunc(evs, func(e string) bool { return strings.HasPrefix(e, "-role-change slave 127.0.0.1:M ") }) &&
			!slices.ContainsFunc(evs, demoted) {
			return fmt.Errorf("old master's +role-change not seen yet")
		}
		if !slices.ContainsFunc(scriptRuns(notifyRuns, norm), func(s string) bool { return strings.HasPrefix(s, "+switch-master |") }) {
			return fmt.Errorf("no notification-script run for +switch-master yet")
		}
		if len(scriptRuns(reconfRuns, norm)) == 0 {
			return fmt.Errorf("no client-reconfig-script run yet")
		}
		if info := master.CLI(t, "INFO", "replication"); !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("old master not replicating yet")
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	return failoverRecord{events: slices.Clone(events), notify: scriptRuns(notifyRuns, norm), reconf: scriptRuns(reconfRuns, norm)}
}

var (
	runIDPattern = regexp.MustCompile(`\b[0-9a-f]{40}\b`)
	newEpoch     = regexp.MustCompile(`^(\+new-epoch(?: \|)?) \d+$`)
	voteEpoch    = regexp.MustCompile(`^(\+vote-for-leader(?: \|)? <id>) \d+$`)
)

// eventNormaliser replaces 127.0.0.1 with a port in ports ("ip port",
// "ip:port", or "ip | port" in a script's argument list) by the port's symbol, run ids by <id>, and the epochs of
// +new-epoch and +vote-for-leader by <epoch>: the values that differ
// between two runs of the same failover.
func eventNormaliser(ports map[string]string) func(string) string {
	var addrs []*regexp.Regexp
	var syms []string
	for p, sym := range ports {
		addrs = append(addrs, regexp.MustCompile(`\b127\.0\.0\.1([: ]|(?: \| ))`+p+`\b`))
		syms = append(syms, "127.0.0.1${1}"+sym)
	}
	return func(s string) string {
		s = runIDPattern.ReplaceAllString(s, "<id>")
		for i, re := range addrs {
			s = re.ReplaceAllString(s, syms[i])
		}
		s = newEpoch.ReplaceAllString(s, "$1 <epoch>")
		return voteEpoch.ReplaceAllString(s, "$1 <epoch>")
	}
}

// failoverDeliberate removes what vipsentinel does differently on purpose:
//   - +failover-pause-master, +failover-wait-replica-offset,
//     +failover-replica-caught-up and -failover-pause-master: the safe
//     SENTINEL FAILOVER pauses writes on the old master and promotes the
//     replica only once it has caught up (README, Differences from
//     redis-sentinel; sentinel/doc.go);
//   - +quorum-regained (and +quorum-lost), vipsentinel's count of agents
//     answering, a warning, so it also runs the notification-script (the
//     agent emits it once at start, when it finds itself the whole group);
//   - -role-change and +role-change of the old master: the agent demotes
//     the old master itself as part of the safe failover. When the
//     demotion lands before the switch the old master never reports
//     role:master as a replica; when the switch closes its link first, it
//     does and is converted as redis-sentinel converts it (-role-change,
//     +convert-to-slave, +role-change once INFO shows it, up to 10 s later
//     with redis-sentinel). Which one happens is a race, and
//     +convert-to-slave, once, is what both always publish.
func failoverDeliberate(events []string) []string {
	return slices.DeleteFunc(slices.Clone(events), func(e string) bool {
		typ, rest, _ := strings.Cut(e, " ")
		switch typ {
		case "+failover-pause-master", "+failover-wait-replica-offset", "+failover-replica-caught-up", "-failover-pause-master",
			"+quorum-regained", "+quorum-lost":
			return true
		case "-role-change", "+role-change":
			return strings.HasPrefix(rest, "slave 127.0.0.1:M ")
		}
		return false
	})
}

// notifyDeliberate is failoverDeliberate for notification-script runs
// ("<type> | <payload>").
func notifyDeliberate(runs []string) []string {
	return slices.DeleteFunc(slices.Clone(runs), func(r string) bool {
		typ, _, _ := strings.Cut(r, " |")
		return len(failoverDeliberate([]string{typ + " x"})) == 0
	})
}
