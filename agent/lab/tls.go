package lab

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"syscall"
)

// RedisTLS makes a redis-server TLS-only, as production deployments that
// migrate to TLS run it: port 0, tls-port on RedisOptions.Port, client
// certificates required (tls-auth-clients yes) and replication over TLS.
type RedisTLS struct {
	Cert, Key, CA string // the server's certificate and key, and the CA
	// Client is the TLS configuration of the lab's own clients of the
	// server (control client, Client): the CA as root and a client
	// certificate. ServerName is filled in with the address dialled.
	Client *tls.Config
}

// lines returns the configuration lines for a TLS-only server on port.
func (t *RedisTLS) lines(port int) []string {
	if t == nil {
		return nil
	}
	return []string{
		"port 0",
		"tls-port " + strconv.Itoa(port),
		"tls-cert-file " + quote(t.Cert),
		"tls-key-file " + quote(t.Key),
		"tls-ca-cert-file " + quote(t.CA),
		"tls-auth-clients yes",
		"tls-replication yes",
	}
}

func (t *RedisTLS) client() *tls.Config {
	if t == nil {
		return nil
	}
	return t.Client
}

// TLSDialer dials inside h's namespace and completes a TLS handshake with
// cfg; the server must present a certificate for the address dialled.
func (h *Host) TLSDialer(cfg *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := h.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, err
		}
		return tc, nil
	}
}

// Hup sends SIGHUP (a reload, as systemctl reload does).
func (p *Proc) Hup() error { return p.signal(syscall.SIGHUP) }
