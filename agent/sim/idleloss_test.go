package sim

import (
	"cmp"
	"flag"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/tcprto"
)

var flagIdleLossFor = flag.Duration("sim.idleloss", 0, "simulated length of TestIdleLossPauses (default 2m; 10m matches the lab's idle-loss run)")

// TestIdleLossPauses is the simulator's idle-loss run (issue 18): three
// agents, down-after 1 s, nothing failing, every link losing 5 % of its
// transmissions (TCP retransmits them, so a loss stalls its connection
// for a retransmission timeout), with Linux's 200 ms floor on every socket
// and with the agents' sockets at tcprto.Min. Every pause the holder sends there is
// false. It prints the early pauses (+lease-pause), the fences and the
// failovers, and fails on a violated invariant, on a failover, which loss
// alone must not cause at this rate, on more than a few early pauses, and,
// with the agents at tcprto.Min, on more than a few fences.
//
//	go test ./agent/sim/ -run TestIdleLossPauses -v -sim.idleloss 10m
func TestIdleLossPauses(t *testing.T) {
	const maxFalsePauses = 3
	dur := *flagIdleLossFor
	if dur == 0 {
		dur = 2 * time.Minute
		if testing.Short() || raceOn {
			dur = 30 * time.Second
		}
	}
	for _, tc := range []struct {
		seed  uint64
		floor time.Duration
	}{{1, 0}, {2, 0}, {1, tcprto.Min}, {2, tcprto.Min}} {
		seed := tc.seed
		o := calm(seed, 3)
		o.DownAfter = time.Second // the lab's setting
		o.Loss, o.UniformLoss = 0.05, true
		o.AgentRTOMin = tc.floor
		o.Safety = dur
		counts := map[string]int{}
		_, res := scenario(t, o, func(w *world) {
			w.onEvent = func(a *agent, ev sentinel.Event) {
				if w.now >= o.Warmup {
					counts[ev.Type]++
				}
			}
		})
		if res.Err != nil {
			failWithTail(t, res, "seed %d: violation: %v", seed, res.Err)
			continue
		}
		t.Logf("seed %d, agents' RTO floor %v, %v at 5%% loss on every link: +lease-pause %d, +fence %d, +quorum-lost %d, +sdown %d, +switch-master %d, writes acked %d lost %d",
			seed, cmp.Or(tc.floor, 200*time.Millisecond), dur, counts["+lease-pause"], counts["+fence"], counts["+quorum-lost"], counts["+sdown"], counts["+switch-master"], res.WritesAcked, res.WritesLost)
		if counts["+switch-master"] > 0 {
			t.Errorf("seed %d: %d failovers with nothing failing", seed, counts["+switch-master"])
		}
		// Generous bounds over what was measured in 10 simulated
		// minutes (0 each): the fixed pause window paused 359-366 times
		// there, and the 200 ms floor fenced 10-11 times.
		if n := counts["+lease-pause"]; n > maxFalsePauses {
			t.Errorf("seed %d, floor %v: %d early pauses of a healthy master, want at most %d", seed, tc.floor, n, maxFalsePauses)
		}
		if n := counts["+fence"]; tc.floor > 0 && n > maxFalsePauses {
			t.Errorf("seed %d, floor %v: %d fences of a healthy master, want at most %d", seed, tc.floor, n, maxFalsePauses)
		}
	}
}
