package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vipsentinel/vipsentinel/agent/peerproof"
	"github.com/vipsentinel/vipsentinel/agent/redisrule"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// command describes one command or subcommand: what COMMAND INFO and
// COMMAND DOCS report about it (see commandSpecs) and, for top-level
// commands, how it runs: whether it may run before AUTH (noAuth) and whether
// a RESP2 client in subscribed mode may run it (inSub). Arity follows the
// Redis convention: positive means exactly, negative means at least.
type command struct {
	name  string // lower case; "container|sub" for a subcommand
	arity int
	flags []string // COMMAND INFO flags
	acl   []string // ACL categories, without the "@"
	tips  []string
	doc   doc
	subs  []*command
	// unlisted commands are served but left out of COMMAND, its
	// subcommands and ACL CAT (see commandSpecs).
	unlisted bool

	noAuth bool
	inSub  bool
	run    func(c *client, args []string)
}

// doc is a command's COMMAND DOCS entry.
type doc struct {
	summary, since, group, complexity string
	docFlags                          []string
	deprecatedSince, replacedBy       string
	history                           []historyEntry
	args                              []arg
}

// historyEntry is one change to a command: the version and what changed.
type historyEntry struct{ version, change string }

// arg is one argument in COMMAND DOCS.
type arg struct {
	name, typ, token       string
	since, deprecatedSince string
	flags                  []string
	args                   []arg
}

// commandTable maps top-level command names to their description.
var commandTable map[string]*command

// commandOrder lists the listed commands (see command.unlisted) in a stable
// order, for COMMAND's output.
var commandOrder []string

func init() {
	type behaviour struct {
		noAuth, inSub bool
		run           func(c *client, args []string)
	}
	run := map[string]behaviour{
		"ping":         {inSub: true, run: (*client).cmdPing},
		"auth":         {noAuth: true, run: (*client).cmdAuth},
		"hello":        {noAuth: true, run: (*client).cmdHello},
		"quit":         {noAuth: true, inSub: true, run: (*client).cmdQuit},
		"reset":        {noAuth: true, inSub: true, run: (*client).cmdReset},
		"info":         {run: (*client).cmdInfo},
		"role":         {run: (*client).cmdRole},
		"client":       {run: (*client).cmdClient},
		"command":      {run: (*client).cmdCommand},
		"acl":          {run: (*client).cmdACL},
		"subscribe":    {inSub: true, run: (*client).cmdSubscribe},
		"psubscribe":   {inSub: true, run: (*client).cmdPSubscribe},
		"unsubscribe":  {inSub: true, run: (*client).cmdUnsubscribe},
		"punsubscribe": {inSub: true, run: (*client).cmdPUnsubscribe},
		"publish":      {run: (*client).cmdPublish},
		"shutdown":     {run: (*client).cmdShutdown},
		"sentinel":     {run: (*client).cmdSentinel},
		"vipsentinel":  {run: (*client).cmdVIPSentinel},
	}
	commandTable = make(map[string]*command, len(commandSpecs))
	for _, c := range commandSpecs {
		b, ok := run[c.name]
		if !ok {
			panic("api: no implementation for command " + c.name)
		}
		c.noAuth, c.inSub, c.run = b.noAuth, b.inSub, b.run
		for _, sub := range c.subs {
			if !strings.HasPrefix(sub.name, c.name+"|") {
				panic("api: subcommand " + sub.name + " not named after " + c.name)
			}
		}
		commandTable[c.name] = c
		if !c.unlisted {
			commandOrder = append(commandOrder, c.name)
		}
	}
	if len(run) != len(commandSpecs) {
		panic("api: a command is implemented but not described in commandSpecs")
	}
}

// lookupCommand finds a top-level command by name, in any case. The common
// case (an ASCII name) allocates nothing; anything else is lowered as
// strings.ToLower does.
func lookupCommand(name string) *command {
	var b [16]byte
	if len(name) <= len(b) {
		for i := 0; i < len(name); i++ {
			b[i] = lowerASCII(name[i])
		}
		if cmd := commandTable[string(b[:len(name)])]; cmd != nil {
			return cmd
		}
	}
	return commandTable[strings.ToLower(name)]
}

// lookupSub finds subcommand sub of cmd, in any case; nil if there is none.
func (cmd *command) lookupSub(sub string) *command {
	for _, s := range cmd.subs {
		if n := s.name[len(cmd.name)+1:]; equalFoldASCII(n, sub) {
			return s
		}
	}
	if lower := strings.ToLower(sub); lower != sub {
		for _, s := range cmd.subs {
			if s.name[len(cmd.name)+1:] == lower {
				return s
			}
		}
	}
	return nil
}

