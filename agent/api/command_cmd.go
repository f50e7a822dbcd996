package api

import (
	"slices"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

func (c *client) cmdCommand(args []string) {
	if len(args) == 1 {
		c.w.Array(len(commandOrder))
		for _, n := range commandOrder {
			c.commandInfo(commandTable[n])
		}
		return
	}
	sub, ok := c.subcommand("command", args)
	if !ok {
		return
	}
	switch sub {
	case "count":
		c.w.Int(int64(len(commandOrder)))
	case "list":
		c.commandList(args[2:])
	case "info":
		if len(args) == 2 {
			c.w.Array(len(commandOrder))
			for _, n := range commandOrder {
				c.commandInfo(commandTable[n])
			}
			return
		}
		c.w.Array(len(args) - 2)
		for _, n := range args[2:] {
			if cmd := lookupName(n); cmd != nil {
				c.commandInfo(cmd)
			} else {
				c.w.NullBulk()
			}
		}
	case "docs":
		var found []*command
		if len(args) == 2 {
			for _, n := range commandOrder {
				found = append(found, commandTable[n])
			}
		}
		for _, n := range args[2:] {
			if cmd := lookupName(n); cmd != nil {
				found = append(found, cmd)
			}
		}
		c.w.Map(len(found))
		for _, cmd := range found {
			c.w.Bulk(cmd.name)
			c.commandDocs(cmd)
		}
	case "getkeys", "getkeysandflags":
		if lookupArgs(args[2:]) == nil {
			c.w.Error("ERR Invalid command specified")
			return
		}
		c.w.Error("ERR The command has no key arguments")
	case "help":
		c.writeHelp("COMMAND", []string{
			"(no subcommand) | INFO [<name> ...]", "    Details of the commands this agent serves.",
			"COUNT", "    How many top-level commands there are.",
			"LIST [FILTERBY MODULE <m> | ACLCAT <category> | PATTERN <glob>]", "    Names of commands and subcommands.",
			"DOCS [<name> ...]", "    Short documentation of the commands.",
			"GETKEYS | GETKEYSANDFLAGS <command> ...", "    Key arguments of a command (none here).",
		})
	}
}

// lookupName finds a command by its name as COMMAND INFO and COMMAND DOCS
// take it: "name", or "container|sub" for a subcommand. Case is ignored.
func lookupName(name string) *command { // listed commands only
	name = strings.ToLower(name)
	top, _, isSub := strings.Cut(name, "|")
	cmd := commandTable[top]
	if cmd == nil || cmd.unlisted {
		return nil
	}
	if !isSub {
		return cmd
	}
	for _, s := range cmd.listedSubs() {
		if s.name == name {
			return s
		}
	}
	return nil
}

// listedSubs returns cmd's subcommands that COMMAND shows.
func (cmd *command) listedSubs() []*command {
	out := make([]*command, 0, len(cmd.subs))
	for _, s := range cmd.subs {
		if !s.unlisted {
			out = append(out, s)
		}
	}
	return out
}

// lookupArgs finds the command a command line runs: the subcommand named by
// the second argument when the first is a container, as COMMAND GETKEYS and
// ACL DRYRUN resolve it.
func lookupArgs(args []string) *command {
	cmd := commandTable[strings.ToLower(args[0])]
	if cmd == nil || len(cmd.subs) == 0 || len(args) == 1 {
		return cmd
	}
	full := cmd.name + "|" + strings.ToLower(args[1])
	for _, s := range cmd.subs {
		if s.name == full {
			return s
		}
	}
	return nil
}

// allCommands returns every command and subcommand, each container
// followed by its subcommands.
func allCommands() []*command {
	var out []*command
	for _, n := range commandOrder {
		cmd := commandTable[n]
		out = append(out, cmd)
		out = append(out, cmd.listedSubs()...)
	}
	return out
}

// inCategory returns the commands and subcommands of an ACL category.
func inCategory(cat string) []string {
	var names []string
	for _, cmd := range allCommands() {
		if slices.Contains(cmd.acl, cat) {
			names = append(names, cmd.name)
		}
	}
	return names
}

// commandList writes COMMAND LIST [FILTERBY MODULE|ACLCAT|PATTERN <v>].
func (c *client) commandList(opts []string) {
	all := allCommands()
	if len(opts) == 0 {
		c.w.Array(len(all))
		for _, cmd := range all {
			c.w.Bulk(cmd.name)
		}
		return
	}
	if len(opts) != 3 || !strings.EqualFold(opts[0], "filterby") {
		c.w.Error("ERR syntax error")
		return
	}
	var names []string
	switch strings.ToLower(opts[1]) {
	case "module":
		// No modules are loaded.
	case "aclcat":
		names = inCategory(strings.ToLower(opts[2]))
	case "pattern":
		for _, cmd := range all {
			if redisrule.MatchFold(opts[2], cmd.name) {
				names = append(names, cmd.name)
			}
		}
	default:
		c.w.Error("ERR syntax error")
		return
	}
	c.w.Bulks(names...)
}

// commandInfo writes one COMMAND INFO entry (Redis 7 layout: name, arity,
// flags, first key, last key, step, ACL categories, tips, key specs,
// subcommands). Where RESP3 has sets, Redis uses them for every list but
// the subcommands of a container.
func (c *client) commandInfo(cmd *command) {
	c.w.Array(10)
	c.w.Bulk(cmd.name)
	c.w.Int(int64(cmd.arity))
	c.w.Set(len(cmd.flags))
	for _, f := range cmd.flags {
		c.w.Status(f)
	}
	c.w.Int(0) // no key arguments
	c.w.Int(0)
	c.w.Int(0)
	c.w.Set(len(cmd.acl))
	for _, a := range cmd.acl {
		c.w.Status("@" + a)
	}
	c.w.Set(len(cmd.tips))
	for _, t := range cmd.tips {
		c.w.Bulk(t)
	}
	c.w.Set(0) // key specs
	subs := cmd.listedSubs()
	if len(subs) == 0 {
		c.w.Set(0)
		return
	}
	c.w.Array(len(subs))
	for _, s := range subs {
		c.commandInfo(s)
	}
}

// commandDocs writes one COMMAND DOCS entry, its fields in Redis's order.
func (c *client) commandDocs(cmd *command) {
	d := &cmd.doc
	subs := cmd.listedSubs()
	c.writeDocMap(
		c.docText("summary", d.summary, true), c.docText("since", d.since, true), c.docText("group", d.group, true),
		c.docText("complexity", d.complexity, false), c.docFlags("doc_flags", d.docFlags),
		c.docText("deprecated_since", d.deprecatedSince, false), c.docText("replaced_by", d.replacedBy, false),
		docField{"history", len(d.history) > 0, func() {
			c.w.Set(len(d.history))
			for _, h := range d.history {
				c.w.Array(2)
				c.w.Bulk(h.version)
				c.w.Bulk(h.change)
			}
		}},
		docField{"arguments", len(d.args) > 0, func() { c.writeArgs(d.args) }},
		docField{"subcommands", len(subs) > 0, func() {
			c.w.Map(len(subs))
			for _, s := range subs {
				c.w.Bulk(s.name)
				c.commandDocs(s)
			}
		}})
}

// writeArgs writes a command's arguments as COMMAND DOCS lists them,
// recursing into the arguments of a block or oneof.
func (c *client) writeArgs(args []arg) {
	c.w.Array(len(args))
	for _, a := range args {
		c.writeDocMap(c.docText("name", a.name, true), c.docText("type", a.typ, true),
			c.docText("token", a.token, false), c.docText("since", a.since, false),
			c.docText("deprecated_since", a.deprecatedSince, false), c.docFlags("flags", a.flags),
			docField{"arguments", len(a.args) > 0, func() { c.writeArgs(a.args) }})
	}
}

// docField is one entry of a COMMAND DOCS map: its key, whether it is
// present, and what writes its value.
type docField struct {
	key   string
	set   bool
	value func()
}

// writeDocMap writes the present fields as one map. Its length and its
// entries come from the same list, so they cannot disagree.
func (c *client) writeDocMap(fields ...docField) {
	n := 0
	for _, f := range fields {
		if f.set {
			n++
		}
	}
	c.w.Map(n)
	for _, f := range fields {
		if f.set {
			c.w.Bulk(f.key)
			f.value()
		}
	}
}

// docText is a field whose value is the bulk string s, present when s is
// set or always.
func (c *client) docText(key, s string, always bool) docField {
	return docField{key, always || s != "", func() { c.w.Bulk(s) }}
}

// docFlags is a field whose value is the set of flags (simple strings),
// present when there are any.
func (c *client) docFlags(key string, flags []string) docField {
	return docField{key, len(flags) > 0, func() {
		c.w.Set(len(flags))
		for _, f := range flags {
			c.w.Status(f)
		}
	}}
}

// field writes one map entry of a reply whose key and value are bulk
// strings.
func (c *client) field(key, value string) {
	c.w.Bulk(key)
	c.w.Bulk(value)
}

// aclCategories are the categories ACL CAT lists.
var aclCategories = []string{"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
	"hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
	"transaction", "scripting"}
