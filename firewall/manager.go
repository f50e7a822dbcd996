package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"

	"github.com/vipsentinel/vipsentinel/internal/defaults"
)

// ConflictMessageID is the journald MESSAGE_ID attached (as attribute
// "message_id") to conflict warnings, so operators can find them with
// `journalctl MESSAGE_ID=...`.
const ConflictMessageID = "7ab5b9ffbab54abeba7a04564e334b02"

// ErrFenceDisabled is returned by SetFenced when firewall-fence is off.
var ErrFenceDisabled = errors.New("firewall: fencing is not enabled (firewall-fence no)")

// Manager keeps the ports of one agent open in nftables. All methods are safe
// for concurrent use. See the package documentation for the ordering
// contract with the VIP.
type Manager struct {
	cfg  Config
	opts Options
	log  *slog.Logger

	kick chan struct{} // a change was seen: reconcile now

	mu         sync.Mutex // serialises all kernel writes and guards the fields below
	open       bool
	fenced     bool
	fenceAllow []netip.Addr
	conflicts  []Conflict
	reported   string // conflicts last logged, to log changes only
	restores   int
	lastApply  time.Time
	lastErr    error
}

// New validates cfg and returns a Manager. It does not touch the ruleset.
func New(cfg Config, opts Options) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Allow = slices.Clone(cfg.Allow)
	opts = opts.withDefaults()
	log := defaults.Logger(opts.Logger)
	return &Manager{
		cfg:  cfg,
		opts: opts,
		log:  log.With("component", "firewall"),
		kick: make(chan struct{}, 1),
	}, nil
}

// conn returns a fresh nftables connection: every batch starts from an empty
// buffer, and each netlink socket carries a deadline so a lost reply cannot
// hang the agent.
func (m *Manager) conn() (*nftables.Conn, error) {
	timeout := m.opts.Timeout
	c, err := nftables.New(nftables.WithNetNSFd(m.opts.NetNS),
		nftables.WithSockOptions(func(nc *netlink.Conn) error {
			return nc.SetDeadline(time.Now().Add(timeout))
		}))
	if err != nil {
		return nil, fmt.Errorf("open nftables connection: %w", err)
	}
	return c, nil
}

