package runtime

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Hostname resolution for resolve-hostnames. The core resolves nothing
// (package sentinel, hostnames.go): the runtime resolves the names it
// meets and feeds the answers in as sentinel.Resolved inputs.
//
// A name first seen in an input (a hello, an INFO reply) is resolved at
// once, on the loop, before the input is handed over: the core must compare
// it by address when it first meets it, or it would record a second
// instance. That blocks the loop for at most resolveTimeout, once per new
// name, as Sentinel blocks its event loop on getaddrinfo. Known names are
// re-resolved every resolvePeriod off the loop, and only a changed answer
// is fed in: Sentinel re-resolves before every reconnection, which with
// its 1 s reconnection period is about as often.
//
// Unlike Sentinel, the loop's waits are bounded: anyone who can PUBLISH to
// a monitored Redis can send hellos naming new hosts, and a resolver that
// does not answer would otherwise hold the loop resolveTimeout per name.
// Names met in inputs are resolved on the loop only while the loop has
// waited less than blockBudget in the current blockWindow; the others are
// handed over unresolved, and those the core keeps (KnownHostnames) are
// resolved by the next background pass. That pass also forgets the names
// the core no longer knows, here and in the core, so that neither cache
// grows with the names hostile hellos carried.

const (
	resolveTimeout = 500 * time.Millisecond
	resolvePeriod  = time.Second
	blockBudget    = resolveTimeout
	blockWindow    = 10 * time.Second
)

// hostnames caches the answers fed to the core.
type hostnames struct {
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)

	mu  sync.Mutex
	ips map[string]string // lower-case name -> IP fed to the core ("" none)

	// Loop goroutine only: the loop time resolving may still take in the
	// window that ends at windowEnd.
	budget    time.Duration
	windowEnd time.Time
}

func newHostnames() *hostnames {
	return &hostnames{
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		ips: map[string]string{},
	}
}

// resolve asks the resolver for host's address: the first answer, as
// Sentinel takes the first getaddrinfo result; "" when there is none.
func (h *hostnames) resolve(host string) string {
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addrs, err := h.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	return addrs[0].Unmap().String()
}

// changed records ip as host's answer and reports whether it is new.
func (h *hostnames) changed(host, ip string) bool {
	k := strings.ToLower(host)
	h.mu.Lock()
	defer h.mu.Unlock()
	old, ok := h.ips[k]
	h.ips[k] = ip
	return !ok || old != ip
}

// known reports whether host was resolved before.
func (h *hostnames) known(host string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.ips[strings.ToLower(host)]
	return ok
}

// mayBlock reports whether the loop may wait for a resolution at now
// (blockBudget per blockWindow).
func (h *hostnames) mayBlock(now time.Time) bool {
	if !now.Before(h.windowEnd) {
		h.budget, h.windowEnd = blockBudget, now.Add(blockWindow)
	}
	return h.budget > 0
}

// blocked charges d of loop time to the current window.
func (h *hostnames) blocked(d time.Duration) { h.budget -= d }

// retain forgets every cached name not in hosts and returns them.
func (h *hostnames) retain(hosts []string) (dropped []string) {
	keep := make(map[string]bool, len(hosts))
	for _, host := range hosts {
		keep[strings.ToLower(host)] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.ips {
		if !keep[k] {
			delete(h.ips, k)
			dropped = append(dropped, k)
		}
	}
	return dropped
}

// feedNew resolves each of hosts not resolved before and hands the answers
// to the core. With budgeted (names met in inputs) it waits only within
// the loop's budget (mayBlock). Loop goroutine only.
func (r *Runtime) feedNew(now sentinel.Time, hosts []string, budgeted bool) {
	for _, host := range hosts {
		if r.names.known(host) {
			continue
		}
		start := r.clock.Now()
		if budgeted && !r.names.mayBlock(start) {
			continue
		}
		ip := r.names.resolve(host)
		r.names.blocked(r.clock.Now().Sub(start))
		if r.names.changed(host, ip) {
			r.node.Receive(now, sentinel.Resolved{Host: host, IP: ip})
		}
	}
}

// receive is Node.Receive, the hostnames in the input resolved first.
func (r *Runtime) receive(now sentinel.Time, in sentinel.Input) bool {
	if r.node.ResolvesHostnames() {
		r.feedNew(now, sentinel.Hostnames(in), true)
	}
	return r.drv.Receive(now, in)
}

// startResolving resolves the names the core knows (from the configuration
// and the state) and, with resolve-hostnames on at start, keeps
// re-resolving them until ctx ends (an agent without hostnames is not woken
// for it; one that turns the option on with SENTINEL CONFIG SET resolves
// each name when it first meets it). Loop goroutine, before the first Step.
func (r *Runtime) startResolving(ctx context.Context, now sentinel.Time) {
	if !r.node.ResolvesHostnames() {
		return
	}
	r.feedNew(now, r.node.KnownHostnames(), false) // the configuration's and the state's
	go func() {
		t := r.clock.NewTimer(resolvePeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				t.Reset(resolvePeriod)
			}
			// The names the core knows and the cache's pruning are taken
			// together on the loop: pruned off the loop, a name the loop
			// learned from a hello after the snapshot would be forgotten
			// again, and the core would compare it by text until the next
			// pass (a second instance for one host).
			var hosts []string
			if r.do(ctx, func(now sentinel.Time) {
				if r.node.ResolvesHostnames() {
					hosts = r.node.KnownHostnames()
				}
				for _, host := range r.names.retain(hosts) {
					r.node.Receive(now, sentinel.Resolved{Host: host}) // no IP: forgotten
				}
			}) != nil {
				continue
			}
			var updates []sentinel.Resolved
			for _, host := range hosts {
				ip := r.names.resolve(host)
				if r.names.changed(host, ip) {
					updates = append(updates, sentinel.Resolved{Host: host, IP: ip})
				}
			}
			if len(updates) > 0 {
				_ = r.do(ctx, func(now sentinel.Time) {
					for _, u := range updates {
						r.node.Receive(now, u)
					}
				})
			}
		}
	}()
}
