package campaign

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Kind is a fault the nemesis injects.
type Kind int

const (
	KillRedis      Kind = iota // kill -9 the host's redis-server; restart it (same files) after Hold
	KillAgent                  // kill -9 the host's agent; start it again after Hold
	RestartAgent               // SIGTERM the host's agent and start it again at once
	StopAgent                  // SIGSTOP the host's agent; SIGCONT after Hold
	PowerOff                   // kill -9 every process of the host, cut all its links, drop its addresses; boot it after Hold
	Isolate                    // cut the host from the other hosts (clients still reach it) for Hold
	OneWayOut                  // drop the host's frames to the other hosts for Hold
	OneWayIn                   // drop the other hosts' frames to the host for Hold
	Flap                       // cut and heal the host's links to the other hosts repeatedly, each cut shorter than down-after
	Loss                       // drop Percent % of the host's frames at random for Hold
	RollingRestart             // restart every agent, one after another, each once the previous one answers
	numKinds
)

var kindNames = [...]string{"kill-redis", "kill-agent", "restart-agent", "stop-agent", "power-off",
	"isolate", "one-way-out", "one-way-in", "flap", "loss", "rolling-restart"}

func (k Kind) String() string {
	if k >= 0 && k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// affectsRedis reports whether the fault can make the host's redis-server
// unreachable or silent for the agents of other hosts: then a failover of a
// master on that host is justified.
func (k Kind) affectsRedis() bool {
	switch k {
	case KillRedis, PowerOff, Isolate, OneWayOut, OneWayIn, Flap, Loss:
		return true
	}
	return false
}

// affectsLinks reports whether the fault is on the host's network (or the
// host is off): its agent may then rightly see a master elsewhere as down.
// Faults on the agent process alone (kill, stop, restart) do not count:
// they take the agent out of the vote but cannot make a reachable master
// look down to it (a resumed agent must notice its clock jump, as
// Sentinel's TILT mode does).
func (k Kind) affectsLinks() bool { return k.affectsRedis() && k != KillRedis }

// Target names the host a step hits by its role when the step starts, so
// a replayed schedule hits the same roles even if the master moved
// differently: the master's host, or the Replica-th replica host in host
// order.
type Target struct {
	Master  bool
	Replica int
}

func (t Target) String() string {
	if t.Master {
		return "master"
	}
	return fmt.Sprintf("replica#%d", t.Replica)
}

// Step is one fault of a schedule.
type Step struct {
	At     time.Duration // since the campaign's start
	Kind   Kind
	Target Target        // unused by RollingRestart
	Hold   time.Duration // how long the fault lasts (0 for RestartAgent and RollingRestart)
	// Percent is Loss's drop probability; FlapDown and FlapUp are Flap's
	// cut and healed periods.
	Percent          int
	FlapDown, FlapUp time.Duration
}

func (s Step) String() string {
	d := fmt.Sprintf("%s on %s", s.Kind, s.Target)
	switch s.Kind {
	case RollingRestart:
		d = s.Kind.String()
	case Loss:
		d += fmt.Sprintf(" %d%%", s.Percent)
	case Flap:
		d += fmt.Sprintf(" (down %v, up %v)", s.FlapDown, s.FlapUp)
	}
	if s.Hold > 0 {
		d += fmt.Sprintf(" for %v", s.Hold)
	}
	return d
}

// Schedule is the deterministic fault schedule of a seed: the same seed,
// duration, host count and down-after always give the same steps. Faults
// follow each other with quiet gaps, and now and then one starts while the
// previous one still holds (on another host). No step starts after
// duration; the last may hold past it.
func Schedule(seed uint64, duration time.Duration, hosts int, downAfter time.Duration) []Step {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(r.Int64N(int64(hi-lo)))
	}
	// Every kind has weight 2 but the rolling restart, which touches every
	// host and lasts longest.
	var bag []Kind
	for k := Kind(0); k < numKinds; k++ {
		bag = append(bag, k)
		if k != RollingRestart {
			bag = append(bag, k)
		}
	}
	D := downAfter
	var steps []Step
	at := between(D, 3*D) // let the group settle under the writers first
	var prev Step
	for at < duration {
		s := Step{At: at, Kind: bag[r.IntN(len(bag))]}
		if r.IntN(2) == 0 {
			s.Target.Master = true
		} else {
			s.Target.Replica = r.IntN(max(1, hosts-1))
		}
		switch s.Kind {
		case KillRedis:
			s.Hold = between(D/5, 4*D)
		case KillAgent:
			s.Hold = between(D/2, 4*D)
		case StopAgent:
			s.Hold = between(D/5, 3*D)
		case PowerOff:
			s.Hold = between(2*D, 6*D)
		case Isolate:
			s.Hold = between(D*3/10, 5*D)
		case OneWayOut, OneWayIn:
			s.Hold = between(D/2, 5*D)
		case Flap:
			s.Hold = between(3*D, 6*D)
			s.FlapDown = between(D/10, D*6/10).Round(time.Millisecond)
			s.FlapUp = between(D/10, D*8/10).Round(time.Millisecond)
		case Loss:
			s.Hold = between(2*D, 8*D)
			s.Percent = 5 + r.IntN(36)
		}
		s.Hold = s.Hold.Round(time.Millisecond)
		// A rolling restart or a power-off never overlaps another fault;
		// otherwise one fault in four starts while the previous holds.
		overlap := len(steps) > 0 && r.IntN(4) == 0 && s.Kind != RollingRestart && s.Kind != PowerOff &&
			prev.Kind != RollingRestart && prev.Kind != PowerOff && prev.Hold > 0
		if overlap {
			s.At = prev.At + between(0, prev.Hold)
			if s.Target == prev.Target { // another host
				s.Target = Target{Replica: r.IntN(max(1, hosts-1))}
				if prev.Target == s.Target {
					s.Target = Target{Master: true}
				}
			}
		}
		s.At = s.At.Round(time.Millisecond)
		if s.At >= duration {
			break
		}
		steps = append(steps, s)
		end := max(s.At+s.Hold, prev.At+prev.Hold)
		if s.Kind == RollingRestart {
			end = s.At + time.Duration(hosts)*2*D
		}
		prev = s
		// The quiet gap lets a failover the fault caused run its course.
		at = end + between(D, 4*D+2*time.Second)
	}
	return steps
}
