package scenario

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/internal/wait"
)

// Writer is a client that writes through the floating IP, one write at a
// time, and remembers which writes were acknowledged and when.
type Writer struct {
	c      *Cluster
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	acked   []Ack
	refused []Refusal
}

// Refusal is a write the server answered with an error instead of +OK: it
// was not acknowledged, so it is not lost. Code is the error's first word
// (NOREPLICAS from a master short of min-replicas-to-write good replicas,
// READONLY from a replica, LOADING, ...).
type Refusal struct {
	Code string
	At   time.Duration // since the writer started
}

// Ack is one acknowledged write: Key ("<prefix><Seq>") was set to Seq at At
// (since the writer started).
type Ack struct {
	Seq int
	Key string
	At  time.Duration
}

// WriteInterval paces the writer: one write in flight, and at least this
// long between the starts of two writes, so the client measures outages to
// within a few milliseconds without loading the two-core machine.
const WriteInterval = 2 * time.Millisecond

// WriteTimeout is how long the writer waits for a dial, a write's reply or
// AUTH before it drops the connection and dials again: short, so that a
// connection to the floating IP's old holder is abandoned quickly, and
// long enough that a loaded two-core machine does not time out healthy
// writes. It is also the floor of any pause the writer can measure when a
// write is held (a paused master): StartWriterTimeout sets another.
const WriteTimeout = 100 * time.Millisecond

// StartWriter starts writing through the floating IP from the client
// namespace.
//
// It speaks RESP on a plain socket rather than through a client library's
// pool: pools back off after failed dials (go-redis stops dialling for up to
// a second), and the measurement would then show the client library's
// back-off instead of the failover. Timeouts are short (WriteTimeout) so
// that a connection to the floating IP's old holder is abandoned quickly.
func (c *Cluster) StartWriter() *Writer { return c.StartWriterTimeout(WriteTimeout) }

// StartWriterTimeout is StartWriter with a per-write timeout other than
// WriteTimeout.
func (c *Cluster) StartWriterTimeout(timeout time.Duration) *Writer {
	addr := net.JoinHostPort(c.VIP.String(), "6379")
	return c.startWriter("w:", func(context.Context) (string, error) { return addr, nil }, false, timeout)
}

// StartFollower starts a client that writes keys "<prefix><seq>" where
// resolve says the master is, asking again after every error or refused
// write, as a client that follows Sentinel does (resolve typically asks
// the agents with SENTINEL GET-MASTER-ADDR-BY-NAME).
func (c *Cluster) StartFollower(prefix string, resolve func(context.Context) (string, error)) *Writer {
	return c.startWriter(prefix, resolve, true, WriteTimeout)
}

func (c *Cluster) startWriter(prefix string, resolve func(context.Context) (string, error), redialOnRefusal bool, timeout time.Duration) *Writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{c: c, start: time.Now(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var conn net.Conn
		var rd *bufio.Reader
		defer func() {
			if conn != nil {
				conn.Close()
			}
		}()
		for seq := 1; ; seq++ {
			t0 := time.Now()
			if ctx.Err() != nil {
				return
			}
			err := func() error {
				if conn == nil {
					addr, err := resolve(ctx)
					if err != nil {
						return err
					}
					dctx, dcancel := context.WithTimeout(ctx, min(50*time.Millisecond, timeout))
					defer dcancel()
					nc, err := c.dial(dctx, addr)
					if err != nil {
						return err
					}
					conn, rd = nc, bufio.NewReader(nc)
					if err := auth(conn, rd, c.Opts.Password, timeout); err != nil {
						return err
					}
				}
				key, val := prefix+strconv.Itoa(seq), strconv.Itoa(seq)
				req := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(key), key, len(val), val)
				_ = conn.SetDeadline(time.Now().Add(timeout))
				if _, err := io.WriteString(conn, req); err != nil {
					return err
				}
				line, err := rd.ReadString('\n')
				if err != nil {
					return err
				}
				if line != "+OK\r\n" {
					// -READONLY from a demoted master, -LOADING, ...: the
					// write was not acknowledged; keep the connection.
					return refusal(line)
				}
				return nil
			}()
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, Ack{Seq: seq, Key: prefix + strconv.Itoa(seq), At: time.Since(w.start)})
			}
			var ref *refusedError
			if errors.As(err, &ref) {
				w.refused = append(w.refused, Refusal{Code: ref.code, At: time.Since(w.start)})
			}
			w.mu.Unlock()
			if err != nil && (redialOnRefusal || !errors.Is(err, errNotAcked)) && conn != nil {
				conn.Close()
				conn = nil
			}
			if d := WriteInterval - time.Since(t0); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		}
	}()
	return w
}

var errNotAcked = errors.New("write refused")

// refusedError is a write answered with an error reply; it wraps
// errNotAcked.
type refusedError struct{ code string }

func (e *refusedError) Error() string { return "write refused: " + e.code }
func (e *refusedError) Unwrap() error { return errNotAcked }

