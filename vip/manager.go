package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipsentinel/vipsentinel/internal/defaults"
)

// Intent says whether this host should hold the VIPs of a master, and which
// config epoch justifies it. The caller translates its own decisions (the
// Sentinel core's VIP intents) into Intents: this package knows nothing of
// the core.
type Intent struct {
	Master string
	Own    bool
	Epoch  uint64
	Reason string // why owned or not, for logs and Status
	// Gen identifies the decision: the caller changes it whenever Own
	// changes. Options.OnGone reports it back.
	Gen uint64
}

// Event is something a Manager did or saw, for the caller to log, count and
// publish: Type is one of the Event* constants, Payload the text published
// with it ("<master> <vip> <iface> epoch <n>", conflicts adding
// "from <mac> <kind>"). Warning marks events an operator must look at.
type Event struct {
	Type    string
	Master  string
	Epoch   uint64
	Payload string
	Warning bool
}

// Event types emitted through Options.OnEvent.
const (
	EventAcquired = "+vip-acquired"
	EventReleased = "+vip-released"
	EventConflict = "+vip-conflict"
)

// DefaultReconcileInterval is how often the Manager compares desired and
// actual addresses even without netlink events (which can be lost).
const DefaultReconcileInterval = 3 * time.Second

// conflictEventInterval limits +vip-conflict events per VIP; every claim is
// still counted.
const conflictEventInterval = time.Second

// Options configures a Manager.
type Options struct {
	// Addrs and Announcer are required (production: NewNetlink, NewPacket).
	Addrs     Addrs
	Announcer Announcer
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// OnEvent receives +vip-acquired, +vip-released and +vip-conflict
	// events, from one goroutine at a time, never with a Manager lock held.
	// It must not block for long. Nil drops events.
	OnEvent func(Event)
	// ReconcileInterval defaults to DefaultReconcileInterval.
	ReconcileInterval time.Duration
	// OnGone, if set, is told once per master and Gen when the Manager has
	// applied an intent with that Gen that does not own the master's VIPs
	// and every one of them is confirmed absent from its interface (the
	// kernel acknowledged the delete, or it was not there). It lets the
	// caller act on the removal, which Set only requests: the core
	// releases the VIP's lease to the other agents only then. Called from
	// the Manager's goroutine, never with a lock held; it must not block.
	OnGone func(master string, gen uint64)
}

// Status describes one configured VIP.
type Status struct {
	Master    string
	Prefix    netip.Prefix // as configured
	Interface string
	Held      bool
	// Installed is the prefix actually installed while Held (an IPv4 VIP
	// whose configured prefix would make it a primary is installed as /32).
	Installed netip.Prefix
	Since     time.Time // when Held last changed; zero if never
	Epoch     uint64    // config epoch of the intent last acted on
	Reason    string    // reason given with that intent
	// Announcements counts announcement packets sent, Repairs re-adds after
	// someone else removed the VIP, Conflicts claims of the VIP by another
	// hardware address while held.
	Announcements   uint64
	Repairs         uint64
	Conflicts       uint64
	LastConflict    time.Time
	LastConflictMAC string
	Err             string // last failure, "" after a success
}

// Manager holds the floating addresses this agent should hold, as told by
// Set, and no others. One goroutine (Run) makes all changes; Set and Status
// may be called from anywhere.
type Manager struct {
	addrs    Addrs
	ann      Announcer
	log      *slog.Logger
	onEvent  func(Event)
	onGone   func(master string, gen uint64)
	interval time.Duration

	// goneSent is the Gen last reported to onGone per master (loop only).
	goneSent map[string]uint64

	vips   []*vipState
	byAddr map[ifaceIP]*vipState // immutable after New

	mu          sync.Mutex // guards intents, haveIntents and the vipState fields marked so
	intents     map[string]Intent
	haveIntents bool

	kick      chan struct{}
	conflicts chan Event
	stop      chan struct{}
	stopOnce  sync.Once
	started   atomic.Bool
	done      chan struct{}

	// pending events of the current loop iteration, emitted after
	// announcements went out.
	pending []Event
}

type ifaceIP struct {
	iface string
	ip    netip.Addr
}

