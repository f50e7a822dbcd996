package sim

import "testing"

// TestStatusLocalRoles: after convergence the master's host reports Local,
// every other host a LocalReplica (its replica's link to the master is up),
// which is what the metrics' /master and /replica health checks serve.
func TestStatusLocalRoles(t *testing.T) {
	c := newSteps(t, stepOpts{seed: 3})
	c.converge()
	for i, a := range c.agents {
		st, ok := a.status()
		if !ok {
			t.Fatalf("agent %d: no status", i)
		}
		master := i == 0
		if st.Local != master || st.LocalReplica == master {
			t.Errorf("agent %d: Local %v, LocalReplica %v; want Local %v", i, st.Local, st.LocalReplica, master)
		}
	}
}
