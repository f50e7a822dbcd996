package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// aclDenied checks the client's user may run cmd with args (as resolved by
// dispatch, after authentication): when not, it answers -NOPERM as Redis
// does, logs the denial in ACL LOG and returns true. A container with an
// unknown subcommand or a subcommand with the wrong arity is left to the
// command, whose error Redis gives before any permission check.
func (c *client) aclDenied(cmd *command, args []string) bool {
	target := cmd
	if len(cmd.subs) > 0 {
		if len(args) < 2 {
			return false
		}
		s := cmd.lookupSub(args[1])
		if s == nil || !arityOK(s.arity, len(args)) {
			return false
		}
		target = s
	}
	u := c.aclUser()
	c.srv.acl.mu.RLock()
	reason, at := u.check(target, args)
	c.srv.acl.mu.RUnlock()
	if reason == "" {
		return false
	}
	object := target.name
	if reason == deniedChannel {
		object = args[at]
	}
	c.srv.aclLog.add(aclLogEntry{reason: reason, context: "toplevel", object: object, username: u.name}, c.infoLine(), time.Now())
	c.srv.stats.errors.Add(1)
	c.w.Error("NOPERM " + deniedMessage(reason, target, args[at], false))
	return true
}

// aclUser returns the user the client runs as.
func (c *client) aclUser() *aclUser {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user
}

// killUsers disconnects the clients authenticated as one of users (deleted,
// or replaced by ACL LOAD), as Redis does; the calling client's reply is
// written first.
func (c *client) killUsers(users []*aclUser) {
	if len(users) == 0 {
		return
	}
	gone := map[*aclUser]bool{}
	for _, u := range users {
		gone[u] = true
	}
	c.killClients(func(o *client) bool { return gone[o.aclUser()] })
}

// killClients disconnects every client match selects, this one (if
// selected) once its reply is written, as Redis does when ACL changes
// revoke a connected user.
func (c *client) killClients(match func(o *client) bool) {
	self := false
	for _, o := range c.srv.allClients() {
		if !match(o) {
			continue
		}
		if o == c {
			self = true
			continue
		}
		c.killOther(o)
	}
	if self {
		c.flushReply()
		c.finish()
	}
}

// killRevokedSubscribers disconnects the clients of u subscribed to a
// channel or pattern u may no longer use, as Redis does after ACL SETUSER.
func (c *client) killRevokedSubscribers(u *aclUser) {
	c.killClients(func(o *client) bool {
		if o.aclUser() != u {
			return false
		}
		o.mu.Lock()
		subs, psubs := sortedKeys(o.subs), sortedKeys(o.psubs)
		o.mu.Unlock()
		c.srv.acl.mu.RLock()
		defer c.srv.acl.mu.RUnlock()
		for _, ch := range subs {
			if !u.channelAllowed(ch, false) {
				return true
			}
		}
		for _, p := range psubs {
			if !u.channelAllowed(p, true) {
				return true
			}
		}
		return false
	})
}

