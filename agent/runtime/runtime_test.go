package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/clock"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// memStore records saved states in memory, and can be made to fail.
type memStore struct {
	mu    sync.Mutex
	saves []*sentinel.HardState
	fail  error
	log   *eventLog
}

func (s *memStore) Save(hs *sentinel.HardState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.saves = append(s.saves, hs)
	if s.log != nil {
		s.log.add(fmt.Sprintf("save epoch=%d", hs.CurrentEpoch))
	}
	return nil
}

func (s *memStore) last() *sentinel.HardState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.saves) == 0 {
		return nil
	}
	return s.saves[len(s.saves)-1]
}

func (s *memStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

type eventLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *eventLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// recTransport records commands and never answers.
type recTransport struct {
	log *eventLog
	in  chan sentinel.Input
}

func (t *recTransport) Do(c sentinel.Command) {
	t.log.add(fmt.Sprintf("do kind=%d to=%s", c.Kind, c.To.Addr))
}
func (t *recTransport) Inputs() <-chan sentinel.Input { return t.in }
func (t *recTransport) Close() error                  { return nil }

type vipRec struct {
	mu   sync.Mutex
	sets [][]sentinel.VIPIntent
}

func (v *vipRec) Set(in []sentinel.VIPIntent) {
	v.mu.Lock()
	v.sets = append(v.sets, in)
	v.mu.Unlock()
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func masterCfg(name string, port, quorum int) sentinel.MasterConfig {
	return sentinel.MasterConfig{
		Name: name, Addr: sentinel.Addr{Host: "127.0.0.1", Port: port}, Quorum: quorum,
		DownAfter: 1000 * time.Millisecond, FailoverTimeout: 10 * time.Second, ParallelSyncs: 1,
	}
}

type agent struct {
	rt     *Runtime
	addr   string
	store  *memStore
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t *testing.T, cfg sentinel.Config, st *sentinel.HardState, store *memStore, opts Options) *agent {
	t.Helper()
	ln := testenv.Listen(t)
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewSource(1))
	}
	opts.Config, opts.State, opts.Store = cfg, st, store
	opts.Listeners = []net.Listener{ln}
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	rt, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{rt: rt, addr: ln.Addr().String(), store: store, cancel: cancel, done: make(chan error, 1)}
	go func() { a.done <- rt.Run(ctx) }()
	t.Cleanup(func() { a.stop(t) })
	testenv.Receive(t, rt.Ready(), 10*time.Second, "runtime ready")
	return a
}

// startRecorded starts an agent for mymaster at 127.0.0.1:6999, where
// nothing listens, that knows the verified peers peerIDs, on a memStore
// and a recTransport writing one eventLog: the order of its saves and its
// commands is what the test reads.
func startRecorded(t *testing.T, peerIDs ...string) (*agent, *eventLog) {
	t.Helper()
	log := &eventLog{}
	tr := &recTransport{log: log, in: make(chan sentinel.Input)}
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"},
		Masters: []sentinel.MasterConfig{masterCfg("mymaster", 6999, 2)}}
	return startAgent(t, cfg, knownPeers(peerIDs...), &memStore{log: log}, Options{Transport: tr}), log
}

// stop cancels the agent's Run and returns its result.
func (a *agent) stop(t *testing.T) error {
	a.cancel()
	return a.result(t, stopTimeout+time.Second, "stop of the runtime within the stop timeout")
}

// result waits up to timeout for Run's result, what the test waits for,
// and leaves it for the next reader (stop at cleanup).
func (a *agent) result(t *testing.T, timeout time.Duration, what string) error {
	t.Helper()
	err := testenv.Receive(t, a.done, timeout, what)
	a.done <- err
	return err
}

