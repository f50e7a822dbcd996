package api

import (
	"container/list"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/resp"
)

// This file holds what keeps anonymous clients from taking the API over:
// protected mode, the budget of unauthenticated connections, the deadlines
// of idle and unauthenticated clients, the small request limits before AUTH,
// rate-limited logging of failures, and the recovery of a panic in one
// connection's goroutines.
//
// Which commands run before authentication is decided in one place: the
// noAuth flag of the command table (commands.go: AUTH, HELLO, QUIT, RESET).

// DefaultAuthTimeout is how long a client has to authenticate when a
// password is set, from its connection: a client that connects and says
// nothing cannot hold a slot longer than this.
const DefaultAuthTimeout = 10 * time.Second

// preAuthLimits bound what one unauthenticated request may make the server
// buffer. Redis allows 10 arguments of 16 KiB each (resp.Unauthenticated),
// 160 KiB per connection: 300 connections sending half a request each then
// hold 48 MiB. AUTH, HELLO ... AUTH ... SETNAME and the like need a few
// hundred bytes, so a request is capped at 4 KiB in all; with the read
// buffer, an unauthenticated connection holds at most ~12 KiB of request
// data.
var preAuthLimits = resp.Limits{
	MaxArgs:         resp.Unauthenticated.MaxArgs,
	MaxBulk:         4 << 10,
	MaxInline:       4 << 10,
	MaxRequest:      4 << 10,
	Unauthenticated: true,
}

// deniedMsg is the error a non-loopback client gets in protected mode, in
// the sense of Redis's -DENIED reply (reworded: it names vipsentinel's
// directives).
const deniedMsg = "-DENIED vipsentinel is running in protected mode: no password is set (requirepass), so the API " +
	"accepts connections from the loopback interface only. To accept other clients, set requirepass (and the " +
	"same sentinel-pass on the other agents), or, if the API port is reachable only from trusted hosts, set " +
	"'protected-mode no' in the configuration file, then restart the agent.\r\n"

// isLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1,
// or an IPv4-mapped loopback address).
func isLoopback(addr net.Addr) bool {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return false
		}
		ip = ap.Addr()
	}
	return ip.Unmap().IsLoopback()
}

// protected reports whether the server refuses non-loopback clients:
// protected mode is on and the default user needs no password, as in
// Redis (with ACL users, "user default on nopass" is what leaves the API
// open).
func (s *Server) protected() bool {
	return s.cfg.ProtectedMode && s.acl.anonymousOK()
}

// refuse writes a one-line error to a connection that is not admitted and
// closes it. The socket was just accepted, so the short line fits in its
// send buffer and the write does not wait; the deadline is only a guard.
func refuse(conn net.Conn, line string) {
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(conn, line)
	_ = conn.Close()
}

// unauthList is the server's unauthenticated clients, oldest first. It is
// guarded by the server's lock.
type unauthList struct{ l list.List }

// admit decides, under the server's lock, whether a new connection may be
// served: it returns the clients to close (oldest unauthenticated ones) and
// false when the connection must be refused.
//
// The budget: at most MaxClients connections in all (Redis's maxclients),
// of which at most MaxUnauthenticated not yet authenticated. A new
// connection over either limit takes the slot of the oldest
// unauthenticated connection; only when every slot is held by an
// authenticated client is it refused. So anonymous connections, however
// many, can never keep a client that knows the password (an agent, an
// operator) out, and can never hold more than MaxUnauthenticated slots.
func (s *Server) admit(authed bool) (evict []*client, ok bool) {
	for {
		// forgetLocked has taken the evicted out of s.clients.
		overTotal := len(s.clients) >= s.cfg.MaxClients
		overUnauth := !authed && s.unauth.l.Len() >= s.cfg.MaxUnauthenticated
		if !overTotal && !overUnauth {
			return evict, true
		}
		front := s.unauth.l.Front()
		if front == nil {
			return evict, false
		}
		old := front.Value.(*client)
		s.forgetLocked(old)
		evict = append(evict, old)
	}
}

// forgetLocked removes c from the server's tables (it is about to be closed,
// or was). Called with the server's lock held.
func (s *Server) forgetLocked(c *client) {
	delete(s.clients, c.id)
	if c.unauthElem != nil {
		s.unauth.l.Remove(c.unauthElem)
		c.unauthElem = nil
	}
	s.ps.unsubscribeAll(c)
}

// setAuthenticated records whether c is authenticated. An unauthenticated
// client is in the eviction list and is closed if it has not authenticated
// within AuthTimeout of connecting (or of the RESET that de-authenticated
// it), wherever its goroutines are blocked: in a read, or waiting for its
// output to drain. The clock is not restarted for a client that was not
// authenticated, so repeating RESET does not keep a connection alive.
func (c *client) setAuthenticated(authed bool) {
	s := c.srv
	s.mu.Lock()
	c.mu.Lock()
	was := c.authed
	c.authed = authed
	if was != authed {
		if c.authTimer != nil {
			c.authTimer.Stop()
			c.authTimer = nil
		}
		if !authed && !c.closed {
			c.authTimer = time.AfterFunc(s.cfg.AuthTimeout, c.authExpired)
		}
	}
	c.mu.Unlock()
	if was != authed {
		if authed && c.unauthElem != nil {
			s.unauth.l.Remove(c.unauthElem)
			c.unauthElem = nil
		} else if !authed && c.unauthElem == nil && s.clients[c.id] == c {
			c.unauthElem = s.unauth.l.PushBack(c)
		}
	}
	s.mu.Unlock()
}

// authExpired closes c if it is still unauthenticated.
func (c *client) authExpired() {
	c.mu.Lock()
	expired := !c.authed && !c.closed
	c.mu.Unlock()
	if expired {
		c.srv.stats.authTimeouts.Add(1)
		c.srv.logLimited("auth-timeout", slog.LevelInfo, "closing client that did not authenticate in time",
			"client", c.addr, "timeout", c.srv.cfg.AuthTimeout)
		c.close()
	}
}

// idleDeadline sets the read deadline before the next request from an
// authenticated client: Redis's timeout (0: none), except for subscribed
// clients, which Redis never closes for being idle. It costs nothing when
// no timeout is configured.
func (c *client) idleDeadline(subscribed bool) {
	idle := c.srv.cfg.IdleTimeout
	if idle <= 0 || subscribed {
		if c.idleArmed {
			c.idleArmed = false
			_ = c.conn.SetReadDeadline(time.Time{})
		}
		return
	}
	c.idleArmed = true
	_ = c.conn.SetReadDeadline(time.Now().Add(idle))
}

// logInterval is how often each kind of client failure may be logged: a
// flood of failed AUTHs or bad requests makes a bounded number of lines
// (the journal would otherwise drop the agent's own messages).
const logInterval = time.Second

// logLimited logs msg at level unless a line of the same kind (failed
// AUTH, protocol error, ...) was logged within logInterval, adding how many
// lines of the kind were suppressed since the last one.
func (s *Server) logLimited(kind string, level slog.Level, msg string, args ...any) {
	ok, n := s.logLimit.Allow(kind)
	if !ok {
		return
	}
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	s.log.Log(context.Background(), level, msg, args...)
}