// refusal classifies a reply line other than +OK.
func refusal(line string) error {
	code := "?"
	if strings.HasPrefix(line, "-") {
		if f := strings.Fields(line[1:]); len(f) > 0 {
			code = f[0]
		}
	}
	return &refusedError{code: code}
}

// auth sends AUTH on a fresh writer connection when the deployment has a
// Redis password.
func auth(conn net.Conn, rd *bufio.Reader, password string, timeout time.Duration) error {
	if password == "" {
		return nil
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password); err != nil {
		return err
	}
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+OK\r\n" {
		return fmt.Errorf("AUTH: %q", strings.TrimSpace(line))
	}
	return nil
}

// Since returns the writer's clock reading for t.
func (w *Writer) Since(t time.Time) time.Duration { return t.Sub(w.start) }

// Stop ends the writer and returns what it saw.
func (w *Writer) Stop() []Ack {
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Ack(nil), w.acked...)
}

// Refused returns the writes refused so far, in order.
func (w *Writer) Refused() []Refusal {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.refused)
}

// Acked returns how many writes were acknowledged so far.
func (w *Writer) Acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// LastAck returns the time of the latest acknowledged write (since the writer
// started), or -1.
func (w *Writer) LastAck() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.acked) == 0 {
		return -1
	}
	return w.acked[len(w.acked)-1].At
}

// FirstAfter returns the time of the first acknowledged write at or after d
// (writer clock), or -1.
func (w *Writer) FirstAfter(d time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := sort.Search(len(w.acked), func(i int) bool { return w.acked[i].At >= d })
	if i == len(w.acked) {
		return -1
	}
	return w.acked[i].At
}

// Outage is the longest gap between consecutive acknowledged writes that
// ends after fault (both on the writer's clock), and the time of the write
// that ended it (-1 if no write was acknowledged after fault).
func Outage(acks []Ack, fault time.Duration) (gap, resumed time.Duration) {
	resumed = -1
	for i, a := range acks {
		if a.At < fault {
			continue
		}
		g := a.At - fault
		if i > 0 {
			g = a.At - acks[i-1].At
		}
		if g > gap || resumed < 0 {
			gap, resumed = g, a.At
		}
	}
	return gap, resumed
}

// LostWrites counts the acknowledged writes that the current master no
// longer has. master is "ip:port" as the agents report it.
func (c *Cluster) LostWrites(ctx context.Context, master string, acks []Ack) (int, error) {
	missing, err := c.MissingWrites(ctx, master, acks)
	return len(missing), err
}

// MissingWrites returns the acknowledged writes whose value master ("ip:port")
// does not hold.
func (c *Cluster) MissingWrites(ctx context.Context, master string, acks []Ack) ([]Ack, error) {
	cl := c.Client.RedisClient(&redis.Options{Addr: master, DialTimeout: time.Second, ReadTimeout: 5 * time.Second, Protocol: 2, Password: c.Opts.Password, TLSConfig: c.clientTLS()})
	defer cl.Close()
	var missing []Ack
	for i := 0; i < len(acks); i += 500 {
		end := min(i+500, len(acks))
		keys := make([]string, 0, end-i)
		for _, a := range acks[i:end] {
			keys = append(keys, a.Key)
		}
		vals, err := cl.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, fmt.Errorf("read back writes from %s: %w", master, err)
		}
		for k, v := range vals {
			if v != strconv.Itoa(acks[i+k].Seq) {
				missing = append(missing, acks[i+k])
			}
		}
	}
	return missing, nil
}

// Event is one pub/sub event published by an agent.
type Event struct {
	At      time.Time
	Host    string
	Type    string
	Payload string
}

// Events subscribes to every event of every agent and delivers them on the
// returned channel until ctx ends. Subscriptions are made from the client
// namespace, which partitions leave connected to every host.
func (c *Cluster) Events(ctx context.Context) (<-chan Event, error) {
	out := make(chan Event, 1024)
	var wg sync.WaitGroup
	for i, h := range c.Hosts {
		cl := c.AgentClient(i)
		ps := cl.PSubscribe(ctx, "*")
		if _, err := ps.Receive(ctx); err != nil {
			cl.Close()
			return nil, fmt.Errorf("subscribe to events of %s: %w", h, err)
		}
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			defer cl.Close()
			defer ps.Close()
			ch := ps.Channel(redis.WithChannelSize(1024))
			for {
				select {
				case <-ctx.Done():
					return
				case m, ok := <-ch:
					if !ok {
						return
					}
					select {
					case out <- Event{At: time.Now(), Host: name, Type: m.Channel, Payload: m.Payload}:
					case <-ctx.Done():
						return
					}
				}
			}
		}(h.Name)
	}
	go func() { wg.Wait(); close(out) }()
	return out, nil
}

// VIPSampler samples which hosts hold the floating IP and adds up how long
// two or more held it at once.
type VIPSampler struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	dual    time.Duration
	maxHeld int
	err     error
	history []Holding
}

