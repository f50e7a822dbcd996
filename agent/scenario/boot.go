package scenario

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// Recommended is the deployment the README recommends, as the boot
// scenario and the fault campaign run it: passwords on Redis and on the
// agents (requirepass, sentinel-pass, auth-pass), min-agents set to the
// number of agents, one floating IP, fence yes.
func Recommended(name, binary string) Options {
	return Options{Name: name, Binary: binary, Password: "redis s3cret", AgentPassword: "agent s3cret", MinAgents: 3}
}

// BootOptions describes a host-by-host boot of a deployment.
type BootOptions struct {
	// Keys is how many keys the master holds before anything else starts
	// (default 200,000), each with a ValueSize-byte value (default 64).
	Keys      int
	ValueSize int
	// Delay separates one host's boot (its redis-server, then its agent)
	// from the next host's (default 2 s).
	Delay time.Duration
	// SyncDelay is the replicas' wait before their initial sync starts:
	// repl-diskless-sync-delay, Redis's default of 5 s unless set. It makes
	// the replicas sync while the agents start, as at a real power-on.
	SyncDelay time.Duration
}

func (b *BootOptions) defaults() {
	if b.Keys == 0 {
		b.Keys = 200_000
	}
	if b.ValueSize == 0 {
		b.ValueSize = 64
	}
	if b.Delay == 0 {
		b.Delay = 2 * time.Second
	}
	if b.SyncDelay == 0 {
		b.SyncDelay = 5 * time.Second
	}
}

// BootResult is what a boot did to the data and to the master.
type BootResult struct {
	FirstMaster string // the master every agent was configured with
	FinalMaster string // the master the agents agree on once settled
	// Failovers counts the distinct epochs in which some agent logged
	// +switch-master, Attempts the +try-failover events (failovers begun,
	// completed or not); ConfigEpoch is the master's highest config epoch
	// any agent reports at the end (0 when no failover ever happened).
	Failovers   int
	Attempts    int
	ConfigEpoch int64
	// Pauses is the number of CLIENT PAUSE commands the redis-servers
	// executed (their INFO commandstats), Fences the +fence events logged.
	Pauses int
	Fences int
	// KeysLost is how many of the Keys preloaded keys the final master
	// lacks; WritesLost how many of the Acked writes made through the
	// floating IP during the boot it lacks.
	KeysLost   int
	Acked      int
	WritesLost int
	Settled    time.Duration // from the first host's boot until the group settled
	Timeline   []Line        // relative to the first host's boot
}

