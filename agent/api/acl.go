package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// The ACL of the API: users with passwords, flags, command permissions by
// command, subcommand and category, channel patterns and (stored, shown,
// never used: Sentinel has no keys) key patterns, with the rule language,
// the ACL LIST/GETUSER renderings and the denial replies of redis-sentinel
// 7.0.15 (agent/compat compares them with a real one).
//
// A user's command permissions are a bit per command and subcommand, as in
// Redis, and ACL LIST describes them from the bits, not from the rules
// given: "+@all -sentinel|set +sentinel|set" reads back as "+@all". Tools
// (and operators diffing an ACL file) depend on that rendering, so it is
// computed the way Redis 7.0 computes it: categories chosen greedily, then
// single-command fixes (see describeCommands).

// aclCmd is one command or subcommand in the permission bitmap.
type aclCmd struct {
	cmd    *command
	parent int // bit of the container, -1 for a top-level command
	subs   []int
	// listed commands are those redis-sentinel has; the others
	// (VIPSENTINEL) are granted by +@all or by name, never by a category,
	// so that categories count and describe exactly as in Redis.
	listed bool
}

var (
	aclOnce   sync.Once
	aclCmds   []aclCmd
	aclByName map[string]int
)

// aclTable returns the bitmap's commands, built from commandTable on first
// use (package init order puts this file before commands.go's init).
func aclTable() ([]aclCmd, map[string]int) {
	aclOnce.Do(func() {
		aclByName = map[string]int{}
		add := func(cmd *command, parent int, listed bool) int {
			id := len(aclCmds)
			aclCmds = append(aclCmds, aclCmd{cmd: cmd, parent: parent, listed: listed})
			aclByName[cmd.name] = id
			return id
		}
		addTree := func(cmd *command, listed bool) {
			id := add(cmd, -1, listed)
			for _, s := range cmd.subs {
				if aclExempt(s) {
					continue
				}
				sid := add(s, id, listed && !s.unlisted)
				aclCmds[id].subs = append(aclCmds[id].subs, sid)
			}
		}
		for _, n := range commandOrder {
			addTree(commandTable[n], true)
		}
		names := make([]string, 0, len(commandTable))
		for n, cmd := range commandTable {
			if cmd.unlisted && !aclExempt(cmd) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			addTree(commandTable[n], false)
		}
	})
	return aclCmds, aclByName
}

// aclExempt reports whether a command is outside the ACL, allowed to every
// user: the connection housekeeping vipsentinel serves beyond
// redis-sentinel 7.0 (QUIT, which Redis 7.0 runs before any check, RESET
// and CLIENT SETINFO). VIPSENTINEL is not exempt.
func aclExempt(cmd *command) bool {
	return cmd.unlisted && cmd.name != "vipsentinel" && !strings.HasPrefix(cmd.name, "vipsentinel|")
}

// Key pattern permissions (%R~, %W~, ~).
const (
	keyRead  = 1
	keyWrite = 2
	keyAll   = keyRead | keyWrite
)

type keyPattern struct {
	perm    int
	pattern string
}

func (k keyPattern) String() string {
	switch k.perm {
	case keyRead:
		return "%R~" + k.pattern
	case keyWrite:
		return "%W~" + k.pattern
	}
	return "~" + k.pattern
}

// Payload sanitization flags: shown and saved only.
const (
	sanitizeUnset = iota
	sanitizePayload
	skipSanitizePayload
)

// aclUser is one ACL user. Its fields are guarded by the acl's lock.
type aclUser struct {
	name        string
	on          bool
	nopass      bool
	sanitize    int
	passwords   []string // SHA-256 hex, in the order added
	allKeys     bool
	keys        []keyPattern
	allChannels bool
	channels    []string
	cmds        []bool // by aclCmds index
	// future is Redis's reserved bit, set by +@all and cleared by -@all:
	// whether commands not named by any rule are allowed. ACL LIST starts
	// with +@all when set, -@all when not.
	future bool
	// firstArgs are the first arguments allowed for a command whose bit is
	// clear (+select|0 style rules on commands without subcommands).
	firstArgs map[int][]string
	// channelsDefault is acl-pubsub-default allchannels: new users and
	// reset get every channel.
	channelsDefault bool
}

