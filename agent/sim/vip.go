package sim

import (
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// vipHolder is a host that has the floating address configured.
type vipHolder struct {
	host  int
	since time.Duration
	epoch uint64
}

// vips models the floating address of the one monitored master: which hosts
// have it configured (netlink addr add) right now. An agent process crash
// leaves the address configured until the agent restarts and its start-up
// reconcile removes it; a host crash removes it.
type vips struct {
	w       *world
	holders []vipHolder

	emptySince   time.Duration // -1 when someone holds it
	maxEmpty     time.Duration // longest time without any holder (after start-up)
	overlapSince time.Duration // -1 when at most one holder
	maxOverlap   time.Duration
	overlapTotal time.Duration
	episodes     int
}

func (v *vips) holds(h int) bool {
	for _, x := range v.holders {
		if x.host == h {
			return true
		}
	}
	return false
}

// apply hands an agent's VIP intents to its VIP manager, which applies the
// latest ones it was given within Options.VIPDelay (at once without), as
// vip.Manager's loop does, and dies with the agent's process.
func (v *vips) apply(a *agent, intents []sentinel.VIPIntent) {
	w := v.w
	if w.opts.VIPDelay <= 0 {
		v.execute(a, a.inc, intents)
		return
	}
	a.vipWant = intents
	if a.vipQueued {
		return
	}
	a.vipQueued = true
	if a.vipRnd == nil {
		a.vipRnd = newRand(w.opts.Seed, "vip-delay", a.id)
	}
	inc := a.inc
	w.at(w.now+1+time.Duration(a.vipRnd.Int63n(int64(w.opts.VIPDelay))), func() {
		if !a.running || a.inc != inc {
			return // the process died with its manager
		}
		a.vipQueued = false
		v.execute(a, inc, a.vipWant)
	})
}

// execute applies intents for the incarnation inc of a's process, and
// confirms each applied removal to it (sentinel.VIPGone), as
// vip.Options.OnGone does: the address is off the host's interface.
func (v *vips) execute(a *agent, inc int, intents []sentinel.VIPIntent) {
	for _, in := range intents {
		if in.Master != masterName {
			continue
		}
		if in.Own {
			v.acquire(a.host, in.Epoch, in.Reason)
		} else if v.w.opts.Mutate != MutateNoFence {
			v.release(a.host, in.Reason)
			if !v.w.opts.VIPNoConfirm {
				a.deliver(inc, sentinel.VIPGone{Master: in.Master, Gen: in.Gen})
			}
		}
	}
}

func (v *vips) acquire(h int, epoch uint64, reason string) {
	w := v.w
	for i := range v.holders {
		if v.holders[i].host == h {
			v.holders[i].epoch = epoch
			return
		}
	}
	for _, x := range v.holders {
		if x.epoch > epoch {
			w.check.staleAcquire(h, epoch, x)
		}
	}
	v.holders = append(v.holders, vipHolder{host: h, since: w.now, epoch: epoch})
	if w.onVIP != nil {
		w.onVIP(h, true)
	}
	w.trace("vip +h%d epoch=%d (%s) holders=%v", h, epoch, reason, v.hosts())
	w.check.vipChanged()
	// Gratuitous ARP: clients that hear it point the address at h.
	for _, c := range w.clients {
		if w.passable(h, c.host) {
			c := c
			w.at(w.now+w.delay(h, c.host), func() {
				if v.holds(h) {
					c.arp = h
				}
			})
		}
	}
	v.update()
}

func (v *vips) release(h int, reason string) {
	for i := range v.holders {
		if v.holders[i].host == h {
			v.holders = append(v.holders[:i], v.holders[i+1:]...)
			if v.w.onVIP != nil {
				v.w.onVIP(h, false)
			}
			v.w.trace("vip -h%d (%s) holders=%v", h, reason, v.hosts())
			v.w.check.vipChanged()
			v.update()
			return
		}
	}
}

func (v *vips) hosts() []int {
	out := make([]int, len(v.holders))
	for i, x := range v.holders {
		out[i] = x.host
	}
	return out
}

// update tracks overlap episodes (two or more holders).
func (v *vips) update() {
	now := v.w.now
	v.w.vipUpdate()
	if len(v.holders) == 0 {
		if v.emptySince < 0 {
			v.emptySince = now
		}
	} else if v.emptySince >= 0 {
		v.maxEmpty = max(v.maxEmpty, now-v.emptySince)
		v.emptySince = -1
	}
	if len(v.holders) >= 2 {
		if v.overlapSince < 0 {
			v.overlapSince = now
			v.episodes++
		}
		return
	}
	if v.overlapSince >= 0 {
		d := now - v.overlapSince
		v.overlapTotal += d
		v.maxOverlap = max(v.maxOverlap, d)
		v.overlapSince = -1
	}
}

// finish closes an open overlap episode at the end of the run.
func (v *vips) finish() {
	if v.emptySince >= 0 {
		v.maxEmpty = max(v.maxEmpty, v.w.now-v.emptySince)
	}
	if v.overlapSince >= 0 {
		d := v.w.now - v.overlapSince
		v.overlapTotal += d
		v.maxOverlap = max(v.maxOverlap, d)
		v.overlapSince = v.w.now
	}
}
