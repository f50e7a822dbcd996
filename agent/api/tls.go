package api

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"
)

// TLS on the API.
//
// A TLS client is served by the net.Conn path of the client loops: a
// *tls.Conn is not a syscall.Conn, so newClient never gives it the raw
// syscall fast path (which would read ciphertext). Plain clients keep it.
//
// The handshake runs before ServeConn admits the client, on a goroutine of
// its own so that a slow or silent client never holds the accept loop, and
// bounded: at most maxHandshakes at once (more are closed at once: an
// unauthenticated stranger gets no more than that) and handshakeTimeout
// each. Only after it does the server know whether the client presented a
// verified certificate, which protected mode accepts in place of a
// loopback address (tls-auth-clients yes makes the CA the group's
// membership authority, so peer agents need no password).

const (
	handshakeTimeout = 5 * time.Second
	maxHandshakes    = 256
)

// tlsHandshakes tracks the handshakes in progress, so that Close can end
// them.
type tlsHandshakes struct {
	mu     sync.Mutex
	active map[*tls.Conn]struct{}
}

// ServeTLS is Serve over TLS: each accepted connection completes a TLS
// handshake with cfg (certificates, client-certificate policy) before it
// is served. Certificate problems (expired, wrong CA, no certificate with
// tls-auth-clients yes) are logged with the reason and the client closed.
// With ln from tlsconf.Source.TrackListener and cfg its ServerConfig, a
// reload that stops trusting a client's certificate closes that client.
func (s *Server) ServeTLS(ln net.Listener, cfg *tls.Config) error {
	return s.Serve(tls.NewListener(ln, cfg))
}

// startHandshake takes over a TLS connection whose handshake has not run:
// it runs it in the background and hands the connection back to ServeConn
// once it completes. It reports false (and does nothing) for any other
// connection.
func (s *Server) startHandshake(conn net.Conn) bool {
	tc, ok := conn.(*tls.Conn)
	if !ok || tc.ConnectionState().HandshakeComplete {
		return false
	}
	hs := &s.handshakes
	hs.mu.Lock()
	if hs.active == nil {
		hs.active = map[*tls.Conn]struct{}{}
	}
	if len(hs.active) >= maxHandshakes {
		hs.mu.Unlock()
		s.stats.rejected.Add(1)
		s.logLimited("tls-busy", slog.LevelWarn, "refused API client: too many TLS handshakes in progress", "client", conn.RemoteAddr().String(), "max", maxHandshakes)
		_ = conn.Close()
		return true
	}
	s.mu.Lock()
	closed := s.closed
	if !closed {
		// Under s.mu, so that Close's Wait cannot start before the Add.
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if closed {
		hs.mu.Unlock()
		_ = conn.Close()
		return true
	}
	hs.active[tc] = struct{}{}
	hs.mu.Unlock()
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		hs.mu.Lock()
		delete(hs.active, tc)
		hs.mu.Unlock()
		if err != nil {
			s.stats.tlsFailures.Add(1)
			s.logLimited("tls-handshake", slog.LevelWarn, "refused API client: TLS handshake failed", "client", conn.RemoteAddr().String(), "err", err)
			_ = tc.Close()
			return
		}
		s.ServeConn(tc)
	}()
	return true
}

// closeHandshakes ends the handshakes in progress (Close).
func (s *Server) closeHandshakes() {
	hs := &s.handshakes
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for c := range hs.active {
		_ = c.Close()
	}
}

// verifiedClient reports whether conn is a TLS connection whose client
// presented a certificate that verified against the CA.
func verifiedClient(conn net.Conn) bool {
	tc, ok := conn.(*tls.Conn)
	return ok && len(tc.ConnectionState().VerifiedChains) > 0
}

// TLSFailures returns how many TLS handshakes with API clients failed.
func (s *Server) TLSFailures() int64 { return s.stats.tlsFailures.Load() }
