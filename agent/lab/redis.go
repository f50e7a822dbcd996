package lab

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// RedisOptions configures a redis-server started by Host.StartRedis.
type RedisOptions struct {
	Port        int            // default 6379
	ReplicaOf   netip.AddrPort // if valid, start as a replica of this master
	RequirePass string         // requirepass; Client uses it too
	MasterAuth  string         // masterauth
	Persist     bool           // RDB snapshots on the default schedule plus AOF; off by default
	// Bind replaces the default bind list (h.IP4, h.IP6 if set, 127.0.0.1).
	// Tests that connect through a VIP bind "*" or use ip_nonlocal_bind,
	// because Redis binds only at start.
	Bind  []string
	Extra []string // raw config lines appended last, so they override the defaults
	// NoWait makes StartRedis return as soon as the process is started
	// instead of waiting (up to wait.Default) until it answers PING.
	NoWait bool
	// TLS, when set, makes the server TLS-only on Port (see RedisTLS).
	TLS *RedisTLS
}

// Redis is a redis-server running in a lab host.
type Redis struct {
	Host *Host
	Addr string // "ip:port" on Host.IP4
	Port int
	Proc *Proc
	Dir  string // working directory with redis.conf and any data files

	password string
	tls      *RedisTLS
	ctl      *redis.Client // for WaitReady, Info and WaitLinkUp
}

// StartRedis starts a real redis-server in h's namespace with its own
// directory under the lab directory and its log in Proc.Log. Replication is
// tuned for tests: diskless sync starts at once instead of after 5 s. Unless
// o.NoWait is set it returns once the server answers PING, and if it does
// not, the error carries the end of the server's log.
func (h *Host) StartRedis(o RedisOptions) (*Redis, error) {
	if o.Port == 0 {
		o.Port = 6379
	}
	if !h.IP4.IsValid() {
		return nil, fmt.Errorf("%s: start redis: host has no address", h.Name)
	}
	dir := filepath.Join(h.lab.dir, fmt.Sprintf("redis-%s-%d", h.Name, o.Port))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: start redis: %w", h.Name, err)
	}
	bind := o.Bind
	if len(bind) == 0 {
		bind = []string{h.IP4.String()}
		if h.IP6.IsValid() {
			bind = append(bind, h.IP6.String())
		}
		bind = append(bind, "127.0.0.1")
	}
	conf := []string{
		"bind " + strings.Join(bind, " "),
		"port " + strconv.Itoa(o.Port),
		"dir " + dir,
		"daemonize no",
		"protected-mode no",
		`logfile ""`,
		"repl-diskless-sync yes",
		"repl-diskless-sync-delay 0",
	}
	if o.Persist {
		conf = append(conf, "save 3600 1 300 100 60 10000", "appendonly yes")
	} else {
		conf = append(conf, `save ""`, "appendonly no")
	}
	if o.ReplicaOf.IsValid() {
		conf = append(conf, fmt.Sprintf("replicaof %s %d", o.ReplicaOf.Addr(), o.ReplicaOf.Port()))
	}
	if o.RequirePass != "" {
		conf = append(conf, "requirepass "+quote(o.RequirePass))
	}
	if o.MasterAuth != "" {
		conf = append(conf, "masterauth "+quote(o.MasterAuth))
	}
	conf = append(conf, o.TLS.lines(o.Port)...)
	conf = append(conf, o.Extra...)
	path := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("%s: start redis: %w", h.Name, err)
	}
	p, err := h.Start("redis-server", path)
	if err != nil {
		return nil, err
	}
	r := &Redis{
		Host:     h,
		Addr:     netip.AddrPortFrom(h.IP4, uint16(o.Port)).String(),
		Port:     o.Port,
		Proc:     p,
		Dir:      dir,
		password: o.RequirePass,
		tls:      o.TLS,
	}
	// The control client must not retry on its own: WaitReady and WaitLinkUp
	// poll, and their callers want each poll to be one attempt.
	r.ctl = h.RedisClient(&redis.Options{Addr: r.Addr, Password: r.password, MaxRetries: -1, DialerRetries: 1, TLSConfig: o.TLS.client()})
	if o.NoWait {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Default)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		return r, fmt.Errorf("%w; log:\n%s", err, tailString(p.Log(), 2000))
	}
	return r, nil
}

// quote makes a config value safe for redis.conf's tokenizer.
func quote(s string) string { return strconv.Quote(s) }

