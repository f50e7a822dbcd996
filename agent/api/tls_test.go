package api

import (
	"bufio"
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/internal/testenv/testpki"
)

// tlsFixture is a CA, a server certificate for 127.0.0.1, a client
// certificate from the CA, and one from another CA.
type tlsFixture struct {
	dir                     string
	ca                      tlsca.Files
	server, client, foreign tlsca.Files
}

func newTLSFixture(t *testing.T) *tlsFixture {
	t.Helper()
	dir := t.TempDir()
	ca, other := testpki.NewCA(t, "group CA"), testpki.NewCA(t, "other CA")
	fx := &tlsFixture{dir: dir}
	fx.server = testpki.Issue(t, ca, dir, "server", "127.0.0.1")
	fx.client = testpki.Issue(t, ca, dir, "client")
	fx.foreign = testpki.Issue(t, other, filepath.Join(dir, "other"), "foreign")
	fx.ca = fx.server
	return fx
}

func (fx *tlsFixture) source(t *testing.T, auth tlsconf.AuthClients, cert tlsca.Files) *tlsconf.Source {
	t.Helper()
	s := tlsconf.Defaults()
	s.Port, s.Replication, s.AuthClients = 1, true, auth
	s.CertFile, s.KeyFile, s.CACertFile = fx.server.Cert, fx.server.Key, fx.ca.CA
	s.ClientCertFile, s.ClientKeyFile = cert.Cert, cert.Key
	src, err := tlsconf.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestTLSClients: the API over TLS serves clients with a verified
// certificate even in protected mode from a remote address; without a
// certificate, tls-auth-clients decides; a certificate from another CA is
// refused at the handshake with the reason in the log.
func TestTLSClients(t *testing.T) {
	fx := newTLSFixture(t)
	remote := tcpAddr("198.18.0.5:40000")
	withCert := fx.source(t, tlsconf.AuthYes, fx.client)
	foreign := fx.source(t, tlsconf.AuthYes, fx.foreign)
	for _, tc := range []struct {
		auth               tlsconf.AuthClients
		cert, none, forged string // reply to PING, or "" for a refused handshake
	}{
		{tlsconf.AuthYes, "+PONG", "", ""},
		{tlsconf.AuthOptional, "+PONG", "-DENIED", ""},
		{tlsconf.AuthNo, "-DENIED", "-DENIED", "-DENIED"},
	} {
		t.Run(string(tc.auth), func(t *testing.T) {
			var logs testenv.Buffer
			srvSrc := fx.source(t, tc.auth, fx.client)
			s, addr := serveOn(t, Config{ProtectedMode: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, func(ln net.Listener) net.Listener {
				return tls.NewListener(remoteListener{ln, remote}, srvSrc.ServerConfig())
			})
			noCert := withCert.ClientConfig("127.0.0.1")
			// Nor a session to resume: one resumed from a session its
			// certificate established would rightly count as verified.
			noCert.GetClientCertificate, noCert.ClientSessionCache = nil, nil
			for _, c := range []struct {
				name string
				cfg  *tls.Config
				want string
			}{
				{"verified certificate", withCert.ClientConfig("127.0.0.1"), tc.cert},
				{"no certificate", noCert, tc.none},
				{"other CA", foreign.ClientConfig("127.0.0.1"), tc.forged},
			} {
				if c.name == "other CA" {
					c.cfg.RootCAs = noCert.RootCAs // it trusts us; we must not trust it
				}
				got := tlsPing(c.cfg, addr)
				if !strings.HasPrefix(got, c.want) || c.want == "" && got != "" {
					t.Errorf("%s: PING got %q, want %q", c.name, got, c.want)
				}
			}
			if tc.auth != tlsconf.AuthNo {
				// Failures are logged once per interval: the first one
				// is the missing certificate (yes) or the other CA.
				want := "certificate signed by unknown authority"
				if tc.auth == tlsconf.AuthYes {
					want = "client didn't provide a certificate"
				}
				testenv.Until(t, 10*time.Second, "log line "+want, func() bool { return strings.Contains(logs.String(), want) })
				if s.TLSFailures() == 0 {
					t.Error("TLSFailures is 0")
				}
			}
		})
	}
}

// tlsPing returns the first line of the reply to PING over TLS, or "" when
// the connection fails or closes first.
func tlsPing(cfg *tls.Config, addr string) string {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return ""
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimRight(line, "\r\n")
}

// TestTLSSilentClient: a client that never completes its handshake is
// closed after handshakeTimeout and does not hold the accept loop.
func TestTLSSilentClient(t *testing.T) {
	fx := newTLSFixture(t)
	src := fx.source(t, tlsconf.AuthYes, fx.client)
	_, addr := serveOn(t, Config{}, func(ln net.Listener) net.Listener { return tls.NewListener(ln, src.ServerConfig()) })
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if got := tlsPing(src.ClientConfig("127.0.0.1"), addr); got != "+PONG" {
		t.Fatalf("PING beside a silent client: %q", got)
	}
	_ = silent.SetReadDeadline(time.Now().Add(handshakeTimeout + 5*time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("silent client not closed by the server: %v", err)
	}
}
