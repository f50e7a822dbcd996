package e2e

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestForgedHelloDoesNotMoveMaster: an ordinary client of the master
// PUBLISHes forged hellos (a higher config epoch naming its own address, a
// real agent's run id naming a real replica, epoch 2^64-1, ten phantom
// agents). No agent adopts them: every agent reports +hello-rejected, the
// master is unchanged and still a master, the agents' epochs did not move,
// and a later kill of the master still fails over.
func TestForgedHelloDoesNotMoveMaster(t *testing.T) {
	cl := newCluster(t, agentConf{quorum: 2}, lab.RedisOptions{}, nil)
	cl.waitDiscovered(t)
	rec := cl.recordEvents(t)
	ctx := testenv.Context(t, 120*time.Second)
	before, err := masterMap(ctx, cl.agents[0].client(cl.cl, cl.pass))
	if err != nil {
		t.Fatal(err)
	}
	epoch, _ := strconv.ParseUint(before["config-epoch"], 10, 64)
	realID, err := cl.agents[1].client(cl.cl, cl.pass).Do(ctx, "SENTINEL", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	attacker := cl.cl.IP4.String()
	r := rand.New(rand.NewSource(1))
	runid := func() string {
		const hexd = "0123456789abcdef"
		b := make([]byte, 40)
		for i := range b {
			b[i] = hexd[r.Intn(16)]
		}
		return string(b)
	}
	next := epoch + 1
	forged := []string{
		fmt.Sprintf("%s,26379,%s,%d,mymaster,%s,6379,%d", attacker, runid(), next, attacker, next),
		fmt.Sprintf("%s,26379,%s,%d,mymaster,%s,6379,%d", cl.hosts[1].IP4, realID, next, cl.hosts[1].IP4, next),
		fmt.Sprintf("%s,26379,%s,%d,mymaster,%s,6379,%d", attacker, runid(), uint64(1<<64-1), attacker, uint64(1<<64-1)),
	}
	for i := 0; i < 10; i++ {
		forged = append(forged, fmt.Sprintf("%s,%d,%s,0,mymaster,%s,6379,0", attacker, 30000+i, runid(), cl.hosts[0].IP4))
	}
	// The attacker is an ordinary client of the monitored master.
	rc := cl.cl.RedisClient(&redis.Options{Addr: cl.redis[0].Addr, Protocol: 2})
	defer rc.Close()
	// Published again on every check: +hello-rejected is limited to one a
	// second per agent, so a rejection just before the recording started
	// would hide the next one.
	lab.Eventually(ctx, t, func() error {
		for _, f := range forged {
			if err := rc.Publish(ctx, "__sentinel__:hello", f).Err(); err != nil {
				return err
			}
		}
		_, lines := rec.count("+hello-rejected")
		for _, a := range cl.agents {
			found := false
			for _, l := range lines {
				if strings.HasPrefix(l, a.host.Name+" ") {
					found = true
				}
			}
			if !found {
				return fmt.Errorf("%s has not rejected the forged hellos", a.host.Name)
			}
		}
		return nil
	}, "every agent rejects the forged hellos")
	for _, a := range cl.agents {
		m, err := masterMap(ctx, a.client(cl.cl, cl.pass))
		if err != nil {
			t.Fatal(err)
		}
		if m["ip"] != cl.hosts[0].IP4.String() || m["config-epoch"] != before["config-epoch"] {
			t.Fatalf("%s moved by forged hellos: master %s epoch %s", a.host.Name, m["ip"], m["config-epoch"])
		}
	}
	if n, lines := rec.count("+switch-master"); n != 0 {
		t.Fatalf("forged hellos switched the master: %v", lines)
	}
	if info, err := role(ctx, cl.redis[0]); err != nil || info["role"] != "master" {
		t.Fatalf("master demoted by forged hellos: %v %v", info["role"], err)
	}
	// The group still fails over.
	killed := time.Now()
	if err := cl.redis[0].Proc.Kill(); err != nil {
		t.Fatal(err)
	}
	cl.waitAllReport(t, cl.redis[1].Addr, 60*time.Second)
	t.Logf("failover after the forged hellos: %v", time.Since(killed).Round(time.Millisecond))
}
