package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

func (c *client) cmdCommand(args []string) {
	if len(args) == 1 {
		c.w.Array(len(commandOrder))
		for _, n := range commandOrder {
			c.commandInfo(commandTable[n])
		}
		return
	}
	sub := strings.ToLower(args[1])
	arity, known := subArityOf("command", sub)
	if !known {
		c.w.Error(unknownSubcommand(args[1], "COMMAND"))
		return
	}
	if !arityOK(arity, len(args)) {
		c.w.Error(subArity("command", sub))
		return
	}
	switch sub {
	case "count":
		c.w.Int(int64(len(commandOrder)))
	case "list":
		c.w.Array(len(commandOrder))
		for _, n := range commandOrder {
			c.w.Bulk(n)
		}
	case "info":
		names := args[2:]
		if len(names) == 0 {
			names = commandOrder
		}
		c.w.Array(len(names))
		for _, n := range names {
			if cmd := commandTable[strings.ToLower(n)]; cmd != nil {
				c.commandInfo(cmd)
			} else {
				c.w.NullArray()
			}
		}
	case "docs":
		names := args[2:]
		if len(names) == 0 {
			names = commandOrder
		}
		var known []*command
		for _, n := range names {
			if cmd := commandTable[strings.ToLower(n)]; cmd != nil {
				known = append(known, cmd)
			}
		}
		c.w.Map(len(known))
		for _, cmd := range known {
			c.w.Bulk(cmd.name)
			c.w.Map(3)
			c.w.Bulk("summary")
			c.w.Bulk(cmd.summary)
			c.w.Bulk("since")
			c.w.Bulk("1.0.0")
			c.w.Bulk("group")
			c.w.Bulk(cmd.category)
		}
	case "getkeys", "getkeysandflags":
		if commandTable[strings.ToLower(args[2])] == nil {
			c.w.Error("ERR Invalid command specified")
			return
		}
		c.w.Error("ERR The command has no key arguments")
	case "help":
		c.writeHelp("COMMAND", []string{
			"(no subcommand) | INFO [<name> ...]", "    Details of the commands this agent serves.",
			"COUNT | LIST", "    How many commands there are, or their names.",
			"DOCS [<name> ...]", "    Short documentation of the commands.",
			"GETKEYS | GETKEYSANDFLAGS <command> ...", "    Key arguments of a command (none here).",
		})
	}
}

// commandInfo writes one COMMAND INFO entry (Redis 7 layout: name, arity,
// flags, first key, last key, step, ACL categories, tips, key specs,
// subcommands).
func (c *client) commandInfo(cmd *command) {
	c.w.Array(10)
	c.w.Bulk(cmd.name)
	c.w.Int(int64(cmd.arity))
	c.w.Set(len(cmd.flags))
	for _, f := range cmd.flags {
		c.w.Status(f)
	}
	c.w.Int(0)
	c.w.Int(0)
	c.w.Int(0)
	c.w.Set(1)
	c.w.Status("@" + cmd.category)
	c.w.Array(0)
	c.w.Array(0)
	c.w.Array(len(cmd.subs))
	for _, s := range cmd.subs {
		c.w.Array(10)
		c.w.Bulk(cmd.name + "|" + s.name)
		c.w.Int(int64(s.arity))
		c.w.Set(len(cmd.flags))
		for _, f := range cmd.flags {
			c.w.Status(f)
		}
		c.w.Int(0)
		c.w.Int(0)
		c.w.Int(0)
		c.w.Set(1)
		c.w.Status("@" + cmd.category)
		c.w.Array(0)
		c.w.Array(0)
		c.w.Array(0)
	}
}

// aclCategories are the categories ACL CAT lists.
var aclCategories = []string{"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
	"hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
	"transaction", "scripting"}

