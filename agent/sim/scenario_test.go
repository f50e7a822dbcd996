package sim

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// calm returns fault-free options for a fixed scenario.
func calm(seed uint64, agents int) Options {
	return Options{
		Seed: seed, Agents: agents, Quorum: agents/2 + 1,
		DownAfter: 2 * time.Second, FailoverTimeout: 10 * time.Second, TiltPeriod: 10 * time.Second,
		Fence: true, Tick: 10 * time.Millisecond, FsyncMax: 2 * time.Millisecond,
		DelayMin: 200 * time.Microsecond, DelayMean: 2 * time.Millisecond,
		ConnectTimeout: time.Second, TCPTimeout: 10 * time.Second, ReplPeriod: 20 * time.Millisecond,
		Warmup: 8 * time.Second, Safety: 20 * time.Second, Liveness: 90 * time.Second,
		Clients: 1, WriteEvery: 100 * time.Millisecond,
	}
}

// scenario runs o with setup applied to the world before it starts. With
// -v and -sim.seed 0, a failing scenario prints its trace tail.
func scenario(t *testing.T, o Options, setup func(w *world)) (*world, *Result) {
	t.Helper()
	if testing.Verbose() && os.Getenv("SIM_TRACE") != "" {
		o.Trace = os.Stdout
	}
	o.TraceTail = 60
	w, err := newWorld(o)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(w)
	}
	w.run()
	res := w.result(&Result{Seed: o.Seed, Options: o})
	return w, res
}

func failWithTail(t *testing.T, res *Result, format string, args ...any) {
	t.Helper()
	t.Errorf(format, args...)
	for _, l := range res.Tail {
		t.Log(l)
	}
}

// Kill the master with three agents: exactly one failover, the best replica
// (lowest slave-priority) is promoted, the VIP follows it, and the old master
// is demoted to a replica of the new one when it comes back.
func TestKillMasterThreeAgents(t *testing.T) {
	for _, kill := range []struct {
		name string
		mode int
	}{{"host", 1}, {"redis", 2}} {
		t.Run(kill.name, func(t *testing.T) {
			o := calm(11, 3)
			o.KillMaster, o.KillHost = true, kill.mode
			o.Priority = []int{100, 100, 50} // h2 is the best replica
			w, res := scenario(t, o, nil)
			if res.Err != nil {
				failWithTail(t, res, "violation: %v", res.Err)
				return
			}
			if res.Failovers != 1 {
				failWithTail(t, res, "failovers = %d, want exactly 1", res.Failovers)
			}
			if w.promAddr != w.redis[2].addr {
				failWithTail(t, res, "promoted %s, want the best replica %s", w.promAddr, w.redis[2].addr)
			}
			if res.VIPMoved == 0 || res.AllSwitch == 0 {
				failWithTail(t, res, "failover incomplete: vip=%v all=%v", res.VIPMoved, res.AllSwitch)
			}
			old := w.redis[0]
			if old.role != roleReplica || old.master != w.redis[2].addr || !old.linkUp {
				failWithTail(t, res, "old master after its return: role=%s master=%s link=%v, want replica of %s",
					old.role, old.master, old.linkUp, w.redis[2].addr)
			}
			t.Logf("promoted after %v, VIP moved after %v, all switched after %v, converged %v after heal, writes acked %d lost %d",
				res.Promoted, res.VIPMoved, res.AllSwitch, res.Converged, res.WritesAcked, res.WritesLost)
		})
	}
}

// isolateUntil cuts host h off from every other host at from, until the
// liveness phase heals it.
func isolateAt(w *world, h int, from time.Duration) {
	w.at(from, func() {
		for o := range w.hosts {
			if o != h {
				w.cut[h][o], w.cut[o][h] = true, true
			}
		}
		w.partitioned = true
		w.trace("isolate h%d", h)
		w.check.topology()
	})
}

// failoverTimes are when h0 released the VIP and when a replica was
// promoted, -1 for never.
type failoverTimes struct{ released, promoted time.Duration }

// watchFailover records on w when h0 first releases the VIP at or after
// from, and when the first replica is promoted. The result is read after
// the run.
func watchFailover(w *world, from time.Duration) *failoverTimes {
	ft := &failoverTimes{released: -1, promoted: -1}
	w.onVIP = func(h int, own bool) {
		if h == 0 && !own && ft.released < 0 && w.now >= from {
			ft.released = w.now
		}
	}
	w.onEvent = func(a *agent, ev sentinel.Event) {
		if ev.Type == "+promoted-slave" && ft.promoted < 0 {
			ft.promoted = w.now
		}
	}
	return ft
}