// newUser returns a user as ACL SETUSER creates it: off, no password,
// no commands or keys, and no channels unless allChannels
// (acl-pubsub-default allchannels; 7.0's default is resetchannels).
func newUser(name string, allChannels bool) *aclUser {
	cmds, _ := aclTable()
	return &aclUser{name: name, cmds: make([]bool, len(cmds)), allChannels: allChannels, channelsDefault: allChannels}
}

// newDefaultUser returns the default user as Redis starts with it.
func newDefaultUser() *aclUser {
	u := newUser("default", false)
	for _, op := range []string{"on", "nopass", "~*", "&*", "+@all"} {
		if err := u.apply(op); err != nil {
			panic("api: default user: " + err.Error())
		}
	}
	return u
}

func (u *aclUser) clone() *aclUser {
	c := *u
	c.passwords = append([]string(nil), u.passwords...)
	c.keys = append([]keyPattern(nil), u.keys...)
	c.channels = append([]string(nil), u.channels...)
	c.cmds = append([]bool(nil), u.cmds...)
	c.firstArgs = nil
	for id, a := range u.firstArgs {
		if c.firstArgs == nil {
			c.firstArgs = map[int][]string{}
		}
		c.firstArgs[id] = append([]string(nil), a...)
	}
	return &c
}

// ruleError is a rule that could not be applied: Redis's reply names the
// rule and the reason.
type ruleError struct {
	op, msg string
}

func (e *ruleError) Error() string {
	return fmt.Sprintf("Error in ACL SETUSER modifier '%s': %s", sanitize(e.op), e.msg)
}

// The reasons a rule is refused, as redis-sentinel words them.
const (
	errRuleUnknown      = "Unknown command or category name in ACL"
	errRuleSyntax       = "Syntax error"
	errRuleAllKeys      = "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
	errRuleAllChannels  = "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
	errRuleNoPassword   = "The password you are trying to remove from the user does not exist"
	errRuleBadHash      = "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
	errRuleSubFirstArg  = "Allowing first-arg of a subcommand is not supported"
	errRuleNoSelectors  = "Selectors are not supported by vipsentinel"
	errUsernameInvalid  = "ERR Usernames can't contain spaces or null characters"
	errDefaultUndeleted = "ERR The 'default' user cannot be removed"
)

// CheckUserRules reports whether a user line's words (name, then rules)
// are valid, with the error redis-sentinel gives for the first bad one.
// The configuration package uses it so that a bad user line fails at load.
func CheckUserRules(words []string) error {
	if len(words) == 0 {
		return errors.New("missing user name")
	}
	if !validUsername(words[0]) {
		return errors.New(strings.TrimPrefix(errUsernameInvalid, "ERR "))
	}
	u := newUser(words[0], false)
	for i, op := range words[1:] {
		err := u.apply(op)
		var re *ruleError
		if err == nil || !errors.As(err, &re) {
			continue
		}
		// Only an unknown name is quoted: other rules may hold a password.
		if re.msg == errRuleUnknown {
			return fmt.Errorf("rule %q: %s", op, re.msg)
		}
		return fmt.Errorf("rule %d (of user %q): %s", i+1, words[0], re.msg)
	}
	return nil
}

func validUsername(name string) bool {
	return !strings.ContainsAny(name, " \t\r\n\x00")
}

