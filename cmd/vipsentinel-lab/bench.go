package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/campaign"
	"github.com/vipsentinel/vipsentinel/agent/scenario"
)

// cmdBench measures vipsentinel against the classic stack it replaces
// (redis-sentinel + a client-reconfig-script running ip addr and arping) in
// the same lab and the same run, and prints the figures. It never passes or
// fails on time: it reports.
func cmdBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runs := fs.Int("runs", 5, "failover runs per stack and scenario")
	useTLS := fs.Bool("tls", false, "run the vipsentinel stack TLS-only (Redis and agents, client certificates from a throw-away CA)")
	downAfter := fs.Duration("down-after", time.Second, "down-after-milliseconds")
	only := fs.String("only", "failover,idle,api", "comma-separated parts to run: failover, idle, api")
	idleWindow := fs.Duration("idle-window", 10*time.Second, "how long idle CPU is averaged over")
	idleSettle := fs.Duration("idle-settle", 10*time.Second, "how long the deployment runs before the idle window (discovery, first INFO rounds)")
	manyMasters := fs.Int("masters", 50, "monitored masters per agent for the second idle measurement (each a group of three redis-servers: 200 groups overload a 2-core lab)")
	lossPct := fs.Int("loss", 5, "idle-loss: percent of every host's frames dropped; partition: of the frames to and from the master's host during the idle run")
	maxLag := fs.Int("min-replicas-max-lag", campaign.RecommendedGuard.MaxLag, "campaign, idle-loss, partition's idle run: the redis-servers' min-replicas-max-lag (min-replicas-to-write 1); 0: no guard (min-replicas-to-write 0)")
	apiRequests := fs.Int("api-requests", 200000, "api: requests per redis-benchmark run")
	scaleMasters := fs.String("scale-masters", "1,50,200,500", "scale: comma-separated numbers of monitored masters")
	labName := fs.String("name", "bench", "lab name prefix (namespaces, directories)")
	keep := fs.String("keep", "", "scale: when a deployment fails to start or to monitor every master, copy its lab directory and what its agents report under this directory")
	campaignFor := fs.Duration("for", 10*time.Minute, "campaign: how long faults are injected")
	seed := fs.Uint64("seed", 0, "campaign: fault schedule seed (0: a new one, printed)")
	lossWhen := fs.String("loss-when", "both", "loss: when the loss starts: steady (before the client writes), kill (with the kill) or both")
	bootDelay := fs.Duration("boot-delay", 2*time.Second, "boot: delay between one host's boot and the next")
	rounds := fs.Int("rounds", 3, "idle, partition, switchover: interleaved rounds per stack")
	lossFor := fs.Duration("loss-for", 10*time.Minute, "partition: length of the idle run (idle-loss's, on the master's host only) under -loss percent loss that counts false pauses (0: skip it)")
	var scaleCounts []int // -scale-masters, parsed
	// The cases: the table generates both the -case help and the dispatch,
	// so the two cannot disagree.
	cases := []struct {
		name, summary string
		run           func(ctx context.Context, b *bench) error
	}{
		{"boot", "host-by-host boot, -runs times", func(ctx context.Context, b *bench) error { return b.boot(ctx, *runs, *bootDelay) }},
		{"campaign", "randomized faults for -for", func(ctx context.Context, b *bench) error {
			return b.campaign(ctx, *seed, *campaignFor, guardOf(*maxLag), nil)
		}},
		{"idle-loss", "no fault but -loss % packet loss on every host for -for", func(ctx context.Context, b *bench) error {
			return b.idleLoss(ctx, *campaignFor, *lossPct, guardOf(*maxLag), everyHost)
		}},
		{"loss", "kill -9 at 10 % and 30 % packet loss, -runs times per stack", func(ctx context.Context, b *bench) error { return b.loss(ctx, *runs, *lossWhen) }},
		{"idle", "CPU per host, -rounds", func(ctx context.Context, b *bench) error { return b.idleCase(ctx, *idleSettle, *idleWindow, *rounds) }},
		{"partition", "master host cut off, -runs, then -loss-for idle under -loss % loss", func(ctx context.Context, b *bench) error {
			return b.partitionCase(ctx, *runs, *lossFor, *lossPct, guardOf(*maxLag))
		}},
		{"switchover", "SENTINEL FAILOVER of a healthy master, -runs", func(ctx context.Context, b *bench) error { return b.switchoverCase(ctx, *runs) }},
		{"api", "5 interleaved API rate runs", func(ctx context.Context, b *bench) error { return b.apiCase(ctx, apiRuns, *apiRequests) }},
		{"scale", "idle cost by -scale-masters, then -runs detection runs", func(ctx context.Context, b *bench) error {
			return b.scaleCase(ctx, scaleCounts, *idleSettle, *idleWindow, *runs)
		}},
	}
	var names, help []string
	for _, c := range cases {
		names, help = append(names, c.name), append(help, c.name+" ("+c.summary+")")
	}
	caseName := fs.String("case", "", "run one case instead of the parts: "+orList(help))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vipsentinel-lab bench [flags]\n\n"+
			"Runs, side by side in the same lab, vipsentinel and the classic redis-sentinel +\n"+
			"client-reconfig-script (ip addr + arping) stack, and prints: client-observed write outage\n"+
			"through the floating IP, acknowledged writes lost and time with the IP on two hosts, for a\n"+
			"kill -9 of the master and for the master's host cut off; idle CPU and memory; and the\n"+
			"SENTINEL GET-MASTER-ADDR-BY-NAME rate with 50 clients. Needs root.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	i := slices.Index(names, *caseName)
	if i < 0 && *caseName != "" {
		fmt.Fprintf(stderr, "vipsentinel bench: unknown -case %q (want %s)\n", *caseName, orList(names))
		return exitUsage
	}
	var err error
	if scaleCounts, err = parseCounts(*scaleMasters); err != nil {
		fmt.Fprintf(stderr, "vipsentinel bench: -scale-masters: %v\n", err)
		return exitUsage
	}
	ctx, stop, self, err := labSession("bench", stdout)
	if err != nil {
		fmt.Fprintf(stderr, "vipsentinel bench: %v\n", err)
		return exitFail
	}
	defer stop()
	b := &bench{out: stdout, self: self, downAfter: *downAfter, tls: *useTLS, name: *labName, keep: *keep}
	fmt.Fprintf(stdout, "vipsentinel bench %s: down-after %v, %d runs per case, %s\n\n", agentVersion(self), *downAfter, *runs, time.Now().UTC().Format(time.RFC3339))
	if i >= 0 {
		if cases[i].run(ctx, b) != nil {
			return exitFail
		}
		return exitOK
	}
	// The parts are the cases' measurements, shortened.
	parts := strings.Split(*only, ",")
	failed := false
	if slices.Contains(parts, "failover") {
		failed = b.failover(ctx, *runs) != nil || failed
	}
	if slices.Contains(parts, "idle") {
		failed = b.scaleCase(ctx, []int{1, *manyMasters}, *idleSettle, *idleWindow, 0) != nil || failed
	}
	if slices.Contains(parts, "api") {
		failed = b.apiCase(ctx, 1, *apiRequests) != nil || failed
	}
	if failed {
		return exitFail
	}
	return exitOK
}