// Open makes the ports reachable: it atomically replaces table inet
// vipsentinel, detects conflicting foreign chains and, in ModeInject, inserts
// accept rules into them. When Open returns nil the kernel has committed the
// rules, so the caller may acquire the VIP. On error the Manager still
// intends the ports to be open: Run keeps retrying and Open may be called
// again. Open is idempotent.
func (m *Manager) Open(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("open firewall: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open = true
	return m.record("open firewall", m.sync(true))
}

// Close undoes Open: it deletes table inet vipsentinel and every rule
// vipsentinel injected (recognised by its comment), in one batch, and nothing
// else. With KeepOnStop it leaves both in place but lifts the fence, which a
// stopped agent could never lift again. Call it after the VIP is released.
// Close is idempotent and also cleans up after a previous process.
func (m *Manager) Close(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("close firewall: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open = false
	wasFenced := m.fenced
	m.fenced, m.fenceAllow = false, nil
	if m.cfg.KeepOnStop {
		m.log.Info("firewall left in place (firewall-keep-on-stop)", "table", "inet "+TableName)
		if !wasFenced {
			return nil
		}
		return m.record("close firewall: lift fence", m.applyOwn(m.desired()))
	}
	// A rule can vanish between reading and deleting (a foreign reload);
	// the batch then fails as a whole and is retried on a fresh reading.
	var err error
	for range 3 {
		if err = m.remove(); err == nil {
			break
		}
	}
	m.conflicts, m.reported = nil, ""
	if err := m.record("close firewall", err); err != nil {
		return err
	}
	m.log.Info("firewall closed", "table", "inet "+TableName)
	return nil
}

// remove deletes the table and all injected rules in one batch.
func (m *Manager) remove() error {
	c, err := m.conn()
	if err != nil {
		return err
	}
	snap, err := readSnapshot(c)
	if err != nil {
		return err
	}
	inj, err := snap.injected()
	if err != nil {
		return err
	}
	t := ownTable()
	// Adding first makes the delete succeed whether or not the table exists.
	c.AddTable(t)
	c.DelTable(t)
	for _, rules := range inj {
		for _, r := range rules {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("delete injected rule: %w", err)
			}
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("delete table inet %s and injected rules: %w", TableName, err)
	}
	return nil
}

// SetFenced turns the fence on or off. While fenced, new TCP connections to
// the Redis port are rejected (TCP reset) unless they come from loopback or
// from one of allowed (the other agents and the replicas); established
// connections are left alone. The change is applied at once and atomically;
// the latest call wins. It returns ErrFenceDisabled unless Config.Fence is
// set. Before Open (or after Close) the state is only recorded.
func (m *Manager) SetFenced(fenced bool, allowed []netip.Addr) error {
	if !m.cfg.Fence {
		return ErrFenceDisabled
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	allowed = sortedAddrs(allowed)
	if !fenced {
		allowed = nil
	}
	if m.fenced == fenced && slices.Equal(m.fenceAllow, allowed) {
		return nil
	}
	m.fenced, m.fenceAllow = fenced, allowed
	if !m.open {
		return nil
	}
	if err := m.record(fmt.Sprintf("set fence %v", fenced), m.applyOwn(m.desired())); err != nil {
		return err
	}
	m.log.Info("firewall fence changed", "fenced", fenced, "allowed", len(allowed))
	return nil
}

// Run watches the ruleset and restores vipsentinel's table and injected
// rules when something else changes them (`nft flush ruleset`, a reload of
// nftables.service, firewalld or ufw), normally within milliseconds. It also
// re-checks everything every Options.ReconcileInterval, in case a change
// notification was lost. Run does nothing to the ruleset until Open and
// after Close. It returns nil when ctx is cancelled.
func (m *Manager) Run(ctx context.Context) error {
	tick := time.NewTicker(m.opts.ReconcileInterval)
	defer tick.Stop()
	var (
		mon     *watcher
		backoff time.Duration
		restart = time.After(0) // (re)start the watch when it fires
	)
	defer func() {
		if mon != nil {
			mon.stop()
		}
	}()
	for {
		var died <-chan struct{}
		if mon != nil {
			died = mon.done
		}
		select {
		case <-ctx.Done():
			return nil
		case <-restart:
			restart = nil
			w, err := m.watch()
			if err != nil {
				// Keep trying, slower and slower, relying on the periodic
				// check meanwhile.
				backoff = min(max(2*backoff, time.Second), m.opts.ReconcileInterval)
				m.log.Warn("cannot watch nftables changes; relying on periodic checks", "err", err, "retry", backoff)
				restart = time.After(backoff)
				continue
			}
			mon, backoff = w, 0
			// Changes made while nothing was watching would go unnoticed.
			m.poke()
		case <-died:
			m.log.Warn("nftables watch ended; restarting it", "err", mon.err)
			mon.stop()
			mon = nil
			m.poke()
			// A watch that keeps failing (a notification storm overflowing
			// the socket) is restarted at most once a second.
			restart = time.After(time.Second)
		case <-m.kick:
			m.reconcile()
		case <-tick.C:
			m.reconcile()
		}
	}
}

// watcher is a running nftables monitor.
type watcher struct {
	mon  *nftables.Monitor
	done chan struct{}
	err  error // why it ended, read after done is closed
}

func (w *watcher) stop() {
	_ = w.mon.Close()
	<-w.done
}

// watch subscribes to nftables change notifications (NFNLGRP_NFTABLES). Every
// batch of changes pokes the reconcile loop; reconciling checks everything,
// so it does not matter what changed. Our own changes cause one extra check
// that finds nothing to do.
func (m *Manager) watch() (*watcher, error) {
	c, err := nftables.New(nftables.WithNetNSFd(m.opts.NetNS),
		nftables.WithSockOptions(func(nc *netlink.Conn) error {
			// A flush of a large ruleset produces a burst of notifications.
			return nc.SetReadBuffer(1 << 20)
		}))
	if err != nil {
		return nil, fmt.Errorf("open nftables monitor connection: %w", err)
	}
	mon := nftables.NewMonitor(nftables.WithMonitorEventBuffer(64))
	events, err := c.AddGenerationalMonitor(mon)
	if err != nil {
		return nil, fmt.Errorf("subscribe to nftables changes: %w", err)
	}
	w := &watcher{mon: mon, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ev := range events {
			if ev.GeneratedBy != nil && ev.GeneratedBy.Type == nftables.MonitorEventTypeOOB {
				w.err = ev.GeneratedBy.Error
			}
			m.poke()
		}
		if w.err == nil {
			w.err = errors.New("monitor closed")
		}
	}()
	return w, nil
}

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// reconcile checks the ruleset and repairs it if the Manager is open.
func (m *Manager) reconcile() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.open {
		return
	}
	err := m.sync(false)
	if err != nil && (m.lastErr == nil || m.lastErr.Error() != err.Error()) {
		m.log.Error("firewall reconcile failed", "err", err)
	}
	m.record("reconcile firewall", err)
}

// record notes the outcome of a change to the ruleset for Status, and
// returns err wrapped with what the change was (nil when it succeeded).
// The caller holds m.mu.
func (m *Manager) record(what string, err error) error {
	m.lastErr = err
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	m.lastApply = time.Now()
	return nil
}

// sync brings the kernel to the desired state. With force it rewrites
// everything; otherwise only what differs. The caller holds m.mu.
func (m *Manager) sync(force bool) error {
	c, err := m.conn()
	if err != nil {
		return err
	}
	snap, err := readSnapshot(c)
	if err != nil {
		return err
	}
	spec := m.desired()
	restore := false
	if !force {
		have, err := snap.renderOwn()
		if err != nil {
			return err
		}
		if have != spec.render() {
			restore = true
			m.log.Warn("table was changed by someone else; restoring it", "table", "inet "+TableName,
				"present", have != "")
		}
	}
	if force || restore {
		if err := m.applyOwn(spec); err != nil {
			return err
		}
		if restore {
			m.restores++
		}
	}
	conflicts := findConflicts(snap, snap.tables, snap.chains, m.cfg)
	err = m.syncInjected(snap, conflicts, force)
	m.setConflicts(conflicts)
	return err
}

// desired returns the table for the current configuration and fence state.
// The caller holds m.mu.
func (m *Manager) desired() tableSpec {
	return buildTable(m.cfg, m.fenced, m.fenceAllow)
}

// applyOwn atomically replaces table inet vipsentinel with spec:
// create-if-missing, delete and recreate in a single batch, which the kernel
// commits as one transaction. The caller holds m.mu.
func (m *Manager) applyOwn(spec tableSpec) error {
	c, err := m.conn()
	if err != nil {
		return err
	}
	c.AddTable(spec.table)
	c.DelTable(spec.table)
	c.AddTable(spec.table)
	c.AddChain(spec.chain)
	for _, s := range spec.sets {
		if err := c.AddSet(s.set, s.elems); err != nil {
			return fmt.Errorf("build set %s: %w", s.set.Name, err)
		}
	}
	for _, r := range spec.rules {
		c.AddRule(r)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("replace table inet %s: %w", TableName, err)
	}
	return nil
}

// syncInjected makes the injected rules match the conflicts: in ModeInject
// each injectable conflicting chain starts with our accept rules; every other
// injected rule (stale, or from an earlier run in ModeInject) is deleted. It
// marks the handled conflicts. The caller holds m.mu.
func (m *Manager) syncInjected(snap *snapshot, conflicts []Conflict, force bool) error {
	have, err := snap.injected()
	if err != nil {
		return err
	}
	c, err := m.conn()
	if err != nil {
		return err
	}
	var ids idAlloc
	changed, reinjected := false, false
	planned := map[chainKey]bool{}
	var handled []int
	for i, cf := range conflicts {
		if m.cfg.Mode != ModeInject || !cf.Injectable {
			continue
		}
		ch := cf.chain
		k := keyOf(ch)
		sets, rules := injectSpec(m.cfg, ch, cf.risk, &ids)
		planned[k] = true
		handled = append(handled, i)
		current, err := snap.rules(ch)
		if err != nil {
			return err
		}
		if !force && injectedOnTop(current, rules) {
			continue
		}
		changed, reinjected = true, true
		for _, r := range have[k] {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("delete injected rule: %w", err)
			}
		}
		for _, s := range sets {
			if err := c.AddSet(s.set, s.elems); err != nil {
				return fmt.Errorf("build anonymous set: %w", err)
			}
		}
		// Each insert goes to the head of the chain: insert in reverse.
		for j := len(rules) - 1; j >= 0; j-- {
			c.InsertRule(rules[j])
		}
		m.log.Info("injecting accept rules into foreign chain", "family", cf.Family, "table", cf.Table,
			"chain", cf.Chain, "rules", len(rules))
	}
	for k, rules := range have {
		if planned[k] {
			continue
		}
		changed = true
		for _, r := range rules {
			if err := c.DelRule(r); err != nil {
				return fmt.Errorf("delete injected rule: %w", err)
			}
		}
		m.log.Info("removing injected rules no longer needed", "family", familyName(k.family),
			"table", k.table, "chain", k.chain, "rules", len(rules))
	}
	if changed {
		if err := c.Flush(); err != nil {
			return fmt.Errorf("inject accept rules: %w", err)
		}
		if reinjected && !force {
			m.restores++
		}
	}
	for _, i := range handled {
		conflicts[i].Injected = true
	}
	return nil
}

// injectedOnTop reports whether the chain starts with exactly the wanted
// rules and contains no other injected rule.
func injectedOnTop(current, want []*nftables.Rule) bool {
	n := 0
	for _, r := range current {
		if ruleComment(r.UserData) == injectComment {
			n++
		}
	}
	if n != len(want) || len(current) < len(want) {
		return false
	}
	for i, w := range want {
		if renderRule(current[i]) != renderRule(w) {
			return false
		}
	}
	return true
}

// setConflicts stores the conflicts and logs them when they change.
func (m *Manager) setConflicts(cs []Conflict) {
	m.conflicts = cs
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	if b.String() == m.reported {
		return
	}
	m.reported = b.String()
	if len(cs) == 0 {
		m.log.Info("no conflicting firewall chains")
		return
	}
	for _, c := range cs {
		attrs := []any{"message_id", ConflictMessageID, "family", c.Family, "table", c.Table,
			"chain", c.Chain, "hook", c.Hook, "priority", c.Priority, "tool", string(c.Tool),
			"ports", joinInts(c.Ports, ","), "reason", c.Reason}
		if c.Injected {
			m.log.Info(c.String(), attrs...)
		} else {
			m.log.Warn(c.String(), append(attrs, "fix", c.Fix)...)
		}
	}
}

// Conflicts returns the foreign chains found at the last check (Open, or
// Run's latest reconcile) that would drop the opened traffic.
func (m *Manager) Conflicts() []Conflict {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.conflicts)
}