func (c *client) cmdACL(args []string) {
	sub := strings.ToLower(args[1])
	arity, known := subArityOf("acl", sub)
	if !known {
		c.w.Error(unknownSubcommand(args[1], "ACL"))
		return
	}
	if !arityOK(arity, len(args)) {
		c.w.Error(subArity("acl", sub))
		return
	}
	switch sub {
	case "whoami":
		c.w.Bulk("default")
	case "users":
		c.w.Bulks("default")
	case "list":
		c.w.Bulks(c.aclRule())
	case "getuser":
		if args[2] != "default" {
			c.w.NullBulk()
			return
		}
		c.w.Map(6)
		c.w.Bulk("flags")
		if c.srv.cfg.RequirePass == "" {
			c.w.Set(2)
			c.w.Bulk("on")
			c.w.Bulk("nopass")
		} else {
			c.w.Set(1)
			c.w.Bulk("on")
		}
		c.w.Bulk("passwords")
		if c.srv.cfg.RequirePass == "" {
			c.w.Array(0)
		} else {
			c.w.Bulks(passwordHash(c.srv.cfg.RequirePass))
		}
		c.w.Bulk("commands")
		c.w.Bulk("+@all")
		c.w.Bulk("keys")
		c.w.Bulk("~*")
		c.w.Bulk("channels")
		c.w.Bulk("&*")
		c.w.Bulk("selectors")
		c.w.Array(0)
	case "cat":
		if len(args) == 2 {
			c.w.Bulks(aclCategories...)
			return
		}
		if len(args) > 3 {
			c.w.Error(subArity("acl", sub))
			return
		}
		cat := strings.ToLower(args[2])
		var names []string
		for _, n := range commandOrder {
			if commandTable[n].category == cat {
				names = append(names, n)
			}
		}
		if names == nil && !contains(aclCategories, cat) && cat != "sentinel" && cat != "server" {
			c.w.Error(fmt.Sprintf("ERR Unknown category '%s'", sanitize(truncate(args[2], 128))))
			return
		}
		c.w.Bulks(names...)
	case "genpass":
		bits := 256
		if len(args) == 3 {
			n, err := strconv.Atoi(args[2])
			if err != nil || n <= 0 || n > 4096 {
				c.w.Error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
				return
			}
			bits = n
		} else if len(args) > 3 {
			c.w.Error(subArity("acl", sub))
			return
		}
		buf := make([]byte, (bits+7)/8)
		_, _ = rand.Read(buf)
		s := hex.EncodeToString(buf)
		c.w.Bulk(s[:(bits+3)/4])
	case "log":
		if len(args) == 3 && strings.EqualFold(args[2], "reset") {
			c.w.Status("OK")
			return
		}
		c.w.Array(0)
	case "dryrun":
		if args[2] != "default" {
			c.w.Error(fmt.Sprintf("ERR User '%s' not found", sanitize(truncate(args[2], 128))))
			return
		}
		if commandTable[strings.ToLower(args[3])] == nil {
			c.w.Error(fmt.Sprintf("ERR Command '%s' not found", sanitize(truncate(args[3], 128))))
			return
		}
		c.w.Status("OK")
	case "setuser", "deluser", "load", "save":
		c.w.Error("ERR ACL " + strings.ToUpper(sub) + " is not supported by vipsentinel: the agent has only the default user; set requirepass in the config file")
	case "help":
		c.writeHelp("ACL", []string{
			"WHOAMI | USERS | LIST | GETUSER <user>", "    The only user is \"default\", protected by requirepass.",
			"CAT [<category>] | DRYRUN <user> <command> ...", "    Command categories; whether a command would be allowed.",
			"GENPASS [<bits>]", "    A random password.",
			"LOG [<count> | RESET]", "    Always empty.",
		})
	}
}

func (c *client) aclRule() string {
	if c.srv.cfg.RequirePass == "" {
		return "user default on nopass ~* &* +@all"
	}
	return "user default on #" + passwordHash(c.srv.cfg.RequirePass) + " ~* &* +@all"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
