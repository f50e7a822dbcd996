package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// scaleCase measures the idle CPU and memory of the agents with 1, 50,
// 200 and 500 monitored masters (each with the lab's two replicas), for
// vipsentinel and for redis-sentinel with the same configuration, and
// prints how the cost grows side by side with the ratio. It then checks
// that the idle savings cost nothing in failure detection: the time
// from a kill -9 of the one master to the first +sdown and +odown, both
// stacks in turn.
func (b *bench) scaleCase(ctx context.Context, counts []int, settle, window time.Duration, detectRuns int) error {
	b.say("== idle cost by monitored masters (3 hosts, each master with 2 replicas), CPU averaged over %v after %v + 20 ms per master", window, settle)
	b.say("   (monitored: seconds from the start until every agent monitored every master, replica and peer, checked again after the window)")
	b.say("%-8s %-22s %10s %10s %10s %10s %10s  %s", "masters", "stack", "monitored", "CPU h1 %", "CPU avg %", "RSS h1 MiB", "anon MiB", "load average")
	var firstErr error
	for _, n := range counts {
		cpu := map[scenario.Stack]float64{}
		for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
			all, rss, anon, ready, err := b.idleAll(ctx, stack, n, settle+time.Duration(n)*20*time.Millisecond, window)
			if err != nil {
				b.say("%-8d %-22s error: %v", n, stack, err)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			avg := 0.0
			for _, p := range all {
				avg += p / float64(len(all))
			}
			cpu[stack] = avg
			b.say("%-8d %-22s %9.0fs %10.2f %10.2f %10.1f %10.1f  %s", n, stack, ready.Seconds(), all[0], avg, float64(rss)/1024, float64(anon)/1024, loadAvg())
		}
		if v, ok := cpu[scenario.Vipsentinel]; ok {
			if c, ok := cpu[scenario.Classic]; ok {
				b.say("%-8d ratio vipsentinel/redis-sentinel (CPU avg): %s", n, ratio(v, c))
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	b.say("")
	if detectRuns <= 0 {
		return firstErr
	}
	b.say("== detection, 1 master: kill -9 of the master to the first +sdown / +odown on any agent (down-after %v)", b.downAfter)
	b.say("%-4s %-22s %10s %10s %10s  %s", "run", "stack", "+sdown", "+odown", "outage", "load average")
	for r := 1; r <= detectRuns && ctx.Err() == nil; r++ {
		for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
			res, err := b.oneRun(ctx, stack, scenario.KillMaster)
			if err != nil {
				b.say("%-4d %-22s error: %v", r, stack, err)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			b.say("%-4d %-22s %10s %10s %10s  %s", r, stack, ms(firstEvent(res, "+sdown")), ms(firstEvent(res, "+odown")), ms(res.Outage), loadAvg())
		}
	}
	b.say("")
	return firstErr
}

// firstEvent is when the first timeline line after the fault that starts
// with event (about the lab's own master) happened, or -1.
func firstEvent(res *scenario.Result, event string) time.Duration {
	for _, l := range res.Timeline {
		if l.At >= 0 && strings.HasPrefix(l.What, event+" ") && strings.Contains(l.What, scenario.MasterName) {
			return l.At
		}
	}
	return -1
}

// parseCounts parses a comma-separated list of positive numbers.
func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// rssAnonKB is the anonymous resident memory of process pid (RssAnon in
// /proc/pid/status), or -1.
func rssAnonKB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// monitorsAll checks that every agent of c really monitors masters
// masters: SENTINEL MASTERS lists that many, each with flags "master"
// only (no s_down, o_down or disconnected link), both replicas and both
// peer agents known, each replica ("slave", link to the master up) and
// peer ("sentinel") without a bad flag, and INFO says the agent is not in
// TILT. A stack that skips part of the work (links refused or dropped,
// TILT) measures idle as cheaper than it is: its figures mean nothing.
// The error names what is missing, counted, with an example of each.
func monitorsAll(ctx context.Context, c *scenario.Cluster, masters int) error {
	var errs []error
	for i := range c.Agents {
		if err := agentMonitorsAll(ctx, c, i, masters); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Hosts[i], err))
		}
	}
	return errors.Join(errs...)
}