// apply applies one rule.
func (u *aclUser) apply(op string) error {
	fail := func(msg string) error { return &ruleError{op: op, msg: msg} }
	switch strings.ToLower(op) {
	case "on":
		u.on = true
		return nil
	case "off":
		u.on = false
		return nil
	case "skip-sanitize-payload":
		u.sanitize = skipSanitizePayload
		return nil
	case "sanitize-payload":
		u.sanitize = sanitizePayload
		return nil
	case "nopass":
		u.nopass, u.passwords = true, nil
		return nil
	case "resetpass":
		u.nopass, u.passwords = false, nil
		return nil
	case "allkeys", "~*":
		u.allKeys, u.keys = true, nil
		return nil
	case "resetkeys":
		u.allKeys, u.keys = false, nil
		return nil
	case "allchannels", "&*":
		u.allChannels, u.channels = true, nil
		return nil
	case "resetchannels":
		u.allChannels, u.channels = false, nil
		return nil
	case "allcommands", "+@all":
		u.setAll(true)
		return nil
	case "nocommands", "-@all":
		u.setAll(false)
		return nil
	case "clearselectors":
		return nil // there are never any selectors
	case "reset":
		for _, o := range []string{"resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "-@all"} {
			_ = u.apply(o)
		}
		if u.channelsDefault {
			_ = u.apply("allchannels")
		}
		return nil
	}
	if op == "" {
		return fail(errRuleSyntax)
	}
	switch op[0] {
	case '>', '<':
		h := passwordHash(op[1:])
		if op[0] == '>' {
			u.addHash(h)
		} else if !u.removeHash(h) {
			return fail(errRuleNoPassword)
		}
		return nil
	case '#', '!':
		h := op[1:]
		if !validHash(h) {
			return fail(errRuleBadHash)
		}
		if op[0] == '#' {
			u.addHash(h)
		} else if !u.removeHash(h) {
			return fail(errRuleNoPassword)
		}
		return nil
	case '(':
		return fail(errRuleNoSelectors)
	case '~', '%':
		return u.addKey(op, fail)
	case '&':
		if u.allChannels {
			return fail(errRuleAllChannels)
		}
		pat := op[1:]
		if strings.ContainsAny(pat, " \t\r\n\x00") {
			return fail(errRuleSyntax)
		}
		for _, c := range u.channels {
			if c == pat {
				return nil
			}
		}
		u.channels = append(u.channels, pat)
		return nil
	case '+', '-':
		allow := op[0] == '+'
		if len(op) > 1 && op[1] == '@' {
			cat := strings.ToLower(op[2:])
			if !slices.Contains(aclCategories, cat) {
				return fail(errRuleUnknown)
			}
			u.setCategory(cat, allow)
			return nil
		}
		return u.applyCommand(op[1:], allow, fail)
	}
	return fail(errRuleSyntax)
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (u *aclUser) addHash(h string) {
	u.nopass = false
	for _, p := range u.passwords {
		if p == h {
			return
		}
	}
	u.passwords = append(u.passwords, h)
}

func (u *aclUser) removeHash(h string) bool {
	u.nopass = false
	for i, p := range u.passwords {
		if p == h {
			u.passwords = append(u.passwords[:i:i], u.passwords[i+1:]...)
			return true
		}
	}
	return false
}

func (u *aclUser) addKey(op string, fail func(string) error) error {
	if u.allKeys {
		return fail(errRuleAllKeys)
	}
	perm, off := keyAll, 1
	if op[0] == '%' {
		perm = 0
		for ; off < len(op); off++ {
			c := op[off] | 0x20 // lower case
			if c == 'r' && perm&keyRead == 0 {
				perm |= keyRead
			} else if c == 'w' && perm&keyWrite == 0 {
				perm |= keyWrite
			} else if op[off] == '~' {
				off++
				break
			} else {
				return fail(errRuleSyntax)
			}
		}
		if perm == 0 {
			return fail(errRuleSyntax)
		}
	}
	pat := op[off:]
	if strings.ContainsAny(pat, " \t\r\n\x00") {
		return fail(errRuleSyntax)
	}
	for i := range u.keys {
		if u.keys[i].pattern == pat {
			u.keys[i].perm |= perm
			return nil
		}
	}
	u.keys = append(u.keys, keyPattern{perm: perm, pattern: pat})
	return nil
}

// applyCommand applies +name, -name, +name|sub, -name|sub and
// +name|firstarg.
func (u *aclUser) applyCommand(name string, allow bool, fail func(string) error) error {
	_, byName := aclTable()
	lookup := func(n string) (int, bool) {
		id, ok := byName[strings.ToLower(n)]
		return id, ok
	}
	i := strings.LastIndexByte(name, '|')
	if i < 0 || !allow {
		id, ok := lookup(name)
		if !ok {
			return fail(errRuleUnknown)
		}
		u.setCommand(id, allow)
		return nil
	}
	parent, sub := name[:i], name[i+1:]
	pid, ok := lookup(parent)
	if !ok {
		return fail(errRuleUnknown)
	}
	if aclCmds[pid].parent >= 0 {
		return fail(errRuleSubFirstArg)
	}
	if sub == "" {
		return fail(errRuleSyntax)
	}
	if len(aclCmds[pid].cmd.subs) > 0 {
		id, ok := lookup(name)
		if !ok {
			return fail(errRuleUnknown)
		}
		u.setCommand(id, true)
		return nil
	}
	// A first argument of a command without subcommands.
	if u.firstArgs == nil {
		u.firstArgs = map[int][]string{}
	}
	for _, a := range u.firstArgs[pid] {
		if strings.EqualFold(a, sub) {
			return nil
		}
	}
	u.firstArgs[pid] = append(u.firstArgs[pid], sub)
	return nil
}

// setCommand sets a command's bit and those of all its subcommands, and
// forgets its allowed first arguments.
func (u *aclUser) setCommand(id int, allow bool) {
	u.cmds[id] = allow
	delete(u.firstArgs, id)
	for _, s := range aclCmds[id].subs {
		u.cmds[s] = allow
	}
}

func (u *aclUser) setAll(allow bool) {
	for i := range u.cmds {
		u.cmds[i] = allow
	}
	u.future = allow
	u.firstArgs = nil
}

// setCategory applies +@cat or -@cat: every listed command in the category,
// a container taking all its subcommands with it, then every listed
// subcommand in it.
func (u *aclUser) setCategory(cat string, allow bool) {
	for id, c := range aclCmds {
		if c.listed && slices.Contains(c.cmd.acl, cat) {
			u.setCommand(id, allow)
		}
	}
}

// countCategory counts the listed commands of cat that u allows and does
// not allow.
func (u *aclUser) countCategory(cat string) (on, off int) {
	for id, c := range aclCmds {
		if c.listed && slices.Contains(c.cmd.acl, cat) {
			if u.cmds[id] {
				on++
			} else {
				off++
			}
		}
	}
	return on, off
}

// describeCommands renders the command permissions as Redis 7.0 does:
// +@all or -@all by the future-commands bit, then, greedily, each
// category that covers more of the remaining differences than it adds,
// then the single commands (and first arguments) still different. Redis
// emits those last in the order of its hash table, which differs between
// runs; here they are in command order.
func (u *aclUser) describeCommands() string {
	var b strings.Builder
	fake := newUser("", false)
	additive := !u.future
	if additive {
		b.WriteString("-@all ")
	} else {
		b.WriteString("+@all ")
		fake.setAll(true)
	}
	temp := u.clone()
	applied := make([]bool, len(aclCategories))
	for {
		best, minDiff, maxSame := -1, int(^uint(0)>>1), 0
		for j, cat := range aclCategories {
			if applied[j] {
				continue
			}
			on, off := temp.countCategory(cat)
			diff, same := off, on
			if !additive {
				diff, same = on, off
			}
			if same > diff && (diff < minDiff || diff == minDiff && same > maxSame) {
				best, minDiff, maxSame = j, diff, same
			}
		}
		if best < 0 {
			break
		}
		cat := aclCategories[best]
		fake.setCategory(cat, additive)
		temp.setCategory(cat, !additive)
		if additive {
			b.WriteString("+@" + cat + " ")
		} else {
			b.WriteString("-@" + cat + " ")
		}
		applied[best] = true
	}
	for id, c := range aclCmds {
		if u.cmds[id] != fake.cmds[id] {
			if u.cmds[id] {
				b.WriteString("+")
			} else {
				b.WriteString("-")
			}
			b.WriteString(c.cmd.name + " ")
			if c.parent < 0 {
				fake.setCommand(id, u.cmds[id])
			} else {
				fake.cmds[id] = u.cmds[id]
			}
		}
		if !u.cmds[id] {
			for _, a := range u.firstArgs[id] {
				b.WriteString("+" + c.cmd.name + "|" + a + " ")
			}
		}
	}
	return strings.TrimSuffix(b.String(), " ")
}

// flags lists the user's flags in Redis's order.
func (u *aclUser) flags() []string {
	var f []string
	if u.on {
		f = append(f, "on")
	} else {
		f = append(f, "off")
	}
	if u.nopass {
		f = append(f, "nopass")
	}
	switch u.sanitize {
	case skipSanitizePayload:
		f = append(f, "skip-sanitize-payload")
	case sanitizePayload:
		f = append(f, "sanitize-payload")
	}
	return f
}

// keysString is GETUSER's "keys": the patterns, space separated.
func (u *aclUser) keysString() string {
	if u.allKeys {
		return "~*"
	}
	parts := make([]string, len(u.keys))
	for i, k := range u.keys {
		parts[i] = k.String()
	}
	return strings.Join(parts, " ")
}

// channelsString is GETUSER's "channels".
func (u *aclUser) channelsString() string {
	if u.allChannels {
		return "&*"
	}
	parts := make([]string, len(u.channels))
	for i, c := range u.channels {
		parts[i] = "&" + c
	}
	return strings.Join(parts, " ")
}

// describe renders the user's rules as ACL LIST does (without "user <name>").
func (u *aclUser) describe() string {
	var b strings.Builder
	for _, f := range u.flags() {
		b.WriteString(f + " ")
	}
	for _, p := range u.passwords {
		b.WriteString("#" + p + " ")
	}
	if u.allKeys {
		b.WriteString("~* ")
	} else {
		for _, k := range u.keys {
			b.WriteString(k.String() + " ")
		}
	}
	if u.allChannels {
		b.WriteString("&* ")
	} else {
		b.WriteString("resetchannels ")
		for _, c := range u.channels {
			b.WriteString("&" + c + " ")
		}
	}
	b.WriteString(u.describeCommands())
	return b.String()
}

// checkPassword reports whether pass is one of u's passwords (any, for
// nopass), comparing every hash in constant time.
func (u *aclUser) checkPassword(pass string) bool {
	if u.nopass {
		return true
	}
	h := sha256.Sum256([]byte(pass))
	got := []byte(hex.EncodeToString(h[:]))
	ok := 0
	for _, p := range u.passwords {
		ok |= subtle.ConstantTimeCompare(got, []byte(p))
	}
	return ok == 1
}

// Denial reasons, as ACL LOG names them.
const (
	deniedCommand = "command"
	deniedChannel = "channel"
)

// check tells whether u may run cmd (resolved to its subcommand) with args;
// when not, why and the index in args of the argument at fault (0 for the
// command itself).
func (u *aclUser) check(cmd *command, args []string) (reason string, at int) {
	_, byName := aclTable()
	if aclExempt(cmd) || cmd.noAuth {
		return "", 0
	}
	id, ok := byName[cmd.name]
	if !ok {
		return "", 0
	}
	if !u.cmds[id] {
		allowed := false
		if fa := u.firstArgs[id]; len(fa) > 0 && len(args) > 1 {
			for _, a := range fa {
				if strings.EqualFold(a, args[1]) {
					allowed = true
					break
				}
			}
		}
		if !allowed {
			return deniedCommand, 0
		}
	}
	if u.allChannels {
		return "", 0
	}
	var from, to int
	pattern := false
	switch cmd.name {
	case "publish":
		from, to = 1, 2
	case "subscribe":
		from, to = 1, len(args)
	case "psubscribe":
		from, to, pattern = 1, len(args), true
	}
	for i := from; i < to && i < len(args); i++ {
		if !u.channelAllowed(args[i], pattern) {
			return deniedChannel, i
		}
	}
	return "", 0
}

// channelAllowed reports whether u may use channel: a channel must match
// one of the user's patterns; a PSUBSCRIBE pattern must be one of them.
func (u *aclUser) channelAllowed(channel string, pattern bool) bool {
	if u.allChannels {
		return true
	}
	for _, p := range u.channels {
		if pattern && p == channel || !pattern && redisrule.Match(p, channel) {
			return true
		}
	}
	return false
}

// deniedMessage is the reason given by ACL DRYRUN (verbose) or in the
// -NOPERM reply.
func deniedMessage(reason string, cmd *command, arg string, verbose bool) string {
	switch {
	case reason == deniedChannel && verbose:
		return fmt.Sprintf("This user has no permissions to access the '%s' channel", arg)
	case reason == deniedChannel:
		return "this user has no permissions to access one of the channels used as arguments"
	case verbose:
		return fmt.Sprintf("This user has no permissions to run the '%s' command", cmd.name)
	}
	return fmt.Sprintf("this user has no permissions to run the '%s' command", cmd.name)
}

// ---------------------------------------------------------------------------
// The user set.

// acl is the server's users. Clients hold *aclUser pointers: ACL SETUSER
// changes a user in place, so its connected clients follow the change, as
// in Redis.
type acl struct {
	mu    sync.RWMutex
	users map[string]*aclUser
	def   *aclUser
	// file is the aclfile: ACL LOAD reads it, ACL SAVE writes it.
	file string
	// allChannels is acl-pubsub-default allchannels.
	allChannels bool
}

// newACL returns the users a server starts with: the default user (with
// requirepass as its password), then the user lines, or the aclfile.
func newACL(requirePass string, lines [][]string, file string, allChannels bool) (*acl, error) {
	a := &acl{def: newDefaultUser(), file: file, allChannels: allChannels}
	if requirePass != "" {
		_ = a.def.apply("resetpass")
		_ = a.def.apply(">" + requirePass)
	}
	a.users = map[string]*aclUser{"default": a.def}
	if file != "" {
		if len(lines) > 0 {
			return nil, errors.New("acl: users are defined both by user lines and in an aclfile; use one or the other")
		}
		if err := a.load(); err != nil {
			return nil, fmt.Errorf("acl: %w", err)
		}
		return a, nil
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if len(l) == 0 {
			return nil, errors.New("acl: user line without a name")
		}
		name := l[0]
		if seen[name] {
			return nil, fmt.Errorf("acl: user %q is defined twice", name)
		}
		seen[name] = true
		if !validUsername(name) {
			return nil, fmt.Errorf("acl: user %q: %s", name, strings.TrimPrefix(errUsernameInvalid, "ERR "))
		}
		u := a.users[name]
		if u == nil {
			u = newUser(name, allChannels)
			a.users[name] = u
		} else {
			// The default user's line replaces it, requirepass included.
			_ = u.apply("reset")
		}
		for _, op := range l[1:] {
			if err := u.apply(op); err != nil {
				return nil, fmt.Errorf("acl: user %q: %w", name, err)
			}
		}
	}
	return a, nil
}

// user returns the named user, or nil.
func (a *acl) user(name string) *aclUser {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.users[name]
}

// authenticate returns the user whose name and password these are, if it
// is enabled.
func (a *acl) authenticate(name, pass string) (*aclUser, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	u := a.users[name]
	if u == nil || !u.on || !u.checkPassword(pass) {
		return nil, false
	}
	return u, true
}

// anonymousOK reports whether a client that never authenticated may run
// commands as the default user: it is on and has nopass.
func (a *acl) anonymousOK() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.def.on && a.def.nopass
}