// orList is "a, b or c".
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

type bench struct {
	out       io.Writer
	self      string
	downAfter time.Duration
	tls       bool   // Options.TLS for the vipsentinel stack
	name      string // lab name prefix
	keep      string // -keep: where failed deployments' evidence goes ("": nowhere)
}

func (b *bench) say(format string, a ...any) { fmt.Fprintf(b.out, format+"\n", a...) }

func (b *bench) start(ctx context.Context, stack scenario.Stack, masters int) (*scenario.Cluster, error) {
	return scenario.Start(ctx, b.options(stack, masters))
}

// options are the lab options every case starts stack with: the bench's
// down-after, binary, name and TLS, and extra monitored masters beside the
// main one.
func (b *bench) options(stack scenario.Stack, extra int) scenario.Options {
	return scenario.Options{
		Stack: stack, DownAfter: b.downAfter, Binary: b.self, Name: b.name, ExtraMasters: extra,
		TLS: b.tls && stack == scenario.Vipsentinel,
	}
}

type caseStats struct {
	outages []time.Duration
	lost    []int
	acked   []int
	dual    []time.Duration
	errs    int
}

func (b *bench) failover(ctx context.Context, runs int) error {
	b.say("== failover through the floating IP (client writes every %v)", scenario.WriteInterval)
	b.say("%-22s %-22s %10s %10s %12s %12s %8s", "stack", "fault", "outage p50", "outage max", "lost (sum)", "dual-IP max", "errors")
	var firstErr error
	stats := map[scenario.Stack]map[scenario.Fault]*caseStats{}
	for _, fault := range []scenario.Fault{scenario.KillMaster, scenario.IsolateMaster} {
		for _, stack := range []scenario.Stack{scenario.Vipsentinel, scenario.Classic} {
			st := &caseStats{}
			if stats[stack] == nil {
				stats[stack] = map[scenario.Fault]*caseStats{}
			}
			stats[stack][fault] = st
			for r := 0; r < runs && ctx.Err() == nil; r++ {
				res, err := b.oneRun(ctx, stack, fault)
				if err != nil {
					st.errs++
					fmt.Fprintf(os.Stderr, "bench: %s / %s run %d: %v\n", stack, fault, r+1, err)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				st.outages = append(st.outages, res.Outage)
				st.lost = append(st.lost, res.Lost)
				st.acked = append(st.acked, res.Acked)
				st.dual = append(st.dual, res.Dual)
			}
			b.say("%-22s %-22s %10s %10s %12s %12s %8d", stack, fault,
				ms(median(st.outages)), ms(maxOf(st.outages)), fmt.Sprintf("%d/%d", sum(st.lost), sum(st.acked)), ms(maxOf(st.dual)), st.errs)
		}
	}
	b.say("")
	for _, fault := range []scenario.Fault{scenario.KillMaster, scenario.IsolateMaster} {
		v, c := stats[scenario.Vipsentinel][fault], stats[scenario.Classic][fault]
		b.say("ratio vipsentinel/classic, %s: outage p50 %s, max %s, lost writes %s",
			fault, ratio(float64(median(v.outages)), float64(median(c.outages))),
			ratio(float64(maxOf(v.outages)), float64(maxOf(c.outages))),
			ratio(float64(sum(v.lost)), float64(sum(c.lost))))
	}
	b.say("")
	return firstErr
}

func (b *bench) oneRun(ctx context.Context, stack scenario.Stack, fault scenario.Fault) (*scenario.Result, error) {
	c, err := b.start(ctx, stack, 0)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.RunFailover(ctx, fault, nil)
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return -1
	}
	return slices.Max(ds)
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

func ms(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

func ratio(a, b float64) string {
	if b == 0 {
		if a == 0 {
			return "1.00 (both 0)"
		}
		return "n/a (classic 0)"
	}
	return fmt.Sprintf("%.2f", a/b)
}