// vipState is the Manager's view of one Config. Fields are written by the
// loop goroutine only; those read by Status or onClaim are written under
// Manager.mu.
type vipState struct {
	cfg   Config
	garp  GARPConfig
	sched []time.Duration

	// under mu
	held            bool
	since           time.Time
	epoch           uint64
	reason          string
	installed       netip.Prefix
	announcements   uint64
	repairs         uint64
	conflicts       uint64
	lastConflict    time.Time
	lastConflictMAC string
	lastConflictEv  time.Time
	err             string

	// loop only
	announcing bool // false from the moment ownership is lost
	// gone: the last reconcile applied a not-owned intent of Gen goneGen
	// and left no address of this VIP on the interface.
	gone           bool
	goneGen        uint64
	annStart       time.Time
	annNext        int
	lastRound      time.Time
	fallbackWarned bool
}

// New validates cfgs and returns a Manager for them. It touches no
// interface until Run.
func New(cfgs []Config, opts Options) (*Manager, error) {
	if opts.Addrs == nil || opts.Announcer == nil {
		return nil, errors.New("vip: Options.Addrs and Options.Announcer are required")
	}
	m := &Manager{
		addrs:     opts.Addrs,
		ann:       opts.Announcer,
		log:       defaults.Logger(opts.Logger),
		onEvent:   opts.OnEvent,
		onGone:    opts.OnGone,
		goneSent:  map[string]uint64{},
		interval:  defaults.Positive(opts.ReconcileInterval, DefaultReconcileInterval),
		byAddr:    map[ifaceIP]*vipState{},
		kick:      make(chan struct{}, 1),
		conflicts: make(chan Event, 16),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	seen := map[netip.Addr]string{}
	for _, c := range cfgs {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		ip := c.VIP()
		if other, dup := seen[ip]; dup {
			return nil, fmt.Errorf("vip %s %s: address already configured for master %s", c.Master, ip, other)
		}
		seen[ip] = c.Master
		v := &vipState{cfg: c, garp: c.garp()}
		v.sched = v.garp.schedule()
		m.vips = append(m.vips, v)
		m.byAddr[ifaceIP{c.Interface, ip}] = v
	}
	return m, nil
}

// Set replaces the desired state with intents (the full set; masters absent from it are not owned). It never blocks; the latest
// call wins. Until the first Set, the Manager owns nothing: Run removes
// configured VIPs found at start, except those with KeepOnStop, which are
// left untouched until the first Set.
func (m *Manager) Set(intents []Intent) {
	next := make(map[string]Intent, len(intents))
	for _, in := range intents {
		next[in.Master] = in
	}
	m.mu.Lock()
	m.intents = next
	m.haveIntents = true
	m.mu.Unlock()
	m.poke()
}

func (m *Manager) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Status reports every configured VIP, in configuration order.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.vips))
	for _, v := range m.vips {
		out = append(out, Status{
			Master:          v.cfg.Master,
			Prefix:          v.cfg.Prefix,
			Interface:       v.cfg.Interface,
			Held:            v.held,
			Installed:       v.installed,
			Since:           v.since,
			Epoch:           v.epoch,
			Reason:          v.reason,
			Announcements:   v.announcements,
			Repairs:         v.repairs,
			Conflicts:       v.conflicts,
			LastConflict:    v.lastConflict,
			LastConflictMAC: v.lastConflictMAC,
			Err:             v.err,
		})
	}
	return out
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("vip: manager closed")

// Run reconciles addresses until ctx is done or Close is called: on Set, on
// address events, every ReconcileInterval, and when announcements are due.
// Returning does not release anything; Close does. Run may be called once.
func (m *Manager) Run(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("vip: Run called twice")
	}
	defer close(m.done)
	select {
	case <-m.stop:
		return ErrClosed
	default:
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-m.stop:
			cancel()
		case <-ctx.Done():
		}
	}()

	var wg sync.WaitGroup
	defer wg.Wait() // runs after cancel below has stopped the listeners
	defer cancel()
	for _, iface := range m.ifaces() {
		wg.Go(func() { m.listen(ctx, iface) })
	}

	watching := m.watch(ctx)
	tick := time.NewTicker(m.interval)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	dirty := true
	for {
		if next := m.step(time.Now(), dirty); !next.IsZero() {
			timer.Reset(max(time.Until(next), 0))
		} else {
			timer.Reset(time.Hour)
		}
		dirty = false
		select {
		case <-ctx.Done():
			return nil
		case <-m.kick:
			dirty = true
		case <-tick.C:
			dirty = true
			if !watching {
				watching = m.watch(ctx)
			}
		case <-timer.C:
		case ev := <-m.conflicts:
			m.pending = append(m.pending, ev)
		}
	}
}

