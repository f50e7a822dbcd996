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

// infoSections are the sections INFO knows, in output order. "default",
// "all" and "everything" select all of them, as in Sentinel.
var infoSections = []string{"server", "clients", "cpu", "stats", "sentinel", "vipsentinel"}

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
		kv("executable", exe),
		kv("config_file", cfgFile),
	}
}

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
	return []KV{
		kv("used_cpu_sys", sec(self.Stime)),
		kv("used_cpu_user", sec(self.Utime)),
		kv("used_cpu_sys_children", sec(children.Stime)),
		kv("used_cpu_user_children", sec(children.Utime)),
	}
}

func (s *Server) infoStats() []KV {
	s.mu.Lock()
	channels, patterns := len(s.ps.channels), len(s.ps.patterns)
	s.mu.Unlock()
	st := &s.stats
	return []KV{
		kv("total_connections_received", st.connections.Load()),
		kv("total_commands_processed", st.commands.Load()),
		kv("instantaneous_ops_per_sec", 0),
		kv("total_net_input_bytes", st.netIn.Load()),
		kv("total_net_output_bytes", st.netOut.Load()),
		kv("rejected_connections", st.rejected.Load()),
		kv("client_output_buffer_limit_disconnections", st.pubsubKills.Load()),
		kv("pubsub_channels", channels),
		kv("pubsub_patterns", patterns),
		kv("total_error_replies", st.errors.Load()),
		kv("acl_access_denied_auth", st.authFail.Load()),
	}
}
