package scenario

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// The hostile-network scenario (issue 12): an attacker host on the lab's
// network is an ordinary client of the monitored Redis servers (an
// application ACL user; it knows neither the agents' Redis password nor
// their API password). It publishes forged hellos and runs a fake
// Redis/peer at every address it announces, answering whatever it is sent
// with replies built to exhaust a parser. The deployment must not move,
// not restart, not leak a secret to the fake, not adopt a forged epoch, and
// still fail over afterwards.

const (
	// attackFor is how long the forged hellos are published.
	attackFor = 4 * time.Second
	// attackSettle is how long the checks keep running after the last
	// forged hello, so that effects arriving late are seen too.
	attackSettle = 1500 * time.Millisecond
	// helloEvery paces the forged hellos (each round sends every forged
	// hello to every server); real agents publish every 2 s.
	helloEvery = 100 * time.Millisecond
	// phantoms is the number of invented agents the attacker announces.
	phantoms = 10
	// attackerSentinelPort is where the attacker's "agent" listens; the
	// phantoms and the 2^64-1 sender use the ports above it.
	attackerSentinelPort = 26379
	attackerRedisPort    = 6379
)

// appUser and appPass are the application's Redis account, which the
// attacker is assumed to know.
const (
	appUser = "app"
	appPass = "app-pass"
)

// hostileReplies are what the fake endpoint answers, one after the other,
// to every request it receives.
var hostileReplies = [][]byte{
	[]byte("$9223372036854775806\r\n"),       // a bulk string of 2^63-2 bytes
	[]byte("*99999999999\r\n"),               // an array of 10^11 elements
	bytes.Repeat([]byte("*1\r\n"), 100_000),  // 100,000 nested arrays
	garbage(mrand.New(mrand.NewPCG(12, 12))), // bytes that are no RESP at all
}

// garbage returns a few KiB of junk: random bytes mixed with RESP type
// markers, broken lengths and stray line ends.
func garbage(r *mrand.Rand) []byte {
	var b []byte
	for _, s := range []string{"$-2\r\n", ":not-a-number\r\n", "%-1\r\n", "$5\r\nab", "\x00\xff\r\r\n", "+" + strings.Repeat("x", 1000)} {
		b = append(b, s...)
		for range 512 {
			b = append(b, byte(r.Uint32()))
		}
	}
	return b
}

// fakeEndpoint is the attacker's fake Redis/peer: TCP listeners on the
// addresses the forged hellos announce. It records every byte it receives
// and answers every read with the next of hostileReplies.
type fakeEndpoint struct {
	lns  []net.Listener
	wg   sync.WaitGroup
	turn atomic.Uint64

	mu       sync.Mutex
	conns    map[net.Conn]bool
	accepted map[int]int // listening port -> connections accepted
	got      []byte      // everything received, capped at maxRecorded
	received int         // bytes received, including any beyond the cap
	replies  int
}

// maxRecorded caps the recording: the agents send a few hundred bytes per
// connection attempt, so this is never reached unless something loops.
const maxRecorded = 16 << 20

func startFakeEndpoint(h *lab.Host, ports []int) (*fakeEndpoint, error) {
	f := &fakeEndpoint{conns: map[net.Conn]bool{}, accepted: map[int]int{}}
	for _, p := range ports {
		ln, err := h.Listen("tcp", net.JoinHostPort(h.IP4.String(), strconv.Itoa(p)))
		if err != nil {
			f.close()
			return nil, fmt.Errorf("fake endpoint on %s port %d: %w", h, p, err)
		}
		f.lns = append(f.lns, ln)
		f.wg.Add(1)
		go f.accept(ln, p)
	}
	return f, nil
}

func (f *fakeEndpoint) accept(ln net.Listener, port int) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns[c] = true
		f.accepted[port]++
		f.mu.Unlock()
		f.wg.Add(1)
		go f.serve(c)
	}
}

