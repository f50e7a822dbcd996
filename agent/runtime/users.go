package runtime

import (
	"context"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/api"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// ACL users changed at run time (ACL SETUSER/DELUSER) with no aclfile are
// kept in the state file (sentinel.HardState.ACLUsers; agent/state merges
// them with the file's user lines at start): redis-sentinel keeps them by
// rewriting them into sentinel.conf.

// restoreUsers makes the users of the previous run, which the state kept,
// the API's users instead of the configuration file's user lines.
func restoreUsers(acfg *api.Config, st *sentinel.HardState) {
	if st == nil || st.ACLUsers == nil || acfg.ACLFile != "" {
		return
	}
	users := make([][]string, 0, len(st.ACLUsers))
	for _, l := range st.ACLUsers {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "user" {
			users = append(users, f[1:])
		}
	}
	acfg.Users = users
}

// persistUsers is api.Config.UsersChanged: it records the users in the core,
// whose next Ready carries them in the state to save, and returns once
// they are saved.
func (r *Runtime) persistUsers(ctx context.Context, users []string) error {
	return r.do(ctx, func(sentinel.Time) { r.node.SetACLUsers(users) })
}