// Holding records that the set of holders changed at At, or (Neighbor
// set) that the client's neighbour entry for the floating IP changed to
// NeighborHost's MAC address ("" when it points at no lab host).
type Holding struct {
	At           time.Time
	Holders      []int
	Neighbor     bool
	NeighborHost string
	NeighborMAC  string
}

// SampleVIP starts sampling the holders every interval. onChange, if not
// nil, is called (from the sampling goroutine) whenever the set of holders
// changes.
func (c *Cluster) SampleVIP(interval time.Duration, onChange func(Holding)) *VIPSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &VIPSampler{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		last := time.Now()
		var prev []int
		prevMAC := ""
		for {
			if mac, _, err := c.Client.Neighbor(c.VIP); err == nil && mac.String() != prevMAC {
				prevMAC = mac.String()
				h := Holding{At: time.Now(), Neighbor: true, NeighborMAC: prevMAC}
				for _, host := range c.Hosts {
					if host.MAC.String() == prevMAC {
						h.NeighborHost = host.Name
					}
				}
				if onChange != nil {
					onChange(h)
				}
			}
			held, err := c.VIPHolders()
			now := time.Now()
			s.mu.Lock()
			if err != nil && s.err == nil {
				s.err = err
			}
			if len(held) > s.maxHeld {
				s.maxHeld = len(held)
			}
			if len(held) > 1 && len(prev) > 1 {
				s.dual += now.Sub(last)
			}
			changed := !slices.Equal(held, prev)
			if changed {
				s.history = append(s.history, Holding{At: now, Holders: held})
			}
			s.mu.Unlock()
			if changed && onChange != nil && err == nil {
				onChange(Holding{At: now, Holders: held})
			}
			prev, last = held, now
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the time two or more hosts held the
// floating IP together, the largest number of simultaneous holders seen, and
// the first sampling error.
func (s *VIPSampler) Stop() (dual time.Duration, maxHeld int, history []Holding, err error) {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dual, s.maxHeld, s.history, s.err
}

// Fault is what a run does to the master.
type Fault int

const (
	// KillMaster sends SIGKILL to the master's redis-server.
	KillMaster Fault = iota
	// IsolateMaster cuts the master's host off from the other hosts; the
	// client still reaches it.
	IsolateMaster
)

// String names the fault in reports.
func (f Fault) String() string {
	if f == IsolateMaster {
		return "master host cut off"
	}
	return "kill -9 master"
}

// Inject applies f to host i (the current master's host).
func (c *Cluster) Inject(f Fault, i int) error {
	switch f {
	case KillMaster:
		return c.Redis[i].Proc.Kill()
	case IsolateMaster:
		return c.Lab.IsolateFromHosts(c.Hosts[i])
	}
	return fmt.Errorf("unknown fault %d", f)
}

// Repair undoes f on host i: heals the partition, or restarts the killed
// redis-server with its original configuration (still claiming to be a
// master, as a real restarted master would).
func (c *Cluster) Repair(f Fault, i int) error {
	switch f {
	case KillMaster:
		return c.RestartRedis(i)
	case IsolateMaster:
		return c.Lab.HealAll()
	}
	return fmt.Errorf("unknown fault %d", f)
}

// WaitNewMaster waits until every reachable agent reports a master other
// than old ("ip:port") and returns it.
func (c *Cluster) WaitNewMaster(ctx context.Context, old string, agents []int) (string, error) {
	var got string
	err := wait.For(ctx, 5*time.Millisecond, func() error {
		seen := map[string]bool{}
		for _, i := range agents {
			a, err := c.MasterAddr(ctx, i)
			if err != nil {
				return err
			}
			seen[a] = true
		}
		if len(seen) != 1 {
			return fmt.Errorf("agents disagree: %v", slices.Sorted(maps.Keys(seen)))
		}
		for a := range seen {
			if a == old {
				return fmt.Errorf("master still %s", a)
			}
			got = a
		}
		return nil
	})
	return got, err
}

// WaitReplicaOf waits until the redis-server on host i replicates from
// master ("ip:port") with its link up.
func (c *Cluster) WaitReplicaOf(ctx context.Context, i int, master string) error {
	host, port, _ := net.SplitHostPort(master)
	return wait.For(ctx, 20*time.Millisecond, func() error {
		info, err := c.Redis[i].Info(ctx, "replication")
		if err != nil {
			return err
		}
		if info["role"] != "slave" || info["master_host"] != host || info["master_port"] != port {
			return fmt.Errorf("%s: role %s of %s:%s", c.Hosts[i], info["role"], info["master_host"], info["master_port"])
		}
		if info["master_link_status"] != "up" {
			return errors.New("link " + info["master_link_status"])
		}
		return nil
	})
}

// Describe renders an event payload briefly for timelines.
func Describe(e Event) string {
	return strings.TrimSpace(e.Type + " " + e.Payload)
}
