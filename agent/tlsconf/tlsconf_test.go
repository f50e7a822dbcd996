package tlsconf

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/internal/testenv/testpki"
)

func TestCheck(t *testing.T) {
	base := func() Settings {
		s := Defaults()
		s.Port, s.CertFile, s.KeyFile, s.CACertFile = 26380, "a.crt", "a.key", "ca.crt"
		return s
	}
	for _, tc := range []struct {
		name    string
		edit    func(*Settings)
		wantErr string // "" means valid
		note    string
	}{
		{"defaults", func(*Settings) {}, "", ""},
		{"no cert", func(s *Settings) { s.CertFile = "" }, "tls-port needs tls-cert-file", ""},
		{"no CA", func(s *Settings) { s.CACertFile = "" }, "tls-ca-cert-file or tls-ca-cert-dir", ""},
		{"replication without client pair", func(s *Settings) { s.Replication, s.CertFile, s.KeyFile, s.Port = true, "", "", 0 }, "needs a client certificate", ""},
		{"protocols", func(s *Settings) { s.Protocols = []string{"TLSv1.2 TLSv1.3"} }, "", ""},
		{"unknown protocol", func(s *Settings) { s.Protocols = []string{"SSLv3"} }, `unknown protocol "SSLv3"`, ""},
		{"protocol gap", func(s *Settings) { s.Protocols = []string{"TLSv1.1", "TLSv1.3"} }, "gap", ""},
		{"openssl ciphers", func(s *Settings) { s.Ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305" }, "", ""},
		{"iana ciphers", func(s *Settings) { s.Ciphers = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" }, "", ""},
		{"cipher keyword", func(s *Settings) { s.Ciphers = "HIGH:!aNULL" }, "keyword", ""},
		{"dhe cipher", func(s *Settings) { s.Ciphers = "DHE-RSA-AES128-GCM-SHA256" }, "finite-field", ""},
		{"unknown cipher", func(s *Settings) { s.Ciphers = "ECDHE-RSA-FOO" }, "unknown or unsupported cipher", ""},
		{"tls13 suites", func(s *Settings) { s.CipherSuites = "TLS_AES_128_GCM_SHA256" }, "", "tls-ciphersuites"},
		{"bad tls13 suite", func(s *Settings) { s.CipherSuites = "TLS_AES_128_CCM_SHA256" }, "unknown TLS 1.3 suite", ""},
		{"dh params", func(s *Settings) { s.DHParamsFile = "/etc/dh.pem" }, "", "no finite-field Diffie-Hellman"},
		{"auth clients", func(s *Settings) { s.AuthClients = "maybe" }, "want yes, no or optional", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.edit(&s)
			errs, notes := s.Check()
			got := ""
			for _, e := range errs {
				got += e.Error() + "\n"
			}
			if tc.wantErr == "" && got != "" || tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Fatalf("errors %q, want %q", got, tc.wantErr)
			}
			if tc.note != "" {
				all := ""
				for _, n := range notes {
					all += n.Error()
				}
				if !strings.Contains(all, tc.note) {
					t.Fatalf("notes %q, want %q", all, tc.note)
				}
			}
		})
	}
}

// pki writes a CA and certificates for "server" and "client" in dir.
type pki struct {
	ca           *tlsca.CA
	dir          string
	caFile       string
	server       tlsca.Files
	client       tlsca.Files
	otherCA      *tlsca.CA
	otherCAFiles tlsca.Files
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca := testpki.NewCA(t, "test CA")
	p := &pki{ca: ca, dir: dir}
	p.server = testpki.Issue(t, ca, dir, "server", "127.0.0.1", "localhost")
	p.client = testpki.Issue(t, ca, dir, "client")
	p.caFile = p.server.CA
	p.otherCA = testpki.NewCA(t, "other CA")
	p.otherCAFiles = testpki.Issue(t, p.otherCA, filepath.Join(dir, "other"), "intruder", "127.0.0.1")
	return p
}

func (p *pki) settings(auth AuthClients) Settings {
	s := Defaults()
	s.Port, s.Replication, s.AuthClients = 1, true, auth
	s.CertFile, s.KeyFile, s.CACertFile = p.server.Cert, p.server.Key, p.caFile
	return s
}

// source is New(p.settings(auth)): a Source serving p's server
// certificate.
func (p *pki) source(t *testing.T, auth AuthClients) *Source {
	t.Helper()
	src, err := New(p.settings(auth))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// serve accepts TLS connections and reports each handshake's outcome.
func serve(t *testing.T, cfg *tls.Config) (string, <-chan error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan error, 16)
	testenv.Serve(t, ln, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		err := c.(*tls.Conn).Handshake()
		if err == nil {
			_, err = c.Write([]byte("+OK\r\n"))
		}
		out <- err
	})
	return ln.Addr().String(), out
}

func dial(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 5)
	_, err = c.Read(b) // TLS 1.3: a refused client certificate shows up here
	return err
}

