package compat

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// checkUsernameClients logs in as the limited user app (aclUserLines) with
// go-redis and redis-cli, against redis-sentinel and against the agent:
// both answer the permitted command and refuse the others with the same
// -NOPERM text.
func checkUsernameClients(t *testing.T, rsAddr, vsAddr string) {
	t.Helper()
	type answers struct{ addr, denied, set string }
	ask := func(addr string) answers {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := redis.NewSentinelClient(&redis.Options{Addr: addr, Username: "app", Password: "apppw", Protocol: 2})
		defer c.Close()
		var a answers
		if hp, err := c.GetMasterAddrByName(ctx, "mymaster").Result(); err != nil {
			a.addr = "error: " + err.Error()
		} else {
			a.addr = strings.Join(hp, ":")
		}
		a.denied = errText(c.Failover(ctx, "mymaster").Err())
		a.set = errText(c.Set(ctx, "mymaster", "quorum", "1").Err())
		return a
	}
	want, got := ask(rsAddr), ask(vsAddr)
	if !strings.Contains(want.denied, "NOPERM") {
		t.Fatalf("redis-sentinel let app run SENTINEL FAILOVER (%q): test bug", want.denied)
	}
	if got.denied != want.denied || got.set != want.set || got.addr != want.addr {
		t.Errorf("go-redis as app:\n vipsentinel    %+v\n redis-sentinel %+v", got, want)
	}

	cli := func(addr string, args ...string) string {
		host, port := hostPort(addr)
		full := append([]string{"-h", host, "-p", strconv.Itoa(port), "--user", "app", "--pass", "apppw", "--no-auth-warning"}, args...)
		out, err := exec.Command("redis-cli", full...).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, args := range [][]string{
		{"INFO"},
		{"ACL", "WHOAMI"},
		{"SENTINEL", "FAILOVER", "mymaster"},
	} {
		if w, g := cli(rsAddr, args...), cli(vsAddr, args...); w != g {
			t.Errorf("redis-cli --user app %v:\n vipsentinel    %q\n redis-sentinel %q", args, g, w)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
