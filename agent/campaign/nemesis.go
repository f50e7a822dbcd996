package campaign

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/lab"
)

// Incident is one fault as it was applied: the step, the host it hit
// (resolved from the step's target when it started), and when it started
// and ended (its heal). A rolling restart is recorded as one incident per
// agent restarted.
type Incident struct {
	Step       Step
	Kind       Kind // the step's kind, or RestartAgent for each agent of a rolling restart
	Host       int
	Start, End time.Time
}

// nemesis applies a schedule to the deployment.
type nemesis struct {
	r  *run
	mu sync.Mutex
	// busy hosts have a fault in progress; a step whose target is busy
	// hits the next free host in host order, or is skipped.
	busy map[int]bool
	// cuts counts, per direction, the faults in force that cut it:
	// overlapping faults may cut the same direction, and healing one must
	// not heal the other.
	cuts map[link]int
	wg   sync.WaitGroup
}

// link is one direction between two lab members.
type link struct{ from, to *lab.Host }

// cut adds one fault's cuts, and drops the directions no fault cut so far.
func (n *nemesis) cut(links []link) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for _, l := range links {
		n.cuts[l]++
		if n.cuts[l] == 1 {
			errs = append(errs, n.r.c.Lab.CutOneWay(l.from, l.to))
		}
	}
	return errors.Join(errs...)
}

// uncut removes one fault's cuts, healing the directions no other fault
// cuts.
func (n *nemesis) uncut(links []link) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var errs []error
	for _, l := range links {
		n.cuts[l]--
		if n.cuts[l] == 0 {
			delete(n.cuts, l)
			errs = append(errs, n.r.c.Lab.HealOneWay(l.from, l.to))
		}
	}
	return errors.Join(errs...)
}

// links lists the directions between host h and others: out from h, in to
// h, or both.
func links(h *lab.Host, others []*lab.Host, out, in bool) []link {
	var ls []link
	for _, o := range others {
		if o == h {
			continue
		}
		if out {
			ls = append(ls, link{h, o})
		}
		if in {
			ls = append(ls, link{o, h})
		}
	}
	return ls
}

// play runs the schedule until its last step has healed or ctx ends.
func (n *nemesis) play(ctx context.Context, steps []Step) {
	n.busy = map[int]bool{}
	n.cuts = map[link]int{}
	for _, s := range steps {
		select {
		case <-ctx.Done():
			n.wg.Wait()
			return
		case <-time.After(time.Until(n.r.start.Add(s.At))):
		}
		if s.Kind == RollingRestart {
			// Never overlaps (Schedule), but a previous fault may still be
			// healing later than planned: wait for it.
			n.wg.Wait()
			n.rollingRestart(ctx, s)
			continue
		}
		h, ok := n.claim(ctx, s.Target)
		if !ok {
			n.r.note("nemesis", fmt.Sprintf("step skipped, every host busy: %s", s))
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer n.release(h)
			n.fault(ctx, s, h)
		}()
	}
	n.wg.Wait()
}

func (n *nemesis) claim(ctx context.Context, t Target) (int, bool) {
	want := n.r.resolve(ctx, t)
	hosts := len(n.r.c.Hosts)
	n.mu.Lock()
	defer n.mu.Unlock()
	for k := 0; k < hosts; k++ {
		h := (want + k) % hosts
		if !n.busy[h] {
			n.busy[h] = true
			return h, true
		}
	}
	return 0, false
}

func (n *nemesis) release(h int) {
	n.mu.Lock()
	delete(n.busy, h)
	n.mu.Unlock()
}