// defaultNoPass reports whether the default user has nopass (AUTH with a
// password alone is then an error).
func (a *acl) defaultNoPass() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.def.nopass
}

// names returns the user names in Redis's order (byte-wise).
func (a *acl) names() []string {
	names := make([]string, 0, len(a.users))
	for n := range a.users {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// list renders every user as an ACL LIST line.
func (a *acl) list() []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []string
	for _, n := range a.names() {
		out = append(out, "user "+n+" "+a.users[n].describe())
	}
	return out
}

// setUser applies rules to the named user, creating it, all or nothing.
func (a *acl) setUser(name string, rules []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.users[name]
	var work *aclUser
	if u == nil {
		work = newUser(name, a.allChannels)
	} else {
		work = u.clone()
	}
	for _, op := range rules {
		if err := work.apply(op); err != nil {
			return err
		}
	}
	if u == nil {
		a.users[name] = work
	} else {
		*u = *work
	}
	return nil
}

// delUsers deletes the named users and returns those that existed.
func (a *acl) delUsers(names []string) ([]*aclUser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range names {
		if n == "default" {
			return nil, errors.New(errDefaultUndeleted)
		}
	}
	var gone []*aclUser
	for _, n := range names {
		if u := a.users[n]; u != nil {
			delete(a.users, n)
			gone = append(gone, u)
		}
	}
	return gone, nil
}