// TestFailoverWithRealRedis runs one agent (quorum 1) against a real master
// and replica: killing the master must promote the replica, announce
// +switch-master on the API, and persist the new configuration.
func TestFailoverWithRealRedis(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.Start(t, fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))
	store := &memStore{}
	mc := masterCfg("mymaster", master.Port, 1)
	mc.HasVIP = true
	dir := t.TempDir()
	reconfOut := filepath.Join(dir, "reconf.out")
	reconf := filepath.Join(dir, "reconf.sh")
	if err := os.WriteFile(reconf, []byte("#!/bin/sh\necho \"$@\" >> "+reconfOut+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mc.ClientReconfigScript = reconf
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"}, DenyScriptsReconfig: true,
		Masters: []sentinel.MasterConfig{mc}}
	vips := &vipRec{}
	a := startAgent(t, cfg, nil, store, Options{VIPs: vips})

	sc := redis.NewSentinelClient(&redis.Options{Addr: a.addr})
	defer sc.Close()
	ctx := context.Background()
	ps := sc.Subscribe(ctx, "+switch-master")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	// The agent discovers the replica through the master's INFO.
	testenv.Until(t, 15*time.Second, "replica discovered", func() bool {
		rs, err := sc.Replicas(ctx, "mymaster").Result()
		return err == nil && len(rs) == 1 && rs[0]["port"] == strconv.Itoa(replica.Port) && rs[0]["master-link-status"] == "ok"
	})
	if got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result(); err != nil || got[1] != strconv.Itoa(master.Port) {
		t.Fatalf("master addr = %v, %v", got, err)
	}

	killed := time.Now()
	master.Kill()
	msg := testenv.Receive(t, ps.Channel(), 30*time.Second, "+switch-master")
	if want := fmt.Sprintf("mymaster 127.0.0.1 %d 127.0.0.1 %d", master.Port, replica.Port); msg.Payload != want {
		t.Fatalf("+switch-master %q, want %q", msg.Payload, want)
	}
	t.Logf("failover took %v (down-after 1s)", time.Since(killed).Round(time.Millisecond))
	if got := replica.CLI(t, "ROLE"); !strings.HasPrefix(got, "master") {
		t.Fatalf("replica not promoted: %s", got)
	}
	got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
	if err != nil || got[1] != strconv.Itoa(replica.Port) {
		t.Fatalf("master addr after failover = %v, %v", got, err)
	}
	st := store.last()
	if st == nil || st.CurrentEpoch < 1 || len(st.Masters) != 1 || st.Masters[0].CurrentAddr.Port != replica.Port || st.Masters[0].ConfigEpoch < 1 {
		t.Fatalf("persisted state after failover = %+v", st)
	}
	rc := redis.NewClient(&redis.Options{Addr: a.addr})
	defer rc.Close()
	status, err := rc.Do(ctx, "VIPSENTINEL", "STATUS").Text()
	if err != nil || !strings.Contains(status, fmt.Sprintf(`"address":"127.0.0.1:%d"`, replica.Port)) {
		t.Fatalf("status = %s, %v", status, err)
	}
	// The client-reconfig-script ran with Sentinel's arguments.
	wantArgs := fmt.Sprintf("mymaster leader start 127.0.0.1 %d 127.0.0.1 %d", master.Port, replica.Port)
	testenv.Until(t, 5*time.Second, "client-reconfig-script", func() bool {
		b, _ := os.ReadFile(reconfOut)
		return strings.TrimSpace(string(b)) == wantArgs
	})
	// Both instances are on this host: the VIP stays here, justified by
	// the new config epoch.
	testenv.Until(t, 5*time.Second, "VIP intent for the new epoch", func() bool {
		vips.mu.Lock()
		defer vips.mu.Unlock()
		last := vips.sets[len(vips.sets)-1]
		return len(last) == 1 && last[0].Own && last[0].Epoch == st.Masters[0].ConfigEpoch
	})
	// STATUS= follows within statusDelay of the events.
	testenv.Until(t, 5*time.Second, "STATUS= line with the new master", func() bool {
		return strings.Contains(a.rt.Status(), fmt.Sprintf("mymaster 127.0.0.1:%d", replica.Port))
	})
}

