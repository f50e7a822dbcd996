package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/redislink"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/state"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// A real agent proves itself to redislink's verifier before any AUTH, and
// only with the right secret, run id and address.
func TestAgentProvesItself(t *testing.T) {
	const pass = "group-secret"
	cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"}, RequirePass: pass,
		Masters: []sentinel.MasterConfig{masterCfg("mymaster", 6999, 2)}}
	tr0 := &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)}
	a := startAgent(t, cfg, nil, &memStore{}, Options{Transport: tr0})
	myid := a.rt.node.MyID()
	host, portS, _ := net.SplitHostPort(a.addr)
	port, _ := strconv.Atoi(portS)
	at := sentinel.Addr{Host: host, Port: port}

	// Before AUTH, PROVE is answered and nothing else is.
	rc := redis.NewClient(&redis.Options{Addr: a.addr, Protocol: 2})
	defer rc.Close()
	ctx := context.Background()
	if err := rc.Do(ctx, "SENTINEL", "MYID").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("SENTINEL MYID before AUTH: %v", err)
	}
	if err := rc.Do(ctx, "VIPSENTINEL", "PROVE", "not-a-nonce").Err(); err == nil || !strings.Contains(err.Error(), "invalid nonce") {
		t.Fatalf("PROVE with a bad nonce: %v", err)
	}

	for _, tc := range []struct {
		name   string
		secret string
		runid  string
		want   sentinel.PeerProof
	}{
		{"right secret", pass, myid, sentinel.ProofSecret},
		{"wrong secret", "guess", myid, sentinel.ProofNone},
		{"another run id", pass, strings.Repeat("b", 40), sentinel.ProofNone},
	} {
		tr := redislink.New(redislink.Options{CommandTimeout: 2 * time.Second})
		ref := sentinel.Ref{Master: "mymaster", Kind: sentinel.KindSentinel, Addr: at, RunID: tc.runid}
		tr.Do(sentinel.Command{Kind: sentinel.CmdConnect, To: ref, Link: sentinel.LinkCmd,
			Cmds: [][]string{{"AUTH", tc.secret}, {"CLIENT", "SETNAME", "proof-test"}}})
		got := testenv.Receive(t, tr.Inputs(), 10*time.Second, tc.name+" link report")
		up, ok := got.(sentinel.LinkUp)
		switch {
		case tc.want == sentinel.ProofNone && ok:
			t.Errorf("%s: link up", tc.name)
		case tc.want != sentinel.ProofNone && (!ok || up.Proof != tc.want):
			t.Errorf("%s: %+v, want proof %v", tc.name, got, tc.want)
		}
		_ = tr.Close()
	}
}

// A state that cannot be saved stops the agent (Run returns
// ErrStateNotSaved) instead of leaving it stuck under the watchdog: at
// once when the epoch would go backwards, after MaxSaveFailure otherwise.
func TestUnsavableStateStops(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"disk full", errors.New("disk full")},
		{"epoch backwards", fmt.Errorf("state file x: refusing: %w", state.ErrEpochBackwards)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &memStore{}
			cfg := sentinel.Config{LocalIPs: []string{"127.0.0.1"},
				Masters: []sentinel.MasterConfig{masterCfg("mymaster", 6999, 2)}}
			tr := &recTransport{log: &eventLog{}, in: make(chan sentinel.Input)}
			a := startAgent(t, cfg, nil, store, Options{Transport: tr, MaxSaveFailure: 500 * time.Millisecond})
			store.setFail(tc.err)
			rc := redis.NewClient(&redis.Options{Addr: a.addr, Protocol: 2})
			defer rc.Close()
			// A vote changes the state.
			start := time.Now()
			_ = rc.Do(context.Background(), "SENTINEL", "is-master-down-by-addr", "127.0.0.1", "6999", "3", "*").Err()
			_ = rc.Do(context.Background(), "SENTINEL", "SET", "mymaster", "quorum", "1").Err()
			err := a.result(t, 10*time.Second, "stop of the agent with an unsavable state")
			if !errors.Is(err, ErrStateNotSaved) || !errors.Is(err, tc.err) && !errors.Is(err, state.ErrEpochBackwards) {
				t.Fatalf("Run returned %v", err)
			}
			t.Logf("stopped after %v: %v", time.Since(start).Round(time.Millisecond), err)
			// Metrics count the failed writes (vipsentinel_state_save_failures_total).
			if n := a.rt.Faults().StateSaveFailures; n == 0 {
				t.Error("no state-save failure counted")
			}
		})
	}
}
