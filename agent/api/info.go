package api

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// infoSections are the sections INFO knows, in redis-sentinel's output
// order, vipsentinel's own last. "default", "all" and "everything" select
// all of them, as in Sentinel.
var infoSections = []string{"server", "clients", "stats", "cpu", "sentinel", "vipsentinel"}

func (c *client) cmdInfo(args []string) {
	want := map[string]bool{}
	if len(args) == 1 {
		for _, s := range infoSections {
			want[s] = true
		}
	}
	for _, a := range args[1:] {
		a = strings.ToLower(a)
		switch a {
		case "default", "all", "everything":
			for _, s := range infoSections {
				want[s] = true
			}
		default:
			want[a] = true
		}
	}
	var b strings.Builder
	for _, sec := range infoSections {
		if !want[sec] {
			continue
		}
		kvs, title, err := c.infoSection(sec)
		if err != nil {
			c.writeErr(err)
			return
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + title + "\r\n")
		for _, kv := range kvs {
			b.WriteString(kv.Key + ":" + kv.Value + "\r\n")
		}
	}
	// Redis 7.0 sends INFO as a plain bulk string in RESP3 as well.
	c.w.Bulk(b.String())
}

func (c *client) infoSection(sec string) ([]KV, string, error) {
	s := c.srv
	switch sec {
	case "server":
		return s.infoServer(), "Server", nil
	case "clients":
		return s.infoClients(), "Clients", nil
	case "cpu":
		return infoCPU(), "CPU", nil
	case "stats":
		return s.infoStats(), "Stats", nil
	case "sentinel":
		ctx, cancel := s.call(c)
		defer cancel()
		kvs, err := s.cfg.Backend.InfoSentinel(ctx)
		return kvs, "Sentinel", err
	case "vipsentinel":
		ctx, cancel := s.call(c)
		defer cancel()
		kvs, err := s.cfg.Backend.InfoVIPSentinel(ctx)
		// The API's own counters that Redis 7.0 has no INFO field for.
		kvs = append(kvs,
			kv("vipsentinel_client_output_limit_disconnections", s.stats.pubsubKills.Load()),
			kv("vipsentinel_auth_failures", s.stats.authFail.Load()),
			kv("vipsentinel_auth_timeouts", s.stats.authTimeouts.Load()),
			kv("vipsentinel_protected_mode_denials", s.stats.denied.Load()),
			kv("vipsentinel_unauthenticated_evictions", s.stats.evicted.Load()),
			kv("vipsentinel_client_panics", s.stats.panics.Load()))
		return kvs, "VIPSentinel", err
	}
	return nil, "", nil
}

func kv(k string, v any) KV { return KV{Key: k, Value: fmt.Sprint(v)} }

func (s *Server) infoServer() []KV {
	now := time.Now()
	up := now.Sub(s.started)
	exe, _ := os.Executable()
	cfgFile := s.cfg.ConfigFile
	if cfgFile != "" {
		if abs, err := filepath.Abs(cfgFile); err == nil {
			cfgFile = abs
		}
	}
	var uts syscall.Utsname
	osName := runtime.GOOS
	if err := syscall.Uname(&uts); err == nil {
		osName = fmt.Sprintf("%s %s %s", utsString(uts.Sysname[:]), utsString(uts.Release[:]), utsString(uts.Machine[:]))
	}
	return []KV{
		kv("redis_version", RedisVersion),
		kv("redis_git_sha1", "00000000"),
		kv("redis_git_dirty", 0),
		kv("redis_build_id", "0"),
		kv("redis_mode", "sentinel"),
		kv("vipsentinel_version", s.cfg.Version),
		kv("os", osName),
		kv("arch_bits", 64),
		kv("monotonic_clock", "POSIX clock_gettime"),
		kv("multiplexing_api", "epoll"),
		kv("go_version", runtime.Version()),
		kv("process_id", os.Getpid()),
		kv("process_supervised", supervised()),
		kv("run_id", s.runID),
		kv("tcp_port", s.cfg.Port),
		kv("server_time_usec", now.UnixMicro()),
		kv("uptime_in_seconds", int64(up.Seconds())),
		kv("uptime_in_days", int64(up.Hours()/24)),
		kv("hz", 100),
		kv("configured_hz", 100),
		kv("lru_clock", lruClock(now)),
		kv("executable", exe),
		kv("config_file", cfgFile),
		// Requests are served by one goroutine per client, not by I/O
		// threads.
		kv("io_threads_active", 0),
	}
}

// lruClock is Redis's LRU clock: Unix time in seconds, modulo 2^24. A
// sentinel has no keys to age, but tools read the field.
func lruClock(now time.Time) int64 { return now.Unix() & (1<<24 - 1) }

