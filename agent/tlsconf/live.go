package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Live TLS connections and re-verification on Reload.
//
// A handshake verifies the peer's certificate once; a Reload that changes
// the CAs (an old CA revoked or rotated out) would otherwise leave the
// links verified under the old trust up for as long as they last. So the
// Source keeps a registry of the connections it secured (Client, and the
// connections of a TrackListener served with ServerConfig), and a Reload
// whose CAs differ re-verifies each one's peer chain against the new CAs
// and closes those that fail: their owners (the link, the API client)
// see a closed connection and redial, or are redialled, under the new
// configuration.
//
// What is re-checked is what the handshake checked: for an outgoing link,
// the server's chain to the CAs, for the name or address the link dialled,
// with server-auth usage; for an API client, its certificate's chain with
// client-auth usage, when one was verified (tls-auth-clients yes, or
// optional and one was given). A client that presented none was admitted
// without one and nothing about it changed.
//
// Our own client certificate is not a reason to close a link: the peer
// verified it and trusts it or not by its own CA (a peer agent re-verifies
// on its own reload); a routine renewal of our certificate would otherwise
// drop every link at once. Nor is expiry: established connections were
// never cut when a certificate expires, and a Reload is about trust, so a
// chain that verifies under the new CAs at the time of its handshake stays.
//
// The registry entry is the raw connection under the *tls.Conn (so the
// owners keep their *tls.Conn and its ConnectionState): the handshake
// records the verified state on it (VerifyConnection), and its Close,
// reached through the *tls.Conn's Close or the registry's, removes it.

// live is a Source's registry of live TLS connections.
type live struct {
	mu    sync.Mutex
	conns map[*liveConn]struct{}
	log   *slog.Logger
}

// liveConn is the raw connection under one TLS connection.
type liveConn struct {
	net.Conn
	reg      *live
	incoming bool
	host     string // outgoing: the name or address verified

	// Under reg.mu:
	state   *tls.ConnectionState // the handshake's verified state; nil before
	at      time.Time            // when the handshake verified it
	tracked bool
	closed  bool
}

// Close closes the connection and forgets it.
func (c *liveConn) Close() error {
	c.reg.mu.Lock()
	c.closed = true
	if c.tracked {
		delete(c.reg.conns, c)
		c.tracked = false
	}
	c.reg.mu.Unlock()
	return c.Conn.Close()
}

// verified records the state of a handshake that verified (called by
// VerifyConnection) and registers the connection. A handshake that fails
// after it leaves the connection to be closed by its owner, which removes
// it again.
func (c *liveConn) verified(cs tls.ConnectionState) {
	c.reg.mu.Lock()
	defer c.reg.mu.Unlock()
	if c.closed {
		return
	}
	c.state, c.at = &cs, time.Now()
	if !c.tracked {
		if c.reg.conns == nil {
			c.reg.conns = map[*liveConn]struct{}{}
		}
		c.reg.conns[c] = struct{}{}
		c.tracked = true
	}
}

// SetLogger sets where Reload logs the connections it closes (nowhere by
// default). Call it before the Source is in use.
func (src *Source) SetLogger(log *slog.Logger) { src.live.log = log }

// Client wraps raw, an outgoing connection to host (a name or an IP
// address as dialled), in TLS with ClientConfig(host), and keeps it, once
// its handshake verified, for re-verification on Reload.
func (src *Source) Client(raw net.Conn, host string) *tls.Conn {
	lc := &liveConn{Conn: raw, reg: &src.live, host: host}
	cfg := src.ClientConfig(host)
	cfg.VerifyConnection = src.verifyConnection(lc)
	return tls.Client(lc, cfg)
}

// verifyConnection returns the VerifyConnection of lc's handshake: it
// registers lc, and refuses a session resumed from before a Reload whose
// peer the CAs now loaded no longer trust: a connection closed by the
// Reload must not come back by resuming. Current crypto/tls versions
// already decline to resume a session whose chain's root left the pool;
// checking here too keeps the whole rule (name, usage) in one place and
// independent of the Go version.
func (src *Source) verifyConnection(lc *liveConn) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if cs.DidResume {
			if err := stillTrusted(src.cur.Load(), lc, &cs, time.Now()); err != nil {
				return fmt.Errorf("resumed session: %w", err)
			}
		}
		lc.verified(cs)
		return nil
	}
}

// TrackListener returns ln with its connections kept for re-verification
// on Reload once a handshake with ServerConfig verified them: serve it
// with tls.NewListener(src.TrackListener(ln), src.ServerConfig()).
func (src *Source) TrackListener(ln net.Listener) net.Listener {
	return trackListener{ln, &src.live}
}

type trackListener struct {
	net.Listener
	reg *live
}

func (l trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &liveConn{Conn: c, reg: l.reg, incoming: true}, nil
}

// Tracked returns how many TLS connections the Source keeps for
// re-verification.
func (src *Source) Tracked() int {
	src.live.mu.Lock()
	defer src.live.mu.Unlock()
	return len(src.live.conns)
}

// reverify closes the live connections whose peer no longer verifies
// under m, logging each, and returns how many it closed.
func (src *Source) reverify(m *material) int {
	reg := &src.live
	reg.mu.Lock()
	type check struct {
		c  *liveConn
		cs *tls.ConnectionState
		at time.Time
	}
	checks := make([]check, 0, len(reg.conns))
	for c := range reg.conns {
		checks = append(checks, check{c, c.state, c.at})
	}
	reg.mu.Unlock()
	closed := 0
	for _, k := range checks {
		err := stillTrusted(m, k.c, k.cs, k.at)
		if err == nil {
			continue
		}
		closed++
		_ = k.c.Close()
		if reg.log == nil {
			continue
		}
		dir, subject := "outgoing", ""
		if k.c.incoming {
			dir = "incoming"
		}
		if len(k.cs.PeerCertificates) > 0 {
			subject = k.cs.PeerCertificates[0].Subject.String()
		}
		reg.log.Warn("closed TLS connection: the peer certificate does not verify under the reloaded CAs",
			"peer", k.c.RemoteAddr().String(), "direction", dir, "host", k.c.host, "subject", subject, "err", err)
	}
	return closed
}

// stillTrusted re-verifies the peer chain of one connection as its
// handshake did, with m's CAs: now, or, for a chain that has since
// expired, at the time of the handshake (see above).
func stillTrusted(m *material, c *liveConn, cs *tls.ConnectionState, at time.Time) error {
	if c.incoming && len(cs.VerifiedChains) == 0 {
		return nil // admitted without a verified certificate
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no peer certificate")
	}
	opts := x509.VerifyOptions{Roots: m.roots, Intermediates: x509.NewCertPool()}
	for _, ic := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(ic)
	}
	if c.incoming {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		opts.DNSName = c.host // an IP address is checked against IP SANs
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	leaf := cs.PeerCertificates[0]
	_, err := leaf.Verify(opts)
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		opts.CurrentTime = at
		if _, err2 := leaf.Verify(opts); err2 == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("re-verify: %w", err)
	}
	return nil
}
