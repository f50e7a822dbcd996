package runtime

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/api"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// backend implements api.Backend: every method runs its core access as a
// closure on the loop goroutine (Runtime.do), which also persists any state
// change before the method returns and the API writes the reply.
type backend struct{ r *Runtime }

var _ api.Backend = backend{}

// doErr is Runtime.do for a core access that can fail: fn's error joined
// to do's.
func (b backend) doErr(ctx context.Context, fn func(now sentinel.Time) error) error {
	var inner error
	err := b.r.do(ctx, func(now sentinel.Time) { inner = fn(now) })
	return errors.Join(err, inner)
}

func (b backend) Masters(ctx context.Context) (out [][]api.KV, err error) {
	err = b.r.do(ctx, func(now sentinel.Time) { out = b.r.node.Masters(now) })
	return out, err
}

func (b backend) Master(ctx context.Context, name string) (out []api.KV, err error) {
	err = b.doErr(ctx, func(now sentinel.Time) (e error) { out, e = b.r.node.Master(now, name); return e })
	return out, err
}

func (b backend) Replicas(ctx context.Context, name string) (out [][]api.KV, err error) {
	err = b.doErr(ctx, func(now sentinel.Time) (e error) { out, e = b.r.node.Replicas(now, name); return e })
	return out, err
}

func (b backend) Sentinels(ctx context.Context, name string) (out [][]api.KV, err error) {
	err = b.doErr(ctx, func(now sentinel.Time) (e error) { out, e = b.r.node.Sentinels(now, name); return e })
	return out, err
}

// MasterAddr answers from the snapshot the loop publishes after every
// change (see Runtime.addrs): clients poll this, and a round trip through
// the loop per query would halve the rate the API can serve.
func (b backend) MasterAddr(ctx context.Context, name string) (addr sentinel.Addr, ok bool, err error) {
	if m := b.r.addrs.Load(); m != nil {
		addr, ok = (*m)[name]
		return addr, ok, nil
	}
	err = b.r.do(ctx, func(now sentinel.Time) { addr, ok = b.r.node.MasterAddr(name) })
	return addr, ok, err
}

func (b backend) IsMasterDownByAddr(ctx context.Context, addr sentinel.Addr, epoch uint64, runID string) (res api.IsDown, err error) {
	err = b.r.do(ctx, func(now sentinel.Time) {
		// A peer with announce-hostnames names the master by hostname.
		if b.r.node.ResolvesHostnames() && net.ParseIP(addr.Host) == nil {
			b.r.feedNew(now, []string{addr.Host}, true)
		}
		res.Down, res.Leader, res.LeaderEpoch = b.r.node.IsMasterDownByAddr(now, addr.Host, addr.Port, epoch, runID)
	})
	return res, err
}

func (b backend) Reset(ctx context.Context, pattern string) (n int, err error) {
	err = b.r.do(ctx, func(now sentinel.Time) { n = b.r.node.Reset(now, pattern) })
	return n, err
}

func (b backend) Failover(ctx context.Context, name string) error {
	return b.doErr(ctx, func(now sentinel.Time) error { return b.r.node.Failover(now, name) })
}

// Pause and Resume read the wall clock here, on the loop goroutine, so
// the core's maintenance end is wall time that survives a restart
// (sentinel.Maintenance).
func (b backend) Pause(ctx context.Context, name string, d time.Duration) error {
	return b.doErr(ctx, func(now sentinel.Time) error {
		wall := b.r.clock.Now().UnixMilli()
		var until int64
		if d > 0 {
			until = wall + d.Milliseconds()
		}
		return b.r.node.Pause(now, name, until, wall)
	})
}

func (b backend) Resume(ctx context.Context, name string) error {
	return b.doErr(ctx, func(now sentinel.Time) error { return b.r.node.Resume(now, name) })
}

func (b backend) FailoverTo(ctx context.Context, name string, to sentinel.Addr) error {
	return b.doErr(ctx, func(now sentinel.Time) error { return b.r.node.FailoverTo(now, name, to) })
}

func (b backend) CKQuorum(ctx context.Context, name string) (msg string, err error) {
	err = b.doErr(ctx, func(now sentinel.Time) (e error) { msg, e = b.r.node.CKQuorum(name); return e })
	return msg, err
}

func (b backend) FlushConfig(ctx context.Context) error {
	return b.r.do(ctx, func(now sentinel.Time) { b.r.node.FlushConfig() })
}

func (b backend) Monitor(ctx context.Context, name, host, port, quorum string) error {
	return b.doErr(ctx, func(now sentinel.Time) error { return b.r.node.Monitor(now, name, host, port, quorum) })
}

func (b backend) Remove(ctx context.Context, name string) error {
	return b.doErr(ctx, func(now sentinel.Time) error { return b.r.node.Remove(now, name) })
}

