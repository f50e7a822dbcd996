package compat

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// The differential test over TLS: the same cases, against a TLS-only
// redis-sentinel and a TLS-only agent (port 0, tls-port, client
// certificates required), over TLS-only Redis.
//
// dial speaks TLS to the addresses registered in tlsAddrs: a TLS fixture
// registers its redis-sentinel, and startAgent an agent whose lines name a
// CA registered in tlsCAs (ports are unique, so the plaintext tests that
// run in parallel never meet them).
var (
	tlsAddrs sync.Map // address -> *tls.Config
	tlsCAs   sync.Map // tls-ca-cert-file -> *tls.Config
)

// newPKI makes a throw-away CA with one certificate for 127.0.0.1, used by
// every TLS endpoint of a fixture and by the test as a client, and returns
// the TLS-only configuration lines (redis-server, redis-sentinel and
// vipsentinel alike) and the client configuration.
func newPKI(t *testing.T) ([]string, *tls.Config) {
	t.Helper()
	ca, err := tlsca.New("compat CA")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ca.Issue(tlsca.Spec{Name: "compat", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := ca.WriteFiles(t.TempDir(), "compat", l)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	cfg := &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, ServerName: "127.0.0.1"}
	tlsCAs.Store(f.CA, cfg)
	return redistest.TLSOnly(t, redistest.TLSFiles{Cert: f.Cert, Key: f.Key, CA: f.CA}), cfg
}

// registerTLS makes dial use TLS for an agent whose configuration lines
// name a registered CA.
func registerTLS(addr string, lines []string) {
	for _, l := range lines {
		if ca, ok := strings.CutPrefix(l, "tls-ca-cert-file "); ok {
			if cfg, ok := tlsCAs.Load(ca); ok {
				tlsAddrs.Store(addr, cfg)
			}
		}
	}
}

// secure wraps c in TLS when addr is registered.
func secure(c net.Conn, addr string) (net.Conn, error) {
	cfg, ok := tlsAddrs.Load(addr)
	if !ok {
		return c, nil
	}
	tc := tls.Client(c, cfg.(*tls.Config))
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc, nil
}

// newTLSDiffFixture is newDiffFixture with everything TLS-only. The agent
// does not list the redis-sentinel: with tls-auth-clients yes its
// certificate verifies it.
func newTLSDiffFixture(t *testing.T) *diffFixture {
	t.Helper()
	tlsLines, client := newPKI(t)
	master := redistest.Start(t, tlsLines...)
	replica := redistest.Start(t, append(slices.Clone(tlsLines), fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))...)
	lines := sentinelLines("mymaster", master, 2)
	rs := redistest.StartSentinel(t, append(slices.Clone(lines), tlsLines...)...)
	tlsAddrs.Store(rs.Addr(), client)
	a := startAgent(t, append(slices.Clone(lines), tlsLines...)...)
	f := &diffFixture{master: master, replica: replica, redis: rs.Addr(), vip: a.Addr()}
	for _, addr := range []string{f.redis, f.vip} {
		testenv.Eventually(t, 20*time.Second, addr+" to see the replica and the other sentinel over TLS", func() error {
			return settled(addr, "mymaster", 1, 1)
		})
	}
	return f
}

// TestDifferentialTLS runs the differential cases against TLS-only
// deployments: the replies must be the same as over plaintext.
func TestDifferentialTLS(t *testing.T) {
	t.Parallel()
	f := newTLSDiffFixture(t)
	for _, c := range diffCases(f) {
		t.Run(c.name, func(t *testing.T) { c.check(t, f.redis, f.vip) })
	}
}