// lowerSub returns subcommand name sub of command cmd in lower case: the
// table's own string when sub names a known subcommand, so that clients
// that send names in upper case cost no allocation.
func lowerSub(cmd, sub string) string {
	if s := commandTable[cmd].lookupSub(sub); s != nil {
		return s.name[len(cmd)+1:]
	}
	return strings.ToLower(sub)
}

// subcommand resolves args[1] as a subcommand of cmd (CLIENT, ACL, ...) and
// checks its arity against the command table. It returns the subcommand in
// lower case, or writes Redis's error for an unknown subcommand or a wrong
// number of arguments and returns false: every command with subcommands
// refuses them the same way.
func (c *client) subcommand(cmd string, args []string) (string, bool) {
	sub := lowerSub(cmd, args[1])
	arity, known := subArityOf(cmd, sub)
	if !known {
		c.w.Error(unknownSubcommand(args[1], cmd))
		return "", false
	}
	if !arityOK(arity, len(args)) {
		c.w.Error(subArity(cmd, sub))
		return "", false
	}
	return sub, true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldASCII reports whether lower-case ASCII name equals s with ASCII
// letters of any case.
func equalFoldASCII(name, s string) bool {
	if len(name) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lowerASCII(s[i]) != name[i] {
			return false
		}
	}
	return true
}

// requestStrings converts a request's arguments to strings with a single
// allocation for all their bytes (commands keep some of them, such as
// channel names, beyond the request).
func requestStrings(raw [][]byte) []string {
	n := 0
	for _, a := range raw {
		n += len(a)
	}
	var b strings.Builder
	b.Grow(n)
	for _, a := range raw {
		b.Write(a)
	}
	all := b.String()
	args := make([]string, len(raw))
	off := 0
	for i, a := range raw {
		args[i] = all[off : off+len(a)]
		off += len(a)
	}
	return args
}

// dispatch runs one request and writes its reply into c.w.
func (c *client) dispatch(raw [][]byte) {
	args := requestStrings(raw)
	c.mu.Lock()
	c.lastActive = time.Now()
	authed := c.authed
	proto := c.proto
	subscribed := len(c.subs)+len(c.psubs) > 0
	if c.reply == replySkipNext {
		c.reply = replySkip
	}
	c.mu.Unlock()
	c.w.Proto = proto

	// Redis checks existence and arity before authentication, so an
	// unauthenticated client gets the same errors for those.
	cmd := lookupCommand(args[0])
	if cmd == nil {
		c.srv.stats.errors.Add(1)
		c.w.Error(unknownCommand(args))
		return
	}
	name := cmd.name
	full := name
	if len(cmd.subs) > 0 && len(args) > 1 {
		if s := cmd.lookupSub(args[1]); s != nil {
			full = s.name
		} else {
			full = name + "|" + strings.ToLower(args[1])
		}
	}
	c.mu.Lock()
	c.lastCmd = full
	c.mu.Unlock()
	if !arityOK(cmd.arity, len(args)) {
		c.srv.stats.errors.Add(1)
		c.w.Error(fmt.Sprintf("ERR wrong number of arguments for '%s' command", name))
		return
	}
	// VIPSENTINEL PROVE is how a peer proves who it is before we
	// authenticate to it (package peerproof): it reveals nothing but a
	// MAC over a nonce of the caller's choice and our own address, so it
	// needs neither authentication nor an ACL permission (the caller has
	// no user yet; with "user default off" it would be refused).
	prove := full == "vipsentinel|prove"
	if !authed && !cmd.noAuth && !prove && !c.srv.acl.anonymousOK() {
		c.srv.stats.errors.Add(1)
		c.w.Error("NOAUTH Authentication required.")
		return
	}
	if !prove && c.aclDenied(cmd, args) {
		return
	}
	if subscribed && proto == 2 && !cmd.inSub {
		c.w.Error(fmt.Sprintf("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", sanitize(truncate(full, 128))))
		return
	}
	cmd.run(c, args)
}

func arityOK(arity, n int) bool {
	if arity > 0 {
		return n == arity
	}
	return n >= -arity
}

// unknownCommand formats Redis's error for an unknown command, quoting the
// first arguments up to 128 characters.
func unknownCommand(args []string) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		room := 128 - b.Len()
		if len(a) > room {
			a = a[:room]
		}
		b.WriteString("'" + sanitize(a) + "' ")
	}
	return fmt.Sprintf("ERR unknown command '%s', with args beginning with: %s", sanitize(truncate(args[0], 128)), b.String())
}

