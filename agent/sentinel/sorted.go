package sentinel

import "sort"

// The pass walks every master, replica and sentinel in name order after
// every input, so the sorted orders are cached instead of being rebuilt on
// each Step (they were most of an idle agent's CPU).
//
// A cache checks itself rather than relying on every map mutation to
// invalidate it: it is still right when it has as many entries as the map
// and each entry is still in the map under its name (names never change).
// Those are map look-ups without allocation. A rebuild always makes a new
// slice, so a caller still ranging over an older one (while the map changes
// under it) keeps its snapshot, as with a freshly sorted copy; callers must
// not modify the slice they get.

// sortedCache holds the cached order of a master's replicas and sentinels.
type sortedCache struct {
	replicas  []*instance
	sentinels []*instance
}

func (m *master) sortedReplicas() []*instance {
	if !instancesCurrent(m.sorted.replicas, m.replicas) {
		m.sorted.replicas = sortInstances(m.replicas)
	}
	return m.sorted.replicas
}

func (m *master) sortedSentinels() []*instance {
	if !instancesCurrent(m.sorted.sentinels, m.sentinels) {
		m.sorted.sentinels = sortInstances(m.sentinels)
	}
	return m.sorted.sentinels
}

func (n *Node) sortedMasters() []*master {
	if !mastersCurrent(n.sortedMs, n.masters) {
		out := make([]*master, 0, len(n.masters))
		for _, m := range n.masters {
			out = append(out, m)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].cfg.Name < out[j].cfg.Name })
		n.sortedMs = out
	}
	return n.sortedMs
}

func instancesCurrent(c []*instance, byName map[string]*instance) bool {
	if c == nil || len(c) != len(byName) {
		return false
	}
	for _, ri := range c {
		if byName[ri.name] != ri {
			return false
		}
	}
	return true
}

func mastersCurrent(c []*master, byName map[string]*master) bool {
	if c == nil || len(c) != len(byName) {
		return false
	}
	for _, m := range c {
		if byName[m.cfg.Name] != m {
			return false
		}
	}
	return true
}

func sortInstances(byName map[string]*instance) []*instance {
	out := make([]*instance, 0, len(byName))
	for _, ri := range byName {
		out = append(out, ri)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