func (b backend) Set(ctx context.Context, name string, args []string) error {
	return b.doErr(ctx, func(now sentinel.Time) error { return b.r.node.Set(now, name, args) })
}

func (b backend) ConfigSet(ctx context.Context, args []string) error {
	return b.doErr(ctx, func(now sentinel.Time) error { return b.r.node.ConfigSet(now, args) })
}

func (b backend) ConfigGet(ctx context.Context, patterns []string) (out []api.KV, err error) {
	err = b.r.do(ctx, func(now sentinel.Time) { out = b.r.node.ConfigGet(patterns) })
	return out, err
}

func (b backend) MyID(ctx context.Context) (id string, err error) {
	err = b.r.do(ctx, func(now sentinel.Time) { id = b.r.node.MyID() })
	return id, err
}

func (b backend) InfoCache(ctx context.Context, names []string) (out []api.InfoCacheEntry, err error) {
	err = b.r.do(ctx, func(now sentinel.Time) {
		for _, e := range b.r.node.InfoCache(now, names) {
			ae := api.InfoCacheEntry{Master: e.Master}
			for _, it := range e.Items {
				ae.Instances = append(ae.Instances, api.CachedInfo{AgeMillis: it.Age.Milliseconds(), Info: it.Info, Valid: it.Has})
			}
			out = append(out, ae)
		}
	})
	return out, err
}

func (b backend) PendingScripts(ctx context.Context) ([]api.Script, error) {
	return b.r.script.pending(), nil
}

func (b backend) SimulateFailure(ctx context.Context, flags []string) error {
	f, perr := sentinel.ParseSimFailure(flags)
	if perr != nil {
		return perr
	}
	return b.r.do(ctx, func(now sentinel.Time) { b.r.node.SimulateFailure(f) })
}

func (b backend) Debug(ctx context.Context, args []string) (out []api.KV, err error) {
	err = b.doErr(ctx, func(now sentinel.Time) error {
		if len(args) == 0 {
			out = b.r.node.Debug()
			return nil
		}
		return b.r.node.DebugSet(args)
	})
	return out, err
}

func (b backend) Hello(ctx context.Context, from sentinel.Addr, authenticated bool, payload string) error {
	// Peers publish a hello per master every 2 s, on the command link that
	// also carries their PINGs to us, one command at a time: with many
	// masters, a loop round trip per hello queued those PINGs long enough
	// to make us look down. A hello reveals nothing to its sender (the
	// reply is a count), so it is queued for the loop and answered at once;
	// the loop applies queued hellos before any later request (takeHellos).
	// Receive leaves the timer pass to the next tick unless the hello
	// changed something.
	h := sentinel.Hello{Via: sentinel.Ref{Kind: sentinel.KindSentinel, Addr: from}, Payload: payload, Authenticated: authenticated}
	select {
	case b.r.hellos <- h:
		return nil
	default:
	}
	return b.r.do(ctx, func(now sentinel.Time) {
		urgent := b.r.takeHellos(now)
		if b.r.receive(now, h) || urgent {
			b.r.drv.Pass(now)
		}
	})
}

func (b backend) InfoSentinel(ctx context.Context) (out []api.KV, err error) {
	err = b.r.do(ctx, func(now sentinel.Time) { out = b.r.node.InfoSection(now) })
	return out, err
}

