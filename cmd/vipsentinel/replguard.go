package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// The replica guard is Redis's own refusal of writes that no replica
// receives: with min-replicas-to-write N and min-replicas-max-lag S, a
// master with fewer than N replicas that acknowledged its stream within S
// seconds answers writes with -NOREPLICAS. Without it a master whose
// replicas are cut off or still loading acknowledges writes that exist on
// it alone, and a failover then loses them (issue 13's campaign: 1051
// such writes in an hour). The agents do not add a guard of their own: the
// redis-server checks every write atomically, even with the agent down,
// and answers it with an error instead of holding it as a pause would;
// the agent only checks that the guard is set and reports it.

// guardMsg is the warning for a redis-server of a group with replicas and
// no guard.
const guardMsg = "writes may be acknowledged with no replica receiving them"

// guardState is what one redis-server's INFO replication says about the
// guard.
type guardState struct {
	Addr     string
	Role     string // "master" or "slave"
	Guarded  bool   // min-replicas-to-write and min-replicas-max-lag both set (INFO shows min_slaves_good_slaves)
	Good     int    // replicas within min-replicas-max-lag now (when Guarded)
	Replicas int    // connected_slaves
}

func parseGuard(addr string, info map[string]string) guardState {
	g := guardState{Addr: addr, Role: info["role"]}
	g.Replicas, _ = strconv.Atoi(info["connected_slaves"])
	if v, ok := info["min_slaves_good_slaves"]; ok {
		g.Guarded = true
		g.Good, _ = strconv.Atoi(v)
	}
	return g
}

// judgeGuard turns the states of a group's redis-servers into warnings (a
// redis-server of a group with replicas has no guard, unless the operator
// accepted that with allow-unreplicated-writes) and problems (the master
// refuses writes now: no replica within min-replicas-max-lag). A replica's
// own settings matter because a failover may promote it.
func judgeGuard(master string, allow bool, states []guardState) (warns, problems []string) {
	for _, g := range states {
		if !g.Guarded && !allow && (g.Role == "slave" || g.Replicas > 0) {
			warns = append(warns, fmt.Sprintf("master %s: %s (%s) has min-replicas-to-write 0: %s, and a failover loses them; "+
				"set min-replicas-to-write 1 and min-replicas-max-lag 2 on every redis-server of the group, "+
				"or sentinel allow-unreplicated-writes %s yes to accept it", master, g.Addr, roleName(g.Role), guardMsg, master))
		}
		if g.Guarded && g.Role == "master" && g.Good == 0 {
			problems = append(problems, fmt.Sprintf("master %s: %s refuses writes (-NOREPLICAS): no replica within min-replicas-max-lag (%d connected)",
				master, g.Addr, g.Replicas))
		}
	}
	return warns, problems
}

func roleName(role string) string {
	if role == "slave" {
		return "replica"
	}
	return role
}

// probeGuard reads addr's INFO replication with m's credentials (and the
// group's TLS when tls-replication is on), within ctx.
func probeGuard(ctx context.Context, f *config.File, m config.Master, addr string) (guardState, error) {
	var tlsCfg *tls.Config
	if f.TLS.Replication {
		src, err := tlsconf.New(f.TLS)
		if err != nil {
			return guardState{}, fmt.Errorf("TLS client certificate: %w", err)
		}
		host, _, _ := net.SplitHostPort(addr)
		tlsCfg = src.ClientConfig(host)
	}
	cl := redis.NewClient(&redis.Options{Addr: addr, Username: m.AuthUser, Password: m.AuthPass, Protocol: 2, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second, DisableIdentity: true, TLSConfig: tlsCfg})
	defer cl.Close()
	info := "info"
	if n, ok := m.RenamedCommands["info"]; ok {
		info = n
	}
	if info == "" {
		return guardState{}, fmt.Errorf("INFO is disabled (rename-command %s info \"\")", m.Name)
	}
	raw, err := cl.Do(ctx, info, "replication").Text()
	if err != nil {
		return guardState{}, fmt.Errorf("INFO replication: %w", err)
	}
	return parseGuard(addr, parseInfo(raw)), nil
}

// guardAddrs lists the redis-servers of a master to check: the master and
// the replicas an agent reports ("ip:port"), or the configured address
// alone.
type guardAddrs func(ctx context.Context, m config.Master) []string

// guardBudget bounds the replica guard's check in check-config and status.
const guardBudget = 2 * time.Second

// checkGuards probes every master of f at the addresses addrs gives and
// returns the warnings and problems (judgeGuard); an instance that cannot
// be asked is a warning saying so. The whole check takes at most budget.
func checkGuards(f *config.File, addrs guardAddrs, budget time.Duration) (warns, problems []string) {
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	for _, m := range f.Masters {
		var states []guardState
		for _, a := range addrs(ctx, *m) {
			g, err := probeGuard(ctx, f, *m, a)
			if err != nil {
				warns = append(warns, fmt.Sprintf("master %s: cannot check min-replicas-to-write on %s: %v", m.Name, a, err))
				continue
			}
			states = append(states, g)
		}
		w, p := judgeGuard(m.Name, m.AllowUnreplicatedWrites, states)
		warns, problems = append(warns, w...), append(problems, p...)
	}
	return warns, problems
}

// configuredAddr is check-config's guardAddrs: the address the file
// monitors.
func configuredAddr(_ context.Context, m config.Master) []string {
	return []string{m.Addr.String()}
}

// agentAddrs is status's guardAddrs: where the agent says the master and
// its replicas are now (the configured address when it cannot say).
func agentAddrs(cl *redis.Client) guardAddrs {
	return func(ctx context.Context, m config.Master) []string {
		addr, err := cl.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", m.Name).StringSlice()
		if err != nil || len(addr) != 2 {
			return configuredAddr(ctx, m)
		}
		out := []string{net.JoinHostPort(addr[0], addr[1])}
		reps, _ := maps(ctx, cl, "SENTINEL", "REPLICAS", m.Name)
		for _, r := range reps {
			out = append(out, net.JoinHostPort(r["ip"], r["port"]))
		}
		return out
	}
}

// degradedBy adds reasons to h: a healthy verdict becomes degraded.
func (h Health) degradedBy(reasons []string) Health {
	if len(reasons) == 0 {
		return h
	}
	if h.State == "healthy" {
		h.State = "degraded"
	}
	h.Reasons = append(h.Reasons, reasons...)
	return h
}
