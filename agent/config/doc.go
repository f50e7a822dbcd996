// Package config reads vipsentinel's configuration file.
//
// The syntax is Redis Sentinel's, so an operator can point vipsentinel at an
// existing sentinel.conf: every Sentinel directive means what it means to
// Sentinel, and vipsentinel's own directives (floating addresses, firewall,
// metrics) have the same shape. vipsentinel never writes this file; what
// Sentinel would rewrite into it (epochs, votes, discovered instances,
// SENTINEL SET changes) goes to a separate state file, see package state.
//
// # Syntax
//
// One directive per line: a name and its arguments, separated by spaces or
// tabs. Names (and the word after "sentinel") are case-insensitive; master
// names and values are not. A line whose first non-blank character is # is
// a comment; there are no comments at the end of a line (passwords may
// contain #). Blank lines are ignored. Arguments may be quoted:
//
//   - "..." understands \n \r \t \b \a, \xHH (a byte in hex) and \\ and \";
//     any other \c is c.
//   - '...' is literal, except \' for a single quote.
//   - A closing quote must be followed by a space or the end of the line.
//   - "" is an empty argument.
//
// Directive order does not matter. As Sentinel does, the file is applied in
// passes: global directives first (including sentinel resolve-hostnames,
// which decides how monitor lines are read), then sentinel monitor, then
// the directives that refer to a master. When a directive that takes one
// value is repeated, the last one wins.
//
//	include <path>
//
// reads another file in place of the line. A relative path is relative to
// the directory of the file containing the include. Shell patterns are
// allowed (include /etc/vipsentinel/conf.d/*.conf, read in name order); a
// pattern matching nothing is a warning, a missing plain path an error.
// Include loops are errors, and so is including anything but a regular
// file (a directory, a FIFO, /dev/zero). A configuration may hold at most
// 8 MiB, all its files together.
//
// Errors name the file, the line and the directive, for example
//
//	/etc/vipsentinel/vipsentinel.conf:12: sentinel down-after-milliseconds: unknown master "foo" (no sentinel monitor line defines it)
//
// and are returned as *Error values (vipsentinel check-config exits with
// status 78, EX_CONFIG). All errors of a file are reported at once.
// Warnings (a directive without effect) are returned for the caller to log;
// they never stop the agent.
//
// # Global directives
//
//	port <port>                       default 26379
//
// TCP port of the Sentinel-compatible API (clients and peer agents), in
// plain TCP. 0 disables it (a TLS-only agent): tls-port is then required.
//
//	bind <address>...                 default: all addresses
//
// Addresses to listen on: IP addresses, * (all IPv4), ::* (all IPv6); a
// leading - makes an address optional (skipped if the host lacks it).
//
//	dir <path>                        default /var/lib/vipsentinel
//
// Working directory; the state file lives here. As in Redis, which
// chdir()s to it, a relative path is relative to the directory the agent
// was started from (/ under systemd), not to the configuration file's.
//
//	requirepass <password>            default: none
//
// Password clients must AUTH with on port. Peers use it too unless
// sentinel sentinel-pass is set. As in Redis, it is the default user's
// password; a "user default ..." line or an aclfile replaces it.
//
//	user <name> <rule>...             default: none
//	aclfile <path>                    default: none
//	acl-pubsub-default allchannels|resetchannels   default resetchannels
//
// ACL users of the API, with Redis's rules (on/off, >password, #sha256,
// nopass, +command, -command|subcommand, +@category, &channel, ~keys...).
// "user default off" with named users leaves nothing to clients that have
// not authenticated. An aclfile (relative to dir) holds "user" lines
// instead; ACL LOAD reads it and ACL SAVE rewrites it. The two are
// exclusive. Users changed with ACL SETUSER are kept only by ACL SAVE.
// acl-pubsub-default is the channels a new (or reset) user starts with.
//
//	protected-mode yes|no             default yes
//
// Redis's protected mode: with no requirepass, the API accepts clients
// from the loopback interface only and answers others with a -DENIED
// error. redis-sentinel turns protected mode off; vipsentinel keeps it on
// unless "protected-mode no" is written, because anonymous API clients can
// change the monitored masters (SENTINEL SET, FAILOVER, SHUTDOWN).
//
//	maxclients <n>                    default 10000
//
// Concurrent API connections, as in Redis. When requirepass is set, at most
// a quarter of them (1024 at most) may be unauthenticated: a new connection
// over either limit closes the oldest unauthenticated one, so clients that
// know the password (other agents, operators) always get a slot. An
// unauthenticated client must authenticate within 10 s.
//
//	timeout <seconds>                 default 0 (never)
//
// Close API clients idle this long, as Redis does (subscribed clients are
// exempt).
//
//	loglevel debug|verbose|notice|warning|nothing     default notice
//
//	logfile <path>                    default: the journal (or stderr)
//
// Where the log goes, as in Redis: "" is standard output, a path is a file
// the agent appends to (reopened on SIGHUP, for log rotation; a relative
// path is under dir, where Redis opens it after chdir()ing). Without the
// directive the log goes to the journal under systemd, otherwise to
// standard error. Under the packaged unit a file must be in a directory the
// service may write (see ReadWritePaths= in the unit).
//
//	state-file <name>                 default vipsentinel.state
//
// File name of the state file inside dir.
//
//	min-agents <n>                    default 0 (off)
//
// The number of agents in the group: elections and fencing count their
// majorities over exactly n agents (a floor and a ceiling: no announced or
// missing peer changes the group size). Set it to the number of hosts
// running an agent. Without it (0, Sentinel's rule) a majority is counted
// over the verified agents discovered so far, so while agents are still
// discovering each other (after a first start, or when some could not be
// reached yet) a candidate that knows only two of five agents can be
// elected with two votes, and an isolated master's agent can count itself
// as a majority of the few peers it knows. Required for fencing: a fenced
// master (sentinel fence, on by default with a VIP) without min-agents is a
// warning (not an error, so that configurations written before it keep
// starting). 0 to 1000; a sentinel monitor quorum above n is a warning (that
// master could never be failed over).
//
//	metrics-addr <host:port>          default: none (no metrics endpoint)
//
// Address of the Prometheus /metrics endpoint, e.g. 127.0.0.1:9479 or :9479.
//
// # Sentinel directives (global)
//
//	sentinel announce-ip <ip>         default: none (the address of the connection)
//	sentinel announce-port <port>     default 0 (use port)
//
// Address and port announced to peers in hello messages, for NAT.
//
//	sentinel resolve-hostnames yes|no     default no
//	sentinel announce-hostnames yes|no    default no
//
// Accept host names where Sentinel expects addresses, comparing instances
// by the address a name resolves to (re-resolved every second); announce
// host names instead of the addresses they resolve to (replies, events,
// hellos, the SLAVEOF sent to replicas, scripts' arguments).
//
//	sentinel deny-scripts-reconfig yes|no     default yes
//
// Refuse SENTINEL SET of notification-script and client-reconfig-script:
// otherwise anyone able to send SENTINEL SET can make the agent run a
// program of their choice. With no, as in Redis, any executable file can
// be set.
//
//	sentinel sentinel-user <user>     default: none
//	sentinel sentinel-pass <password> default: none (requirepass is used)
//
// Credentials used to authenticate to peer agents (AUTH <user> <password>
// with a user, the password alone otherwise).
//
// # Sentinel directives (per master)
//
//	sentinel monitor <master> <host> <port> <quorum>
//
// Monitor the Redis master at host:port under the name master. quorum (1 or
// more) is the number of agents that must see the master down before a
// failover is attempted; a failover also needs a majority of all agents.
// The name may not contain spaces, control characters or commas. host must
// be an IP address unless sentinel resolve-hostnames is yes. Every other
// per-master directive needs this line (anywhere in the files read).
//
//	sentinel down-after-milliseconds <master> <ms>          default 30000
//	sentinel failover-timeout <master> <ms>                 default 180000
//	sentinel parallel-syncs <master> <n>                    default 1
//	sentinel master-reboot-down-after-period <master> <ms>  default 0 (off)
//
// Time without a valid reply before the master (and its replicas and peers)
// is considered down; the failover timeout (a retry waits twice this long);
// how many replicas are re-pointed at the new master at once; how long a
// master that restarted (new run id) is still treated as down.
//
//	sentinel allow-unsynced-promotion <master> yes|no   default no
//
// A failover never promotes a replica that, by its latest INFO, has not
// finished a sync with the master: one receiving or loading a full sync
// (master_sync_in_progress:1, loading:1), one that never connected to the
// master since it became its replica (master_link_status:down,
// master_link_down_since_seconds:-1, slave_repl_offset 0 or 1), or one that
// replicates from another instance. Its dataset is empty or partial, and
// promoting it replaces the group's. With no other replica eligible the
// failover is aborted (-failover-abort-no-good-slave, each replica's reason
// in the event and in VIPSENTINEL STATUS). With yes, the best such replica
// (not a loading one) is promoted as a last resort, for groups that prefer a
// writable master with lost data to no master. redis-sentinel has no such
// rule (README, Differences from redis-sentinel).
//
//	sentinel allow-unreplicated-writes <master> yes|no   default no
//
// Whether the operator accepts that the master acknowledges writes no
// replica receives. Asynchronous replication loses every write the master
// acknowledged but no replica received when it fails over; a master whose
// replicas are cut off or still loading acknowledges such writes for as
// long as that lasts. Redis's own guard bounds it: on every redis-server
// of the group,
//
//	min-replicas-to-write 1
//	min-replicas-max-lag 2
//
// make a master with no replica that acknowledged its stream within 2 s
// refuse writes (-NOREPLICAS: not acknowledged, so never lost) until one
// is back, about 2-4 s after the last replica is lost. Replicas acknowledge
// once a second and the lag is counted in whole seconds, so a healthy
// replica's lag reads 0 or 1; 2 rides out one late acknowledgement (a
// retransmission under packet loss). The price is availability: a group
// whose every replica is down or still loading takes no writes, and a
// newly promoted master takes none until a replica has synced from it. The agent does not refuse or pause writes itself; it
// checks the guard: vipsentinel check-config (on the configured master) and
// vipsentinel status (on the master and every replica the agent knows)
// warn "writes may be acknowledged with no replica receiving them" for a
// redis-server of a group with replicas whose min-replicas-to-write is 0,
// and status reports a master that refuses writes now as degraded. With
// yes the warning is not given: for a group that prefers taking writes with
// no replica to refusing them.
//
//	sentinel auth-pass <master> <password>      default: none
//	sentinel auth-user <master> <user>          default: none
//
// Credentials for the master and its replicas.
//
//	sentinel notification-script <master> <path>       default: none
//	sentinel client-reconfig-script <master> <path>    default: none
//
// Programs run on warning events and on a master change, with Sentinel's
// arguments. The path must be absolute; it is run directly, without a shell.
//
//	sentinel rename-command <master> <command> <new-name>
//
// Send new-name instead of command to this master's Redis instances (for
// servers that renamed CONFIG, SLAVEOF, ...). "" disables the command.
// Renaming a command vipsentinel never sends is a warning. A new-name that
// is another Redis command (INFO to FLUSHALL) is an error, here and in
// SENTINEL SET.
//
// # Runtime state lines
//
//	sentinel myid <40 hex digits>
//	sentinel current-epoch <epoch>
//	sentinel config-epoch <master> <epoch>
//	sentinel leader-epoch <master> <epoch>
//	sentinel known-replica <master> <host> <port>     (also known-slave)
//	sentinel known-sentinel <master> <host> <port> <run id>
//
// Redis writes these into sentinel.conf. vipsentinel reads them only when it
// starts without a state file, to take over the identity, epochs and
// discovered instances of a redis-sentinel; afterwards the state file is
// authoritative and these lines are ignored (a warning says so). A
// known-sentinel without a run id is ignored, as Sentinel does.
//
// known-sentinel addresses are also, on every start, the allow-list of
// real redis-sentinel peers: a peer is counted only once verified on the
// agent's own connection to it, before any password is sent there
// (VIPSENTINEL PROVE, package peerproof). A redis-sentinel cannot answer
// that; at a known-sentinel address it is verified instead by AUTH and
// SENTINEL MYID matching the run id it announces (the weaker "listed"
// mode). A redis-sentinel anywhere else is never counted. To admit one,
// add its line with the run id of its own sentinel.conf (sentinel myid).
//
// # Floating addresses (per master)
//
//	sentinel vip <master> <address>/<prefix> <interface>
//
// A floating address (VIP) that follows the master: the agent on the host
// of the current master adds it to interface, the others make sure they do
// not hold it. prefix is the length of the subnet's prefix, as for ip addr
// add: 192.0.2.10/24, 2001:db8::10/64. Repeat the directive for several
// addresses (IPv4 and IPv6, several interfaces). An address can float for
// only one master. Interface names follow the kernel's rules (1 to 15
// characters, no '/', ':' or white space).
//
//	sentinel vip-garp <master> <count> <interval-ms> [<refresh-seconds>]   default 5 1000 0
//
// On taking over a VIP, announce it count times (0 to 100), interval-ms
// apart (10 to 60000), the first at once: a gratuitous ARP request and reply
// for IPv4, an unsolicited neighbour advertisement for IPv6. A Linux
// neighbour ignores an update that arrives within locktime (1 s by default)
// of the entry's previous one unless it recognises the packet as
// gratuitous. Our first packet is gratuitous, but a receiver that does not
// treat it so, or that just took a late announcement from the old holder,
// needs a packet that lands past that window: at 1 s spacing the second one
// does, and five of them cover 4 s while a switch port converges.
// refresh-seconds, if not 0, re-announces the VIPs that often (1 to 86400)
// while they are held, for switches whose MAC table ages out before the
// neighbours' ARP caches.
//
//	sentinel fence <master> yes|no          default yes if the master has a VIP, else no
//
// Fence the old master when its role moves: the agent that loses the master
// role, or loses contact with a majority of agents, releases the VIP before
// a new holder may take it, so that the VIP is never on two hosts and
// clients cannot keep writing to a demoted master.
//
//	sentinel vip-release-on-stop <master> yes|no    default yes
//
// Remove the VIPs when the agent stops. A restart needs no: systemctl
// restart, systemctl reload and package upgrades hand the VIPs and their
// lease to the next process (vipsentinel(8), SIGNALS), and a VIP that no
// process takes over is removed when its lease ends. With no, every stop
// leaves the VIPs in place with nothing fencing them until an agent
// starts again, so another host may claim the same address meanwhile:
// keep yes unless something else guards the address.
//
// # Firewall (global)
//
//	firewall yes|no                 default no
//
// Manage nftables rules for the agent's port and the monitored Redis ports.
//
//	firewall-allow <cidr>...        default: none
//
// Sources allowed to reach the agent's port and the Redis port. Repeatable;
// a bare address means that host alone. Without it any source may connect.
//
//	firewall-mode own|inject        default own
//
// own: vipsentinel keeps its rules in a table of its own and reports other
// firewalls' chains that would still drop the traffic. inject: it also
// inserts accept rules at the top of those chains (and removes exactly
// those rules when it stops); it requires firewall-allow, since without
// one those rules would accept every source ahead of the host's firewall.
//
//	firewall-keep-on-stop yes|no    default no
//
// Leave the rules in place when the agent stops, so the ports stay open
// while it is down.
//
//	firewall-fence yes|no           default no
//
// Also fence with the firewall: while the local Redis must not take writes
// (it is not the current master), new connections to its port are refused
// except from loopback, the other agents and the replicas.
//
// Firewall settings without firewall yes are warnings.
//
// # TLS (global)
//
// Redis's tls-* directives, with Redis's meaning, implemented with Go's
// crypto/tls (package tlsconf). Certificates, keys and CAs are read at
// start and again on reload (SIGHUP): a rotated certificate is used by the
// next handshake, and neither the VIP nor open links are dropped, except
// that a reload that changes the CAs closes (and logs) the open links and
// verified API clients whose peer certificate no longer verifies under the
// new CAs, so that they reconnect under them.
//
//	tls-port <port>                   default 0 (no TLS API)
//
// Port of the API over TLS, beside port (or alone, with port 0).
//
//	tls-cert-file <path>  tls-key-file <path>  tls-key-file-pass <password>
//
// The API's certificate and key; also the client certificate of outgoing
// links unless tls-client-cert-file is set. A passphrase opens keys in the
// legacy encrypted PEM format ("openssl rsa -aes256"); PKCS#8-encrypted
// keys are refused (the standard library cannot read them).
//
//	tls-client-cert-file <path>  tls-client-key-file <path>  tls-client-key-file-pass <password>
//
// Certificate for outgoing links (Redis instances and peer agents).
//
//	tls-ca-cert-file <path>  tls-ca-cert-dir <path>
//
// The CA(s) certificates are verified against, both ways. One is required
// when TLS is used: the system's public CAs are never trusted.
//
//	tls-auth-clients yes|no|optional  default yes
//
// API clients must present a certificate signed by the CA (yes), are not
// asked for one (no), or are verified when they present one (optional).
// With yes the CA is the group's membership authority: a peer agent whose
// certificate verifies needs no shared secret to be verified (peer proof
// mode "tls"), and clients with a verified certificate pass protected mode.
//
//	tls-replication yes|no            default no
//
// Sentinel's switch for TLS on its outgoing links to masters, replicas and
// other sentinels; the hello then announces tls-port. Servers must present
// a certificate naming the address dialled: a DNS SAN for a hostname, an
// IP SAN for an IP address.
//
//	tls-protocols <protocol>...       default "TLSv1.2 TLSv1.3"
//
// TLSv1, TLSv1.1, TLSv1.2, TLSv1.3; Go enables a contiguous range, so a
// set with a gap is an error.
//
//	tls-ciphers <list>                default: Go's
//
// TLS 1.2 suites, ':'-separated, by OpenSSL (ECDHE-RSA-AES128-GCM-SHA256)
// or IANA name, or DEFAULT. OpenSSL's cipher-string keywords and operators
// (HIGH, !aNULL) and finite-field DHE suites are errors.
//
//	tls-ciphersuites <list>           names checked; no effect
//	tls-prefer-server-ciphers yes|no  no effect
//	tls-dh-params-file <path>         no effect
//
// Accepted with a check-config warning: Go does not let TLS 1.3 suites be
// chosen, always prefers its own suite order, and has no finite-field
// Diffie-Hellman (key exchange is always ECDHE).
//
//	tls-session-caching yes|no        default yes
//	tls-session-cache-size <n>        default 20480
//	tls-session-cache-timeout <s>     default 300
//
// Session resumption: session tickets on the API (no disables them) and a
// client session cache of size entries on outgoing links. Go fixes the
// ticket lifetime, so a changed timeout is a warning.
//
// # Redis directives
//
// Redis server directives that have no meaning here (daemonize, pidfile,
// supervised, syslog-*, user, hz,
// latency-tracking-info-percentiles, ...) are accepted with a
// warning, so an existing sentinel.conf loads. An unknown tls-*
// directive is an error, since ignoring it could leave part of a TLS
// deployment in plaintext. Any other unknown directive is an error,
// which catches typos.
//
// # Checking a configuration
//
// File.Effective renders the configuration as vipsentinel understood it,
// includes flattened and every default explicit, with secrets (requirepass,
// sentinel-pass, auth-pass) shown as ******; vipsentinel check-config
// prints it.
package config