// Status is a point-in-time summary for logs, sd_notify STATUS= and
// `vipsentinel status`.
type Status struct {
	Open      bool
	Mode      Mode
	Fenced    bool
	Conflicts []Conflict
	// Restores counts the times the table or injected rules were found
	// changed by someone else and re-applied.
	Restores int
	// LastApply is when the ruleset was last confirmed or written.
	LastApply time.Time
	// Err is the last failure of Open, SetFenced, Close or a reconcile; nil
	// once a later attempt succeeded.
	Err error
}

// Unhandled returns the conflicts that still drop the traffic.
func (s Status) Unhandled() []Conflict {
	var out []Conflict
	for _, c := range s.Conflicts {
		if !c.Handled() {
			out = append(out, c)
		}
	}
	return out
}

// String summarises s on one line.
func (s Status) String() string {
	state := "closed"
	if s.Open {
		state = "open"
	}
	out := fmt.Sprintf("firewall %s (mode %s", state, s.Mode)
	if s.Fenced {
		out += ", fenced"
	}
	out += ")"
	if u := s.Unhandled(); len(u) > 0 {
		out += fmt.Sprintf("; %d conflict(s): %s", len(u), u[0])
	}
	if s.Err != nil {
		out += "; error: " + s.Err.Error()
	}
	return out
}

