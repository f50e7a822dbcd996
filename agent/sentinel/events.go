package sentinel

import (
	"strconv"
)

// emit queues ev.
func (n *Node) emit(ev Event) {
	n.events = append(n.events, ev)
}

// debug queues a Debug event: logged by the runtime, never published.
func (n *Node) debug(masterName, typ, detail string) {
	ev := Event{Type: typ, Level: LevelDebug, Master: masterName, Payload: detail}
	if m := n.masters[masterName]; m != nil {
		ev.Epoch = m.configEpoch
	} else {
		ev.Epoch = n.currentEpoch
	}
	n.emit(ev)
}

// describe renders Sentinel's %@: "<type> <name> <ip> <port>", followed for
// replicas and sentinels by " @ <master-name> <master-ip> <master-port>".
func (n *Node) describe(ri *instance) string {
	s := ri.kind.String() + " " + ri.name + " " + n.announceHost(ri.addr.Host) + " " + strconv.Itoa(ri.addr.Port)
	if ri.kind != KindMaster {
		mi := ri.m.inst
		s += " @ " + mi.name + " " + n.announceHost(mi.addr.Host) + " " + strconv.Itoa(mi.addr.Port)
	}
	return s
}

// instEvent emits an event tied to ri whose payload is "%@" followed by
// rest. A warning tied to an instance also runs the master's
// notification-script, as Sentinel does.
func (n *Node) instEvent(level Level, typ string, ri *instance, rest string) {
	n.instEventDetail(level, typ, ri, rest, "")
}

func (n *Node) instEventDetail(level Level, typ string, ri *instance, rest, detail string) {
	m := ri.m
	n.masterEventDetail(level, typ, m, n.describe(ri)+rest, detail)
}

// masterEvent emits an event about m whose payload is not "%@"-formatted.
func (n *Node) masterEvent(level Level, typ string, m *master, payload string) {
	n.masterEventDetail(level, typ, m, payload, "")
}

// masterEventDetail emits an event about m. Every warning about a master or
// one of its instances also runs the master's notification-script with the
// event's type and payload, as Sentinel does (+switch-master, +new-epoch and
// +vote-for-leader included).
func (n *Node) masterEventDetail(level Level, typ string, m *master, payload, detail string) {
	n.emit(Event{Type: typ, Level: level, Master: m.cfg.Name, Epoch: m.configEpoch, Payload: payload, Detail: detail})
	if level == LevelWarning && m.cfg.NotificationScript != "" {
		n.scripts = append(n.scripts, ScriptRun{Master: m.cfg.Name, Path: m.cfg.NotificationScript, Args: []string{typ, payload}})
	}
}

// adoptEpoch makes e, announced by others, our current epoch: saved with the
// state, announced by +new-epoch (with detail, when given), and, as an epoch
// we did not know, a reason to settle our configuration before the VIP
// (settleHold).
func (n *Node) adoptEpoch(e uint64, detail string) {
	n.currentEpoch = e
	n.dirty = true
	n.newEpochEvent(nil)
	n.events[len(n.events)-1].Detail = detail
	n.settleHold()
}

// newEpochEvent emits +new-epoch, about m when an event about a master
// brought the epoch (which then also runs m's notification-script).
func (n *Node) newEpochEvent(m *master) {
	payload := strconv.FormatUint(n.currentEpoch, 10)
	if m == nil {
		n.emit(Event{Type: "+new-epoch", Level: LevelWarning, Epoch: n.currentEpoch, Payload: payload})
		return
	}
	n.masterEventDetail(LevelWarning, "+new-epoch", m, payload, "")
	n.events[len(n.events)-1].Epoch = n.currentEpoch
}

// describeReplica renders "%@" for a as a replica of m's master at master:
// the form Sentinel gives events about an instance that now follows another.
func (n *Node) describeReplica(a Addr, m *master, master Addr) string {
	a, master = n.announce(a), n.announce(master)
	return "slave " + a.String() + " " + a.Host + " " + strconv.Itoa(a.Port) +
		" @ " + m.cfg.Name + " " + master.Host + " " + strconv.Itoa(master.Port)
}

// reconfScript queues the client-reconfig-script of m.
func (n *Node) reconfScript(m *master, role string, from, to Addr) {
	if m.cfg.ClientReconfigScript == "" {
		return
	}
	from, to = n.announce(from), n.announce(to)
	n.scripts = append(n.scripts, ScriptRun{
		Master: m.cfg.Name,
		Path:   m.cfg.ClientReconfigScript,
		Args: []string{m.cfg.Name, role, "start",
			from.Host, strconv.Itoa(from.Port), to.Host, strconv.Itoa(to.Port)},
	})
}
