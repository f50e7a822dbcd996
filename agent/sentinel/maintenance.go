package sentinel

import (
	"fmt"
	"time"
)

// Maintenance is a master's maintenance mode (`vipsentinel pause`), the
// counterpart of Patroni's pause. While it is on, this agent starts no
// failover of the master and votes for no peer's failover of it, so that a
// group whose majority is paused cannot fail the master over, even when an
// agent that was down during the pause comes back without knowing of it.
// Everything else goes on: SDOWN and ODOWN are still detected and
// reported, the floating IP still follows the master and is still fenced,
// and an operator's SENTINEL FAILOVER or switchover (FailoverTo) still
// runs: those are the operator's own decision. A failover already in
// progress when the pause begins runs to its end.
//
// Maintenance is persisted in MasterState, so a restart keeps it. Until
// is a wall-clock time (Unix milliseconds): the Node has no clock, so it
// ends the pause when a Tick carries a Wall at or past Until.
type Maintenance struct {
	On bool
	// Until is when the pause ends by itself, in Unix milliseconds; 0 is
	// never (until Resume).
	Until int64
}

// MaxMaintenance bounds a timed pause: an Until further away is refused,
// so that a typo cannot leave a group without failover for years.
const MaxMaintenance = 30 * 24 * time.Hour

// Pause puts the named master (every master when name is empty) in
// maintenance until until (Unix milliseconds, 0 for no end), as of wall,
// the runtime's wall clock in Unix milliseconds. A master already paused
// gets the new end. It emits +maintenance and persists the change.
func (n *Node) Pause(now Time, name string, until, wall int64) error {
	n.setNow(now)
	if until != 0 && (until <= wall || until-wall > MaxMaintenance.Milliseconds()) {
		return &ReplyError{Msg: fmt.Sprintf("ERR the pause must end within %v from now", MaxMaintenance)}
	}
	ms, err := n.mastersNamed(name)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.maint.On && m.maint.Until == until {
			continue
		}
		m.maint = Maintenance{On: true, Until: until}
		m.maintLogged = false
		n.dirty = true
		n.masterEventDetail(LevelWarning, "+maintenance", m, n.describe(m.inst)+" "+untilText(until),
			"failover of this master suppressed (no failover started, no vote given); the VIP and fencing are unchanged")
	}
	return nil
}

// Resume ends the maintenance of the named master (every master when name
// is empty), emitting -maintenance. Resuming a master that is not paused
// is not an error.
func (n *Node) Resume(now Time, name string) error {
	n.setNow(now)
	ms, err := n.mastersNamed(name)
	if err != nil {
		return err
	}
	for _, m := range ms {
		n.endMaintenance(m, "resumed")
	}
	return nil
}

// Maintenance returns the named master's maintenance mode.
func (n *Node) Maintenance(name string) (Maintenance, bool) {
	m := n.masters[name]
	if m == nil {
		return Maintenance{}, false
	}
	return m.maint, true
}

func (n *Node) mastersNamed(name string) ([]*master, error) {
	if name == "" {
		return n.sortedMasters(), nil
	}
	m := n.masters[name]
	if m == nil {
		return nil, ErrNoSuchMaster
	}
	return []*master{m}, nil
}

func (n *Node) endMaintenance(m *master, why string) {
	if !m.maint.On {
		return
	}
	m.maint = Maintenance{}
	m.maintLogged = false
	n.dirty = true
	n.masterEventDetail(LevelWarning, "-maintenance", m, n.describe(m.inst)+" "+why, "failover of this master allowed again")
}

// expireMaintenance ends every pause whose Until is at or before wall
// (Unix milliseconds; 0 means the runtime did not say).
func (n *Node) expireMaintenance(wall int64) {
	if wall <= 0 {
		return
	}
	for _, m := range n.sortedMasters() {
		if m.maint.On && m.maint.Until != 0 && m.maint.Until <= wall {
			n.endMaintenance(m, "expired")
		}
	}
}

// maintenanceBlocks reports whether m's maintenance forbids starting a
// failover now, logging the first suppression of each pause.
func (n *Node) maintenanceBlocks(m *master) bool {
	if !m.maint.On {
		return false
	}
	if !m.maintLogged {
		m.maintLogged = true
		n.instEventDetail(LevelWarning, "-failover-suppressed-maintenance", m.inst, "",
			"the master is objectively down, but it is paused (vipsentinel resume ends the pause)")
	}
	return true
}

func untilText(until int64) string {
	if until == 0 {
		return "until resumed"
	}
	return "until " + time.UnixMilli(until).UTC().Format(time.RFC3339)
}

// restoreMaintenance applies a persisted maintenance mode.
func restoreMaintenance(m *master, mt Maintenance) {
	if mt.On {
		m.maint = mt
	}
}
