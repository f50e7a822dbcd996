package redislink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// TLS on outgoing links (tls-replication yes).
//
// The handshake runs in the link's Dialer, on the connection just dialled,
// before the peer proof and before go-redis or the link's set-up send
// anything: AUTH only ever travels to an endpoint whose certificate
// verified. go-redis's own Options.TLSConfig cannot do this: go-redis
// applies it only when it dials itself, and the link must dial (Options.Dial,
// network namespaces) and prove peers on the raw connection.

// ErrTLS is wrapped by every failed TLS handshake.
var ErrTLS = errors.New("TLS handshake failed")

// secure returns c wrapped in TLS for the link's host when TLS is on, after
// a completed handshake; c itself otherwise.
func (t *Transport) secure(ctx context.Context, c net.Conn, l *link) (net.Conn, error) {
	if t.opts.TLS == nil {
		return c, nil
	}
	tc := t.opts.TLS(c, l.ref.Addr.Host)
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = tc.Close()
		t.warnLimited("TLS handshake failed; nothing sent", "addr", l.ref.Addr.String(), "master", l.ref.Master,
			"kind", l.ref.Kind.String(), "err", err)
		return nil, fmt.Errorf("%w with %s: %v", ErrTLS, l.ref.Addr, err)
	}
	return tc, nil
}

// certVerified reports whether c is a TLS connection whose server
// certificate verified against the CA and whose certificate the Transport
// accepts as proof of membership (Options.CertProof).
func (t *Transport) certVerified(c net.Conn) bool {
	tc, ok := c.(*tls.Conn)
	return ok && t.opts.CertProof && len(tc.ConnectionState().VerifiedChains) > 0
}
