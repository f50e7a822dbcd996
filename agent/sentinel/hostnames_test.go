package sentinel

import (
	"slices"
	"strings"
	"testing"
)

// TestHostnames checks resolve-hostnames and announce-hostnames: a master
// named by hostname and a replica its INFO names both by IP and by
// hostname count as one instance each, and addresses are reported by name
// only with announce-hostnames (else by the IP the runtime resolved).
func TestHostnames(t *testing.T) {
	for _, announce := range []bool{false, true} {
		t.Run(map[bool]string{false: "announce-no", true: "announce-yes"}[announce], func(t *testing.T) {
			cfg := testConfig()
			cfg.ResolveHostnames, cfg.AnnounceHostnames = true, announce
			cfg.Masters[0].Addr = Addr{Host: "Redis-M.test", Port: 6379}
			h := newHarness(t, cfg)
			h.step(Resolved{Host: "redis-m.test", IP: tMaster.Host})
			h.step(Resolved{Host: "redis-r1.test", IP: tRep1.Host})
			if got := Hostnames(InfoReply{Info: &Info{MasterHost: "a.test", Replicas: []InfoReplica{{Addr: Addr{Host: "198.18.0.9"}}, {Addr: Addr{Host: "b.test"}}}}}); !slices.Equal(got, []string{"a.test", "b.test"}) {
				t.Errorf("Hostnames(INFO) = %v", got)
			}
			if got := h.n.KnownHostnames(); !slices.Equal(got, []string{"redis-m.test"}) {
				t.Errorf("KnownHostnames = %v", got)
			}
			// The master's INFO lists the replica by IP, then by name.
			for _, rep := range []Addr{tRep1, {Host: "redis-r1.test", Port: tRep1.Port}} {
				for range 3 {
					h.answer(func(r Ref) string {
						if r.Kind == KindMaster {
							return masterInfo(rep)
						}
						return replicaInfo(Addr{Host: "redis-m.test", Port: 6379}, true, 100, 10, "")
					})
					h.now += h.n.Timing().InfoPeriod
					h.step(Tick{})
				}
			}
			reps, err := h.n.Replicas(h.now, "mymaster")
			if err != nil || len(reps) != 1 {
				t.Fatalf("replicas = %d (%v), want 1: the same instance by IP and by name", len(reps), err)
			}
			wantM, wantR := tMaster.Host, tRep1.Host
			if announce {
				wantM, wantR = "redis-m.test", tRep1.Host // the replica was first met by IP
			}
			if a, _ := h.n.MasterAddr("mymaster"); a.Host != wantM {
				t.Errorf("GET-MASTER-ADDR-BY-NAME host %q, want %q", a.Host, wantM)
			}
			if ip := kv(reps[0], "ip"); ip != wantR {
				t.Errorf("replica ip %q, want %q", ip, wantR)
			}
			for _, e := range h.takeEvents() {
				if e.Type == "+slave" && !strings.Contains(e.Payload, "@ mymaster "+wantM+" 6379") {
					t.Errorf("+slave payload %q, want the master as %s", e.Payload, wantM)
				}
			}
			if !h.n.isLocal(Addr{Host: "redis-m.test"}) == (tMaster.Host == cfg.LocalIPs[0]) {
				t.Errorf("isLocal by name disagrees with isLocal by IP")
			}
		})
	}
}

func kv(kvs []KV, k string) string {
	for _, e := range kvs {
		if e.Key == k {
			return e.Value
		}
	}
	return ""
}