// With fence yes, the isolated master's host drops the VIP before the
// majority promotes a replica, so the VIP is never on two hosts. Without
// fencing the isolated host keeps it (Sentinel's behaviour), which the
// contrast case shows.
func TestFenceIsolatedMaster(t *testing.T) {
	for _, fence := range []bool{true, false} {
		name := "fence-no"
		if fence {
			name = "fence-yes"
		}
		t.Run(name, func(t *testing.T) {
			o := calm(21, 3)
			o.Fence = fence
			var ft *failoverTimes
			w, res := scenario(t, o, func(w *world) {
				isolateAt(w, 0, o.Warmup)
				ft = watchFailover(w, o.Warmup)
			})
			released, promoted := ft.released, ft.promoted
			if res.Err != nil {
				failWithTail(t, res, "violation: %v", res.Err)
				return
			}
			if promoted < 0 {
				failWithTail(t, res, "the majority never promoted a replica")
				return
			}
			t.Logf("isolated at %v: h0 released the VIP at %v, promotion at %v, max overlap %v, writes acked %d lost %d",
				o.Warmup, released, promoted, res.MaxOverlap, res.WritesAcked, res.WritesLost)
			if fence {
				if released < 0 || released > promoted {
					failWithTail(t, res, "h0 released the VIP at %v, after the promotion at %v", released, promoted)
				}
				if res.MaxOverlap != 0 {
					failWithTail(t, res, "VIP overlap %v with fencing", res.MaxOverlap)
				}
				if w.redis[0].pauses == 0 {
					failWithTail(t, res, "the fenced master was never paused (CLIENT PAUSE WRITE)")
				}
			} else if res.MaxOverlap == 0 {
				failWithTail(t, res, "without fencing the isolated host should keep the VIP during the failover")
			}
		})
	}
}

// Split votes resolve: with four agents and the master's host killed, the
// three survivors need all three votes, so concurrent candidates split the
// vote. Some seed must show a split, and every run must still end with
// exactly one promotion.
func TestSplitVotesResolve(t *testing.T) {
	splits := 0
	for seed := uint64(1); seed <= 40 && splits < 3; seed++ {
		o := calm(seed, 4)
		o.Quorum = 2
		o.KillMaster, o.KillHost = true, 1
		o.DelayMean = 15 * time.Millisecond
		tries := map[uint64]int{}
		_, res := scenario(t, o, func(w *world) {
			w.onEvent = func(a *agent, ev sentinel.Event) {
				if ev.Type == "+try-failover" {
					tries[w.check.ag[a.id].tryEpoch]++
				}
			}
		})
		if res.Err != nil {
			failWithTail(t, res, "seed %d: %v", seed, res.Err)
			return
		}
		if res.Failovers != 1 {
			failWithTail(t, res, "seed %d: %d promotions, want 1", seed, res.Failovers)
			return
		}
		split := len(tries) > 1
		for _, n := range tries {
			split = split || n > 1
		}
		if split {
			splits++
			t.Logf("seed %d: split vote (attempts per epoch %v) resolved, promoted after %v", seed, tries, res.Promoted)
		}
	}
	if splits == 0 {
		t.Fatal("no seed produced a split vote: the scenario does not exercise it")
	}
}

// An agent restarted right after voting for a peer keeps its vote: its
// persisted state names the same leader, and asked again in the same epoch
// for another candidate it answers with its first vote.
func TestRestartMidElectionKeepsVote(t *testing.T) {
	o := calm(31, 5)
	o.KillMaster, o.KillHost = true, 1
	done := false
	var voter *agent
	var votedFor, answered string
	var epoch, answeredEpoch uint64
	_, res := scenario(t, o, func(w *world) {
		w.onEvent = func(a *agent, ev sentinel.Event) {
			f := strings.Fields(ev.Payload)
			if done || ev.Type != "+vote-for-leader" || len(f) != 2 || f[0] == a.runID {
				return
			}
			e, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return
			}
			done, voter, votedFor, epoch = true, a, f[0], e
			w.at(w.now, func() {
				a.crash("test: restart mid-election")
				w.at(w.now+50*time.Millisecond, func() {
					w.startAgent(a)
					a.tick()
					other := w.agents[(a.id+1)%o.Agents].runID
					if other == votedFor {
						other = w.agents[(a.id+2)%o.Agents].runID
					}
					a.serve(func() func() {
						_, answered, answeredEpoch = a.node.IsMasterDownByAddr(a.local(), w.hosts[0].ip, redisPort, epoch, other)
						return nil
					})
				})
			})
		}
	})
	if res.Err != nil {
		failWithTail(t, res, "violation: %v", res.Err)
		return
	}
	if !done {
		failWithTail(t, res, "no agent voted for a peer")
		return
	}
	if answered != votedFor || answeredEpoch != epoch {
		failWithTail(t, res, "%s voted for %s in epoch %d, after a restart it answered %s/%d", voter.name, short(votedFor), epoch, short(answered), answeredEpoch)
	}
	if p := voter.disk.Masters[0]; p.LeaderEpoch < epoch {
		failWithTail(t, res, "persisted leader epoch %d < vote epoch %d", p.LeaderEpoch, epoch)
	}
}

