package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// role is what a load balancer's health check asks a host: does its Redis
// hold this role right now? Its value is the role's name.
type role string

const (
	roleMaster  role = "master"
	roleReplica role = "replica"
)

// roleCheck serves GET /master and GET /replica: 200 when the local Redis
// holds the role for the master named by the "master" query parameter (any
// monitored master without one), 503 otherwise, 404 for an unknown master.
// The body says why, one line per master.
//
// The answer is the core's view, so that a load balancer agrees with the
// VIP: a master is served only while its address is on this host, it
// reports the master role, this agent does not see it down and it is not
// fenced; a replica only while its link to the master is up. In TILT, or
// when the core does not answer in time, every check fails: the agent does
// not know.
func (m *Metrics) roleCheck(want role) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		code, msg := m.role(r.Context(), want, r.URL.Query().Get("master"))
		w.WriteHeader(code)
		fmt.Fprint(w, msg)
	}
}

func (m *Metrics) role(ctx context.Context, want role, name string) (int, string) {
	if m.opts.Core == nil {
		return http.StatusServiceUnavailable, "no sentinel core\n"
	}
	ctx, cancel := context.WithTimeout(ctx, m.opts.CoreTimeout)
	defer cancel()
	core, err := guard(func() (Core, error) { return m.opts.Core.CoreSnapshot(ctx) })
	if err != nil {
		return http.StatusServiceUnavailable, fmt.Sprintf("unknown: the sentinel core did not answer: %v\n", err)
	}
	if core.Tilt {
		return http.StatusServiceUnavailable, "unknown: the agent is in TILT mode\n"
	}
	var b strings.Builder
	found, ok := false, false
	for _, mm := range core.Masters {
		if name != "" && mm.Name != name {
			continue
		}
		found = true
		has, why := hasRole(mm, want)
		ok = ok || has
		fmt.Fprintf(&b, "%s: %s\n", mm.Name, why)
	}
	switch {
	case !found && name != "":
		return http.StatusNotFound, fmt.Sprintf("no master named %q\n", name)
	case !found:
		return http.StatusServiceUnavailable, "no master is monitored\n"
	case !ok:
		return http.StatusServiceUnavailable, b.String()
	}
	return http.StatusOK, b.String()
}

// hasRole reports whether the local Redis holds want for mm, and why (not).
func hasRole(mm Master, want role) (bool, string) {
	switch {
	case want == roleMaster && !mm.Local:
		return false, "not master: the master is on another host"
	case want == roleMaster && mm.LocalRole != "master":
		return false, fmt.Sprintf("not master: the local Redis reports role %q", mm.LocalRole)
	case want == roleMaster && mm.SDown:
		return false, "not master: the local master is down"
	case want == roleMaster && mm.Fenced:
		return false, "not master: fenced (no majority of agents reachable)"
	case want == roleMaster:
		return true, "master"
	case mm.Local:
		return false, "not replica: the master is on this host"
	case !mm.LocalReplica:
		return false, "not replica: no replica on this host with its link to the master up"
	}
	return true, "replica"
}