func (b backend) InfoVIPSentinel(ctx context.Context) (out []api.KV, err error) {
	err = b.r.do(ctx, func(now sentinel.Time) {
		out = append(out,
			api.KV{Key: "vipsentinel_myid", Value: b.r.node.MyID()},
			api.KV{Key: "vipsentinel_current_epoch", Value: strconv.FormatUint(b.r.node.CurrentEpoch(), 10)},
			api.KV{Key: "vipsentinel_state_saved", Value: boolStr(!b.r.saveFailing)},
		)
		for i, m := range b.r.node.Status(now) {
			fields := []string{
				"name=" + m.Name,
				"address=" + m.Addr.String(),
				"config_epoch=" + strconv.FormatUint(m.ConfigEpoch, 10),
				"failover_state=" + m.FailoverState,
				"local=" + boolStr(m.Local),
				"vip=" + boolStr(m.HasVIP),
				"vip_held=" + boolStr(m.HasVIP && m.VIPWanted),
				"fence=" + boolStr(m.Fence),
				"fenced=" + boolStr(m.Fenced),
				"agents_reachable=" + strconv.Itoa(m.AgentsReachable),
				"agents_known=" + strconv.Itoa(m.AgentsKnown),
				"paused=" + boolStr(m.Maintenance.On),
			}
			out = append(out, api.KV{Key: "vmaster" + strconv.Itoa(i), Value: strings.Join(fields, ",")})
		}
	})
	return out, err
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Status is the JSON document VIPSENTINEL STATUS returns; `vipsentinel
// status --json` prints it and docs/status-json.md documents it. Fields are
// only ever added.
type Status struct {
	MyID         string         `json:"myid"`
	Version      string         `json:"version"`
	CurrentEpoch uint64         `json:"current_epoch"`
	Tilt         bool           `json:"tilt"`
	StateSaved   bool           `json:"state_saved"`
	Masters      []MasterStatus `json:"masters"`
	HostStatus
}

// MasterStatus is one master in Status.
type MasterStatus struct {
	Name            string `json:"name"`
	Address         string `json:"address"`
	ConfigEpoch     uint64 `json:"config_epoch"`
	FailoverState   string `json:"failover_state"`
	SDown           bool   `json:"sdown"`
	ODown           bool   `json:"odown"`
	Local           bool   `json:"local"`
	LocalRole       string `json:"local_role,omitempty"`
	HasVIP          bool   `json:"has_vip"`
	VIPHeld         bool   `json:"vip_held"`
	VIPReason       string `json:"vip_reason,omitempty"`
	Fence           bool   `json:"fence"`
	Fenced          bool   `json:"fenced"`
	AgentsReachable int    `json:"agents_reachable"`
	AgentsKnown     int    `json:"agents_known"`
	// Paused is the maintenance mode (vipsentinel pause); PausedUntil its
	// end (RFC 3339), empty when it lasts until resumed.
	Paused      bool   `json:"paused"`
	PausedUntil string `json:"paused_until,omitempty"`

	// Replicas says how each replica would fare in a promotion now:
	// eligible ones first, in promotion order.
	Replicas []ReplicaStatus `json:"replicas"`
}

// ReplicaStatus is one replica in MasterStatus: whether a failover now
// could promote it and, if not, why (sentinel.Candidate).
type ReplicaStatus struct {
	Address  string `json:"address"`
	Priority int    `json:"priority"`
	Offset   int64  `json:"offset"`
	// LagBytes is how far the replica's offset is behind the master's
	// master_repl_offset, both from their latest INFO (0 when unknown).
	LagBytes int64  `json:"lag_bytes"`
	Eligible bool   `json:"eligible"`
	Rejected string `json:"rejected,omitempty"`
	// Unsynced: rejected only for not having finished its sync with the
	// master (promoted as a last resort with allow-unsynced-promotion yes).
	Unsynced bool `json:"unsynced,omitempty"`
}

func replicaStatus(cs []sentinel.Candidate, masterOffset int64) []ReplicaStatus {
	out := []ReplicaStatus{}
	for _, c := range cs {
		var lag int64
		if masterOffset > 0 && c.Offset > 0 && masterOffset > c.Offset {
			lag = masterOffset - c.Offset
		}
		out = append(out, ReplicaStatus{Address: c.Addr.String(), Priority: c.Priority, Offset: c.Offset, LagBytes: lag,
			Eligible: c.Rejected == "", Rejected: c.Rejected, Unsynced: c.Unsynced})
	}
	return out
}

func untilRFC3339(mt sentinel.Maintenance) string {
	if !mt.On || mt.Until == 0 {
		return ""
	}
	return time.UnixMilli(mt.Until).UTC().Format(time.RFC3339)
}

func (b backend) Status(ctx context.Context) (any, error) {
	var st Status
	err := b.r.do(ctx, func(now sentinel.Time) {
		st = Status{
			MyID: b.r.node.MyID(), Version: b.r.opts.Version, CurrentEpoch: b.r.node.CurrentEpoch(),
			Tilt: b.r.node.Tilt(), StateSaved: !b.r.saveFailing, Masters: []MasterStatus{},
		}
		for _, m := range b.r.node.Status(now) {
			cs, _ := b.r.node.ReplicaCandidates(now, m.Name)
			st.Masters = append(st.Masters, MasterStatus{
				Replicas: replicaStatus(cs, m.MasterOffset),
				Paused:   m.Maintenance.On, PausedUntil: untilRFC3339(m.Maintenance),
				Name: m.Name, Address: m.Addr.String(), ConfigEpoch: m.ConfigEpoch, FailoverState: m.FailoverState,
				SDown: m.SDown, ODown: m.ODown, Local: m.Local, LocalRole: m.LocalRole,
				HasVIP: m.HasVIP, VIPHeld: m.HasVIP && m.VIPWanted, VIPReason: m.VIPReason,
				Fence: m.Fence, Fenced: m.Fenced, AgentsReachable: m.AgentsReachable, AgentsKnown: m.AgentsKnown,
			})
		}
	})
	if err == nil && b.r.opts.HostStatus != nil {
		st.HostStatus = b.r.opts.HostStatus()
	}
	if st.VIPs == nil {
		st.VIPs = []VIPStatus{}
	}
	return st, err
}

func (b backend) Shutdown(ctx context.Context) error {
	if b.r.opts.Shutdown == nil {
		return errors.New("ERR SHUTDOWN is disabled: stop the agent with systemctl")
	}
	b.r.opts.Shutdown()
	return nil
}