func supervised() string {
	if os.Getenv("NOTIFY_SOCKET") != "" {
		return "systemd"
	}
	return "no"
}

func utsString(b []int8) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func (s *Server) infoClients() []KV {
	s.mu.Lock()
	n := len(s.clients)
	s.mu.Unlock()
	return []KV{
		kv("connected_clients", n),
		kv("cluster_connections", 0),
		kv("maxclients", s.cfg.MaxClients),
		kv("client_recent_max_input_buffer", s.stats.maxInput.Load()),
		kv("client_recent_max_output_buffer", 0),
		kv("blocked_clients", 0),
		kv("tracking_clients", 0),
		kv("clients_in_timeout_table", 0),
	}
}

func infoCPU() []KV {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	sec := func(tv syscall.Timeval) string {
		return fmt.Sprintf("%d.%06d", tv.Sec, tv.Usec)
	}
	// Redis's main thread runs its event loop; a Go program has no such
	// thread (the work moves between the runtime's threads), so the
	// main-thread figures are the process's.
	return []KV{
		kv("used_cpu_sys", sec(self.Stime)),
		kv("used_cpu_user", sec(self.Utime)),
		kv("used_cpu_sys_children", sec(children.Stime)),
		kv("used_cpu_user_children", sec(children.Utime)),
		kv("used_cpu_sys_main_thread", sec(self.Stime)),
		kv("used_cpu_user_main_thread", sec(self.Utime)),
	}
}

func (s *Server) infoStats() []KV {
	s.mu.Lock()
	channels, patterns := len(s.ps.channels), len(s.ps.patterns)
	s.mu.Unlock()
	st := &s.stats
	ops, in, out := s.rates.get()
	// Fields for what a sentinel does not have (keys, replication
	// streams, forks, defragmentation, tracking, I/O threads) are 0, as
	// in redis-sentinel.
	return []KV{
		kv("total_connections_received", st.connections.Load()),
		kv("total_commands_processed", st.commands.Load()),
		kv("instantaneous_ops_per_sec", int64(ops)),
		kv("total_net_input_bytes", st.netIn.Load()),
		kv("total_net_output_bytes", st.netOut.Load()),
		kv("total_net_repl_input_bytes", 0),
		kv("total_net_repl_output_bytes", 0),
		kv("instantaneous_input_kbps", kbps(in)),
		kv("instantaneous_output_kbps", kbps(out)),
		kv("instantaneous_input_repl_kbps", kbps(0)),
		kv("instantaneous_output_repl_kbps", kbps(0)),
		kv("rejected_connections", st.rejected.Load()),
		kv("sync_full", 0),
		kv("sync_partial_ok", 0),
		kv("sync_partial_err", 0),
		kv("expired_keys", 0),
		kv("expired_stale_perc", "0.00"),
		kv("expired_time_cap_reached_count", 0),
		kv("expire_cycle_cpu_milliseconds", 0),
		kv("evicted_keys", 0),
		kv("evicted_clients", 0),
		kv("total_eviction_exceeded_time", 0),
		kv("current_eviction_exceeded_time", 0),
		kv("keyspace_hits", 0),
		kv("keyspace_misses", 0),
		kv("pubsub_channels", channels),
		kv("pubsub_patterns", patterns),
		kv("pubsubshard_channels", 0),
		kv("latest_fork_usec", 0),
		kv("total_forks", 0),
		kv("migrate_cached_sockets", 0),
		kv("slave_expires_tracked_keys", 0),
		kv("active_defrag_hits", 0),
		kv("active_defrag_misses", 0),
		kv("active_defrag_key_hits", 0),
		kv("active_defrag_key_misses", 0),
		kv("total_active_defrag_time", 0),
		kv("current_active_defrag_time", 0),
		kv("tracking_total_keys", 0),
		kv("tracking_total_items", 0),
		kv("tracking_total_prefixes", 0),
		kv("unexpected_error_replies", 0),
		kv("total_error_replies", st.errors.Load()),
		kv("dump_payload_sanitizations", 0),
		kv("total_reads_processed", st.reads.Load()),
		kv("total_writes_processed", st.writes.Load()),
		kv("io_threaded_reads_processed", 0),
		kv("io_threaded_writes_processed", 0),
		kv("reply_buffer_shrinks", 0),
		kv("reply_buffer_expands", 0),
	}
}

// kbps formats a byte rate in KiB/s with two decimals, as Redis does.
func kbps(bytesPerSec float64) string { return fmt.Sprintf("%.2f", bytesPerSec/1024) }