// Deliberately broken runtimes must be caught by the invariants.
func TestMutationsAreCaught(t *testing.T) {
	t.Run("amnesia", func(t *testing.T) {
		o := calm(41, 3)
		o.KillMaster, o.KillHost = true, 2
		o.Mutate = MutateAmnesia
		_, res := scenario(t, o, func(w *world) {
			// Restart a1 once it has persisted something in the safety phase.
			w.at(o.Warmup+o.DownAfter*2, func() {
				a := w.agents[1]
				a.crash("test")
				w.at(w.now+100*time.Millisecond, func() { w.startAgent(a); a.tick() })
			})
		})
		if res.Err == nil {
			t.Fatal("an agent that forgets its persisted state was not caught")
		}
		t.Logf("caught: %v", res.Err)
	})
	t.Run("deaf-replica", func(t *testing.T) {
		o := calm(43, 3)
		o.KillMaster, o.KillHost = true, 2
		o.Mutate = MutateDeafReplica
		o.Liveness = 40 * time.Second
		_, res := scenario(t, o, nil)
		if res.Err == nil || !strings.Contains(res.Err.Error(), "liveness") {
			t.Fatalf("a Redis that ignores REPLICAOF was not caught by the liveness check: %v", res.Err)
		}
		t.Logf("caught: %v", res.Err)
	})
	t.Run("no-fence", func(t *testing.T) {
		o := calm(21, 3)
		o.Mutate = MutateNoFence
		_, res := scenario(t, o, func(w *world) { isolateAt(w, 0, o.Warmup) })
		if res.Err == nil {
			t.Fatal("a host that ignores the fence was not caught")
		}
		t.Logf("caught: %v", res.Err)
	})
}

// The same seed gives the same trace, byte for byte.
func TestDeterministic(t *testing.T) {
	for _, seed := range []uint64{3, 7} {
		var a, b bytes.Buffer
		o := Swarm(seed, 0)
		o.Trace = &a
		r1 := Run(o)
		o.Trace = &b
		r2 := Run(o)
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("seed %d: traces differ (%d vs %d bytes)", seed, a.Len(), b.Len())
		}
		if (r1.Err == nil) != (r2.Err == nil) || r1.Events != r2.Events {
			t.Fatalf("seed %d: results differ", seed)
		}
		if !bytes.HasPrefix(a.Bytes(), []byte("SEED=")) {
			t.Fatalf("first trace line is not SEED=: %.40q", a.String())
		}
	}
}

// A stall of the master host's agent longer than the TILT trigger puts it in
// TILT (the invariants check that), and since its Redis never stopped, no
// failover follows. The test reports how long the VIP was absent.
func TestStallOnMasterHost(t *testing.T) {
	o := calm(51, 3)
	o.DownAfter = 5 * time.Second
	tilted := false
	w, res := scenario(t, o, func(w *world) {
		w.at(o.Warmup, func() { w.agents[0].stall(3 * time.Second) })
		w.onEvent = func(a *agent, ev sentinel.Event) {
			if a.id == 0 && ev.Type == "+tilt" {
				tilted = true
			}
		}
	})
	if res.Err != nil {
		failWithTail(t, res, "violation: %v", res.Err)
		return
	}
	if !tilted {
		failWithTail(t, res, "a0 never entered TILT after a 3s stall")
	}
	if res.Failovers != 0 {
		failWithTail(t, res, "%d failovers although the master never failed", res.Failovers)
	}
	if w.vip.holds(0) != true {
		failWithTail(t, res, "h0 does not hold the VIP at the end")
	}
	t.Logf("after a 3s stall of a0 (TILT period %v) the VIP was absent for %v", o.TiltPeriod, res.VIPGap)
}

// One-way partitions of the master's host: whichever direction is cut, the
// holder cannot keep a two-way conversation with a majority, so with fencing
// it must let go of the VIP before the others promote a replica (the checker
// enforces the fence window; this test also wants no overlap at all).
func TestFenceOneWayPartition(t *testing.T) {
	for _, dir := range []string{"outbound", "inbound"} {
		t.Run(dir, func(t *testing.T) {
			o := calm(61, 5)
			var ft *failoverTimes
			_, res := scenario(t, o, func(w *world) {
				w.at(o.Warmup, func() {
					for h := range w.hosts {
						if h == 0 {
							continue
						}
						if dir == "outbound" {
							w.cut[0][h] = true
						} else {
							w.cut[h][0] = true
						}
					}
					w.partitioned = true
					w.trace("cut h0 %s", dir)
					w.check.topology()
				})
				ft = watchFailover(w, o.Warmup)
			})
			released, promoted := ft.released, ft.promoted
			if res.Err != nil {
				failWithTail(t, res, "violation: %v", res.Err)
				return
			}
			t.Logf("h0 released the VIP at %v, promotion at %v, max overlap %v", released, promoted, res.MaxOverlap)
			if promoted >= 0 && (released < 0 || released > promoted) {
				failWithTail(t, res, "h0 released the VIP at %v, after the promotion at %v", released, promoted)
			}
			if res.MaxOverlap != 0 {
				failWithTail(t, res, "VIP overlap %v with fencing", res.MaxOverlap)
			}
		})
	}
}