// TestPersistBeforeDispatchAndReply checks the Ready contract: commands are
// sent and votes answered only after the state is saved, and not at all
// while saving fails.
func TestPersistBeforeDispatchAndReply(t *testing.T) {
	a, log := startRecorded(t, strings.Repeat("c", 40))
	store := a.store
	testenv.Until(t, 5*time.Second, "first connect", func() bool {
		for _, l := range log.snapshot() {
			if strings.HasPrefix(l, "do ") {
				return true
			}
		}
		return false
	})
	lines := log.snapshot()
	if !strings.HasPrefix(lines[0], "save ") {
		t.Fatalf("first action is %q, want the initial save (the generated myid)", lines[0])
	}

	rc := redis.NewClient(&redis.Options{Addr: a.addr, Protocol: 2})
	defer rc.Close()
	ctx := context.Background()
	peer := strings.Repeat("c", 40)

	store.setFail(errors.New("disk full"))
	_, err := rc.Do(ctx, "SENTINEL", "is-master-down-by-addr", "127.0.0.1", "6999", "5", peer).Result()
	if err == nil || !strings.Contains(err.Error(), "Failed to save") {
		t.Fatalf("vote answered while the state could not be saved: %v", err)
	}
	if st := a.rt.Status(); !strings.Contains(st, "STATE NOT SAVED") {
		testenv.Until(t, 3*time.Second, "status shows unsaved state", func() bool { return strings.Contains(a.rt.Status(), "STATE NOT SAVED") })
	}
	store.setFail(nil)
	res, err := rc.Do(ctx, "SENTINEL", "is-master-down-by-addr", "127.0.0.1", "6999", "5", peer).Slice()
	if err != nil || len(res) != 3 || res[1] != peer || res[2] != int64(5) {
		t.Fatalf("vote = %v, %v", res, err)
	}
	st := store.last()
	if st.CurrentEpoch != 5 || st.Masters[0].Leader != peer || st.Masters[0].LeaderEpoch != 5 {
		t.Fatalf("vote not persisted before the reply: %+v", st.Masters[0])
	}
}

// knownPeers is a state in which ids are verified peers of mymaster (a
// vote goes only to a verified peer), at 127.0.0.1:26380 and up.
func knownPeers(ids ...string) *sentinel.HardState {
	ms := sentinel.MasterState{Config: masterCfg("mymaster", 6999, 2)}
	for i, id := range ids {
		ms.KnownSentinels = append(ms.KnownSentinels, sentinel.SentinelRecord{Addr: sentinel.Addr{Host: "127.0.0.1", Port: 26380 + i}, RunID: id})
	}
	return &sentinel.HardState{Masters: []sentinel.MasterState{ms}}
}

// TestRestartKeepsEpochAndVote restarts an agent from its saved state: a
// second vote request in the same epoch must get the old vote back.
func TestRestartKeepsEpochAndVote(t *testing.T) {
	store := &memStore{}
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"},
		Masters: []sentinel.MasterConfig{masterCfg("mymaster", 6999, 2)}}
	tr := &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)}
	a := startAgent(t, cfg, knownPeers(strings.Repeat("a", 40), strings.Repeat("b", 40)), store, Options{Transport: tr})
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: a.addr, Protocol: 2})
	first, second := strings.Repeat("a", 40), strings.Repeat("b", 40)
	if res, err := rc.Do(ctx, "SENTINEL", "is-master-down-by-addr", "127.0.0.1", "6999", "7", first).Slice(); err != nil || res[1] != first {
		t.Fatalf("vote = %v, %v", res, err)
	}
	rc.Close()
	myid := store.last().MyID
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	cfg.Rand = rand.New(rand.NewSource(2))
	b := startAgent(t, cfg, store.last(), store, Options{Transport: &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)}})
	rc = redis.NewClient(&redis.Options{Addr: b.addr, Protocol: 2})
	defer rc.Close()
	res, err := rc.Do(ctx, "SENTINEL", "is-master-down-by-addr", "127.0.0.1", "6999", "7", second).Slice()
	if err != nil || res[1] != first || res[2] != int64(7) {
		t.Fatalf("after restart, vote in epoch 7 = %v, %v; want the old vote for %s", res, err, first)
	}
	if id, _ := rc.Do(ctx, "SENTINEL", "myid").Text(); id != myid {
		t.Fatalf("myid changed across restart: %s -> %s", myid, id)
	}
}

func TestGracefulStop(t *testing.T) {
	master := redistest.Start(t)
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"}, Masters: []sentinel.MasterConfig{masterCfg("m", master.Port, 1)}}
	a := startAgent(t, cfg, nil, &memStore{}, Options{})
	rc := redis.NewClient(&redis.Options{Addr: a.addr})
	defer rc.Close()
	testenv.Until(t, 5*time.Second, "heartbeat", func() bool { return time.Since(a.rt.Heartbeat()) < time.Second })
	ps := rc.Subscribe(context.Background(), "+sdown")
	defer ps.Close()
	start := time.Now()
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > stopTimeout {
		t.Fatalf("stop took %v", d)
	}
	if _, err := net.DialTimeout("tcp", a.addr, time.Second); err == nil {
		t.Fatal("API still listening after stop")
	}
}