// AddrPort is the server's address on Host.IP4, handy for ReplicaOf.
func (r *Redis) AddrPort() netip.AddrPort { return netip.MustParseAddrPort(r.Addr) }

// Client returns a go-redis client for this server whose sockets are opened
// inside the server's namespace, so partitions never affect it. Timeouts are
// 2 s. The lab closes it on Close. To connect across the lab's network (from
// a client namespace, to a VIP) use Host.RedisClient.
func (r *Redis) Client() *redis.Client {
	return r.Host.RedisClient(&redis.Options{Addr: r.Addr, Password: r.password, TLSConfig: r.tls.client()})
}

// RedisClient returns a go-redis client whose sockets are opened inside h's
// namespace; o.Addr must be an IP literal and port. o is copied; Dialer is
// always replaced, zero timeouts become 2 s, and CLIENT SETINFO is off
// because Redis 7.0 does not know it. The lab closes the client on Close.
func (h *Host) RedisClient(o *redis.Options) *redis.Client {
	opt := *o
	opt.Dialer = h.DialContext
	if opt.TLSConfig != nil {
		// go-redis applies TLSConfig only with its own dialer.
		opt.Dialer = h.TLSDialer(opt.TLSConfig)
	}
	opt.DisableIdentity = true
	for _, d := range []*time.Duration{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout} {
		if *d == 0 {
			*d = 2 * time.Second
		}
	}
	c := redis.NewClient(&opt)
	if err := h.lab.track(c); err != nil {
		c.Close()
	}
	return c
}

// WaitReady waits until the server answers PING (so it is listening and
// done loading), or ctx ends.
func (r *Redis) WaitReady(ctx context.Context) error {
	err := wait.For(ctx, 20*time.Millisecond, func() error {
		if !r.Proc.Running() {
			return wait.Permanent(fmt.Errorf("exited: %w", r.Proc.Wait(ctx)))
		}
		// Probe with a plain connect first: go-redis stops dialling for a
		// second once PoolSize dials in a row have failed, and logs each one.
		conn, err := r.Host.DialContext(ctx, "tcp", r.Addr)
		if err != nil {
			return err
		}
		conn.Close()
		return r.ctl.Ping(ctx).Err()
	})
	if err != nil {
		return fmt.Errorf("%s: redis %s not ready: %w", r.Host.Name, r.Addr, err)
	}
	return nil
}

// Info returns the fields of INFO section (all sections if empty) as a map.
func (r *Redis) Info(ctx context.Context, section string) (map[string]string, error) {
	c := r.ctl
	var s string
	var err error
	if section == "" {
		s, err = c.Info(ctx).Result()
	} else {
		s, err = c.Info(ctx, section).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: redis %s: info %s: %w", r.Host.Name, r.Addr, section, err)
	}
	return ParseInfo(s), nil
}

// ParseInfo parses INFO output ("key:value" lines, "#" comments).
func ParseInfo(s string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// WaitLinkUp waits until this replica reports master_link_status:up, that is
// the initial sync with its master is done.
func (r *Redis) WaitLinkUp(ctx context.Context) error {
	err := wait.For(ctx, 20*time.Millisecond, func() error {
		info, err := r.Info(ctx, "replication")
		if err != nil {
			return err
		}
		if st := info["master_link_status"]; st != "up" {
			return fmt.Errorf("role=%s master_link_status=%q", info["role"], st)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: redis %s: replication link: %w", r.Host.Name, r.Addr, err)
	}
	return nil
}

// Restart starts the server again, after it exited or was killed, from the
// same directory and configuration file, as a reboot would: whatever Redis
// rewrote into the file (CONFIG REWRITE after REPLICAOF) and its data files
// (with Persist) are kept. It returns the new server once it answers PING.
// The old process must be exiting: Restart waits for it to be reaped.
func (r *Redis) Restart() (*Redis, error) {
	if err := r.Proc.waitExit(killWait); err != nil {
		return nil, fmt.Errorf("%s: restart redis %s: %w", r.Host.Name, r.Addr, err)
	}
	p, err := r.Host.Start("redis-server", filepath.Join(r.Dir, "redis.conf"))
	if err != nil {
		return nil, err
	}
	n := &Redis{Host: r.Host, Addr: r.Addr, Port: r.Port, Proc: p, Dir: r.Dir, password: r.password, tls: r.tls, ctl: r.ctl}
	ctx, cancel := context.WithTimeout(context.Background(), wait.Default)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		return n, fmt.Errorf("%w; log:\n%s", err, tailString(p.Log(), 2000))
	}
	return n, nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