func unknownSubcommand(sub, cmd string) string {
	return fmt.Sprintf("ERR unknown subcommand '%s'. Try %s HELP.", sanitize(truncate(sub, 128)), strings.ToUpper(cmd))
}

// subSyntax is the error for a subcommand given more arguments than it
// takes, naming the subcommand as the client typed it.
func subSyntax(sub, cmd string) string {
	return fmt.Sprintf("ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP.", sanitize(truncate(sub, 128)), strings.ToUpper(cmd))
}

// errNotInteger is Redis's error for an argument that should be an integer.
const errNotInteger = "ERR value is not an integer or out of range"

func subArity(cmd, sub string) string {
	return fmt.Sprintf("ERR wrong number of arguments for '%s|%s' command", cmd, strings.ToLower(sub))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sanitize replaces control characters so an error stays on one line and
// printable, as Redis does for names echoed back in errors.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// writeErr writes err as an error reply (see Backend for the convention).
func (c *client) writeErr(err error) {
	c.srv.stats.errors.Add(1)
	c.w.Error(errorReply(err.Error()))
}

func errorReply(msg string) string {
	code, _, _ := strings.Cut(msg, " ")
	if len(code) >= 2 && strings.IndexFunc(code, func(r rune) bool { return !unicode.IsUpper(r) && !unicode.IsDigit(r) && r != '_' }) < 0 {
		return msg
	}
	return "ERR " + msg
}

func (c *client) writeKVs(kvs []KV) {
	c.w.Map(len(kvs))
	for _, kv := range kvs {
		c.w.Bulk(kv.Key)
		c.w.Bulk(kv.Value)
	}
}

// ---------------------------------------------------------------------------
// Connection commands.

func (c *client) cmdPing(args []string) {
	if len(args) > 2 {
		c.w.Error("ERR wrong number of arguments for 'ping' command")
		return
	}
	c.mu.Lock()
	subscribed := len(c.subs)+len(c.psubs) > 0 && c.proto == 2
	c.mu.Unlock()
	if subscribed {
		c.w.Array(2)
		c.w.Bulk("pong")
		if len(args) == 2 {
			c.w.Bulk(args[1])
		} else {
			c.w.Bulk("")
		}
		return
	}
	if len(args) == 2 {
		c.w.Bulk(args[1])
		return
	}
	c.w.Status("PONG")
}

// checkPassword authenticates the client as user if pass is one of its
// passwords and the user is enabled. Like Redis, a successful HELLO AUTH
// stays authenticated even if the rest of HELLO fails.
func (c *client) checkPassword(user, pass string) bool {
	u, ok := c.srv.acl.authenticate(user, pass)
	if ok {
		c.mu.Lock()
		c.user = u
		c.mu.Unlock()
		// Leaves the unauthenticated budget and stops the auth deadline.
		c.setAuthenticated(true)
	}
	return ok
}

// authFailed answers a failed AUTH or HELLO AUTH and records it in the ACL
// log, as Redis does.
func (c *client) authFailed(cmdName, user string) {
	c.srv.aclLog.add(aclLogEntry{reason: "auth", context: "toplevel", object: cmdName, username: user}, c.infoLine(), time.Now())
	c.srv.stats.authFail.Add(1)
	c.srv.stats.errors.Add(1)
	c.srv.logLimited("auth-failed", slog.LevelWarn, "client authentication failed", "client", c.addr)
	c.w.Error("WRONGPASS invalid username-password pair or user is disabled.")
}

func (c *client) cmdAuth(args []string) {
	var user, pass string
	switch len(args) {
	case 2:
		if c.srv.acl.defaultNoPass() {
			c.w.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
		user, pass = "default", args[1]
	case 3:
		user, pass = args[1], args[2]
	default:
		c.w.Error("ERR syntax error")
		return
	}
	if !c.checkPassword(user, pass) {
		c.authFailed(args[0], user)
		return
	}
	c.setAuthenticated(true)
	c.w.Status("OK")
}

func (c *client) cmdHello(args []string) {
	proto := 0
	if len(args) >= 2 {
		v, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			c.w.Error("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.w.Error("NOPROTO unsupported protocol version")
			return
		}
		proto = int(v)
	}
	var user, pass, name string
	var haveAuth, haveName bool
	for i := 2; i < len(args); i++ {
		opt := strings.ToLower(args[i])
		more := len(args) - i - 1
		switch {
		case opt == "auth" && more >= 2:
			user, pass, haveAuth = args[i+1], args[i+2], true
			i += 2
		case opt == "setname" && more >= 1:
			name, haveName = args[i+1], true
			i++
		default:
			c.w.Error(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", sanitize(truncate(args[i], 128))))
			return
		}
	}
	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	if !authed && !haveAuth {
		c.w.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if haveAuth {
		if !c.checkPassword(user, pass) {
			c.authFailed(args[0], user)
			return
		}
	}
	if haveName && !validName(name) {
		c.w.Error("ERR Client names cannot contain spaces, newlines or special characters.")
		return
	}
	if haveAuth {
		c.setAuthenticated(true)
	}
	c.mu.Lock()
	if haveName {
		c.name = name
	}
	if proto != 0 {
		c.proto = proto
	}
	proto = c.proto
	c.mu.Unlock()
	c.w.Proto = proto
	c.w.Map(6)
	c.field("server", "redis")
	c.field("version", RedisVersion)
	c.w.Bulk("proto")
	c.w.Int(int64(proto))
	c.w.Bulk("id")
	c.w.Int(c.id)
	c.field("mode", "sentinel")
	c.w.Bulk("modules")
	c.w.Array(0)
}

// validName reports whether a client name (or library name) has only
// printable non-blank ASCII, as Redis requires.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (c *client) cmdQuit(args []string) {
	c.w.Status("OK")
	c.flushReply()
	c.finish()
}

func (c *client) cmdReset(args []string) {
	c.srv.mu.Lock()
	c.srv.ps.unsubscribeAll(c)
	c.srv.mu.Unlock()
	c.mu.Lock()
	c.subs = map[string]struct{}{}
	c.psubs = map[string]struct{}{}
	c.name = ""
	c.proto = 2
	c.reply = replyOn
	c.user = c.srv.acl.def
	c.mu.Unlock()
	c.setAuthenticated(c.srv.acl.anonymousOK())
	c.w.Proto = 2
	c.w.Status("RESET")
}

func (c *client) cmdRole(args []string) {
	ctx, cancel := c.srv.call(c)
	defer cancel()
	masters, err := c.srv.cfg.Backend.Masters(ctx)
	if err != nil {
		c.writeErr(err)
		return
	}
	c.w.Array(2)
	c.w.Bulk("sentinel")
	c.w.Array(len(masters))
	for _, m := range masters {
		c.w.Bulk(field(m, "name"))
	}
}

// field returns the value of key in an instance map.
func field(kvs []KV, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

func (c *client) cmdShutdown(args []string) {
	for _, a := range args[1:] {
		switch strings.ToLower(a) {
		case "nosave", "save", "now", "force":
		case "abort":
			c.w.Error("ERR No shutdown in progress.")
			return
		default:
			c.w.Error("ERR syntax error")
			return
		}
	}
	ctx, cancel := c.srv.call(c)
	defer cancel()
	if err := c.srv.cfg.Backend.Shutdown(ctx); err != nil {
		c.writeErr(err)
		return
	}
	c.srv.log.Warn("shutdown requested by client", "client", c.addr)
	// Like Redis, no reply: the connection closes.
	c.finish()
}

// ---------------------------------------------------------------------------
// Pub/sub.

func (c *client) subscribeReply(kind, name string, count int) {
	c.w.Push(3)
	c.w.Bulk(kind)
	c.w.Bulk(name)
	c.w.Int(int64(count))
}

func (c *client) cmdSubscribe(args []string)  { c.subscribe(args[1:], false) }
func (c *client) cmdPSubscribe(args []string) { c.subscribe(args[1:], true) }

func (c *client) subscribe(names []string, pattern bool) {
	s := c.srv
	for _, n := range names {
		s.mu.Lock()
		c.mu.Lock()
		set, reg, kind := c.subs, s.ps.channels, "subscribe"
		if pattern {
			set, reg, kind = c.psubs, s.ps.patterns, "psubscribe"
		}
		set[n] = struct{}{}
		count := len(c.subs) + len(c.psubs)
		c.mu.Unlock()
		s.ps.add(reg, n, c)
		s.mu.Unlock()
		c.subscribeReply(kind, n, count)
	}
}

func (c *client) cmdUnsubscribe(args []string)  { c.unsubscribe(args[1:], false) }
func (c *client) cmdPUnsubscribe(args []string) { c.unsubscribe(args[1:], true) }

func (c *client) unsubscribe(names []string, pattern bool) {
	s := c.srv
	kind := "unsubscribe"
	if pattern {
		kind = "punsubscribe"
	}
	c.mu.Lock()
	set := c.subs
	if pattern {
		set = c.psubs
	}
	if len(names) == 0 {
		names = sortedKeys(set)
	}
	c.mu.Unlock()
	if len(names) == 0 {
		c.mu.Lock()
		count := len(c.subs) + len(c.psubs)
		c.mu.Unlock()
		c.w.Push(3)
		c.w.Bulk(kind)
		c.w.NullBulk()
		c.w.Int(int64(count))
		return
	}
	for _, n := range names {
		s.mu.Lock()
		c.mu.Lock()
		delete(set, n)
		count := len(c.subs) + len(c.psubs)
		c.mu.Unlock()
		if pattern {
			s.ps.remove(s.ps.patterns, n, c)
		} else {
			s.ps.remove(s.ps.channels, n, c)
		}
		s.mu.Unlock()
		c.subscribeReply(kind, n, count)
	}
}

func (c *client) cmdPublish(args []string) {
	if args[1] != sentinel.HelloChannel {
		c.w.Error("ERR Only HELLO messages are accepted by Sentinel instances.")
		return
	}
	from := sentinel.Addr{}
	if host, port, err := redisrule.SplitAddr(c.addr); err == nil {
		from = sentinel.Addr{Host: host, Port: port}
	}
	c.mu.Lock()
	authenticated := c.authed && !c.srv.acl.anonymousOK()
	c.mu.Unlock()
	ctx, cancel := c.srv.call(c)
	defer cancel()
	if err := c.srv.cfg.Backend.Hello(ctx, from, authenticated, args[2]); err != nil {
		c.writeErr(err)
		return
	}
	c.w.Int(1)
}

// ---------------------------------------------------------------------------
// VIPSENTINEL.

func (c *client) cmdVIPSentinel(args []string) {
	sub, ok := c.subcommand("vipsentinel", args)
	if !ok {
		return
	}
	switch sub {
	case "pause", "resume", "failover":
		c.cmdVIPSentinelAdmin(sub, args)
	case "status":
		ctx, cancel := c.srv.call(c)
		defer cancel()
		st, err := c.srv.cfg.Backend.Status(ctx)
		if err != nil {
			c.writeErr(err)
			return
		}
		b, err := json.Marshal(st)
		if err != nil {
			c.writeErr(fmt.Errorf("encode status: %w", err))
			return
		}
		c.w.Bulk(string(b))
	case "prove":
		if c.srv.cfg.PeerProof == nil {
			c.w.Error("ERR peer proofs are not served by this agent")
			return
		}
		if !peerproof.ValidNonce(args[2]) {
			c.w.Error(fmt.Sprintf("ERR invalid nonce: want %d hex digits", 2*peerproof.NonceLen))
			return
		}
		runid, mac := c.srv.cfg.PeerProof(strings.ToLower(args[2]), c.conn.LocalAddr())
		c.w.Array(2)
		c.w.Bulk(runid)
		c.w.Bulk(mac)
	case "help":
		c.writeHelp("VIPSENTINEL", []string{
			"STATUS", "    The agent's state (masters, epochs, VIP ownership, fencing, agents reached) as JSON.",
			"PROVE <nonce>", "    Our run id and the proof of the group's secret a peer checks before it authenticates (accepted before AUTH).",
			"PAUSE <master|*> [<milliseconds>]", "    Maintenance: start no failover of the master (every master with *) and vote for none, for the given time or until RESUME.",
			"RESUME <master|*>", "    End the maintenance of the master (every master with *).",
			"FAILOVER <master> <ip> <port>", "    Switch over to the replica at ip:port, as SENTINEL FAILOVER does to the best replica.",
		})
	}
}

// writeHelp writes a HELP reply: an array of status lines, as clients
// expect; the wording is vipsentinel's own.
func (c *client) writeHelp(cmd string, lines []string) {
	all := append([]string{cmd + " <subcommand> [<arg> ...]; subcommands:"}, lines...)
	all = append(all, "HELP", "    This text.")
	c.w.Array(len(all))
	for _, l := range all {
		c.w.Status(l)
	}
}

// ---------------------------------------------------------------------------
// Helpers shared by command files.

func passwordHash(pass string) string {
	h := sha256.Sum256([]byte(pass))
	return hex.EncodeToString(h[:])
}
