package state

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/config"
)

// ACL users changed at run time (HardState.ACLUsers).
//
// redis-sentinel keeps users changed by ACL SETUSER/DELUSER, when no aclfile
// holds them, by writing them into sentinel.conf at its next configuration
// rewrite. vipsentinel never rewrites the file, so they are kept in the
// state file instead, with the file's user lines they replaced
// (Snapshot.BaseUsers). They apply at the next start unless the operator
// edited the file's user lines since (the file's users then apply, as the
// merge rule has it for every other setting) or an aclfile now holds the
// users (ACL SAVE and ACL LOAD are the way to keep those).

// fileUsers renders cfg's user lines as ACL LIST does the users they make
// ("user <name> <rules>..."): the base run-time users are compared with.
func fileUsers(cfg *config.File) []string {
	out := []string{}
	for _, u := range cfg.Users {
		out = append(out, "user "+strings.Join(u, " "))
	}
	return out
}

// mergeUsers keeps the previous run's users, unless cfg's user lines
// changed since they were written or cfg names an aclfile.
func mergeUsers(cfg *config.File, prev *Snapshot, changes []Change) ([]string, []Change) {
	users := prev.State.ACLUsers
	switch {
	case users == nil:
		return nil, changes
	case cfg.ACLFile != "":
		return nil, append(changes, Change{Setting: "user", Msg: "users changed with ACL SETUSER/DELUSER are dropped: the aclfile holds the users now"})
	case !slices.Equal(prev.BaseUsers, fileUsers(cfg)):
		return nil, append(changes, Change{Setting: "user", Msg: "user lines edited in the configuration file since ACL SETUSER/DELUSER: the file's users apply"})
	}
	return slices.Clone(users), append(changes, Change{Setting: "user", Msg: fmt.Sprintf("keeping the %d users from ACL SETUSER/DELUSER over the configuration file's user lines", len(users))})
}

// validUsers checks the ACL user lines of a state file.
func validUsers(what string, in []text) error {
	for i, l := range in {
		f := strings.Fields(string(l))
		if len(f) < 2 || f[0] != "user" || strings.Join(f, " ") != string(l) {
			return fmt.Errorf("%s[%d]: %q is not a user line", what, i, l)
		}
	}
	return nil
}

// convert copies a slice of strings into another string type (string and
// the codec's text, which encodes bytes JSON cannot hold), keeping nil nil
// so that an absent list stays absent in the file.
func convert[To, From ~string](in []From) []To {
	if in == nil {
		return nil
	}
	out := make([]To, len(in))
	for i, s := range in {
		out[i] = To(s)
	}
	return out
}
