package config

import "strings"

// redisOnly reports whether name is a Redis server directive that has no
// meaning for vipsentinel, and the warning to give for it. Such lines are
// common in a sentinel.conf (Redis's CONFIG REWRITE adds some itself), so they
// are accepted; anything else unknown is an error, which catches typos.
func redisOnly(name string) (string, bool) {
	if msg, ok := redisSpecial[name]; ok {
		return msg, true
	}
	if _, ok := redisNames[name]; ok {
		return "Redis server directive not used by vipsentinel; ignored", true
	}
	return "", false
}

var redisSpecial = map[string]string{
	"daemonize":       "vipsentinel runs in the foreground under systemd; ignored",
	"supervised":      "vipsentinel always notifies systemd (Type=notify); ignored",
	"pidfile":         "systemd tracks the process; ignored",
	"syslog-enabled":  "logs go to the journal (or stderr); ignored",
	"syslog-ident":    "logs go to the journal (or stderr); ignored",
	"syslog-facility": "logs go to the journal (or stderr); ignored",
	"rename-command":  "Redis's own rename-command does not apply; use sentinel rename-command <master> <command> <new-name>; ignored",
	"unixsocket":      "vipsentinel listens on TCP only; ignored",
	"unixsocketperm":  "vipsentinel listens on TCP only; ignored",
	"loadmodule":      "modules are not supported; ignored",
}

var redisNames = map[string]struct{}{}

func init() {
	for _, n := range strings.Fields(`
		acllog-max-len active-defrag-cycle-max active-defrag-cycle-min
		active-defrag-ignore-bytes active-defrag-max-scan-fields active-defrag-threshold-lower
		active-defrag-threshold-upper active-expire-effort activedefrag activerehashing
		always-show-logo aof-load-truncated aof-rewrite-cpulist aof-rewrite-incremental-fsync
		aof-timestamp-enabled aof-use-rdb-preamble aof_rewrite_cpulist appenddirname appendfilename
		appendfsync appendonly auto-aof-rewrite-min-size auto-aof-rewrite-percentage bgsave_cpulist
		bind-source-addr bio_cpulist busy-reply-threshold client-output-buffer-limit
		client-query-buffer-limit cluster-allow-pubsubshard-when-down cluster-allow-reads-when-down
		cluster-allow-replica-migration cluster-announce-bus-port cluster-announce-hostname
		cluster-announce-human-nodename cluster-announce-ip cluster-announce-port
		cluster-announce-tls-port cluster-config-file cluster-enabled cluster-link-sendbuf-limit
		cluster-migration-barrier cluster-node-timeout cluster-port cluster-preferred-endpoint-type
		cluster-replica-no-failover cluster-replica-validity-factor cluster-require-full-coverage
		cluster-slave-no-failover cluster-slave-validity-factor crash-log-enabled
		crash-memcheck-enabled databases dbfilename disable-thp dynamic-hz enable-debug-command
		enable-module-command enable-protected-configs hash-max-listpack-entries
		hash-max-listpack-value hash-max-ziplist-entries hash-max-ziplist-value hide-user-data-from-log
		hll-sparse-max-bytes hz ignore-warnings io-threads io-threads-do-reads jemalloc-bg-thread
		key-load-delay latency-monitor-threshold latency-tracking latency-tracking-info-percentiles
		lazyfree-lazy-eviction lazyfree-lazy-expire lazyfree-lazy-server-del lazyfree-lazy-user-del
		lazyfree-lazy-user-flush lfu-decay-time lfu-log-factor list-compress-depth
		list-max-listpack-size list-max-ziplist-size locale-collate lua-replicate-commands
		lua-time-limit masterauth masteruser max-new-connections-per-cycle
		max-new-tls-connections-per-cycle maxmemory maxmemory-clients
		maxmemory-eviction-tenacity maxmemory-policy maxmemory-samples min-replicas-max-lag
		min-replicas-to-write min-slaves-max-lag min-slaves-to-write no-appendfsync-on-rewrite
		notify-keyspace-events oom-score-adj oom-score-adj-values proc-title-template
		propagation-error-behavior proto-max-bulk-len rdb-del-sync-files rdb-key-save-delay
		rdb-save-incremental-fsync rdbchecksum rdbcompression repl-backlog-size repl-backlog-ttl
		repl-disable-tcp-nodelay repl-diskless-load repl-diskless-sync repl-diskless-sync-delay
		repl-diskless-sync-max-replicas repl-ping-replica-period repl-ping-slave-period repl-timeout
		replica-announce-ip replica-announce-port replica-announced replica-ignore-disk-write-errors
		replica-ignore-maxmemory replica-lazy-flush replica-priority replica-read-only
		replica-serve-stale-data replicaof sanitize-dump-payload save server_cpulist set-max-intset-entries
		set-max-listpack-entries set-max-listpack-value set-proc-title shutdown-on-sigint
		shutdown-on-sigterm shutdown-timeout slave-announce-ip slave-announce-port slave-ignore-maxmemory
		slave-lazy-flush slave-priority slave-read-only slave-serve-stale-data slaveof
		slowlog-log-slower-than slowlog-max-len stop-writes-on-bgsave-error stream-node-max-bytes
		stream-node-max-entries tcp-backlog tcp-keepalive tracking-table-max-keys
		use-exit-on-panic watchdog-period zset-max-listpack-entries zset-max-listpack-value
		zset-max-ziplist-entries zset-max-ziplist-value`) {
		redisNames[n] = struct{}{}
	}
}
