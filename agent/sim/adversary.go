package sim

import (
	"fmt"
	"math"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// The adversary is an ordinary client of the monitored Redis instances:
// during the safety phase it PUBLISHes forged hellos on the hello channel
// of a random Redis that is up, and its announced "peers" live at addresses
// that either answer nothing (attackerNet) or are real agents with another
// run id, which fail the peer proof. It never knows the agents' secrets.
// The checker's evidence invariant (persisted) then requires that every
// configuration an agent adopts was produced by an election.

// attackerNet is where the adversary's announced peers and masters live:
// nothing routes there, so a connection to them times out.
const attackerNet = "198.18.250."

// forgeries are the kinds of forged hellos, drawn uniformly.
var forgeries = []string{"higher-epoch-own-address", "phantom-peer", "max-epoch", "real-runid-other-address", "replica-as-master", "phantom-at-real-address"}

// adversaryTick injects one forged hello and schedules the next.
func (w *world) adversaryTick() {
	o := w.opts
	if w.now >= o.Warmup+o.Safety {
		return
	}
	w.at(w.now+time.Duration(20+w.rAdv.Intn(300))*time.Millisecond, w.adversaryTick)
	var up []*redis
	for _, r := range w.redis {
		if r.up {
			up = append(up, r)
		}
	}
	if len(up) == 0 {
		return
	}
	r := up[w.rAdv.Intn(len(up))]
	kind := forgeries[w.rAdv.Intn(len(forgeries))]
	// The highest epoch any agent announced: a forgery one above it is
	// the most tempting.
	var top uint64
	for _, t := range w.check.ag {
		top = max(top, t.curEpoch)
	}
	attacker := func() sentinel.Addr {
		return sentinel.Addr{Host: fmt.Sprintf("%s%d", attackerNet, 1+w.rAdv.Intn(200)), Port: agentPort}
	}
	real := w.agents[w.rAdv.Intn(len(w.agents))]
	h := sentinel.HelloMsg{Addr: attacker(), RunID: w.advRunID(), Master: masterName, MasterAddr: w.redis0Addr()}
	switch kind {
	case "higher-epoch-own-address":
		h.CurrentEpoch, h.ConfigEpoch = top+1, top+1
		h.MasterAddr = sentinel.Addr{Host: attackerNet + "1", Port: redisPort}
	case "phantom-peer":
	case "max-epoch":
		h.CurrentEpoch, h.ConfigEpoch = math.MaxUint64, math.MaxUint64
		h.MasterAddr = sentinel.Addr{Host: attackerNet + "1", Port: redisPort}
	case "real-runid-other-address":
		if real.node != nil {
			h.RunID = real.node.MyID()
		}
		h.CurrentEpoch, h.ConfigEpoch = top+1, top+1
		h.MasterAddr = w.redis[w.rAdv.Intn(len(w.redis))].addr
	case "replica-as-master":
		// A real peer's run id at its real address, naming a real
		// replica: only the PUBLISH path betrays it.
		if real.node != nil {
			h.RunID = real.node.MyID()
		}
		h.Addr = real.addr
		h.CurrentEpoch, h.ConfigEpoch = top+1, top+1
		if w.rAdv.Intn(2) == 0 {
			h.ConfigEpoch = 1 + uint64(w.rAdv.Int63n(int64(top)+1))
			h.CurrentEpoch = h.ConfigEpoch
		}
		h.MasterAddr = w.redis[w.rAdv.Intn(len(w.redis))].addr
	case "phantom-at-real-address":
		h.Addr = real.addr
	}
	w.forged++
	w.trace("adversary publishes %s on %s: %s", kind, r.addr, sentinel.FormatHello(h))
	r.publish(sentinel.HelloChannel, sentinel.FormatHello(h))
}

func (w *world) advRunID() string {
	const hexd = "0123456789abcdef"
	b := make([]byte, 40)
	for i := range b {
		b[i] = hexd[w.rAdv.Intn(16)]
	}
	return string(b)
}
