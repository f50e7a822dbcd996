package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// newTwoCAs is tlsca's rotation fixture for 127.0.0.1 in a temporary
// directory, trusting both CAs.
func newTwoCAs(t *testing.T) *twoCAs {
	t.Helper()
	r, err := tlsca.NewRotation(t.TempDir(), tlsca.Spec{Name: "node", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	return &twoCAs{r}
}

// twoCAs is a CA rotation with the tests' helpers.
type twoCAs struct{ *tlsca.Rotation }

// trust rewrites the CA file with cas.
func (p *twoCAs) trust(t *testing.T, cas ...*tlsca.CA) {
	t.Helper()
	if err := p.Trust(cas...); err != nil {
		t.Fatal(err)
	}
}

func (p *twoCAs) source(t *testing.T, auth AuthClients, log *testenv.Buffer) *Source {
	t.Helper()
	s := Defaults()
	s.Port, s.Replication, s.AuthClients = 1, true, auth
	s.CertFile, s.KeyFile, s.CACertFile = p.NewLeaf.Cert, p.NewLeaf.Key, p.Trusted
	src, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	src.SetLogger(slog.New(slog.NewTextHandler(log, nil)))
	return src
}

// pool returns a pool of cas.
func pool(cas ...*tlsca.CA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, ca := range cas {
		p.AddCert(ca.Cert)
	}
	return p
}

// echo serves ln, echoing each connection until it closes.
func echo(t *testing.T, ln net.Listener) {
	t.Helper()
	testenv.Serve(t, ln, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// roundTrip reports whether c still carries data both ways.
func roundTrip(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if string(b) != "ping" {
		return errors.New("garbled echo")
	}
	return nil
}

// isClosed reports whether c was closed (not merely slow).
func isClosed(c net.Conn) bool {
	err := roundTrip(c)
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestReloadReverifiesLinks: outgoing links to a server of the old CA are
// closed by a reload that trusts only the new CA, with the peer and the
// reason logged; links to a server of the new CA stay; a reload of
// unchanged files closes nothing.
func TestReloadReverifiesLinks(t *testing.T) {
	p := newTwoCAs(t)
	var logs testenv.Buffer
	src := p.source(t, AuthYes, &logs)
	serverOf := func(f tlsca.Files) string {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			t.Fatal(err)
		}
		ln := tls.NewListener(testenv.Listen(t), &tls.Config{Certificates: []tls.Certificate{cert}})
		echo(t, ln)
		return ln.Addr().String()
	}
	oldSrv, newSrv := serverOf(p.OldLeaf), serverOf(p.NewLeaf)
	link := func(addr string) *tls.Conn {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := src.Client(raw, "127.0.0.1")
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Handshake(); err != nil {
			t.Fatalf("handshake with %s: %v", addr, err)
		}
		if err := roundTrip(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	toNew, toOld := link(newSrv), link(oldSrv) // the session cache is keyed by name: the old server's last
	// A second link resumes the first one's session: after the reload,
	// it must not resume its way back (below).
	resumed := link(oldSrv)
	if !resumed.ConnectionState().DidResume {
		t.Fatal("the second link to the old CA's server did not resume its session")
	}
	if n := src.Tracked(); n != 3 {
		t.Fatalf("Tracked %d, want 3", n)
	}

	if err := src.Reload(); err != nil { // same files
		t.Fatal(err)
	}
	for _, c := range []*tls.Conn{toOld, toNew, resumed} {
		if err := roundTrip(c); err != nil {
			t.Fatalf("a reload of unchanged files broke a link: %v", err)
		}
	}

	p.trust(t, p.New) // the old CA is rotated out
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if !isClosed(toOld) || !isClosed(resumed) {
		t.Error("a link to the old CA's server is still up")
	}
	if err := roundTrip(toNew); err != nil {
		t.Errorf("the link to the new CA's server broke: %v", err)
	}
	if n := src.Tracked(); n != 1 {
		t.Errorf("Tracked %d after the reload, want 1", n)
	}
	log := logs.String()
	for _, want := range []string{"direction=outgoing", "peer=" + oldSrv, "host=127.0.0.1", "unknown authority"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, newSrv) {
		t.Errorf("log names the link that stayed:\n%s", log)
	}
	// The link redials under the new configuration: the old server is
	// refused, though the client still holds a session to resume with it.
	raw, err := net.Dial("tcp", oldSrv)
	if err != nil {
		t.Fatal(err)
	}
	c := src.Client(raw, "127.0.0.1")
	if err := c.Handshake(); err == nil {
		t.Errorf("a new link to the old CA's server verified (resumed: %v)", c.ConnectionState().DidResume)
	}
	_ = c.Close()
	if n := src.Tracked(); n != 1 {
		t.Errorf("Tracked %d after a failed handshake, want 1", n)
	}
}

// TestReloadReverifiesClients: API clients (tls-auth-clients yes) with a
// certificate of the old CA are closed by a reload that trusts only the
// new CA; clients of the new CA stay; a client admitted without a
// certificate (optional) stays too.
func TestReloadReverifiesClients(t *testing.T) {
	for _, auth := range []AuthClients{AuthYes, AuthOptional} {
		t.Run(string(auth), func(t *testing.T) {
			p := newTwoCAs(t)
			var logs testenv.Buffer
			src := p.source(t, auth, &logs)
			ln := tls.NewListener(src.TrackListener(testenv.Listen(t)), src.ServerConfig())
			echo(t, ln)
			client := func(f *tlsca.Files) net.Conn {
				cfg := &tls.Config{ServerName: "127.0.0.1", RootCAs: pool(p.New)}
				if f != nil {
					cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
					if err != nil {
						t.Fatal(err)
					}
					cfg.Certificates = []tls.Certificate{cert}
				}
				c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.Close() })
				// The server has verified the client once it echoes.
				if err := roundTrip(c); err != nil {
					t.Fatal(err)
				}
				return c
			}
			oldC, newC := client(&p.OldLeaf), client(&p.NewLeaf)
			conns := []net.Conn{oldC, newC}
			var none net.Conn
			if auth == AuthOptional {
				none = client(nil)
				conns = append(conns, none)
			}
			if err := src.Reload(); err != nil { // same files
				t.Fatal(err)
			}
			for _, c := range conns {
				if err := roundTrip(c); err != nil {
					t.Fatalf("a reload of unchanged files broke a client: %v", err)
				}
			}
			p.trust(t, p.New)
			if err := src.Reload(); err != nil {
				t.Fatal(err)
			}
			if !isClosed(oldC) {
				t.Error("the old CA's client is still connected")
			}
			if err := roundTrip(newC); err != nil {
				t.Errorf("the new CA's client was dropped: %v", err)
			}
			if none != nil {
				if err := roundTrip(none); err != nil {
					t.Errorf("the client without a certificate was dropped: %v", err)
				}
			}
			log := logs.String()
			for _, want := range []string{"direction=incoming", "peer=" + oldC.LocalAddr().String(), "unknown authority"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}

// TestReloadKeepsExpiredButTrusted: a link whose server certificate has
// expired since the handshake, still from a trusted CA, is not closed by
// a reload that changes the CAs: a reload is about trust (expiry never cut
// established connections).
func TestReloadKeepsExpiredButTrusted(t *testing.T) {
	p := newTwoCAs(t)
	src := p.source(t, AuthYes, &testenv.Buffer{})
	m := src.cur.Load()
	leaf, err := p.Old.Issue(tlsca.Spec{Name: "short", Hosts: []string{"127.0.0.1"}, NotAfter: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := &liveConn{host: "127.0.0.1"}
	cs := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}}
	if err := stillTrusted(m, c, cs, time.Now().Add(-2*time.Minute)); err != nil {
		t.Errorf("expired since the handshake, trusted CA: %v", err)
	}
	if err := stillTrusted(m, c, cs, time.Now()); err == nil {
		t.Error("expired at the handshake: verified")
	}
	p.trust(t, p.New)
	m2, err := load(&src.s)
	if err != nil {
		t.Fatal(err)
	}
	if err := stillTrusted(m2, c, cs, time.Now().Add(-2*time.Minute)); err == nil {
		t.Error("the old CA's expired certificate verified under the new CA")
	}
	wrong := &liveConn{host: "198.18.0.9"}
	if err := stillTrusted(m, wrong, cs, time.Now().Add(-2*time.Minute)); err == nil {
		t.Error("a certificate for 127.0.0.1 verified for 198.18.0.9")
	}
}
