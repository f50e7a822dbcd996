package compat

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestHostnames runs a mixed group (a real redis-sentinel and two agents,
// one per lab host) that names every Redis instance by hostname, in both
// announce-hostnames modes, with resolve-hostnames on everywhere:
//
//   - the master is configured by hostname, the replicas announce
//     hostnames (replica-announce-ip) and replicate from the master's
//     hostname; with announce-hostnames no the replicas are also listed by
//     IP (known-replica), so each must be counted once, not twice;
//   - every sentinel reports the same addresses (SENTINEL MASTER,
//     REPLICAS, GET-MASTER-ADDR-BY-NAME): hostnames with
//     announce-hostnames, the resolved IPs without;
//   - a failover led by an agent gives the same +switch-master payload on
//     every sentinel, and the replicas end up following the address form
//     (hostname or IP) that redis-sentinel would have sent in SLAVEOF.
//
// Names resolve through a hosts file private to each lab host:
// "ip netns exec" (which starts every lab process) bind-mounts
// /etc/netns/<namespace>/hosts over /etc/hosts, for redis-server,
// redis-sentinel and the agent alike. The test writes those files before
// it starts anything and removes them at the end.
func TestHostnames(t *testing.T) {
	for _, announce := range []bool{false, true} {
		name := map[bool]string{false: "announce-no", true: "announce-yes"}[announce]
		t.Run(name, func(t *testing.T) { hostnameGroup(t, announce) })
	}
}

const (
	hnMaster = "m"
	hnPort   = 26379
)

func hostnameGroup(t *testing.T, announce bool) {
	l := lab.NewT(t, lab.Config{Hosts: 3, Name: "cmphn"})
	hosts := l.Hosts()
	names := make([]string, len(hosts))
	var hostsFile strings.Builder
	hostsFile.WriteString("127.0.0.1 localhost\n")
	for i, h := range hosts {
		names[i] = fmt.Sprintf("redis-%d.cmp.test", i+1)
		fmt.Fprintf(&hostsFile, "%s %s\n", h.IP4, names[i])
	}
	for _, h := range hosts {
		writeNetnsHosts(t, h.NS, hostsFile.String())
	}
	// announced is how a sentinel reports host i's Redis.
	announced := func(i int) string {
		if announce {
			return names[i]
		}
		return hosts[i].IP4.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	servers := make([]*lab.Redis, len(hosts))
	for i, h := range hosts {
		extra := []string{"replica-announce-ip " + names[i]}
		if i > 0 {
			extra = append(extra, fmt.Sprintf("replicaof %s 6379", names[0]))
		}
		r, err := h.StartRedis(lab.RedisOptions{Extra: extra})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = r
	}
	for _, r := range servers[1:] {
		if err := r.WaitLinkUp(ctx); err != nil {
			t.Fatal(err)
		}
	}

	common := []string{
		"sentinel resolve-hostnames yes",
		"sentinel announce-hostnames " + map[bool]string{false: "no", true: "yes"}[announce],
		fmt.Sprintf("sentinel monitor %s %s 6379 2", hnMaster, names[0]),
		"sentinel down-after-milliseconds " + hnMaster + " 2000",
		"sentinel failover-timeout " + hnMaster + " 10000",
	}
	if !announce {
		// The same replicas by IP: with resolve-hostnames, the INFO that
		// names them by hostname must not add two more.
		for _, h := range hosts[1:] {
			common = append(common, fmt.Sprintf("sentinel known-replica %s %s 6379", hnMaster, h.IP4))
		}
	}
	rsID := strings.Repeat("7", 39) + "a"
	startSentinel := func(i int, bin string, extra ...string) {
		h := hosts[i]
		dir := filepath.Join(l.Dir(), "sentinel-"+h.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		conf := append([]string{
			fmt.Sprintf("port %d", hnPort),
			fmt.Sprintf("bind %s", h.IP4),
			"dir " + dir,
			"protected-mode no",
		}, common...)
		conf = append(conf, extra...)
		path := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Start(bin, path); err != nil {
			t.Fatal(err)
		}
	}
	startSentinel(0, "redis-sentinel", "sentinel myid "+rsID)
	for i := 1; i < len(hosts); i++ {
		startSentinel(i, agentBin, fmt.Sprintf("sentinel known-sentinel %s %s %d %s", hnMaster, hosts[0].IP4, hnPort, rsID))
	}
	clients := make([]*redis.Client, len(hosts))
	for i, h := range hosts {
		clients[i] = h.RedisClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", h.IP4, hnPort), Protocol: 2})
	}
	who := func(i int) string {
		if i == 0 {
			return "redis-sentinel " + hosts[i].Name
		}
		return "agent " + hosts[i].Name
	}

	// Every +switch-master, from the start: none may come before the
	// failover (a hostname and its IP are one address).
	var mu sync.Mutex
	switches := make([][]string, len(hosts))
	for i, c := range clients {
		testenv.Eventually(t, 20*time.Second, who(i)+" to accept SUBSCRIBE", func() error {
			sub := c.Subscribe(ctx, "+switch-master")
			if _, err := sub.Receive(ctx); err != nil {
				sub.Close()
				return err
			}
			go func() {
				for msg := range sub.Channel() {
					mu.Lock()
					switches[i] = append(switches[i], msg.Payload)
					mu.Unlock()
				}
			}()
			t.Cleanup(func() { sub.Close() })
			return nil
		})
	}

	wantReplicas := []string{announced(1), announced(2)}
	for i, c := range clients {
		testenv.Eventually(t, 60*time.Second, who(i)+" to see the group by "+map[bool]string{false: "IP", true: "hostname"}[announce], func() error {
			m, err := sentinelFields(ctx, c, "SENTINEL", "MASTER", hnMaster)
			if err != nil {
				return err
			}
			if m["flags"] != "master" || m["ip"] != announced(0) || m["num-slaves"] != "2" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("master flags=%s ip=%s num-slaves=%s num-other-sentinels=%s, want ip %s, 2 replicas, 2 others",
					m["flags"], m["ip"], m["num-slaves"], m["num-other-sentinels"], announced(0))
			}
			reps, err := sentinelList(ctx, c, "SENTINEL", "REPLICAS", hnMaster)
			if err != nil {
				return err
			}
			var ips []string
			for _, r := range reps {
				if r["flags"] != "slave" || r["master-link-status"] != "ok" {
					return fmt.Errorf("replica %s flags=%s link=%s", r["name"], r["flags"], r["master-link-status"])
				}
				if r["name"] != r["ip"]+":6379" || r["master-host"] != names[0] { // as the replica reports it in INFO
					return fmt.Errorf("replica name=%s ip=%s master-host=%s", r["name"], r["ip"], r["master-host"])
				}
				ips = append(ips, r["ip"])
			}
			slices.Sort(ips)
			if !slices.Equal(ips, wantReplicas) {
				return fmt.Errorf("replicas %v, want %v", ips, wantReplicas)
			}
			addr, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", hnMaster).StringSlice()
			if err != nil || len(addr) != 2 || addr[0] != announced(0) {
				return fmt.Errorf("GET-MASTER-ADDR-BY-NAME %v %v, want %s", addr, err, announced(0))
			}
			return nil
		})
	}

	// A failover led by an agent: it sends the SLAVEOFs.
	if err := clients[1].Do(ctx, "SENTINEL", "FAILOVER", hnMaster).Err(); err != nil {
		t.Fatalf("SENTINEL FAILOVER on %s: %v", who(1), err)
	}
	var newMaster int
	testenv.Eventually(t, 60*time.Second, "every sentinel to agree on a new master", func() error {
		var got []string
		for _, c := range clients {
			addr, err := c.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", hnMaster).StringSlice()
			if err != nil {
				return err
			}
			got = append(got, addr[0])
		}
		for j := 1; j < len(hosts); j++ {
			if got[0] == announced(j) && got[1] == got[0] && got[2] == got[0] {
				newMaster = j
				return nil
			}
		}
		return fmt.Errorf("masters %v", got)
	})
	wantSwitch := fmt.Sprintf("%s %s 6379 %s 6379", hnMaster, announced(0), announced(newMaster))
	testenv.Eventually(t, 30*time.Second, "one +switch-master on every sentinel, "+wantSwitch, func() error {
		mu.Lock()
		defer mu.Unlock()
		for i, s := range switches {
			if !slices.Equal(s, []string{wantSwitch}) {
				return fmt.Errorf("%s: +switch-master %q", who(i), s)
			}
		}
		return nil
	})
	for i, r := range servers {
		if i == newMaster {
			continue
		}
		testenv.Eventually(t, 30*time.Second, hosts[i].Name+" to replicate from "+announced(newMaster), func() error {
			info, err := r.Info(ctx, "replication")
			if err != nil {
				return err
			}
			if info["role"] != "slave" || info["master_host"] != announced(newMaster) {
				return fmt.Errorf("role=%s master_host=%s", info["role"], info["master_host"])
			}
			return nil
		})
	}
}

// writeNetnsHosts gives the lab namespace ns its own /etc/hosts (see
// TestHostnames) until the test ends.
func writeNetnsHosts(t *testing.T, ns, content string) {
	t.Helper()
	dir := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		os.Remove("/etc/netns") // only when no other namespace has one
	})
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sentinelFields runs a command that returns one instance map, over RESP2.
func sentinelFields(ctx context.Context, c *redis.Client, args ...any) (map[string]string, error) {
	v, err := c.Do(ctx, args...).Slice()
	if err != nil {
		return nil, err
	}
	return pairsToMap(v)
}

// sentinelList runs a command that returns a list of instance maps.
func sentinelList(ctx context.Context, c *redis.Client, args ...any) ([]map[string]string, error) {
	v, err := c.Do(ctx, args...).Slice()
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(v))
	for _, e := range v {
		l, ok := e.([]any)
		if !ok {
			return nil, fmt.Errorf("%v: element %T, want an array", args, e)
		}
		m, err := pairsToMap(l)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func pairsToMap(v []any) (map[string]string, error) {
	if len(v)%2 != 0 {
		return nil, fmt.Errorf("odd number of elements %d", len(v))
	}
	m := make(map[string]string, len(v)/2)
	for i := 0; i < len(v); i += 2 {
		m[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
	}
	return m, nil
}
