package api

// commandSpecs describes every command the API serves as COMMAND INFO,
// COMMAND DOCS and ACL CAT report it. Arity, flags, ACL categories, tips,
// versions, groups and argument structure are facts about the commands, kept
// identical to redis-sentinel 7.0.15 (agent/compat checks them against a
// real one); summaries, complexity notes and history notes are vipsentinel's
// own wording. QUIT, RESET, CLIENT SETINFO and VIPSENTINEL are served beyond
// what redis-sentinel 7.0 has (see their run functions for why), unlisted:
// COMMAND, COMMAND COUNT/LIST/INFO/DOCS and ACL CAT answer exactly as
// redis-sentinel 7.0.15 does, since tools compare them.
//
// Behaviour (run, noAuth, inSub) is attached by name in commands.go.
var commandSpecs = []*command{
	{
		name: "acl", arity: -2,
		acl: []string{"slow"},
		doc: doc{
			summary: "Access-control subcommands.",
			since:   "6.0.0", group: "server", complexity: "Varies with the subcommand",
		},
		subs: []*command{
			{
				name: "acl|cat", arity: -2,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow"},
				doc: doc{
					summary: "List categories, or the commands in one category.",
					since:   "6.0.0", group: "server", complexity: "O(1): categories and commands are fixed",
					args: []arg{
						{name: "categoryname", typ: "string", flags: []string{"optional"}},
					},
				},
			},
			{
				name: "acl|deluser", arity: -3,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Delete users.",
					since:   "6.0.0", group: "server", complexity: "O(1) amortised, for a typical user",
					args: []arg{
						{name: "username", typ: "string", flags: []string{"multiple"}},
					},
				},
			},
			{
				name: "acl|dryrun", arity: -4,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Tell whether a user could run a command, without running it.",
					since:   "7.0.0", group: "server", complexity: "O(1)",
					args: []arg{
						{name: "username", typ: "string"},
						{name: "command", typ: "string"},
						{name: "arg", typ: "string", flags: []string{"optional", "multiple"}},
					},
				},
			},
			{
				name: "acl|genpass", arity: -2,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow"},
				doc: doc{
					summary: "A random password of the requested strength.",
					since:   "6.0.0", group: "server", complexity: "O(1)",
					args: []arg{
						{name: "bits", typ: "integer", flags: []string{"optional"}},
					},
				},
			},
			{
				name: "acl|getuser", arity: 3,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "The rules of one user.",
					since:   "6.0.0", group: "server", complexity: "O(N), N being the user's password, command and pattern rules",
					history: []historyEntry{
						{"6.2.0", "Channel patterns in the reply."},
						{"7.0.0", "Selectors; key and channel patterns returned as rules."},
					},
					args: []arg{
						{name: "username", typ: "string"},
					},
				},
			},
			{
				name: "acl|help", arity: 2,
				flags: []string{"loading", "stale"}, acl: []string{"slow"},
				doc: doc{
					summary: "Usage of the ACL subcommands.",
					since:   "6.0.0", group: "server", complexity: "O(1)",
				},
			},
			{
				name: "acl|list", arity: 2,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "The user rules, one line per user.",
					since:   "6.0.0", group: "server", complexity: "O(N), N being the number of users",
				},
			},
			{
				name: "acl|load", arity: 2,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Read the users back from the ACL file.",
					since:   "6.0.0", group: "server", complexity: "O(N), N being the number of users",
				},
			},
			{
				name: "acl|log", arity: -2,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Recent access denials.",
					since:   "6.0.0", group: "server", complexity: "O(N), N being the entries returned",
					args: []arg{
						{name: "operation", typ: "oneof", flags: []string{"optional"}, args: []arg{
							{name: "count", typ: "integer"},
							{name: "reset", typ: "pure-token", token: "RESET"},
						}},
					},
				},
			},
			{
				name: "acl|save", arity: 2,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Write the users to the ACL file.",
					since:   "6.0.0", group: "server", complexity: "O(N), N being the number of users",
				},
			},
			{
				name: "acl|setuser", arity: -3,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Create a user or change its rules.",
					since:   "6.0.0", group: "server", complexity: "O(N), N being the number of rules given",
					history: []historyEntry{
						{"6.2.0", "Channel patterns."},
						{"7.0.0", "Selectors and per-key permissions."},
					},
					args: []arg{
						{name: "username", typ: "string"},
						{name: "rule", typ: "string", flags: []string{"optional", "multiple"}},
					},
				},
			},
			{
				name: "acl|users", arity: 2,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "The names of all users.",
					since:   "6.0.0", group: "server", complexity: "O(N), N being the number of users",
				},
			},
			{
				name: "acl|whoami", arity: 2,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow"},
				doc: doc{
					summary: "The user this connection is authenticated as.",
					since:   "6.0.0", group: "server", complexity: "O(1)",
				},
			},
		},
	},
	{
		name: "auth", arity: -2,
		flags: []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, acl: []string{"fast", "connection"},
		doc: doc{
			summary: "Log the connection in as a user.",
			since:   "1.0.0", group: "connection", complexity: "O(N), N being the user's number of passwords",
			history: []historyEntry{
				{"6.0.0", "Username and password form."},
			},
			args: []arg{
				{name: "username", typ: "string", since: "6.0.0", flags: []string{"optional"}},
				{name: "password", typ: "string"},
			},
		},
	},
	{
		name: "client", arity: -2,
		acl: []string{"slow"},
		doc: doc{
			summary: "Subcommands about client connections.",
			since:   "2.4.0", group: "connection", complexity: "Varies with the subcommand",
		},
		subs: []*command{
			{
				name: "client|caching", arity: 3,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Opt the next command in or out of key tracking.",
					since:   "6.0.0", group: "connection", complexity: "O(1)",
					args: []arg{
						{name: "mode", typ: "oneof", args: []arg{
							{name: "yes", typ: "pure-token", token: "YES"},
							{name: "no", typ: "pure-token", token: "NO"},
						}},
					},
				},
			},
			{
				name: "client|getname", arity: 2,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "This connection's name.",
					since:   "2.6.9", group: "connection", complexity: "O(1)",
				},
			},
			{
				name: "client|getredir", arity: 2,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Where this connection's tracking messages are redirected.",
					since:   "6.0.0", group: "connection", complexity: "O(1)",
				},
			},
			{
				name: "client|help", arity: 2,
				flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Usage of the CLIENT subcommands.",
					since:   "5.0.0", group: "connection", complexity: "O(1)",
				},
			},
			{
				name: "client|id", arity: 2,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "This connection's id.",
					since:   "5.0.0", group: "connection", complexity: "O(1)",
				},
			},
			{
				name: "client|info", arity: 2,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"}, tips: []string{"nondeterministic_output"},
				doc: doc{
					summary: "Details of this connection.",
					since:   "6.2.0", group: "connection", complexity: "O(1)",
				},
			},
			{
				name: "client|kill", arity: -3,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous", "connection"},
				doc: doc{
					summary: "Close connections chosen by address or by filters.",
					since:   "2.4.0", group: "connection", complexity: "O(N), N being the number of connections",
					history: []historyEntry{
						{"2.8.12", "Filter syntax."},
						{"2.8.12", "The ID filter."},
						{"3.2.0", "The master type."},
						{"5.0.0", "The replica type; slave still accepted."},
						{"6.2.0", "The LADDR filter."},
					},
					args: []arg{
						{name: "filter", typ: "oneof", args: []arg{
							{name: "ip:port", typ: "string", deprecatedSince: "2.8.12"},
							{name: "new-format", typ: "oneof", flags: []string{"multiple"}, args: []arg{
								{name: "client-id", typ: "integer", token: "ID", since: "2.8.12", flags: []string{"optional"}},
								{name: "normal_master_slave_pubsub", typ: "oneof", token: "TYPE", since: "2.8.12", flags: []string{"optional"}, args: []arg{
									{name: "normal", typ: "pure-token", token: "NORMAL"},
									{name: "master", typ: "pure-token", token: "MASTER", since: "3.2.0"},
									{name: "slave", typ: "pure-token", token: "SLAVE"},
									{name: "replica", typ: "pure-token", token: "REPLICA", since: "5.0.0"},
									{name: "pubsub", typ: "pure-token", token: "PUBSUB"},
								}},
								{name: "username", typ: "string", token: "USER", flags: []string{"optional"}},
								{name: "ip:port", typ: "string", token: "ADDR", flags: []string{"optional"}},
								{name: "ip:port", typ: "string", token: "LADDR", since: "6.2.0", flags: []string{"optional"}},
								{name: "yes/no", typ: "string", token: "SKIPME", flags: []string{"optional"}},
							}},
						}},
					},
				},
			},
			{
				name: "client|list", arity: -2,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous", "connection"}, tips: []string{"nondeterministic_output"},
				doc: doc{
					summary: "One line of details per connection.",
					since:   "2.4.0", group: "connection", complexity: "O(N), N being the number of connections",
					history: []historyEntry{
						{"2.8.12", "The id field."},
						{"5.0.0", "The TYPE filter."},
						{"6.0.0", "The user field."},
						{"6.2.0", "The argv-mem, tot-mem, laddr and redir fields and the ID filter."},
						{"7.0.0", "The resp, multi-mem, rbs and rbp fields."},
						{"7.0.3", "The ssub field."},
					},
					args: []arg{
						{name: "normal_master_replica_pubsub", typ: "oneof", token: "TYPE", since: "5.0.0", flags: []string{"optional"}, args: []arg{
							{name: "normal", typ: "pure-token", token: "NORMAL"},
							{name: "master", typ: "pure-token", token: "MASTER"},
							{name: "replica", typ: "pure-token", token: "REPLICA"},
							{name: "pubsub", typ: "pure-token", token: "PUBSUB"},
						}},
						{name: "id", typ: "block", token: "ID", since: "6.2.0", flags: []string{"optional"}, args: []arg{
							{name: "client-id", typ: "integer", flags: []string{"multiple"}},
						}},
					},
				},
			},
			{
				name: "client|no-evict", arity: 3,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous", "connection"},
				doc: doc{
					summary: "Exempt this connection from client eviction, or not.",
					since:   "7.0.0", group: "connection", complexity: "O(1)",
					args: []arg{
						{name: "enabled", typ: "oneof", args: []arg{
							{name: "on", typ: "pure-token", token: "ON"},
							{name: "off", typ: "pure-token", token: "OFF"},
						}},
					},
				},
			},
			{
				name: "client|pause", arity: -3,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous", "connection"},
				doc: doc{
					summary: "Hold back commands from clients for a while.",
					since:   "2.9.50", group: "connection", complexity: "O(1)",
					history: []historyEntry{
						{"6.2.0", "WRITE mode and the mode argument."},
					},
					args: []arg{
						{name: "timeout", typ: "integer"},
						{name: "mode", typ: "oneof", since: "6.2.0", flags: []string{"optional"}, args: []arg{
							{name: "write", typ: "pure-token", token: "WRITE"},
							{name: "all", typ: "pure-token", token: "ALL"},
						}},
					},
				},
			},
			{
				name: "client|reply", arity: 3,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Switch replies to this connection on or off.",
					since:   "3.2.0", group: "connection", complexity: "O(1)",
					args: []arg{
						{name: "on_off_skip", typ: "oneof", args: []arg{
							{name: "on", typ: "pure-token", token: "ON"},
							{name: "off", typ: "pure-token", token: "OFF"},
							{name: "skip", typ: "pure-token", token: "SKIP"},
						}},
					},
				},
			},
			{
				name: "client|setinfo", arity: 4, unlisted: true,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"}, tips: []string{"request_policy:all_nodes", "response_policy:all_succeeded"},
				doc: doc{
					summary: "Record the client library's name or version for CLIENT LIST.",
					since:   "7.2.0", group: "connection", complexity: "O(1)",
					args: []arg{
						{name: "attr", typ: "oneof", args: []arg{
							{name: "libname", typ: "string", token: "LIB-NAME"},
							{name: "libver", typ: "string", token: "LIB-VER"},
						}},
					},
				},
			},
			{
				name: "client|setname", arity: 3,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Name this connection.",
					since:   "2.6.9", group: "connection", complexity: "O(1)",
					args: []arg{
						{name: "connection-name", typ: "string"},
					},
				},
			},
			{
				name: "client|tracking", arity: -3,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Turn client-side caching support on or off.",
					since:   "6.0.0", group: "connection", complexity: "O(1), plus the cost of some options",
					args: []arg{
						{name: "status", typ: "oneof", args: []arg{
							{name: "on", typ: "pure-token", token: "ON"},
							{name: "off", typ: "pure-token", token: "OFF"},
						}},
						{name: "client-id", typ: "integer", token: "REDIRECT", flags: []string{"optional"}},
						{name: "prefix", typ: "string", token: "PREFIX", flags: []string{"optional", "multiple", "multiple_token"}},
						{name: "bcast", typ: "pure-token", token: "BCAST", flags: []string{"optional"}},
						{name: "optin", typ: "pure-token", token: "OPTIN", flags: []string{"optional"}},
						{name: "optout", typ: "pure-token", token: "OPTOUT", flags: []string{"optional"}},
						{name: "noloop", typ: "pure-token", token: "NOLOOP", flags: []string{"optional"}},
					},
				},
			},
			{
				name: "client|trackinginfo", arity: 2,
				flags: []string{"noscript", "loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Client-side caching state of this connection.",
					since:   "6.2.0", group: "connection", complexity: "O(1)",
				},
			},
			{
				name: "client|unblock", arity: -3,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous", "connection"},
				doc: doc{
					summary: "Wake a connection blocked in a command.",
					since:   "5.0.0", group: "connection", complexity: "O(log N), N being the number of connections",
					args: []arg{
						{name: "client-id", typ: "integer"},
						{name: "timeout_error", typ: "oneof", flags: []string{"optional"}, args: []arg{
							{name: "timeout", typ: "pure-token", token: "TIMEOUT"},
							{name: "error", typ: "pure-token", token: "ERROR"},
						}},
					},
				},
			},
			{
				name: "client|unpause", arity: 2,
				flags: []string{"admin", "noscript", "loading", "stale"}, acl: []string{"admin", "slow", "dangerous", "connection"},
				doc: doc{
					summary: "End a CLIENT PAUSE.",
					since:   "6.2.0", group: "connection", complexity: "O(N), N being the number of paused clients",
				},
			},
		},
	},
	{
		name: "command", arity: -1,
		flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"}, tips: []string{"nondeterministic_output_order"},
		doc: doc{
			summary: "Describe every command this agent serves.",
			since:   "2.8.13", group: "server", complexity: "O(N), N being the number of commands",
		},
		subs: []*command{
			{
				name: "command|count", arity: 2,
				flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "How many top-level commands are served.",
					since:   "2.8.13", group: "server", complexity: "O(1)",
				},
			},
			{
				name: "command|docs", arity: -2,
				flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"}, tips: []string{"nondeterministic_output_order"},
				doc: doc{
					summary: "Documentation of some or all commands.",
					since:   "7.0.0", group: "server", complexity: "O(N), N being the number of commands asked for",
					args: []arg{
						{name: "command-name", typ: "string", flags: []string{"optional", "multiple"}},
					},
				},
			},
			{
				name: "command|getkeys", arity: -4,
				flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Key arguments of a command line.",
					since:   "2.8.13", group: "server", complexity: "O(N), N being the number of arguments",
				},
			},
			{
				name: "command|getkeysandflags", arity: -4,
				flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Key arguments of a command line, with their access flags.",
					since:   "7.0.0", group: "server", complexity: "O(N), N being the number of arguments",
				},
			},
			{
				name: "command|help", arity: 2,
				flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"},
				doc: doc{
					summary: "Usage of the COMMAND subcommands.",
					since:   "5.0.0", group: "server", complexity: "O(1)",
				},
			},
			{
				name: "command|info", arity: -2,
				flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"}, tips: []string{"nondeterministic_output_order"},
				doc: doc{
					summary: "Details of the given commands, or of all when none are given.",
					since:   "2.8.13", group: "server", complexity: "O(N), N being the number of commands asked for",
					history: []historyEntry{
						{"7.0.0", "Without arguments, describes every command."},
					},
					args: []arg{
						{name: "command-name", typ: "string", flags: []string{"optional", "multiple"}},
					},
				},
			},
			{
				name: "command|list", arity: -2,
				flags: []string{"loading", "stale"}, acl: []string{"slow", "connection"}, tips: []string{"nondeterministic_output_order"},
				doc: doc{
					summary: "Names of the commands served, optionally filtered.",
					since:   "7.0.0", group: "server", complexity: "O(N), N being the number of commands",
					args: []arg{
						{name: "filterby", typ: "oneof", token: "FILTERBY", flags: []string{"optional"}, args: []arg{
							{name: "module-name", typ: "string", token: "MODULE"},
							{name: "category", typ: "string", token: "ACLCAT"},
							{name: "pattern", typ: "pattern", token: "PATTERN"},
						}},
					},
				},
			},
		},
	},
	{
		name: "hello", arity: -1,
		flags: []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, acl: []string{"fast", "connection"},
		doc: doc{
			summary: "Pick the protocol version, optionally authenticate and name the connection, and describe the server.",
			since:   "6.0.0", group: "connection", complexity: "O(1)",
			history: []historyEntry{
				{"6.2.0", "The protocol version became optional; without arguments it describes the connection."},
			},
			args: []arg{
				{name: "arguments", typ: "block", flags: []string{"optional"}, args: []arg{
					{name: "protover", typ: "integer"},
					{name: "username_password", typ: "block", token: "AUTH", flags: []string{"optional"}, args: []arg{
						{name: "username", typ: "string"},
						{name: "password", typ: "string"},
					}},
					{name: "clientname", typ: "string", token: "SETNAME", flags: []string{"optional"}},
				}},
			},
		},
	},
	{
		name: "info", arity: -1,
		flags: []string{"loading", "stale"}, acl: []string{"slow", "dangerous"}, tips: []string{"nondeterministic_output", "request_policy:all_shards", "response_policy:special"},
		doc: doc{
			summary: "Server state and counters, by section.",
			since:   "1.0.0", group: "server", complexity: "O(1)",
			history: []historyEntry{
				{"7.0.0", "Several sections in one call."},
			},
			args: []arg{
				{name: "section", typ: "string", flags: []string{"optional", "multiple"}},
			},
		},
	},
	{
		name: "ping", arity: -1,
		flags: []string{"fast"}, acl: []string{"fast", "connection"}, tips: []string{"request_policy:all_shards", "response_policy:all_succeeded"},
		doc: doc{
			summary: "Check that the server answers; echoes an optional message.",
			since:   "1.0.0", group: "connection", complexity: "O(1)",
			args: []arg{
				{name: "message", typ: "string", flags: []string{"optional"}},
			},
		},
	},
	{
		name: "psubscribe", arity: -2,
		flags: []string{"pubsub", "noscript", "loading", "stale"}, acl: []string{"pubsub", "slow"},
		doc: doc{
			summary: "Receive the messages sent on channels matching glob patterns.",
			since:   "2.0.0", group: "pubsub", complexity: "O(N), N being the patterns this client already has",
			args: []arg{
				{name: "pattern", typ: "block", flags: []string{"multiple"}, args: []arg{
					{name: "pattern", typ: "pattern"},
				}},
			},
		},
	},
	{
		name: "publish", arity: 3,
		flags: []string{"pubsub", "loading", "stale", "fast"}, acl: []string{"pubsub", "fast"},
		doc: doc{
			summary: "Send a message on a channel (a sentinel accepts hello messages only).",
			since:   "2.0.0", group: "pubsub", complexity: "O(N+M), N being the channel's subscribers and M all pattern subscriptions",
			args: []arg{
				{name: "channel", typ: "string"},
				{name: "message", typ: "string"},
			},
		},
	},
	{
		name: "punsubscribe", arity: -1,
		flags: []string{"pubsub", "noscript", "loading", "stale"}, acl: []string{"pubsub", "slow"},
		doc: doc{
			summary: "Drop pattern subscriptions (all when none are named).",
			since:   "2.0.0", group: "pubsub", complexity: "O(N+M), N being this client's patterns and M all pattern subscriptions",
			args: []arg{
				{name: "pattern", typ: "pattern", flags: []string{"optional", "multiple"}},
			},
		},
	},
	{
		name: "quit", arity: -1, unlisted: true,
		flags: []string{"allow_busy", "noscript", "loading", "stale", "fast", "no_auth"}, acl: []string{"fast", "connection"},
		doc: doc{
			summary: "Close this connection once the reply is sent.",
			since:   "1.0.0", group: "connection", complexity: "O(1)",
		},
	},
	{
		name: "reset", arity: 1, unlisted: true,
		flags: []string{"noscript", "loading", "stale", "fast", "no_auth", "allow_busy"}, acl: []string{"fast", "connection"},
		doc: doc{
			summary: "Return this connection to its initial state.",
			since:   "6.2.0", group: "connection", complexity: "O(1)",
		},
	},
	{
		name: "role", arity: 1,
		flags: []string{"noscript", "loading", "stale", "fast"}, acl: []string{"admin", "fast", "dangerous"},
		doc: doc{
			summary: "This server's role, and the masters it watches.",
			since:   "2.8.12", group: "server", complexity: "O(1)",
		},
	},
	{
		name: "sentinel", arity: -2,
		flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
		doc: doc{
			summary: "Sentinel subcommands: monitored masters, peers, failover and configuration.",
			since:   "2.8.4", group: "sentinel", complexity: "Varies with the subcommand",
		},
		subs: []*command{
			{
				name: "sentinel|ckquorum", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Tell whether the reachable sentinels can reach the quorum and authorise a failover.",
					since:   "2.8.4", group: "sentinel",
					args: []arg{
						{name: "master-name", typ: "string"},
					},
				},
			},
			{
				name: "sentinel|config", arity: -3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Read or change the global sentinel settings.",
					since:   "6.2.0", group: "sentinel", complexity: "O(1)",
					args: []arg{
						{name: "set_or_get", typ: "oneof", args: []arg{
							{name: "set_param_value", typ: "block", token: "SET", flags: []string{"multiple"}, args: []arg{
								{name: "parameter", typ: "string"},
								{name: "value", typ: "string"},
							}},
							{name: "parameter", typ: "string", token: "GET", flags: []string{"multiple"}},
						}},
					},
				},
			},
			{
				name: "sentinel|debug", arity: -2,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Show or tune the internal timers.",
					since:   "7.0.0", group: "sentinel", complexity: "O(N), N being the number of timers",
					args: []arg{
						{name: "parameter_value", typ: "block", flags: []string{"multiple"}, args: []arg{
							{name: "parameter", typ: "string"},
							{name: "value", typ: "string"},
						}},
					},
				},
			},
			{
				name: "sentinel|failover", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Fail the master over now, without agreement from the other sentinels.",
					since:   "2.8.4", group: "sentinel",
					args: []arg{
						{name: "master-name", typ: "string"},
					},
				},
			},
			{
				name: "sentinel|flushconfig", arity: 2,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Persist the current state now.",
					since:   "2.8.4", group: "sentinel", complexity: "O(1)",
				},
			},
			{
				name: "sentinel|get-master-addr-by-name", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Current address of a master, by name.",
					since:   "2.8.4", group: "sentinel", complexity: "O(1)",
					args: []arg{
						{name: "master-name", typ: "string"},
					},
				},
			},
			{
				name: "sentinel|help", arity: 2,
				flags: []string{"loading", "stale"}, acl: []string{"slow"},
				doc: doc{
					summary: "Usage of the SENTINEL subcommands.",
					since:   "6.2.0", group: "sentinel", complexity: "O(1)",
				},
			},
			{
				name: "sentinel|info-cache", arity: -3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "The last INFO replies received from masters and their replicas.",
					since:   "3.2.0", group: "sentinel", complexity: "O(N), N being the number of instances",
					args: []arg{
						{name: "nodename", typ: "string", flags: []string{"multiple"}},
					},
				},
			},
			{
				name: "sentinel|is-master-down-by-addr", arity: 6,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Peer question: is this master down from here (and, with a run id, a vote request).",
					since:   "2.8.4", group: "sentinel", complexity: "O(1)",
					args: []arg{
						{name: "ip", typ: "string"},
						{name: "port", typ: "integer"},
						{name: "current-epoch", typ: "integer"},
						{name: "runid", typ: "string"},
					},
				},
			},
			{
				name: "sentinel|master", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "State of one master.",
					since:   "2.8.4", group: "sentinel", complexity: "O(1)",
					args: []arg{
						{name: "master-name", typ: "string"},
					},
				},
			},
			{
				name: "sentinel|masters", arity: 2,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "State of every monitored master.",
					since:   "2.8.4", group: "sentinel", complexity: "O(N), N being the number of masters",
				},
			},
			{
				name: "sentinel|monitor", arity: 6,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Begin to watch a master.",
					since:   "2.8.4", group: "sentinel", complexity: "O(1)",
					args: []arg{
						{name: "name", typ: "string"},
						{name: "ip", typ: "string"},
						{name: "port", typ: "integer"},
						{name: "quorum", typ: "integer"},
					},
				},
			},
			{
				name: "sentinel|myid", arity: 2,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "This sentinel's run id.",
					since:   "6.2.0", group: "sentinel", complexity: "O(1)",
				},
			},
			{
				name: "sentinel|pending-scripts", arity: 2,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Scripts waiting to run or running.",
					since:   "2.8.4", group: "sentinel",
				},
			},
			{
				name: "sentinel|remove", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Forget a monitored master.",
					since:   "2.8.4", group: "sentinel", complexity: "O(1)",
					args: []arg{
						{name: "master-name", typ: "string"},
					},
				},
			},
			{
				name: "sentinel|replicas", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "State of the replicas of a master.",
					since:   "5.0.0", group: "sentinel", complexity: "O(N), N being the number of replicas",
					args: []arg{
						{name: "master-name", typ: "string"},
					},
				},
			},
			{
				name: "sentinel|reset", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Clear the learned state of the masters matching a pattern.",
					since:   "2.8.4", group: "sentinel", complexity: "O(N), N being the number of masters",
					args: []arg{
						{name: "pattern", typ: "pattern"},
					},
				},
			},
			{
				name: "sentinel|sentinels", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "State of the other sentinels watching a master.",
					since:   "2.8.4", group: "sentinel", complexity: "O(N), N being the number of sentinels",
					args: []arg{
						{name: "master-name", typ: "string"},
					},
				},
			},
			{
				name: "sentinel|set", arity: -5,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Change options of a monitored master.",
					since:   "2.8.4", group: "sentinel", complexity: "O(1)",
					args: []arg{
						{name: "master-name", typ: "string"},
						{name: "option_value", typ: "block", flags: []string{"multiple"}, args: []arg{
							{name: "option", typ: "string"},
							{name: "value", typ: "string"},
						}},
					},
				},
			},
			{
				name: "sentinel|simulate-failure", arity: -3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Arm crash points used in failover tests.",
					since:   "3.2.0", group: "sentinel",
					args: []arg{
						{name: "mode", typ: "oneof", flags: []string{"optional", "multiple"}, args: []arg{
							{name: "crash-after-election", typ: "pure-token"},
							{name: "crash-after-promotion", typ: "pure-token"},
							{name: "help", typ: "pure-token"},
						}},
					},
				},
			},
			{
				name: "sentinel|slaves", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Old name of SENTINEL REPLICAS.",
					since:   "2.8.0", group: "sentinel", complexity: "O(N), N being the number of replicas",
					docFlags: []string{"deprecated"}, deprecatedSince: "5.0.0", replacedBy: "`SENTINEL REPLICAS`",
					args: []arg{
						{name: "master-name", typ: "string"},
					},
				},
			},
		},
	},
	{
		name: "shutdown", arity: -1,
		flags: []string{"admin", "noscript", "loading", "stale", "no_multi", "allow_busy"}, acl: []string{"admin", "slow", "dangerous"},
		doc: doc{
			summary: "Stop the agent.",
			since:   "1.0.0", group: "server", complexity: "O(N) with a save, N being the keys in all databases; O(1) without",
			history: []historyEntry{
				{"7.0.0", "NOW, FORCE and ABORT options."},
			},
			args: []arg{
				{name: "nosave_save", typ: "oneof", flags: []string{"optional"}, args: []arg{
					{name: "nosave", typ: "pure-token", token: "NOSAVE"},
					{name: "save", typ: "pure-token", token: "SAVE"},
				}},
				{name: "now", typ: "pure-token", token: "NOW", since: "7.0.0", flags: []string{"optional"}},
				{name: "force", typ: "pure-token", token: "FORCE", since: "7.0.0", flags: []string{"optional"}},
				{name: "abort", typ: "pure-token", token: "ABORT", since: "7.0.0", flags: []string{"optional"}},
			},
		},
	},
	{
		name: "subscribe", arity: -2,
		flags: []string{"pubsub", "noscript", "loading", "stale"}, acl: []string{"pubsub", "slow"},
		doc: doc{
			summary: "Receive the messages sent on the named channels.",
			since:   "2.0.0", group: "pubsub", complexity: "O(N), N being the number of channels named",
			args: []arg{
				{name: "channel", typ: "string", flags: []string{"multiple"}},
			},
		},
	},
	{
		name: "unsubscribe", arity: -1,
		flags: []string{"pubsub", "noscript", "loading", "stale"}, acl: []string{"pubsub", "slow"},
		doc: doc{
			summary: "Drop channel subscriptions (all when none are named).",
			since:   "2.0.0", group: "pubsub", complexity: "O(N), N being the clients subscribed to a channel",
			args: []arg{
				{name: "channel", typ: "string", flags: []string{"optional", "multiple"}},
			},
		},
	},
	{
		name: "vipsentinel", arity: -2, unlisted: true,
		acl: []string{"slow"},
		doc: doc{
			summary: "vipsentinel's own subcommands.",
			since:   "1.0.0", group: "sentinel", complexity: "Varies with the subcommand",
		},
		subs: []*command{
			{
				name: "vipsentinel|help", arity: 2,
				flags: []string{"loading", "stale"}, acl: []string{"slow"},
				doc: doc{
					summary: "Usage of the VIPSENTINEL subcommands.",
					since:   "1.0.0", group: "sentinel", complexity: "O(1)",
				},
			},
			{
				name: "vipsentinel|prove", arity: 3,
				flags: []string{"loading", "stale"}, acl: []string{"slow"},
				doc: doc{
					summary: "Proves this agent's run id and its knowledge of the group's secret to a peer, before AUTH.",
					since:   "1.0.0", group: "sentinel", complexity: "O(1)",
				},
			},
			{
				name: "vipsentinel|pause", arity: -3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Puts a master (or every master) in maintenance: no failover is started or voted for, for a time or until RESUME.",
					since:   "1.0.0", group: "sentinel", complexity: "O(N), N being the number of masters",
				},
			},
			{
				name: "vipsentinel|resume", arity: 3,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Ends the maintenance of a master (or of every master).",
					since:   "1.0.0", group: "sentinel", complexity: "O(N), N being the number of masters",
				},
			},
			{
				name: "vipsentinel|failover", arity: 5,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"},
				doc: doc{
					summary: "Switches a master over to the named replica, pausing writes until it has caught up.",
					since:   "1.0.0", group: "sentinel", complexity: "O(N), N being the number of replicas",
				},
			},
			{
				name: "vipsentinel|status", arity: 2,
				flags: []string{"admin"}, acl: []string{"admin", "slow", "dangerous"}, tips: []string{"nondeterministic_output"},
				doc: doc{
					summary: "The agent's state as JSON: masters, epochs, floating addresses, fencing.",
					since:   "1.0.0", group: "sentinel", complexity: "O(N), N being the number of masters and peers",
				},
			},
		},
	},
}