// RunBoot builds a deployment the way a whole-cluster power-on (or an
// install host by host) does: the first host's redis-server starts with
// b.Keys keys and then its agent, and b.Delay later the next host's
// redis-server (a replica of the first, still to sync) and its agent, and so
// on; a client writes through the floating IP from the first boot on. It
// waits until the group settles (Converged) and at least three down-after
// periods have passed since the last agent started, then reports what the
// boot did. Options.Hosts, passwords and min-agents are the caller's.
func RunBoot(ctx context.Context, o Options, b BootOptions) (res *BootResult, err error) {
	b.defaults()
	o.RedisExtra = append(o.RedisExtra, "repl-diskless-sync-delay "+strconv.Itoa(int(b.SyncDelay/time.Second)))
	c, err := newCluster(o)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res = &BootResult{FirstMaster: net.JoinHostPort(c.Hosts[0].IP4.String(), "6379")}
	start := time.Now()
	note := func(host, what string) {
		res.Timeline = append(res.Timeline, Line{At: time.Since(start), Host: host, What: what})
	}
	var w *Writer
	defer func() {
		if w != nil {
			w.Stop()
		}
	}()
	var lastAgent time.Time
	for i, h := range c.Hosts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(b.Delay):
			}
		}
		if err := c.startRedis(i); err != nil {
			return res, err
		}
		note(h.Name, "redis-server started")
		if i == 0 {
			if err := c.preload(ctx, b.Keys, b.ValueSize); err != nil {
				return res, err
			}
			note(h.Name, fmt.Sprintf("%d keys loaded", b.Keys))
		}
		if err := c.startAgent(i); err != nil {
			return res, err
		}
		lastAgent = time.Now()
		note(h.Name, "agent started")
		if i == 0 {
			w = c.StartWriter()
		}
	}
	settle, cancel := context.WithTimeout(ctx, 30*time.Second+c.Opts.FailoverTimeout)
	defer cancel()
	var master string
	err = wait.For(settle, 50*time.Millisecond, func() error {
		var err error
		if master, err = c.Converged(settle); err != nil {
			return err
		}
		if since := time.Since(lastAgent); since < 3*c.Opts.DownAfter {
			return fmt.Errorf("converged on %s; observing until three down-after periods after the last start (%v)", master, since)
		}
		if w.Acked() == 0 {
			return errors.New("no write acknowledged through the floating IP yet")
		}
		return nil
	})
	res.Settled = time.Since(start)
	settleErr := err
	acks := w.Stop()
	w = nil
	res.Acked = len(acks)
	epochs := map[uint64]bool{}
	for i := range c.Hosts {
		for _, e := range AgentLogEvents(c.Agents[i]) {
			switch e.Type {
			case "+switch-master":
				epochs[e.Epoch] = true
			case "+fence":
				res.Fences++
			case "+try-failover":
				res.Attempts++
			}
			if interesting(e.Type) {
				res.Timeline = append(res.Timeline, Line{At: e.At.Sub(start), Host: e.Host, What: e.String()})
			}
		}
	}
	res.Failovers = len(epochs)
	slices.SortStableFunc(res.Timeline, func(a, b Line) int { return cmp.Compare(a.At, b.At) })
	if res.Pauses, err = c.PauseCalls(ctx); err != nil {
		return res, err
	}
	for i := range c.Hosts {
		e, err := c.ConfigEpoch(ctx, i)
		if err != nil {
			return res, err
		}
		res.ConfigEpoch = max(res.ConfigEpoch, e)
	}
	if settleErr != nil {
		// Count the data where clients that follow the agents go: the
		// master a majority of them names.
		if master = c.majorityMaster(ctx); master != "" {
			res.FinalMaster = master
			if present, err := c.countKeys(ctx, master, "k:*"); err == nil {
				res.KeysLost = b.Keys - present
			}
			res.WritesLost, _ = c.LostWrites(ctx, master, acks)
		}
		return res, fmt.Errorf("scenario: the group never settled after the boot: %w", settleErr)
	}
	note("lab", "settled on master "+master)
	res.FinalMaster = master
	present, err := c.countKeys(ctx, master, "k:*")
	if err != nil {
		return res, err
	}
	res.KeysLost = b.Keys - present
	if res.WritesLost, err = c.LostWrites(ctx, master, acks); err != nil {
		return res, err
	}
	return res, nil
}

// majorityMaster is the master a majority of the agents name, or "".
func (c *Cluster) majorityMaster(ctx context.Context) string {
	votes := map[string]int{}
	for i := range c.Hosts {
		if a, err := c.MasterAddr(ctx, i); err == nil {
			votes[a]++
			if votes[a] >= c.quorum() {
				return a
			}
		}
	}
	return ""
}

