package metrics_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/metrics"
	"github.com/vipsentinel/vipsentinel/agent/metrics/source"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/firewall"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/internal/wait"
	"github.com/vipsentinel/vipsentinel/vip"
)

// TestSystem exports a real vip.Manager and firewall.Manager (through package
// source) working in a lab namespace, and checks that what other processes do
// to them (remove the VIP, add a dropping chain, delete our table) shows in
// the metrics.
func TestSystem(t *testing.T) {
	l := lab.NewT(t, lab.Config{Hosts: 1, Name: "metrics"})
	h := l.Hosts()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))

	// VIP manager on h1's eth0.
	nl, err := vip.NewNetlink(vip.NetlinkOptions{NetNSPath: h.NetNSPath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nl.Close() })
	pk, err := vip.NewPacket(vip.PacketOptions{NetNSPath: h.NetNSPath(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pk.Close() })
	vipPrefix := netip.PrefixFrom(l.FreeIP4(), l.Prefix4().Bits())
	var met *metrics.Metrics // set before the managers run
	vm, err := vip.New([]vip.Config{{Master: "mymaster", Prefix: vipPrefix, Interface: "eth0",
		GARP: &vip.GARPConfig{Count: 2, Interval: 100 * time.Millisecond}}},
		vip.Options{Addrs: nl, Announcer: pk, Logger: log.With("component", "vip"),
			ReconcileInterval: 200 * time.Millisecond,
			OnEvent: func(e vip.Event) {
				met.ObserveEvent(time.Now(), sentinel.Event{Type: e.Type, Master: e.Master, Epoch: e.Epoch, Payload: e.Payload})
			}})
	if err != nil {
		t.Fatal(err)
	}

	// Firewall manager in h1's namespace.
	nsf, err := os.Open(h.NetNSPath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nsf.Close() })
	fw, err := firewall.New(firewall.Config{AgentPort: 26379, RedisPort: 6379},
		firewall.Options{NetNS: int(nsf.Fd()), Logger: log, ReconcileInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	met = metrics.New(metrics.Options{VIPs: source.VIPs(vm), Firewall: source.Firewall(fw), Heartbeat: time.Now, Logger: log, Version: "test"})
	run(t, "vip", func(ctx context.Context) error { return vm.Run(ctx) }, func(ctx context.Context) error { return vm.Close(ctx) })
	if err := fw.Open(ctx); err != nil {
		t.Fatalf("firewall open: %v", err)
	}
	run(t, "firewall", fw.Run, fw.Close)
	base := metrics.ServeForTest(t, met)

	labels := map[string]string{"master": "mymaster", "vip": vipPrefix.Addr().String(), "iface": "eth0"}
	eventually(t, met.Registry(), "the VIP is not exported as released", func(g getter) bool {
		v, ok := g("vipsentinel_vip_held", labels)
		return ok && v == 0
	})

	vm.Set([]vip.Intent{{Master: "mymaster", Own: true, Epoch: 4, Reason: "test"}})
	eventually(t, met.Registry(), "held VIP with announcements and +vip-acquired", func(g getter) bool {
		held, _ := g("vipsentinel_vip_held", labels)
		epoch, _ := g("vipsentinel_vip_epoch", labels)
		ann, _ := g("vipsentinel_vip_announcements_total", labels)
		acq, _ := g("vipsentinel_events_total", map[string]string{"type": "+vip-acquired"})
		open, _ := g("vipsentinel_firewall_open", nil)
		return held == 1 && epoch == 4 && ann >= 1 && acq == 1 && open == 1
	})

	// Someone else removes the VIP: the manager adds it back and counts a
	// repair.
	if out, err := h.Exec(ctx, "ip", "addr", "del", vipPrefix.String(), "dev", "eth0"); err != nil {
		t.Fatalf("ip addr del: %v %s", err, out)
	}
	eventually(t, met.Registry(), "a repair", func(g getter) bool {
		v, _ := g("vipsentinel_vip_repairs_total", labels)
		held, _ := g("vipsentinel_vip_held", labels)
		return v == 1 && held == 1
	})

	// A foreign input chain with policy drop: an unhandled conflict.
	nft := func(args ...string) {
		t.Helper()
		if out, err := h.Exec(ctx, "nft", args...); err != nil {
			t.Fatalf("nft %v: %v %s", args, err, out)
		}
	}
	nft("add", "table", "ip", "foreign")
	nft("add", "chain", "ip", "foreign", "input", "{ type filter hook input priority 0; policy drop; }")
	eventually(t, met.Registry(), "an unhandled firewall conflict", func(g getter) bool {
		v, _ := g("vipsentinel_firewall_conflicts", map[string]string{"handled": "false"})
		return v == 1
	})
	nft("delete", "table", "ip", "foreign")

	// Someone deletes our table: restored and counted.
	nft("delete", "table", "inet", firewall.TableName)
	eventually(t, met.Registry(), "a firewall restore, no conflict left", func(g getter) bool {
		r, _ := g("vipsentinel_firewall_restores_total", nil)
		c, _ := g("vipsentinel_firewall_conflicts", map[string]string{"handled": "false"})
		open, _ := g("vipsentinel_firewall_open", nil)
		return r >= 1 && c == 0 && open == 1
	})

	// The same state over HTTP.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`vipsentinel_vip_held{iface="eth0",master="mymaster",vip="%s"} 1`, vipPrefix.Addr())
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("GET /metrics: %d, lacks %q", resp.StatusCode, want)
	}
}

// run starts a manager's Run and stops it (close, then cancel) at cleanup.
func run(t *testing.T, name string, runFn, closeFn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runFn(ctx) }()
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		if err := closeFn(cctx); err != nil {
			t.Errorf("%s: close: %v", name, err)
		}
		cancel()
		testenv.Receive(t, done, 10*time.Second, name+" Run return")
	})
}

// getter looks a sample up by metric name and exact label set.
type getter func(name string, labels map[string]string) (float64, bool)

// eventually gathers reg until cond holds, failing after wait.Default with
// the agent's metrics as they were last.
func eventually(t *testing.T, reg prometheus.Gatherer, what string, cond func(getter) bool) {
	t.Helper()
	testenv.Eventually(t, wait.Default, what, func() error {
		mfs, err := reg.Gather()
		if err != nil {
			return wait.Permanent(fmt.Errorf("gather: %w", err))
		}
		g := func(name string, labels map[string]string) (float64, bool) {
			for _, mf := range mfs {
				if mf.GetName() != name {
					continue
				}
			metric:
				for _, m := range mf.GetMetric() {
					if len(m.GetLabel()) != len(labels) {
						continue
					}
					for _, lp := range m.GetLabel() {
						if labels[lp.GetName()] != lp.GetValue() {
							continue metric
						}
					}
					switch {
					case m.Gauge != nil:
						return m.GetGauge().GetValue(), true
					case m.Counter != nil:
						return m.GetCounter().GetValue(), true
					}
				}
			}
			return 0, false
		}
		var b strings.Builder
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "vipsentinel_") {
				fmt.Fprintf(&b, "%s\n", mf.String())
			}
		}
		return testenv.Pending(cond(g), "metrics:\n"+b.String())
	})
}
