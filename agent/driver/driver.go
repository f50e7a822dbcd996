// Package driver is the one loop that feeds a sentinel.Node, shared by the
// agent's runtime (agent/runtime) and the simulator (agent/sim), so that
// the simulator tests the rules the real agent follows rather than a copy
// of them:
//
//   - every input goes through Node.Receive; the timer pass (Step with a
//     Tick) runs at once only when Receive asks for it, otherwise it waits
//     for the next Tick;
//   - the timer is set from Node.Quiet: one Tick while anything is going
//     on, up to a PING period when all is calm. After the timer fired it is
//     set anew; after any other input it only moves earlier, so that a
//     stream of inputs never holds a Tick back;
//   - after each turn of the loop the Node's Ready goes to the IO, which
//     carries it out in the order the core's contract requires
//     (agent/sentinel/doc.go).
//
// The driver owns no goroutine, socket or clock: the caller says what time
// it is, and the IO says how a Ready is carried out and how the timer is
// set. That is what differs between the runtime (a goroutine, a file, TCP)
// and the simulator (virtual time, a modelled disk and network).
package driver

import (
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// IO is what a Driver needs from its surroundings.
type IO interface {
	// Ready carries out one of the Node's Readys (it may carry nothing).
	Ready(sentinel.Ready)
	// SetTimer makes the timer fire d from now, replacing any earlier
	// setting. When it fires, the caller calls Fired, then Pass.
	SetTimer(d time.Duration)
	// Wall is the wall clock in Unix milliseconds (0: none), given to the
	// Node with every timer pass: only a timed maintenance's end, which
	// must hold across restarts, reads it (sentinel.Tick).
	Wall() int64
}

// Driver feeds one Node. It is not safe for concurrent use: one goroutine
// (the runtime's loop, the simulator's event loop) owns it.
type Driver struct {
	node     *sentinel.Node
	io       IO
	due      time.Duration // when the timer fires on the caller's clock; -1 when not set
	lastPass sentinel.Time // Node time of the last timer pass; -1 before the first
}

// New returns a Driver for node. The timer is not set: call Arm or
// Schedule.
func New(node *sentinel.Node, io IO) *Driver {
	return &Driver{node: node, io: io, due: -1, lastPass: -1}
}

// Node returns the Node the driver feeds.
func (d *Driver) Node() *sentinel.Node { return d.node }

// Pass runs the Node's timer pass at now and returns the time since the
// previous pass (-1 for the first): a gap longer than the TILT trigger
// must have put the Node in TILT.
func (d *Driver) Pass(now sentinel.Time) (gap sentinel.Time) {
	gap = -1
	if d.lastPass >= 0 {
		gap = now - d.lastPass
	}
	d.lastPass = now
	d.node.Step(now, sentinel.Tick{Wall: d.io.Wall()})
	return gap
}

// Receive gives in to the Node and reports whether it asks for the timer
// pass now (Node.Receive). Several inputs taken together need one pass.
func (d *Driver) Receive(now sentinel.Time, in sentinel.Input) (urgent bool) {
	return d.node.Receive(now, in)
}

// Input receives in and runs the timer pass if it asks for it. passed
// reports whether the pass ran, and gap is then what Pass returned.
func (d *Driver) Input(now sentinel.Time, in sentinel.Input) (gap sentinel.Time, passed bool) {
	if !d.node.Receive(now, in) {
		return -1, false
	}
	return d.Pass(now), true
}

// Flush hands the Node's Ready to the IO. The runtime takes Ready, not
// HasReady then Ready: both work out the VIP intents of every master, and
// this runs after every turn of the loop.
func (d *Driver) Flush() { d.io.Ready(d.node.Ready()) }

// Fired records that the timer fired: it is not set until the next Arm or
// Schedule.
func (d *Driver) Fired() { d.due = -1 }

// Schedule sets the timer from Node.Quiet at the end of a turn of the
// loop; now is on the caller's clock, and fired says whether the turn was
// a timer pass the timer fired.
func (d *Driver) Schedule(now time.Duration, fired bool) {
	d.Arm(now, d.node.Quiet(), fired)
}

// Arm sets the timer to fire after wait: unconditionally after the timer
// fired (or when it is not set), otherwise only if that is earlier than it
// is set for.
func (d *Driver) Arm(now, wait time.Duration, fired bool) {
	at := now + wait
	if !fired && d.due >= 0 && d.due <= at {
		return
	}
	d.due = at
	d.io.SetTimer(wait)
}
