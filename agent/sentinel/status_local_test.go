package sentinel

import "testing"

// TestStatusLocalRoles: after convergence the master's host reports Local,
// every other host a LocalReplica (its replica's link to the master is up),
// which is what the metrics' /master and /replica health checks serve.
func TestStatusLocalRoles(t *testing.T) {
	c := newCluster(t, clusterOpts{seed: 3})
	c.converge()
	for i, a := range c.agents {
		st := a.node.Status(c.now)
		if len(st) != 1 {
			t.Fatalf("agent %d: status %+v", i, st)
		}
		master := i == 0
		if st[0].Local != master || st[0].LocalReplica == master {
			t.Errorf("agent %d: Local %v, LocalReplica %v; want Local %v", i, st[0].Local, st[0].LocalReplica, master)
		}
	}
}
