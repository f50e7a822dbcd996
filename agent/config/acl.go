package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/api"
)

// ACL users, as Redis configures them: "user <name> <rule>..." lines, or an
// aclfile, never both. The rules are checked here by the API's own rule
// parser, so a bad rule fails at load (and in check-config) rather than
// when the API starts.

func doUser(p *parser, f *File, _ *Master, at pos, args []string) error {
	for _, u := range f.Users {
		if u[0] == args[0] {
			return fmt.Errorf("user %q is already defined: a user can be defined only once", args[0])
		}
	}
	if err := api.CheckUserRules(args); err != nil {
		return err
	}
	f.Users = append(f.Users, append([]string(nil), args...))
	f.userAt = append(f.userAt, at)
	return nil
}

func doACLFile(p *parser, f *File, _ *Master, at pos, args []string) error {
	if args[0] == "" {
		return errors.New("empty path")
	}
	f.ACLFile = args[0]
	f.aclFileAt = at
	return nil
}

func doACLPubsubDefault(f *File, v string) error {
	switch strings.ToLower(v) {
	case "allchannels":
		f.ACLPubsubAllChannels = true
	case "resetchannels":
		f.ACLPubsubAllChannels = false
	default:
		return fmt.Errorf("invalid value %q: want allchannels or resetchannels", v)
	}
	return nil
}

// finishACL resolves the aclfile against dir (Redis reads it after
// chdir()ing there) and refuses user lines next to an aclfile.
func (p *parser) finishACL(f *File) {
	if f.ACLFile == "" {
		return
	}
	if !filepath.IsAbs(f.ACLFile) {
		f.ACLFile = filepath.Join(f.Dir, f.ACLFile)
	}
	if len(f.Users) > 0 {
		p.errorf(f.aclFileAt, "aclfile", "users are defined both by user lines (first at %s:%d) and in the aclfile %s: define them in one place only",
			f.userAt[0].file, f.userAt[0].line, f.ACLFile)
	}
}

// maskedRules returns a user line's words with clear-text passwords
// (>pass, <pass) replaced by Masked.
func maskedRules(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if i > 0 && (strings.HasPrefix(w, ">") || strings.HasPrefix(w, "<")) {
			w = w[:1] + Masked
		}
		out[i] = w
	}
	return out
}