func (f *fakeEndpoint) serve(c net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(buf)
		if n > 0 {
			f.mu.Lock()
			f.received += n
			if len(f.got) < maxRecorded {
				f.got = append(f.got, buf[:min(n, maxRecorded-len(f.got))]...)
			}
			f.replies++
			f.mu.Unlock()
			reply := hostileReplies[(f.turn.Add(1)-1)%uint64(len(hostileReplies))]
			if _, werr := c.Write(reply); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// close stops the listeners and the open connections and waits for them.
func (f *fakeEndpoint) close() {
	for _, ln := range f.lns {
		ln.Close()
	}
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// recorded returns a copy of what the endpoint received and its counters.
func (f *fakeEndpoint) recorded() (got []byte, received, replies int, accepted map[int]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	acc := map[int]int{}
	for p, n := range f.accepted {
		acc[p] = n
	}
	return append([]byte(nil), f.got...), f.received, f.replies, acc
}

func randomRunID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// agentEpochs is what an agent's INFO vipsentinel says about epochs.
type agentEpochs struct {
	current, config uint64
}

func readEpochs(ctx context.Context, c *Cluster, i int) (agentEpochs, error) {
	cl := c.AgentClient(i)
	defer cl.Close()
	s, err := cl.Info(ctx, "vipsentinel").Result()
	if err != nil {
		return agentEpochs{}, fmt.Errorf("INFO vipsentinel of %s: %w", c.Hosts[i], err)
	}
	info := lab.ParseInfo(s)
	var e agentEpochs
	if e.current, err = strconv.ParseUint(info["vipsentinel_current_epoch"], 10, 64); err != nil {
		return e, fmt.Errorf("INFO vipsentinel of %s: vipsentinel_current_epoch %q", c.Hosts[i], info["vipsentinel_current_epoch"])
	}
	for _, kv := range strings.Split(info["vmaster0"], ",") {
		if v, ok := strings.CutPrefix(kv, "config_epoch="); ok {
			if e.config, err = strconv.ParseUint(v, 10, 64); err != nil {
				return e, fmt.Errorf("INFO vipsentinel of %s: config_epoch %q", c.Hosts[i], v)
			}
			return e, nil
		}
	}
	return e, fmt.Errorf("INFO vipsentinel of %s: no config_epoch in vmaster0 %q", c.Hosts[i], info["vmaster0"])
}

// violations collects what the continuous checks saw go wrong.
type violations struct {
	mu   sync.Mutex
	list []string
}

func (v *violations) add(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.list) < 20 {
		v.list = append(v.list, fmt.Sprintf(format, args...))
	}
}

func (v *violations) all() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.list)
}