func agentMonitorsAll(ctx context.Context, c *scenario.Cluster, i, masters int) error {
	cl := c.AgentClient(i)
	defer cl.Close()
	peers := len(c.Hosts) - 1
	replicas := len(c.Hosts) - 1
	info, err := cl.Info(ctx, "sentinel").Result()
	if err != nil {
		return fmt.Errorf("INFO sentinel: %w", err)
	}
	if strings.Contains(info, "sentinel_tilt:1") {
		return errors.New("in TILT")
	}
	list, err := cl.Do(ctx, "SENTINEL", "MASTERS").Slice()
	if err != nil {
		return fmt.Errorf("SENTINEL MASTERS: %w", err)
	}
	// problems maps a problem to the masters that have it.
	problems := map[string][]string{}
	note := func(problem, master string) { problems[problem] = append(problems[problem], master) }
	var names []string
	for _, e := range list {
		f := fieldMap(e)
		name := f["name"]
		names = append(names, name)
		if f["flags"] != "master" {
			note("master flags "+f["flags"], name)
		}
		if f["num-slaves"] != strconv.Itoa(replicas) {
			note("num-slaves "+f["num-slaves"], name)
		}
		if f["num-other-sentinels"] != strconv.Itoa(peers) {
			note("num-other-sentinels "+f["num-other-sentinels"], name)
		}
	}
	// The replicas and peers of every master, pipelined a few masters at
	// a time: the client's read timeout (1 s) covers a whole pipeline,
	// and a loaded agent answers hundreds of them more slowly than that.
	reps := make([]*redis.Cmd, len(names))
	sents := make([]*redis.Cmd, len(names))
	for from := 0; from < len(names); from += checkBatch {
		pipe := cl.Pipeline()
		for k := from; k < min(from+checkBatch, len(names)); k++ {
			reps[k] = pipe.Do(ctx, "SENTINEL", "REPLICAS", names[k])
			sents[k] = pipe.Do(ctx, "SENTINEL", "SENTINELS", names[k])
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("SENTINEL REPLICAS/SENTINELS: %w", err)
		}
	}
	for k, name := range names {
		rs, _ := reps[k].Slice()
		for _, e := range rs {
			f := fieldMap(e)
			if f["flags"] != "slave" {
				note("replica flags "+f["flags"], name)
			} else if f["master-link-status"] != "ok" {
				note("replica master-link-status "+f["master-link-status"], name)
			}
		}
		ss, _ := sents[k].Slice()
		for _, e := range ss {
			if f := fieldMap(e); f["flags"] != "sentinel" {
				note("peer flags "+f["flags"], name)
			}
		}
	}
	if len(names) != masters {
		problems[fmt.Sprintf("%d masters listed, want %d", len(names), masters)] = nil
	}
	if len(problems) == 0 {
		return nil
	}
	keys := make([]string, 0, len(problems))
	for p := range problems {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for k, p := range keys {
		parts[k] = p
		if ms := problems[p]; len(ms) > 0 {
			parts[k] = fmt.Sprintf("%s: %d masters (%s)", p, len(ms), ms[0])
		}
	}
	return errors.New(strings.Join(parts, "; "))
}

// checkBatch is how many masters' replicas and peers monitorsAll asks
// for in one pipeline.
const checkBatch = 10

// fieldMap turns one entry of SENTINEL MASTERS, REPLICAS or SENTINELS (a
// flat list of field names and values in RESP2) into a map.
func fieldMap(e any) map[string]string {
	m := map[string]string{}
	kv, _ := e.([]any)
	for k := 0; k+1 < len(kv); k += 2 {
		key, _ := kv[k].(string)
		val, _ := kv[k+1].(string)
		m[key] = val
	}
	return m
}

// keepEvidence keeps what explains a failed deployment under b.keep/label
// before the lab is removed: a copy of the lab's directory (every
// process's log, the agents' configurations and state) and report.txt
// with the error, the machine's load and busiest processes, what each
// agent says it monitors, and each host's first redis-server's clients
// and CPU. Nothing happens without -keep.
func (b *bench) keepEvidence(c *scenario.Cluster, label string, masters int, why error) {
	if b.keep == "" {
		return
	}
	dir := filepath.Join(b.keep, fmt.Sprintf("%s-%s", label, time.Now().UTC().Format("150405")))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.say("keep: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r strings.Builder
	fmt.Fprintf(&r, "error: %v\nload average: %s\n\n", why, loadAvg())
	if out, err := exec.CommandContext(ctx, "ps", "-eo", "pid,pcpu,rss,args", "--sort=-pcpu").Output(); err == nil {
		lines := strings.SplitN(string(out), "\n", 21)
		fmt.Fprintf(&r, "busiest processes:\n%s\n\n", strings.Join(lines[:min(20, len(lines))], "\n"))
	}
	for i, a := range c.Agents {
		if a == nil {
			continue
		}
		fmt.Fprintf(&r, "== %s agent (pid %d, running %v)\n", c.Hosts[i], a.Pid(), a.Running())
		if cpu, rss, err := scenario.ProcUsage(a.Pid()); err == nil {
			fmt.Fprintf(&r, "CPU so far %v, RSS %d KiB\n", cpu, rss)
		}
		if err := agentMonitorsAll(ctx, c, i, masters); err != nil {
			fmt.Fprintf(&r, "monitoring: %v\n", err)
		} else {
			fmt.Fprintf(&r, "monitoring: all %d masters\n", masters)
		}
		cl := c.AgentClient(i)
		if info, err := cl.Info(ctx, "sentinel").Result(); err == nil {
			fmt.Fprintf(&r, "%s\n", firstLines(info, 12))
		}
		// vipsentinel's own view (why the VIP is or is not wanted), in
		// a file of its own: one entry per master.
		if st, err := cl.Do(ctx, "VIPSENTINEL", "STATUS").Text(); err == nil {
			os.WriteFile(filepath.Join(dir, "status-"+c.Hosts[i].Name+".json"), []byte(st), 0o644)
		}
		cl.Close()
	}
	for i, rd := range c.Redis {
		if rd == nil {
			continue
		}
		fmt.Fprintf(&r, "== %s redis %s (pid %d)\n", c.Hosts[i], rd.Addr, rd.Proc.Pid())
		for _, section := range []string{"clients", "cpu", "stats"} {
			if info, err := rd.Info(ctx, section); err == nil {
				keys := make([]string, 0, len(info))
				for k := range info {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				for _, k := range keys {
					fmt.Fprintf(&r, "%s:%s\n", k, info[k])
				}
			} else {
				fmt.Fprintf(&r, "INFO %s: %v\n", section, err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "report.txt"), []byte(r.String()), 0o644); err != nil {
		b.say("keep: %v", err)
	}
	if out, err := exec.CommandContext(ctx, "cp", "-a", c.Lab.Dir(), filepath.Join(dir, "lab")).CombinedOutput(); err != nil {
		b.say("keep: copy %s: %v: %s", c.Lab.Dir(), err, out)
	}
	b.say("evidence of %s kept in %s", label, dir)
}

// firstLines is the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}