func (c *client) cmdACL(args []string) {
	sub, ok := c.subcommand("acl", args)
	if !ok {
		return
	}
	a := c.srv.acl
	switch sub {
	case "whoami":
		c.w.Bulk(c.aclUser().name)
	case "users":
		a.mu.RLock()
		names := a.names()
		a.mu.RUnlock()
		c.w.Bulks(names...)
	case "list":
		c.w.Bulks(a.list()...)
	case "getuser":
		c.aclGetUser(args[2])
	case "setuser":
		if !validUsername(args[2]) {
			c.w.Error(errUsernameInvalid)
			return
		}
		if err := a.setUser(args[2], args[3:]); err != nil {
			c.w.Error("ERR " + err.Error())
			return
		}
		c.usersChanged()
		c.w.Status("OK")
		if u := a.user(args[2]); u != nil {
			c.killRevokedSubscribers(u)
		}
	case "deluser":
		gone, err := a.delUsers(args[2:])
		if err != nil {
			c.w.Error(err.Error())
			return
		}
		if len(gone) > 0 {
			c.usersChanged()
		}
		c.w.Int(int64(len(gone)))
		c.killUsers(gone)
	case "cat":
		if len(args) == 2 {
			c.w.Bulks(aclCategories...)
			return
		}
		if len(args) > 3 {
			c.w.Error(subSyntax(args[1], "ACL"))
			return
		}
		cat := strings.ToLower(args[2])
		if !slices.Contains(aclCategories, cat) {
			c.w.Error(fmt.Sprintf("ERR Unknown category '%s'", sanitize(truncate(args[2], 128))))
			return
		}
		c.w.Bulks(inCategory(cat)...)
	case "genpass":
		bits := int64(256)
		if len(args) > 3 {
			c.w.Error(subSyntax(args[1], "ACL"))
			return
		}
		if len(args) == 3 {
			n, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil {
				c.w.Error(errNotInteger)
				return
			}
			if n <= 0 || n > 4096 {
				c.w.Error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
				return
			}
			bits = n
		}
		buf := make([]byte, (bits+7)/8)
		_, _ = rand.Read(buf)
		s := hex.EncodeToString(buf)
		c.w.Bulk(s[:(bits+3)/4])
	case "log":
		count := int64(aclLogMax)
		if len(args) > 3 {
			c.w.Error(subSyntax(args[1], "ACL"))
			return
		}
		if len(args) == 3 {
			if strings.EqualFold(args[2], "reset") {
				c.srv.aclLog.reset()
				c.w.Status("OK")
				return
			}
			n, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil {
				c.w.Error(errNotInteger)
				return
			}
			count = max(n, 0)
		}
		c.writeACLLog(c.srv.aclLog.list(int(min(count, aclLogMax))))
	case "dryrun":
		c.aclDryRun(args)
	case "save":
		if a.file == "" {
			c.w.Error(errNoACLFile)
			return
		}
		if err := a.save(); err != nil {
			c.srv.log.Warn("ACL SAVE failed", "file", a.file, "err", err)
			c.w.Error("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
			return
		}
		c.w.Status("OK")
	case "load":
		if a.file == "" {
			c.w.Error(errNoACLFile)
			return
		}
		old, err := a.loadLocked()
		if err != nil {
			c.w.Error("ERR " + err.Error())
			return
		}
		c.w.Status("OK")
		c.killUsers(old)
	case "help":
		c.writeHelp("ACL", []string{
			"WHOAMI | USERS | LIST | GETUSER <user>", "    Who this connection is; the users and their rules.",
			"SETUSER <user> [<rule> ...] | DELUSER <user> ...", "    Create or change a user; delete users.",
			"CAT [<category>] | DRYRUN <user> <command> ...", "    Command categories; whether a command would be allowed.",
			"LOAD | SAVE", "    Read or write the aclfile.",
			"GENPASS [<bits>]", "    A random password.",
			"LOG [<count>|RESET]", "    Denials and failed logins, most recent first, or clear them.",
		})
	}
}

const errNoACLFile = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."

func (c *client) aclGetUser(name string) {
	a := c.srv.acl
	a.mu.RLock()
	u := a.users[name]
	if u == nil {
		a.mu.RUnlock()
		c.w.NullBulk()
		return
	}
	flags, passwords := u.flags(), append([]string(nil), u.passwords...)
	cmds, keys, channels := u.describeCommands(), u.keysString(), u.channelsString()
	a.mu.RUnlock()
	c.w.Map(6)
	c.w.Bulk("flags")
	c.w.Set(len(flags))
	for _, f := range flags {
		c.w.Bulk(f)
	}
	c.w.Bulk("passwords")
	c.w.Bulks(passwords...)
	c.field("commands", cmds)
	c.field("keys", keys)
	c.field("channels", channels)
	c.w.Bulk("selectors")
	c.w.Array(0)
}

func (c *client) aclDryRun(args []string) {
	u := c.srv.acl.user(args[2])
	if u == nil {
		c.w.Error(fmt.Sprintf("ERR User '%s' not found", sanitize(truncate(args[2], 128))))
		return
	}
	line := args[3:]
	cmd := lookupArgs(line)
	if cmd == nil {
		c.w.Error(fmt.Sprintf("ERR Command '%s' not found", sanitize(truncate(args[3], 128))))
		return
	}
	if !arityOK(cmd.arity, len(line)) {
		c.w.Error(fmt.Sprintf("ERR wrong number of arguments for '%s' command", cmd.name))
		return
	}
	c.srv.acl.mu.RLock()
	reason, at := u.check(cmd, line)
	c.srv.acl.mu.RUnlock()
	if reason != "" {
		c.w.Bulk(deniedMessage(reason, cmd, line[at], true))
		return
	}
	c.w.Status("OK")
}

// ---------------------------------------------------------------------------
// The aclfile.

// errACLFileRejected ends the message of an aclfile that was not loaded.
const errACLFileRejected = "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"

// load reads the aclfile at start-up.
func (a *acl) load() error {
	_, err := a.loadLocked()
	return err
}

// loadLocked replaces the users by those of the aclfile, all or nothing,
// and returns the users replaced (the default user is changed in place:
// its clients stay). A file without a default user gets Redis's initial
// one (on, nopass: requirepass does not apply to an aclfile's users).
func (a *acl) loadLocked() ([]*aclUser, error) {
	data, err := os.ReadFile(a.file)
	if err != nil {
		return nil, fmt.Errorf("Error loading ACLs, opening file '%s': %s", a.file, errorText(err))
	}
	users := map[string]*aclUser{}
	var errs strings.Builder
	for i, raw := range strings.Split(string(data), "\n") {
		n := i + 1
		l := strings.Trim(raw, " \t\r\n")
		if l == "" {
			continue
		}
		words, err := redisrule.SplitArgs(l)
		if err != nil {
			fmt.Fprintf(&errs, "%s:%d: unbalanced quotes in acl line. ", a.file, n)
			continue
		}
		if len(words) < 2 || words[0] != "user" {
			fmt.Fprintf(&errs, "%s:%d should start with user keyword followed by the username. ", a.file, n)
			continue
		}
		name := words[1]
		if users[name] != nil {
			fmt.Fprintf(&errs, "WARNING: Duplicate user '%s' found on line %d. ", name, n)
			continue
		}
		u := newUser(name, a.allChannels)
		bad, reported := false, false
		for _, op := range words[2:] {
			err := u.apply(op)
			var re *ruleError
			if err == nil || !errors.As(err, &re) {
				continue
			}
			bad = true
			// Like Redis, only unknown names are quoted: any other rule
			// may hold a password. Of those, the first is reported, as
			// it may be the cause of the next ones.
			switch {
			case re.msg == errRuleUnknown:
				fmt.Fprintf(&errs, "%s:%d: Error in applying operation '%s': %s. ", a.file, n, sanitize(op), re.msg)
			case !reported:
				fmt.Fprintf(&errs, "%s:%d: %s. ", a.file, n, re.msg)
				reported = true
			}
		}
		if !bad {
			users[name] = u
		}
	}
	if errs.Len() > 0 {
		return nil, errors.New(errs.String() + errACLFileRejected)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var old []*aclUser
	for n, u := range a.users {
		if n != "default" {
			old = append(old, u)
		}
	}
	def := users["default"]
	if def == nil {
		def = newDefaultUser()
	}
	*a.def = *def
	users["default"] = a.def
	a.users = users
	return old, nil
}

// save writes every user to the aclfile, replacing it atomically: a crash
// leaves the old file or the new one, never a part.
func (a *acl) save() error {
	var b strings.Builder
	for _, l := range a.list() {
		b.WriteString(l + "\n")
	}
	dir := filepath.Dir(a.file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(a.file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save aclfile: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("save aclfile: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save aclfile: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save aclfile: %w", err)
	}
	if err := os.Rename(tmp.Name(), a.file); err != nil {
		return fmt.Errorf("save aclfile: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// errorText is an error as strerror words it, for messages Redis builds
// from errno.
func errorText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

// usersChanged hands the users to Config.UsersChanged, when no aclfile
// holds them.
func (c *client) usersChanged() {
	cfg := &c.srv.cfg
	if cfg.UsersChanged == nil || cfg.ACLFile != "" {
		return
	}
	ctx, cancel := c.srv.call(c)
	defer cancel()
	if err := cfg.UsersChanged(ctx, c.srv.acl.list()); err != nil {
		c.srv.log.Warn("ACL users changed but not persisted", "err", err)
	}
}