// Status returns the current state.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Status{
		Open:      m.open,
		Mode:      m.cfg.Mode,
		Fenced:    m.fenced,
		Conflicts: slices.Clone(m.conflicts),
		Restores:  m.restores,
		LastApply: m.lastApply,
		Err:       m.lastErr,
	}
}

// Ruleset renders, from the kernel, table inet vipsentinel and the rules
// vipsentinel injected into foreign chains, in the canonical form used to
// detect changes: one line per set, chain and rule, rules at the register
// level. It is empty when nothing of ours is installed.
func (m *Manager) Ruleset() (string, error) {
	c, err := m.conn()
	if err != nil {
		return "", err
	}
	snap, err := readSnapshot(c)
	if err != nil {
		return "", err
	}
	out, err := snap.renderOwn()
	if err != nil {
		return "", err
	}
	inj, err := snap.injected()
	if err != nil {
		return "", err
	}
	keys := make([]chainKey, 0, len(inj))
	for k := range inj {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b chainKey) int {
		return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
	})
	var b strings.Builder
	b.WriteString(out)
	for _, k := range keys {
		fmt.Fprintf(&b, "injected into table %s %s chain %s\n", familyName(k.family), k.table, k.chain)
		for _, r := range inj[k] {
			fmt.Fprintf(&b, "\t\t%s\n", renderRule(r))
		}
	}
	return b.String(), nil
}