// preload fills the first host's redis-server with n keys "k:<i>", in
// pipelined MSETs of a thousand keys.
func (c *Cluster) preload(ctx context.Context, n, size int) error {
	cl := c.Redis[0].Client()
	defer cl.Close()
	val := strings.Repeat("v", size)
	const batch = 1000
	for i := 0; i < n; {
		pipe := cl.Pipeline()
		for k := 0; k < 10 && i < n; k++ {
			args := make([]any, 0, 2*batch)
			for j := 0; j < batch && i < n; j, i = j+1, i+1 {
				args = append(args, "k:"+strconv.Itoa(i), val)
			}
			pipe.MSet(ctx, args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("scenario: preload %s: %w", c.Redis[0].Addr, err)
		}
	}
	return nil
}

// countKeys counts the keys matching pattern on the server at addr.
func (c *Cluster) countKeys(ctx context.Context, addr, pattern string) (int, error) {
	cl := c.Client.RedisClient(&redis.Options{Addr: addr, ReadTimeout: 5 * time.Second, Protocol: 2, Password: c.Opts.Password, TLSConfig: c.clientTLS()})
	defer cl.Close()
	n := 0
	it := cl.Scan(ctx, 0, pattern, 10000).Iterator()
	for it.Next(ctx) {
		n++
	}
	if err := it.Err(); err != nil {
		return n, fmt.Errorf("scenario: scan %s on %s: %w", pattern, addr, err)
	}
	return n, nil
}

// Converged returns the master once the group is settled: every agent runs
// and reports the same master, whose redis-server is a master; every other
// redis-server replicates from it with its link up and no sync in
// progress; and the floating IP is on the master's host only.
func (c *Cluster) Converged(ctx context.Context) (string, error) {
	master := ""
	for i := range c.Hosts {
		if !c.Agents[i].Running() {
			return "", fmt.Errorf("agent on %s is not running", c.Hosts[i])
		}
		a, err := c.MasterAddr(ctx, i)
		if err != nil {
			return "", fmt.Errorf("agent on %s: %w", c.Hosts[i], err)
		}
		if master != "" && a != master {
			return "", fmt.Errorf("agents disagree: %s says %s, another %s", c.Hosts[i], a, master)
		}
		master = a
	}
	mi := c.HostIndex(hostOf(master))
	if mi < 0 {
		return "", fmt.Errorf("master %s is not a lab host", master)
	}
	mhost, mport, _ := net.SplitHostPort(master)
	for i, r := range c.Redis {
		info, err := r.Info(ctx, "replication")
		if err != nil {
			return "", err
		}
		if i == mi {
			if info["role"] != "master" {
				return "", fmt.Errorf("%s: agents name it master, its role is %s", c.Hosts[i], info["role"])
			}
			continue
		}
		if info["role"] != "slave" || info["master_host"] != mhost || info["master_port"] != mport {
			return "", fmt.Errorf("%s: role %s of %s:%s, want replica of %s", c.Hosts[i], info["role"], info["master_host"], info["master_port"], master)
		}
		if info["master_link_status"] != "up" || info["master_sync_in_progress"] != "0" {
			return "", fmt.Errorf("%s: link %s, sync in progress %s", c.Hosts[i], info["master_link_status"], info["master_sync_in_progress"])
		}
	}
	holders, err := c.VIPHolders()
	if err != nil {
		return "", err
	}
	if len(holders) != 1 || holders[0] != mi {
		return "", fmt.Errorf("floating IP held by hosts %v, want only %s", holders, c.Hosts[mi])
	}
	return master, nil
}

// ConfigEpoch asks host i's agent for the master's config epoch (SENTINEL
// MASTER), which only a failover raises.
func (c *Cluster) ConfigEpoch(ctx context.Context, i int) (int64, error) {
	cl := c.AgentClient(i)
	defer cl.Close()
	e, err := AgentConfigEpoch(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("agent on %s: %w", c.Hosts[i], err)
	}
	return e, nil
}

// AgentConfigEpoch asks the agent cl is connected to for the master's config
// epoch (SENTINEL MASTER).
func AgentConfigEpoch(ctx context.Context, cl *redis.Client) (int64, error) {
	kv, err := cl.Do(ctx, "SENTINEL", "MASTER", MasterName).StringSlice()
	if err != nil {
		return 0, fmt.Errorf("SENTINEL MASTER: %w", err)
	}
	for k := 0; k+1 < len(kv); k += 2 {
		if kv[k] == "config-epoch" {
			return strconv.ParseInt(kv[k+1], 10, 64)
		}
	}
	return 0, errors.New("SENTINEL MASTER has no config-epoch")
}

// PauseCalls adds up the CLIENT PAUSE commands every redis-server has
// executed since it started (INFO commandstats): a reliable record of
// pauses that no event subscriber can miss.
func (c *Cluster) PauseCalls(ctx context.Context) (int, error) {
	total := 0
	for _, r := range c.Redis {
		n, err := pauseCalls(ctx, r)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func pauseCalls(ctx context.Context, r *lab.Redis) (int, error) {
	info, err := r.Info(ctx, "commandstats")
	if err != nil {
		return 0, err
	}
	stat := info["cmdstat_client|pause"] // "calls=1,usec=5,..."
	for _, f := range strings.Split(stat, ",") {
		if v, ok := strings.CutPrefix(f, "calls="); ok {
			return strconv.Atoi(v)
		}
	}
	return 0, nil
}
