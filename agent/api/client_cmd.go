package api

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (c *client) cmdClient(args []string) {
	sub, ok := c.subcommand("client", args)
	if !ok {
		return
	}
	switch sub {
	case "id":
		c.w.Int(c.id)
	case "getname":
		c.mu.Lock()
		name := c.name
		c.mu.Unlock()
		if name == "" {
			c.w.NullBulk()
		} else {
			c.w.Bulk(name)
		}
	case "setname":
		if !validName(args[2]) {
			c.w.Error("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		c.mu.Lock()
		c.name = args[2]
		c.mu.Unlock()
		c.w.Status("OK")
	case "setinfo":
		attr := strings.ToLower(args[2])
		if attr != "lib-name" && attr != "lib-ver" {
			c.w.Error(fmt.Sprintf("ERR Unrecognized option '%s'", sanitize(truncate(args[2], 128))))
			return
		}
		if !validName(args[3]) {
			c.w.Error(fmt.Sprintf("ERR %s cannot contain spaces, newlines or special characters.", attr))
			return
		}
		c.mu.Lock()
		if attr == "lib-name" {
			c.libName = args[3]
		} else {
			c.libVer = args[3]
		}
		c.mu.Unlock()
		c.w.Status("OK")
	case "info":
		c.w.Verbatim("txt", c.infoLine()+"\n")
	case "list":
		c.clientList(args[2:])
	case "kill":
		c.clientKill(args[2:])
	case "reply":
		switch strings.ToLower(args[2]) {
		case "on":
			c.mu.Lock()
			c.reply = replyOn
			c.mu.Unlock()
			c.w.Status("OK")
		case "off":
			c.mu.Lock()
			c.reply = replyOff
			c.mu.Unlock()
		case "skip":
			c.mu.Lock()
			if c.reply == replyOn {
				c.reply = replySkipNext
			}
			c.mu.Unlock()
		default:
			c.w.Error("ERR syntax error")
		}
	case "no-evict", "tracking":
		switch strings.ToLower(args[2]) {
		case "on", "off":
			c.w.Status("OK")
		default:
			c.w.Error("ERR syntax error")
		}
	case "pause":
		// Nothing here writes to a dataset, so a pause has nothing to
		// hold back; accept it for tools that pause every node.
		if len(args) > 4 {
			c.w.Error(subSyntax(args[1], "CLIENT"))
			return
		}
		n, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			c.w.Error("ERR timeout is not an integer or out of range")
			return
		}
		if n < 0 {
			c.w.Error("ERR timeout is negative")
			return
		}
		if len(args) == 4 && !strings.EqualFold(args[3], "write") && !strings.EqualFold(args[3], "all") {
			c.w.Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
			return
		}
		c.w.Status("OK")
	case "unpause":
		c.w.Status("OK")
	case "getredir":
		c.w.Int(-1)
	case "trackinginfo":
		c.w.Map(3)
		c.w.Bulk("flags")
		c.w.Set(1)
		c.w.Bulk("off")
		c.w.Bulk("redirect")
		c.w.Int(-1)
		c.w.Bulk("prefixes")
		c.w.Array(0)
	case "caching":
		c.w.Error("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
	case "unblock":
		// No command here blocks, so there is never a client to wake.
		if len(args) > 4 {
			c.w.Error(subSyntax(args[1], "CLIENT"))
			return
		}
		if _, err := strconv.ParseInt(args[2], 10, 64); err != nil {
			c.w.Error(errNotInteger)
			return
		}
		if len(args) == 4 && !strings.EqualFold(args[3], "timeout") && !strings.EqualFold(args[3], "error") {
			c.w.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
		c.w.Int(0)
	case "help":
		c.writeHelp("CLIENT", []string{
			"ID | GETNAME | SETNAME <name> | INFO", "    This connection's id, name, or details.",
			"SETINFO LIB-NAME|LIB-VER <value>", "    Record the client library's name or version.",
			"LIST [TYPE <type>] [ID <id> ...]", "    One line per connection.",
			"KILL <ip:port> | KILL <filter> <value> ...", "    Close connections; filters: ID, TYPE, USER, ADDR, LADDR, SKIPME.",
			"REPLY ON|OFF|SKIP", "    Turn replies to this connection on or off.",
		})
	}
}

// subArityOf returns the arity of subcommand sub (lower case) of cmd.
func subArityOf(cmd, sub string) (int, bool) {
	for _, s := range commandTable[cmd].subs {
		if s.name[len(cmd)+1:] == sub {
			return s.arity, true
		}
	}
	return 0, false
}

// infoLine renders the client as one CLIENT LIST line (without newline).
func (c *client) infoLine() string {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	flags := "N"
	if len(c.subs)+len(c.psubs) > 0 {
		flags = "P"
	}
	user := c.user.name
	pending := len(c.out) + c.inflight
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=-1 name=%s age=%d idle=%d flags=%s db=0 sub=%d psub=%d ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=%d tot-mem=%d events=r cmd=%s user=%s redir=-1 resp=%d lib-name=%s lib-ver=%s",
		c.id, c.addr, c.laddr, c.name, int(now.Sub(c.created).Seconds()), int(now.Sub(c.lastActive).Seconds()),
		flags, len(c.subs), len(c.psubs), pending, pending, c.lastCmd, user, c.proto, c.libName, c.libVer)
}

func (c *client) clientType() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.subs)+len(c.psubs) > 0 {
		return "pubsub"
	}
	return "normal"
}