// hold waits d, or until ctx ends (the fault is healed either way).
func hold(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// fault applies one step to host h, holds it and heals it.
func (n *nemesis) fault(ctx context.Context, s Step, h int) {
	r := n.r
	c := r.c
	host := c.Hosts[h]
	inc := &Incident{Step: s, Kind: s.Kind, Host: h, Start: time.Now()}
	r.note("nemesis", fmt.Sprintf("FAULT %s -> %s", s, host))
	errf := func(what string, err error) {
		if err != nil {
			r.violate(fmt.Sprintf("nemesis: %s on %s: %v", what, host, err))
		}
	}
	switch s.Kind {
	case KillRedis:
		errf("kill redis", r.killRedis(h))
		hold(ctx, s.Hold)
		errf("restart redis", r.restartRedis(h))
	case KillAgent:
		errf("kill agent", r.killAgent(h))
		hold(ctx, s.Hold)
		errf("start agent", r.startAgent(h))
	case RestartAgent:
		errf("restart agent", r.restartAgent(ctx, h))
	case StopAgent:
		p := r.agent(h)
		errf("SIGSTOP agent", p.Stop())
		hold(ctx, s.Hold)
		errf("SIGCONT agent", p.Cont())
	case PowerOff:
		// Its cable to the switch is out: clients lose it too.
		all := links(host, slices.Concat(c.Hosts, []*lab.Host{c.Client}), true, true)
		errf("power off: links", n.cut(all))
		errf("power off", r.powerOff(ctx, h))
		hold(ctx, s.Hold)
		errf("power on: links", n.uncut(all))
		errf("power on", r.powerOn(h))
	case Isolate, OneWayOut, OneWayIn:
		ls := links(host, c.Hosts, s.Kind != OneWayIn, s.Kind != OneWayOut)
		errf("cut", n.cut(ls))
		hold(ctx, s.Hold)
		errf("heal", n.uncut(ls))
	case Flap:
		ls := links(host, c.Hosts, true, true)
		end := time.Now().Add(s.Hold)
		for time.Now().Before(end) && ctx.Err() == nil {
			errf("flap down", n.cut(ls))
			hold(ctx, s.FlapDown)
			errf("flap up", n.uncut(ls))
			hold(ctx, s.FlapUp)
		}
	case Loss:
		errf("loss", c.Lab.SetLoss(host, s.Percent))
		hold(ctx, s.Hold)
		errf("heal", c.Lab.SetLoss(host, 0))
	}
	inc.End = time.Now()
	r.addIncident(*inc)
	r.note("nemesis", fmt.Sprintf("HEALED %s on %s after %v", s.Kind, host, inc.End.Sub(inc.Start).Round(time.Millisecond)))
}

// rollingRestart restarts every agent in host order, each once the
// previous one answers its API again, as an operator upgrading the group
// does.
func (n *nemesis) rollingRestart(ctx context.Context, s Step) {
	r := n.r
	r.note("nemesis", "FAULT rolling restart of every agent")
	for h := range r.c.Hosts {
		inc := Incident{Step: s, Kind: RestartAgent, Host: h, Start: time.Now()}
		if err := r.restartAgent(ctx, h); err != nil {
			r.violate(fmt.Sprintf("nemesis: rolling restart of %s: %v", r.c.Hosts[h], err))
		}
		inc.End = time.Now()
		r.addIncident(inc)
		r.note("nemesis", fmt.Sprintf("agent on %s restarted (%v)", r.c.Hosts[h], inc.End.Sub(inc.Start).Round(time.Millisecond)))
	}
	r.note("nemesis", "HEALED rolling restart")
}

// healAll ends whatever a cancelled run left applied: cuts, loss, frozen
// or dead processes, and returns when every process runs.
func (n *nemesis) healAll() error {
	r := n.r
	if err := r.c.Lab.HealAll(); err != nil {
		return err
	}
	for h := range r.c.Hosts {
		p := r.agent(h)
		if p.Running() {
			p.Cont()
		} else if err := r.startAgent(h); err != nil {
			return err
		}
		if !r.redis(h).Proc.Running() {
			if err := r.restartRedis(h); err != nil {
				return err
			}
		}
	}
	return nil
}

// incidentsOn returns the incidents on host h whose kind satisfies keep,
// in start order.
func incidentsOn(incs []Incident, h int, keep func(Kind) bool) []Incident {
	var out []Incident
	for _, in := range incs {
		if in.Host == h && keep(in.Kind) {
			out = append(out, in)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// overlaps reports whether incident in, extended by grace after its end,
// intersects [from, to].
func overlaps(in Incident, from, to time.Time, grace time.Duration) bool {
	return !in.Start.After(to) && !in.End.Add(grace).Before(from)
}