func TestShutdownCommand(t *testing.T) {
	var once sync.Once
	stopped := make(chan struct{})
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"}}
	a := startAgent(t, cfg, nil, &memStore{}, Options{Transport: &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)},
		Shutdown: func() { once.Do(func() { close(stopped) }) }})
	rc := redis.NewClient(&redis.Options{Addr: a.addr})
	defer rc.Close()
	_ = rc.Shutdown(context.Background()).Err()
	testenv.Receive(t, stopped, 5*time.Second, "call of the Shutdown hook after SHUTDOWN")
}

func TestScripts(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var mu sync.Mutex
	var events []string
	r := newScriptRunner(testLogger(t), func(ev sentinel.Event) {
		mu.Lock()
		events = append(events, ev.Type+" "+ev.Payload)
		mu.Unlock()
	}, clock.Real{})
	defer r.stop(time.Second)
	got := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), events...) }
	timing := sentinel.Timing{ScriptMaxRuntime: 500 * time.Millisecond, ScriptRetryDelay: 50 * time.Millisecond}

	// Arguments reach the script verbatim: no shell interprets them.
	out := filepath.Join(dir, "args")
	ok := script("ok.sh", `printf '%s\n' "$@" > `+out)
	r.run(sentinel.ScriptRun{Master: "m", Path: ok, Args: []string{"mymaster", "leader", "start", "$(touch " + dir + "/pwned)", "a b"}}, timing)
	testenv.Until(t, 5*time.Second, "ok script", func() bool { b, _ := os.ReadFile(out); return len(b) > 0 })
	if b, _ := os.ReadFile(out); string(b) != "mymaster\nleader\nstart\n$(touch "+dir+"/pwned)\na b\n" {
		t.Fatalf("script args = %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("an argument was interpreted by a shell")
	}

	// Exit 2: an error, no retry.
	bad := script("bad.sh", "exit 2")
	r.run(sentinel.ScriptRun{Master: "m", Path: bad}, timing)
	testenv.Until(t, 5*time.Second, "-script-error", func() bool {
		for _, e := range got() {
			if e == "-script-error "+bad+" 0 2" {
				return true
			}
		}
		return false
	})

	// Exit 1: retried with a doubling delay until it succeeds.
	counter := filepath.Join(dir, "count")
	flaky := script("flaky.sh", `n=$(cat `+counter+` 2>/dev/null || echo 0); n=$((n+1)); echo $n > `+counter+`; [ $n -ge 3 ] || exit 1`)
	r.run(sentinel.ScriptRun{Master: "m", Path: flaky}, timing)
	testenv.Until(t, 5*time.Second, "flaky script to succeed on the third run", func() bool {
		b, _ := os.ReadFile(counter)
		running, queued := r.counts()
		return strings.TrimSpace(string(b)) == "3" && running == 0 && queued == 0
	})

	// Too slow: SIGKILL after the run-time limit, -script-timeout, retried.
	slow := script("slow.sh", "sleep 30")
	r.run(sentinel.ScriptRun{Master: "m", Path: slow}, timing)
	testenv.Until(t, 5*time.Second, "-script-timeout", func() bool {
		for _, e := range got() {
			if strings.HasPrefix(e, "-script-timeout "+slow+" ") {
				return true
			}
		}
		return false
	})
	testenv.Until(t, 5*time.Second, "slow script rescheduled", func() bool {
		p := r.pending()
		return len(p) == 1 && p[0].RetryNum >= 1
	})
}

func TestLogLevelFollowsConfigSet(t *testing.T) {
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelDebug) // what main derived from the config file
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"}}
	a := startAgent(t, cfg, nil, &memStore{}, Options{LogLevel: lv, Transport: &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)}})
	if lv.Level() != slog.LevelDebug {
		t.Fatalf("start changed the level to %v", lv.Level())
	}
	rc := redis.NewClient(&redis.Options{Addr: a.addr})
	defer rc.Close()
	if err := rc.Do(context.Background(), "SENTINEL", "CONFIG", "SET", "loglevel", "warning").Err(); err != nil {
		t.Fatal(err)
	}
	testenv.Until(t, 5*time.Second, "level warn", func() bool { return lv.Level() == slog.LevelWarn })
}

