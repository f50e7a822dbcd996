package api

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestTLSReloadClosesUntrustedClients: API clients (tls-auth-clients yes,
// protected mode, remote) connected with certificates of two CAs; a
// reload of unchanged files keeps both; a reload that trusts only the new
// CA closes the old CA's client (logged) and keeps the other.
func TestTLSReloadClosesUntrustedClients(t *testing.T) {
	rot, err := tlsca.NewRotation(t.TempDir(), tlsca.Spec{Name: "node", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	// One certificate serves and dials, as the agents use it.
	server, oldClient, newClient := rot.NewLeaf, rot.OldLeaf, rot.NewLeaf
	s := tlsconf.Defaults()
	s.Port, s.AuthClients = 1, tlsconf.AuthYes
	s.CertFile, s.KeyFile, s.CACertFile = server.Cert, server.Key, rot.Trusted
	src, err := tlsconf.New(s)
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	src.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	_, addr := serveOn(t, Config{ProtectedMode: true}, func(ln net.Listener) net.Listener {
		return tls.NewListener(src.TrackListener(remoteListener{ln, tcpAddr("198.18.0.5:40000")}), src.ServerConfig())
	})

	type conn struct {
		c  *tls.Conn
		br *bufio.Reader
	}
	dial := func(f tlsca.Files) conn {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(rot.New.Cert)
		cfg := &tls.Config{ServerName: "127.0.0.1", Certificates: []tls.Certificate{cert}, RootCAs: roots}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return conn{c, bufio.NewReader(c)}
	}
	ping := func(c conn) string {
		_ = c.c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
			return err.Error()
		}
		line, err := c.br.ReadString('\n')
		if err != nil {
			return err.Error()
		}
		return strings.TrimRight(line, "\r\n")
	}
	oldC, newC := dial(oldClient), dial(newClient)
	for _, c := range []conn{oldC, newC} {
		if got := ping(c); got != "+PONG" {
			t.Fatalf("PING: %q", got)
		}
	}
	if err := src.Reload(); err != nil { // same files
		t.Fatal(err)
	}
	for _, c := range []conn{oldC, newC} {
		if got := ping(c); got != "+PONG" {
			t.Fatalf("after a reload of unchanged files, PING: %q", got)
		}
	}
	if err := rot.Trust(rot.New); err != nil {
		t.Fatal(err)
	}
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := ping(oldC); got == "+PONG" || strings.Contains(got, "timeout") {
		t.Errorf("the old CA's client after the reload: PING %q, want the connection closed", got)
	}
	if got := ping(newC); got != "+PONG" {
		t.Errorf("the new CA's client after the reload: PING %q", got)
	}
	if got := logs.String(); !strings.Contains(got, "direction=incoming") || !strings.Contains(got, "unknown authority") {
		t.Errorf("no log line for the closed client:\n%s", got)
	}
}