// step is one iteration of the loop at time now: reconcile (if dirty),
// send due announcements, emit events. It returns when the next
// announcement is due, or zero.
func (m *Manager) step(now time.Time, dirty bool) time.Time {
	if dirty {
		m.reconcile(now)
	}
	m.announceDue(now)
	m.flush()
	return m.nextDue()
}

func (m *Manager) watch(ctx context.Context) bool {
	if err := m.addrs.Watch(ctx, m.poke); err != nil {
		m.log.Warn("address events unavailable; reconciling periodically only", "err", err)
		return false
	}
	return true
}

func (m *Manager) ifaces() []string {
	var out []string
	for _, v := range m.vips {
		if !slices.Contains(out, v.cfg.Interface) {
			out = append(out, v.cfg.Interface)
		}
	}
	return out
}

// listen runs the conflict watch on iface, restarting it with backoff.
func (m *Manager) listen(ctx context.Context, iface string) {
	backoff := 100 * time.Millisecond
	failing := false
	for ctx.Err() == nil {
		start := time.Now()
		err := m.ann.Listen(ctx, iface, m.onClaim)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > time.Minute {
			backoff, failing = 100*time.Millisecond, false
		}
		if !failing {
			m.log.Warn("conflict watch failed; retrying", "iface", iface, "err", err)
			failing = true
		} else {
			m.log.Debug("conflict watch failed; retrying", "iface", iface, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// PanicsRecovered returns how many panics the Announcer recovered from
// while handling received frames (0 if it does not count them).
func (m *Manager) PanicsRecovered() uint64 {
	if c, ok := m.ann.(interface{ PanicsRecovered() uint64 }); ok {
		return c.PanicsRecovered()
	}
	return 0
}

// onClaim is called by listeners for every foreign claim on a watched
// interface.
func (m *Manager) onClaim(c Claim) {
	v := m.byAddr[ifaceIP{c.Iface, c.IP}]
	if v == nil {
		return
	}
	now := time.Now()
	var ev *Event
	m.mu.Lock()
	held := v.held
	if held {
		v.conflicts++
		v.lastConflict = now
		v.lastConflictMAC = c.MAC.String()
		if now.Sub(v.lastConflictEv) >= conflictEventInterval {
			v.lastConflictEv = now
			ev = &Event{
				Type:    EventConflict,
				Warning: true,
				Master:  v.cfg.Master,
				Epoch:   v.epoch,
				Payload: fmt.Sprintf("%s %s %s epoch %d from %s %s",
					v.cfg.Master, c.IP, c.Iface, v.epoch, c.MAC, c.Kind),
			}
		}
	}
	m.mu.Unlock()
	if !held {
		return
	}
	if ev != nil {
		select {
		case m.conflicts <- *ev:
		default: // the loop is behind; the count above still records it
		}
	}
}

func (m *Manager) intentsSnapshot() (map[string]Intent, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.intents, m.haveIntents // the map is replaced, never modified
}

// reconcile makes the addresses match the intents.
func (m *Manager) reconcile(now time.Time) {
	intents, have := m.intentsSnapshot()
	actual, err := m.addrs.List("")
	if err != nil {
		for _, v := range m.vips {
			m.fail(v, "list addresses", err)
		}
		return
	}
	vipIPs := map[netip.Addr]bool{}
	for _, v := range m.vips {
		vipIPs[v.cfg.VIP()] = true
	}
	keep := map[Addr]bool{} // (iface, prefix) we hold or leave alone
	for _, v := range m.vips {
		c := v.cfg
		v.gone = false
		var mine []Addr
		for _, a := range actual {
			if a.Iface == c.Interface && a.Prefix.Addr() == c.VIP() {
				mine = append(mine, a)
			}
		}
		if !have && c.KeepOnStop {
			for _, a := range mine {
				keep[Addr{Iface: a.Iface, Prefix: a.Prefix}] = true
			}
			continue
		}
		in, ok := intents[c.Master]
		if ok && in.Own {
			if p, held := m.ensureHeld(now, v, in, actual, mine, vipIPs); held {
				keep[Addr{Iface: c.Interface, Prefix: p}] = true
			}
		} else {
			m.ensureReleased(now, v, in, ok, mine)
		}
	}
	m.reportGone(intents)
	// Tagged addresses nobody wants: leftovers of a crashed run or of an
	// older configuration.
	for _, a := range actual {
		if !a.Ours || keep[Addr{Iface: a.Iface, Prefix: a.Prefix}] {
			continue
		}
		if v := m.byAddr[ifaceIP{a.Iface, a.Prefix.Addr()}]; v != nil {
			continue // handled above
		}
		if err := m.addrs.Del(a); err != nil {
			m.log.Error("remove leftover VIP failed", "vip", a.Prefix, "iface", a.Iface, "err", err)
			continue
		}
		m.log.Warn("removed leftover VIP carrying our tag", "vip", a.Prefix, "iface", a.Iface)
	}
}

// reportGone tells OnGone, once per Gen, of each master whose not-owned
// intent this reconcile applied with every VIP of the master removed.
func (m *Manager) reportGone(intents map[string]Intent) {
	if m.onGone == nil {
		return
	}
	for _, master := range slices.Sorted(maps.Keys(intents)) {
		in := intents[master]
		if in.Own {
			continue
		}
		if sent, ok := m.goneSent[master]; ok && sent == in.Gen {
			continue
		}
		all, any := true, false
		for _, v := range m.vips {
			if v.cfg.Master == master {
				any = true
				all = all && v.gone && v.goneGen == in.Gen
			}
		}
		if any && all {
			m.goneSent[master] = in.Gen
			m.onGone(master, in.Gen)
		}
	}
}

// effectivePrefix is the prefix to install for v (see Config).
func (m *Manager) effectivePrefix(v *vipState, actual []Addr, vipIPs map[netip.Addr]bool) netip.Prefix {
	p := v.cfg.Prefix
	if !p.Addr().Is4() || p.Bits() == 32 {
		return p
	}
	for _, a := range actual {
		if a.Iface == v.cfg.Interface && !vipIPs[a.Prefix.Addr()] && !a.Ours &&
			a.Flags&FlagSecondary == 0 && a.Prefix.Bits() == p.Bits() && a.Prefix.Masked() == p.Masked() {
			return p
		}
	}
	host := netip.PrefixFrom(p.Addr(), 32)
	if !v.fallbackWarned {
		v.fallbackWarned = true
		m.log.Warn("no primary address in the VIP's prefix on the interface; installing as /32 so it never becomes a source address",
			"master", v.cfg.Master, "vip", p, "iface", v.cfg.Interface, "installed", host)
	}
	return host
}

// ensureHeld installs v's VIP; it reports the installed prefix and whether
// the VIP is now held.
func (m *Manager) ensureHeld(now time.Time, v *vipState, in Intent, actual, mine []Addr, vipIPs map[netip.Addr]bool) (netip.Prefix, bool) {
	c := v.cfg
	want := m.effectivePrefix(v, actual, vipIPs)
	log := m.log.With("master", c.Master, "vip", want, "iface", c.Interface, "epoch", in.Epoch)
	var present *Addr
	for i := range mine {
		if mine[i].Prefix == want {
			present = &mine[i]
		}
	}
	if present != nil && present.Flags&FlagDADFailed != 0 {
		// Duplicate address detection failed (someone else answered for it
		// when it was added without NODAD); it stays unusable until re-added.
		log.Warn("VIP is dadfailed; re-adding it with nodad")
		if err := m.addrs.Del(*present); err != nil {
			m.fail(v, "delete dadfailed VIP", err)
			return want, false
		}
		present = nil
	}
	if present != nil && !present.Ours {
		// Installed by someone else (an admin, a script of the old stack):
		// replace it so it carries our tag and, for IPv6, nodad and
		// preferred_lft 0, or it could be chosen as a source address.
		if err := m.addrs.Add(Addr{Iface: c.Interface, Prefix: want}); err != nil {
			log.Warn("could not take over the existing VIP's attributes", "err", err)
		} else {
			log.Info("took over an existing untagged VIP")
		}
	}
	added := false
	if present == nil {
		if err := m.addrs.Add(Addr{Iface: c.Interface, Prefix: want}); err != nil {
			m.fail(v, fmt.Sprintf("add VIP %s on %s (epoch %d)", want, c.Interface, in.Epoch), err)
			return want, false
		}
		added = true
	}
	// Same address with another prefix: a previous configuration, or the
	// /32 fallback now that a primary covers the prefix (added first, so the
	// VIP never disappears).
	for _, a := range mine {
		if a.Prefix != want {
			if err := m.addrs.Del(a); err != nil {
				log.Error("remove VIP with stale prefix failed", "stale", a.Prefix, "err", err)
				continue
			}
			log.Info("removed VIP with stale prefix", "stale", a.Prefix)
		}
	}
	// Added while held with no trace of it left: someone removed it
	// (networkd, DHCP renew, an admin). Added with a trace left (other
	// prefix, dadfailed): our own correction.
	repaired := added && len(mine) == 0
	m.mu.Lock()
	wasHeld, oldEpoch := v.held, v.epoch
	v.held, v.installed, v.epoch, v.reason, v.err = true, want, in.Epoch, in.Reason, ""
	switch {
	case !wasHeld:
		v.since = now
	case repaired:
		v.repairs++
	}
	m.mu.Unlock()
	switch {
	case !wasHeld:
		if added {
			log.Info("VIP acquired", "reason", in.Reason)
		} else {
			log.Info("VIP acquired (already present)", "reason", in.Reason)
		}
		m.startAnnounce(now, v)
		m.pending = append(m.pending, m.event(EventAcquired, v, in.Epoch))
	case repaired:
		log.Warn("VIP was removed by someone else while held; re-added")
		m.startAnnounce(now, v)
	case added:
		log.Info("VIP re-installed", "reason", in.Reason)
		m.startAnnounce(now, v)
	case !v.announcing:
		// Ownership was lost but the delete failed, and now it is back.
		log.Info("VIP owned again before it could be removed; re-announcing", "reason", in.Reason)
		m.startAnnounce(now, v)
	case in.Epoch != oldEpoch:
		// Ownership may have moved away and back between two reconciles;
		// neighbours may point elsewhere.
		log.Info("VIP still held under a new epoch; re-announcing", "old_epoch", oldEpoch, "reason", in.Reason)
		m.startAnnounce(now, v)
	}
	return want, true
}

// ensureReleased removes v's VIP (every prefix of it on its interface).
func (m *Manager) ensureReleased(now time.Time, v *vipState, in Intent, haveIntent bool, mine []Addr) {
	c := v.cfg
	epoch, reason := v.epoch, "no intent for this master"
	if haveIntent {
		epoch, reason = in.Epoch, in.Reason
	}
	log := m.log.With("master", c.Master, "vip", c.VIP(), "iface", c.Interface, "epoch", epoch)
	// Stop announcing first: even if the delete below fails, we must not
	// keep pulling traffic to an address we no longer own.
	v.announcing = false
	for _, a := range mine {
		if err := m.addrs.Del(a); err != nil {
			m.fail(v, fmt.Sprintf("delete VIP %s from %s (epoch %d)", a.Prefix, c.Interface, epoch), err)
			return
		}
	}
	v.gone, v.goneGen = haveIntent, in.Gen
	m.mu.Lock()
	wasHeld := v.held
	v.held, v.installed, v.epoch, v.reason, v.err = false, netip.Prefix{}, epoch, reason, ""
	if wasHeld {
		v.since = now
	}
	m.mu.Unlock()
	switch {
	case wasHeld:
		log.Info("VIP released", "reason", reason)
		m.pending = append(m.pending, m.event(EventReleased, v, epoch))
	case len(mine) > 0:
		log.Warn("removed VIP this agent does not own", "reason", reason, "found", len(mine))
	}
}

func (m *Manager) fail(v *vipState, what string, err error) {
	msg := fmt.Sprintf("%s: %v", what, err)
	m.mu.Lock()
	same := v.err == msg
	v.err = msg
	m.mu.Unlock()
	attrs := []any{"master", v.cfg.Master, "vip", v.cfg.VIP(), "iface", v.cfg.Interface, "err", msg}
	if same {
		m.log.Debug("VIP action failed again", attrs...)
	} else {
		m.log.Error("VIP action failed", attrs...)
	}
}

func (m *Manager) event(typ string, v *vipState, epoch uint64) Event {
	return Event{
		Type:    typ,
		Master:  v.cfg.Master,
		Epoch:   epoch,
		Payload: fmt.Sprintf("%s %s %s epoch %d", v.cfg.Master, v.cfg.VIP(), v.cfg.Interface, epoch),
	}
}

func (m *Manager) flush() {
	evs := m.pending
	m.pending = nil
	for _, ev := range evs {
		if ev.Type == EventConflict {
			m.log.Warn("VIP claimed by another host", "master", ev.Master, "epoch", ev.Epoch, "event", ev.Payload)
		}
		if m.onEvent != nil {
			m.onEvent(ev)
		}
	}
}

// startAnnounce (re)starts v's announcement schedule at now; the first
// round goes out in the same loop iteration.
func (m *Manager) startAnnounce(now time.Time, v *vipState) {
	v.announcing = true
	v.annStart = now
	v.annNext = 0
}

// announceDue sends the rounds that are due. Announcements of a VIP no
// longer owned are never sent: reconcile clears announcing before this runs.
func (m *Manager) announceDue(now time.Time) {
	for _, v := range m.vips {
		if !v.held || !v.announcing {
			continue
		}
		switch {
		case v.annNext < len(v.sched):
			if now.Before(v.annStart.Add(v.sched[v.annNext])) {
				continue
			}
			// Skip rounds that are already late: one round now stands for
			// them.
			for v.annNext < len(v.sched) && !now.Before(v.annStart.Add(v.sched[v.annNext])) {
				v.annNext++
			}
		case v.garp.Refresh > 0:
			if now.Before(v.refreshDue()) {
				continue
			}
		default:
			continue
		}
		m.round(now, v)
	}
}

func (v *vipState) refreshDue() time.Time {
	last := v.lastRound
	if last.Before(v.annStart) {
		last = v.annStart
	}
	return last.Add(v.garp.Refresh)
}

func (m *Manager) round(now time.Time, v *vipState) {
	n, err := m.ann.Announce(v.cfg.Interface, v.cfg.VIP())
	v.lastRound = now
	m.mu.Lock()
	v.announcements += uint64(n)
	epoch := v.epoch
	m.mu.Unlock()
	if err != nil {
		m.log.Warn("announcement failed", "master", v.cfg.Master, "vip", v.cfg.VIP(), "iface", v.cfg.Interface, "epoch", epoch, "sent", n, "err", err)
		return
	}
	m.log.Debug("announced VIP", "master", v.cfg.Master, "vip", v.cfg.VIP(), "iface", v.cfg.Interface, "epoch", epoch, "packets", n)
}

// nextDue returns when the next announcement round is due, or zero.
func (m *Manager) nextDue() time.Time {
	var next time.Time
	for _, v := range m.vips {
		if !v.held || !v.announcing {
			continue
		}
		var t time.Time
		switch {
		case v.annNext < len(v.sched):
			t = v.annStart.Add(v.sched[v.annNext])
		case v.garp.Refresh > 0:
			t = v.refreshDue()
		default:
			continue
		}
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Close stops Run (waiting for it, within ctx) and then removes the VIPs of
// every master without KeepOnStop from their interfaces, emitting
// +vip-released for those that were held.
func (m *Manager) Close(ctx context.Context) error {
	m.stopOnce.Do(func() { close(m.stop) })
	if m.started.Load() {
		select {
		case <-m.done:
		case <-ctx.Done():
			return fmt.Errorf("vip: close: waiting for the reconcile loop: %w", ctx.Err())
		}
	}
	actual, err := m.addrs.List("")
	if err != nil {
		return fmt.Errorf("vip: close: %w", err)
	}
	var errs []error
	now := time.Now()
	for _, v := range m.vips {
		if v.cfg.KeepOnStop {
			if v.held {
				m.log.Info("keeping VIP on stop", "master", v.cfg.Master, "vip", v.cfg.VIP(), "iface", v.cfg.Interface, "epoch", v.epoch)
			}
			continue
		}
		failed := false
		for _, a := range actual {
			if a.Iface != v.cfg.Interface || a.Prefix.Addr() != v.cfg.VIP() {
				continue
			}
			if err := m.addrs.Del(a); err != nil {
				errs = append(errs, fmt.Errorf("vip: close: %w", err))
				failed = true
			}
		}
		if failed || !v.held {
			continue
		}
		m.mu.Lock()
		v.held, v.installed, v.since, v.reason = false, netip.Prefix{}, now, "agent stopping"
		m.mu.Unlock()
		m.log.Info("VIP released", "master", v.cfg.Master, "vip", v.cfg.VIP(), "iface", v.cfg.Interface, "epoch", v.epoch, "reason", "agent stopping")
		m.pending = append(m.pending, m.event(EventReleased, v, v.epoch))
	}
	m.flush()
	return errors.Join(errs...)
}