func (s *Server) allClients() []*client {
	s.mu.Lock()
	all := make([]*client, 0, len(s.clients))
	for _, c := range s.clients {
		all = append(all, c)
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	return all
}

func validClientType(t string) bool {
	switch t {
	case "normal", "master", "replica", "slave", "pubsub":
		return true
	}
	return false
}

func (c *client) clientList(opts []string) {
	var typ string
	ids := map[int64]bool{}
	for i := 0; i < len(opts); i++ {
		switch strings.ToLower(opts[i]) {
		case "type":
			if i+1 >= len(opts) {
				c.w.Error("ERR syntax error")
				return
			}
			typ = strings.ToLower(opts[i+1])
			if !validClientType(typ) {
				c.w.Error(fmt.Sprintf("ERR Unknown client type '%s'", sanitize(opts[i+1])))
				return
			}
			i++
		case "id":
			if i+1 >= len(opts) {
				c.w.Error("ERR syntax error")
				return
			}
			for i+1 < len(opts) {
				id, err := strconv.ParseInt(opts[i+1], 10, 64)
				if err != nil {
					c.w.Error("ERR Invalid client ID")
					return
				}
				ids[id] = true
				i++
			}
		default:
			c.w.Error("ERR syntax error")
			return
		}
	}
	var b strings.Builder
	for _, o := range c.srv.allClients() {
		if typ != "" && o.clientType() != typ {
			continue
		}
		if len(ids) > 0 && !ids[o.id] {
			continue
		}
		b.WriteString(o.infoLine())
		b.WriteString("\n")
	}
	c.w.Verbatim("txt", b.String())
}

func (c *client) clientKill(opts []string) {
	if len(opts) == 1 {
		// Old form: CLIENT KILL ip:port.
		for _, o := range c.srv.allClients() {
			if o.addr == opts[0] {
				c.w.Status("OK")
				c.killOther(o)
				return
			}
		}
		c.w.Error("ERR No such client")
		return
	}
	if len(opts)%2 != 0 {
		c.w.Error("ERR syntax error")
		return
	}
	var (
		id            int64
		typ, addr, la string
		skipMe        = true
		user          *aclUser
	)
	for i := 0; i < len(opts); i += 2 {
		v := opts[i+1]
		switch strings.ToLower(opts[i]) {
		case "id":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				c.w.Error("ERR client-id should be greater than 0")
				return
			}
			id = n
		case "type":
			typ = strings.ToLower(v)
			if !validClientType(typ) {
				c.w.Error(fmt.Sprintf("ERR Unknown client type '%s'", sanitize(v)))
				return
			}
		case "addr":
			addr = v
		case "laddr":
			la = v
		case "user":
			if user = c.srv.acl.user(v); user == nil {
				c.w.Error(fmt.Sprintf("ERR No such user '%s'", sanitize(truncate(v, 128))))
				return
			}
		case "skipme":
			switch strings.ToLower(v) {
			case "yes":
				skipMe = true
			case "no":
				skipMe = false
			default:
				c.w.Error("ERR syntax error")
				return
			}
		default:
			c.w.Error("ERR syntax error")
			return
		}
	}
	killed := 0
	self := false
	for _, o := range c.srv.allClients() {
		switch {
		case id != 0 && o.id != id,
			typ != "" && o.clientType() != typ,
			addr != "" && o.addr != addr,
			la != "" && o.laddr != la,
			user != nil && o.aclUser() != user,
			skipMe && o == c:
			continue
		}
		killed++
		if o == c {
			self = true
			continue
		}
		c.killOther(o)
	}
	c.w.Int(int64(killed))
	if self {
		c.flushReply()
		c.finish()
	}
}

func (c *client) killOther(o *client) {
	c.srv.log.Info("client killed", "client", o.addr, "by", c.addr)
	o.close()
}