// A loglevel SENTINEL CONFIG SET gave before a restart (persisted in the
// state) replaces the configuration file's at start.
func TestLogLevelFromState(t *testing.T) {
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelDebug) // what main derived from the config file
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"}, LogLevel: "debug"}
	st := &sentinel.HardState{MyID: strings.Repeat("a", 40), Settings: []sentinel.Setting{{Name: "loglevel", Value: "warning"}}}
	startAgent(t, cfg, st, &memStore{}, Options{LogLevel: lv, Transport: &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)}})
	if lv.Level() != slog.LevelWarn {
		t.Errorf("level %v after a restart with loglevel warning persisted, want WARN", lv.Level())
	}
}

// TestSimulatedCrash: SENTINEL SIMULATE-FAILURE crash-after-election makes
// Run return ErrSimulatedCrash once elected, with the epoch persisted and
// no promotion sent.
func TestSimulatedCrash(t *testing.T) {
	master := redistest.Start(t)
	replica := redistest.Start(t, fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))
	store := &memStore{}
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"}, Masters: []sentinel.MasterConfig{masterCfg("mymaster", master.Port, 1)}}
	a := startAgent(t, cfg, nil, store, Options{})
	rc := redis.NewClient(&redis.Options{Addr: a.addr})
	defer rc.Close()
	ctx := context.Background()
	testenv.Until(t, 15*time.Second, "replica discovered", func() bool {
		rs, err := rc.Do(ctx, "SENTINEL", "replicas", "mymaster").Slice()
		return err == nil && len(rs) == 1
	})
	if err := rc.Do(ctx, "SENTINEL", "SIMULATE-FAILURE", "crash-after-election").Err(); err != nil {
		t.Fatal(err)
	}
	master.Kill()
	if err := a.result(t, 30*time.Second, "simulated crash"); !errors.Is(err, ErrSimulatedCrash) {
		t.Fatalf("Run returned %v, want ErrSimulatedCrash", err)
	}
	if st := store.last(); st.CurrentEpoch != 1 {
		t.Fatalf("epoch of the failover attempt not persisted: %d", st.CurrentEpoch)
	}
	if got := replica.CLI(t, "ROLE"); !strings.HasPrefix(got, "slave") {
		t.Fatalf("replica promoted although the agent crashed after the election: %s", got)
	}
}

// TestPeerHelloBeforeLaterRequest: a peer's hello is answered without
// waiting for the loop, yet the loop applies it before any request the peer
// sends after it.
func TestPeerHelloBeforeLaterRequest(t *testing.T) {
	// Verified peers (from the state) at 127.0.0.1, PUBLISHing from
	// there: with no requirepass that is the path that carries evidence.
	var peerIDs []string
	for i := range 20 {
		peerIDs = append(peerIDs, fmt.Sprintf("%040x", i+1))
	}
	a, _ := startRecorded(t, peerIDs...)
	store := a.store
	rc := redis.NewClient(&redis.Options{Addr: a.addr, Protocol: 2})
	defer rc.Close()
	ctx := context.Background()
	for i := range 20 {
		// Hold the loop, so that the hello waits in the queue while the
		// next request arrives.
		held, release := make(chan struct{}), make(chan struct{})
		go a.rt.do(ctx, func(sentinel.Time) { close(held); <-release })
		<-held
		peer := peerIDs[i]
		hello := fmt.Sprintf("127.0.0.1,%d,%s,%d,mymaster,127.0.0.1,6999,0", 26380+i, peer, 7+i)
		if n, err := rc.Do(ctx, "PUBLISH", sentinel.HelloChannel, hello).Int(); err != nil || n != 1 {
			t.Fatalf("PUBLISH of a hello while the loop is busy = %d, %v", n, err)
		}
		got := make(chan string, 1)
		go func() {
			res, err := rc.Do(ctx, "SENTINEL", "SENTINELS", "mymaster").Result()
			got <- fmt.Sprint(res, err)
		}()
		time.Sleep(10 * time.Millisecond) // let the request reach the loop's queue
		close(release)
		if s := <-got; !strings.Contains(s, peer) {
			t.Fatalf("hello %d not applied before the next request: SENTINEL SENTINELS = %s", i, s)
		}
	}
	if st := store.last(); st == nil || st.CurrentEpoch < 7+19 {
		t.Fatalf("the hellos' epoch was not persisted: %+v", st)
	}
}