func TestHandshakes(t *testing.T) {
	p := newPKI(t)
	clientSettings := func(cert, key string) Settings {
		s := p.settings(AuthYes)
		s.Port = 0
		s.ClientCertFile, s.ClientKeyFile = cert, key
		return s
	}
	good, err := New(clientSettings(p.client.Cert, p.client.Key))
	if err != nil {
		t.Fatal(err)
	}
	intruder := clientSettings(p.otherCAFiles.Cert, p.otherCAFiles.Key)
	bad, err := New(intruder)
	if err != nil {
		t.Fatal(err)
	}
	// A client that has no certificate at all.
	none := &tls.Config{RootCAs: good.ClientConfig("x").RootCAs, ServerName: "127.0.0.1"}

	for _, tc := range []struct {
		auth                  AuthClients
		good, intruder, plain bool // handshake succeeds
	}{
		{AuthYes, true, false, false},
		{AuthOptional, true, false, true},
		{AuthNo, true, true, true},
	} {
		t.Run(string(tc.auth), func(t *testing.T) {
			srv := p.source(t, tc.auth)
			addr, results := serve(t, srv.ServerConfig())
			for _, c := range []struct {
				name string
				cfg  *tls.Config
				ok   bool
			}{{"valid cert", good.ClientConfig("127.0.0.1"), tc.good}, {"other CA", bad.ClientConfig("127.0.0.1"), tc.intruder}, {"no cert", none, tc.plain}} {
				// The intruder trusts its own CA only; give it ours so
				// that only the server's check of its certificate is tested.
				if c.name == "other CA" {
					c.cfg.RootCAs = none.RootCAs
				}
				err := dial(addr, c.cfg)
				serr := <-results
				if (err == nil && serr == nil) != c.ok {
					t.Errorf("%s: client err %v, server err %v; want success %v", c.name, err, serr, c.ok)
				}
				if !c.ok && c.name == "other CA" && serr != nil && !strings.Contains(serr.Error(), "unknown authority") {
					t.Errorf("%s: server error %q does not name the problem", c.name, serr)
				}
			}
		})
	}
}

func TestServerNameVerified(t *testing.T) {
	p := newPKI(t)
	srv := p.source(t, AuthNo)
	addr, results := serve(t, srv.ServerConfig())
	for _, tc := range []struct {
		host string
		ok   bool
	}{{"127.0.0.1", true}, {"localhost", true}, {"127.0.0.2", false}, {"redis.example", false}} {
		err := dial(addr, srv.ClientConfig(tc.host))
		<-results
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want success %v", tc.host, err, tc.ok)
		}
	}
}

func TestExpiredCertificate(t *testing.T) {
	p := newPKI(t)
	old := testpki.IssueSpec(t, p.ca, filepath.Join(p.dir, "old"), "old", tlsca.Spec{Name: "old", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	srv := p.source(t, AuthYes)
	s := p.settings(AuthYes)
	s.Port, s.ClientCertFile, s.ClientKeyFile = 0, old.Cert, old.Key
	cl, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	if exp := cl.Expiring(time.Now(), 14*24*time.Hour); len(exp) != 1 || exp[0].Role != "client" {
		t.Errorf("Expiring = %+v, want the client certificate", exp)
	}
	addr, results := serve(t, srv.ServerConfig())
	_ = dial(addr, cl.ClientConfig("127.0.0.1"))
	if serr := <-results; serr == nil || !strings.Contains(serr.Error(), "expired") {
		t.Fatalf("server error %v, want one saying the certificate expired", serr)
	}
}

func TestReloadRotates(t *testing.T) {
	p := newPKI(t)
	srv := p.source(t, AuthNo)
	addr, results := serve(t, srv.ServerConfig())
	serial := func() string {
		c, err := tls.Dial("tcp", addr, srv.ClientConfig("127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-results
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	testpki.IssueSpec(t, p.ca, p.dir, "server", tlsca.Spec{Name: "server2", Hosts: []string{"127.0.0.1"}})
	if got := serial(); got != before {
		t.Fatalf("certificate changed before Reload")
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := serial(); got == before {
		t.Fatalf("Reload did not pick up the rotated certificate")
	}
	// A broken file on disk: Reload fails and the loaded material stays.
	if err := os.WriteFile(p.server.Key, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err == nil {
		t.Fatal("Reload accepted a broken key")
	}
	_ = serial()
}

func TestEncryptedKey(t *testing.T) {
	p := newPKI(t)
	s := p.settings(AuthNo)
	s.KeyFile = filepath.Join(p.dir, "enc.key")
	if err := os.WriteFile(s.KeyFile, []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.KeyFilePass = "secret"
	_, err := New(s)
	if err == nil || !strings.Contains(err.Error(), "PKCS#8-encrypted") {
		t.Fatalf("err %v, want the PKCS#8 explanation", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatal("error quotes the passphrase")
	}
}