// TestHostileNetwork is the hostile-network scenario of issue 12.
func TestHostileNetwork(t *testing.T) {
	o := Recommended("hostile", binary)
	o.Clients = 2
	// The application's account: the attacker may PUBLISH and read, like
	// any client, but has neither the agents' Redis password (the default
	// user's) nor their API password.
	o.RedisExtra = []string{fmt.Sprintf("user %s on >%s ~* &* +@all -@dangerous", appUser, appPass)}
	c := startCluster(t, o)
	attacker := c.Lab.Clients()[1]
	secrets := []string{o.Password, o.AgentPassword}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	master := net.JoinHostPort(c.Hosts[0].IP4.String(), "6379")
	pids := make([]int, len(c.Agents))
	for i, p := range c.Agents {
		pids[i] = p.Pid()
		if got, err := c.MasterAddr(ctx, i); err != nil || got != master {
			t.Fatalf("before the attack the agent on %s reports master %q (%v), want %s", c.Hosts[i], got, err, master)
		}
	}
	// Start returns once every agent answers, which can be before the
	// group settled its epoch (an agent that booted last adopts its peers'
	// epoch a moment later): wait until they agree on the same epochs on
	// two reads in a row, so that any later change is the attack's.
	var before []agentEpochs
	if err := wait.For(ctx, 250*time.Millisecond, func() error {
		var now []agentEpochs
		for i := range c.Hosts {
			e, err := readEpochs(ctx, c, i)
			if err != nil {
				return err
			}
			if len(now) > 0 && e != now[0] {
				return fmt.Errorf("agents disagree on epochs: %v and %v", now[0], e)
			}
			now = append(now, e)
		}
		prev := before
		before = now
		if !slices.Equal(prev, now) {
			return fmt.Errorf("epochs still changing: %v -> %v", prev, now)
		}
		return nil
	}); err != nil {
		t.Fatalf("the agents' epochs never settled before the attack: %v", err)
	}
	maxCur, maxCfg := before[0].current, before[0].config
	t.Logf("before the attack: epochs (current, config) %v, master %s", before, master)

	// The fake Redis/peer listens wherever the forged hellos point.
	atk := attacker.IP4.String()
	ports := []int{attackerRedisPort}
	for p := attackerSentinelPort; p <= attackerSentinelPort+phantoms+1; p++ {
		ports = append(ports, p)
	}
	fake, err := startFakeEndpoint(attacker, ports)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.close)

	atkMaster := sentinel.Addr{Host: atk, Port: attackerRedisPort}
	forged := []sentinel.HelloMsg{{
		// (a) one epoch ahead, the attacker as master and as an agent.
		Addr: sentinel.Addr{Host: atk, Port: attackerSentinelPort}, RunID: randomRunID(t),
		CurrentEpoch: maxCur + 1, Master: MasterName, MasterAddr: atkMaster, ConfigEpoch: maxCfg + 1,
	}}
	for k := range phantoms {
		// (b) invented agents, all agreeing with (a).
		forged = append(forged, sentinel.HelloMsg{
			Addr: sentinel.Addr{Host: atk, Port: attackerSentinelPort + 1 + k}, RunID: randomRunID(t),
			CurrentEpoch: maxCur + 1, Master: MasterName, MasterAddr: atkMaster, ConfigEpoch: maxCfg + 1,
		})
	}
	// (c) the largest epoch there is.
	forged = append(forged, sentinel.HelloMsg{
		Addr: sentinel.Addr{Host: atk, Port: attackerSentinelPort + 1 + phantoms}, RunID: randomRunID(t),
		CurrentEpoch: math.MaxUint64, Master: MasterName, MasterAddr: atkMaster, ConfigEpoch: math.MaxUint64,
	})
	forgedRunIDs := map[string]bool{}
	for _, h := range forged {
		forgedRunIDs[h.RunID] = true
	}

	// Every event of every agent, counted by type; the ones that would mean
	// the attack moved something are kept.
	evctx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	events, err := c.Events(evctx)
	if err != nil {
		t.Fatal(err)
	}
	var (
		evmu     sync.Mutex
		evcount  = map[string]int{}
		evsample = map[string]string{}
		evbad    []string
	)
	evdone := make(chan struct{})
	go func() {
		defer close(evdone)
		for e := range events {
			evmu.Lock()
			evcount[e.Type]++
			if _, ok := evsample[e.Type]; !ok {
				evsample[e.Type] = e.Host + ": " + Describe(e)
			}
			bad := false
			switch e.Type {
			case "+switch-master", "+new-epoch", "+try-failover", "+odown", "+config-update-from", "+vip-released":
				bad = true
			case "+sentinel", "+sentinel-address-switch":
				// Only a verified peer is announced with +sentinel.
				bad = strings.Contains(e.Payload, atk)
				for runid := range forgedRunIDs {
					bad = bad || strings.Contains(e.Payload, runid)
				}
			}
			if bad && len(evbad) < 20 {
				evbad = append(evbad, e.Host+": "+Describe(e))
			}
			evmu.Unlock()
		}
	}()

	// The continuous checks: every agent reports the original master and
	// runs; the floating IP is sampled by the cluster's sampler.
	var viol violations
	var apiErrs atomic.Int64
	sampler := c.SampleVIP(5*time.Millisecond, nil)
	chkctx, stopChecks := context.WithCancel(ctx)
	chkdone := make(chan struct{})
	go func() {
		defer close(chkdone)
		for chkctx.Err() == nil {
			for i := range c.Hosts {
				if !c.Agents[i].Running() {
					viol.add("agent on %s exited", c.Hosts[i])
					continue
				}
				got, err := c.MasterAddr(chkctx, i)
				switch {
				case err != nil && chkctx.Err() == nil:
					apiErrs.Add(1)
				case err == nil && got != master:
					viol.add("agent on %s reports master %s, want %s", c.Hosts[i], got, master)
				}
			}
			select {
			case <-chkctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	// The attack: every forged hello to every server, over and over.
	var pubClients []*redis.Client
	for _, r := range c.Redis {
		pubClients = append(pubClients, attacker.RedisClient(&redis.Options{
			Addr: r.Addr, Username: appUser, Password: appPass, Protocol: 2, MaxRetries: -1,
		}))
	}
	// The same hellos PUBLISHed to the agents' own API, without the
	// password the attacker does not have: refused.
	var apiClients []*redis.Client
	for _, h := range c.Hosts {
		apiClients = append(apiClients, attacker.RedisClient(&redis.Options{
			Addr: net.JoinHostPort(h.IP4.String(), strconv.Itoa(AgentPort)), Protocol: 2, MaxRetries: -1,
		}))
	}
	var published, delivered int64
	var pubErr error
	apiRefusals := map[string]int{}
	attackStart := time.Now()
	for time.Since(attackStart) < attackFor {
		for i, ac := range apiClients {
			for _, h := range forged {
				n, err := ac.Publish(ctx, sentinel.HelloChannel, sentinel.FormatHello(h)).Result()
				if err == nil {
					t.Errorf("the agent on %s accepted an unauthenticated PUBLISH of a forged hello from the attacker (%d receivers)", c.Hosts[i], n)
					continue
				}
				msg := err.Error()
				if j := strings.IndexAny(msg, " :"); j > 0 {
					msg = msg[:j]
				}
				apiRefusals[msg]++
			}
		}
		for _, pc := range pubClients {
			for _, h := range forged {
				n, err := pc.Publish(ctx, sentinel.HelloChannel, sentinel.FormatHello(h)).Result()
				if err != nil {
					if pubErr == nil {
						pubErr = err
					}
					continue
				}
				published++
				delivered += n
			}
		}
		time.Sleep(helloEvery)
	}
	for _, pc := range append(pubClients, apiClients...) {
		pc.Close()
	}
	time.Sleep(attackSettle)
	stopChecks()
	<-chkdone
	_, maxHeld, history, serr := sampler.Stop()

	// What the attack reached: without these the checks below would prove
	// nothing.
	t.Logf("attack: %d forged hellos published for %v, delivered to %d subscribers (first error: %v)",
		published, attackFor, delivered, pubErr)
	t.Logf("forged hellos PUBLISHed to the agents' API without a password: refused with %v", apiRefusals)
	if published == 0 || delivered == 0 {
		t.Fatalf("attack never reached the agents: %d hellos published, %d delivered (first error: %v)", published, delivered, pubErr)
	}

	// Continuous checks.
	for _, v := range viol.all() {
		t.Errorf("during the attack: %s", v)
	}
	if n := apiErrs.Load(); n > 0 {
		t.Logf("during the attack %d SENTINEL GET-MASTER-ADDR-BY-NAME queries failed (not counted as a change)", n)
	}
	if serr != nil {
		t.Errorf("floating IP sampling failed: %v", serr)
	}
	if maxHeld != 1 || len(history) != 1 || !slices.Equal(history[0].Holders, []int{0}) {
		var b strings.Builder
		for _, h := range history {
			fmt.Fprintf(&b, " %s:%v", h.At.Format("15:04:05.000"), h.Holders)
		}
		t.Errorf("floating IP not on exactly h1 the whole attack: at most %d holders, changes:%s", maxHeld, b.String())
	}

	// Processes: the same ones, still running.
	for i, p := range c.Agents {
		if !p.Running() || p.Pid() != pids[i] {
			t.Errorf("agent on %s exited or restarted (pid %d, was %d, running %v)", c.Hosts[i], p.Pid(), pids[i], p.Running())
		}
		if hwm, err := peakRSS(p.Pid()); err != nil {
			t.Errorf("agent on %s: %v", c.Hosts[i], err)
		} else if t.Logf("agent on %s: peak resident memory %d MiB", c.Hosts[i], hwm>>20); hwm > maxAgentRSS {
			t.Errorf("agent on %s reached %d MiB of resident memory: a hostile length was allocated", c.Hosts[i], hwm>>20)
		}
		if strings.Contains(p.Log(), "panic") {
			t.Errorf("agent on %s logged a panic:\n%s", c.Hosts[i], tail(p.Log(), 4000))
		}
	}

	// Epochs and master, authenticated, at the end of the attack.
	for i := range c.Hosts {
		if got, err := c.MasterAddr(ctx, i); err != nil || got != master {
			t.Errorf("after the attack the agent on %s reports master %q (%v), want %s", c.Hosts[i], got, err, master)
		}
		e, err := readEpochs(ctx, c, i)
		if err != nil {
			t.Error(err)
			continue
		}
		if e != before[i] {
			t.Errorf("epochs of the agent on %s moved during the attack: current %d -> %d, config %d -> %d (forged: %d/%d and %d)",
				c.Hosts[i], before[i].current, e.current, before[i].config, e.config, maxCur+1, maxCfg+1, uint64(math.MaxUint64))
		}
	}

	evmu.Lock()
	for _, b := range evbad {
		t.Errorf("during the attack an agent published %s", b)
	}
	var types []string
	for k := range evcount {
		types = append(types, k)
	}
	slices.Sort(types)
	var eb strings.Builder
	for _, k := range types {
		fmt.Fprintf(&eb, "  %-28s %5d  e.g. %.160s\n", k, evcount[k], evsample[k])
	}
	rejected := evcount["+hello-rejected"]
	evmu.Unlock()
	t.Logf("events during the attack:\n%s", eb.String())
	if rejected == 0 {
		t.Errorf("no agent published +hello-rejected: the forged hellos were not seen")
	}

	// Afterwards a kill -9 of the master still fails over.
	res := runFailover(t, ctx, c, KillMaster, nil)
	checkMove(t, c, res)
	target := c.Opts.DownAfter + 400*time.Millisecond
	t.Logf("failover after the attack: kill -9 of %s to every agent reporting %s: %v (issue 12 target down-after + 400ms = %v: %s)",
		res.OldMaster, res.NewMaster, res.Switch.Round(time.Millisecond), target, map[bool]string{true: "met", false: "MISSED"}[res.Switch <= target])
	// Known flap (reported, not yet fixed): the new master's agent can
	// drop the floating IP for a few ms at its own +switch-master, until
	// the fresh master instance's first INFO. Shown here, not failed on.
	newHost := c.Hosts[c.HostIndex(hostOf(res.NewMaster))].Name
	if acq, ok := first(res, newHost, "+vip-acquired"); ok {
		for _, l := range res.Timeline {
			if l.Host == newHost && l.At > acq && strings.HasPrefix(l.What, "+vip-released") {
				t.Logf("note: %s released the floating IP at %v, %v after acquiring it as the new master", newHost, l.At, l.At-acq)
				break
			}
		}
	}
	if bound := c.Opts.DownAfter + 5*time.Second; res.Switch > bound {
		t.Errorf("failover after the attack took %v, more than down-after + 5s = %v", res.Switch, bound)
	}

	// Nothing secret ever reached the fake endpoint, during the attack or
	// the failover.
	fake.close()
	got, received, replies, accepted := fake.recorded()
	t.Logf("fake endpoint: %d connections by port %v, %d bytes received, %d hostile replies sent", sum(accepted), accepted, received, replies)
	if len(got) > 0 {
		t.Logf("fake endpoint received, first bytes: %.300q", got)
	}
	upper := bytes.ToUpper(got)
	for _, s := range secrets {
		if bytes.Contains(upper, bytes.ToUpper([]byte(s))) {
			t.Errorf("the fake endpoint received the password %q", s)
		}
	}
	if bytes.Contains(upper, []byte("AUTH")) {
		i := bytes.Index(upper, []byte("AUTH"))
		t.Errorf("the fake endpoint received AUTH: %.200q", got[max(0, i-40):])
	}
	if n := accepted[attackerRedisPort]; n > 0 {
		t.Errorf("the agents connected %d times to the forged master %s:%d", n, atk, attackerRedisPort)
	}
	if received == 0 {
		t.Errorf("the agents never connected to the announced addresses: the hostile replies were never exercised")
	}

	stopEvents()
	<-evdone
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("scenario ran out of time: %v", err)
	}
}

// maxAgentRSS bounds an agent's peak resident memory. An agent needs a few
// tens of MiB; one that believed a hostile bulk or array length would
// need gigabytes (or die).
const maxAgentRSS = 256 << 20

// peakRSS returns the peak resident memory (VmHWM) of process pid in bytes.
func peakRSS(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("peak memory: %w", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak memory: VmHWM %q", v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("peak memory: no VmHWM in /proc/%d/status", pid)
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
