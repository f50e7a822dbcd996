package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"
)

// CertInfo describes one certificate in use, for status and metrics.
type CertInfo struct {
	Role     string // "server", "client" or "ca"
	File     string
	Subject  string
	NotAfter time.Time
}

// material is what one load read from disk.
type material struct {
	server *tls.Certificate // nil without tls-cert-file
	client *tls.Certificate // nil without a client pair
	roots  *x509.CertPool
	certs  []CertInfo
}

// Source hands out TLS configurations built from Settings and the files
// they name, as last (re)loaded.
type Source struct {
	s     Settings
	p     params
	cur   atomic.Pointer[material]
	cache tls.ClientSessionCache // nil: no session resumption on our links
	live  live                   // connections to re-verify on Reload (live.go)
}

// New checks s, reads the files it names and returns a Source.
func New(s Settings) (*Source, error) {
	if errs, _ := s.Check(); len(errs) > 0 {
		return nil, errors.Join(problemErrs(errs)...)
	}
	p, err := s.params()
	if err != nil {
		return nil, err
	}
	src := &Source{s: s, p: p}
	if s.SessionCaching {
		src.cache = tls.NewLRUClientSessionCache(s.SessionCacheSize)
	}
	if err := src.Reload(); err != nil {
		return nil, err
	}
	return src, nil
}

func problemErrs(ps []Problem) []error {
	out := make([]error, len(ps))
	for i, p := range ps {
		out[i] = p
	}
	return out
}

// Settings returns the settings the Source was built from.
func (src *Source) Settings() Settings { return src.s }

// Reload re-reads the certificates, keys and CAs. On error the material
// loaded before stays in use. When the CAs changed, the live connections
// whose peer no longer verifies under them are closed (live.go); with the
// same CAs, none is.
func (src *Source) Reload() error {
	m, err := load(&src.s)
	if err != nil {
		return err
	}
	if old := src.cur.Swap(m); old != nil && !old.roots.Equal(m.roots) {
		src.reverify(m)
	}
	return nil
}

// Check reads the files s names without keeping them: check-config's test
// that the agent would start.
func Check(s Settings) error {
	_, err := load(&s)
	return err
}

// Certificates describes the certificates in use.
func (src *Source) Certificates() []CertInfo { return slices.Clone(src.cur.Load().certs) }

func load(s *Settings) (*material, error) {
	m := &material{roots: x509.NewCertPool()}
	if s.CACertFile != "" {
		b, err := os.ReadFile(s.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-cert-file: %w", err)
		}
		n, err := addCAs(m, s.CACertFile, b)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-cert-file %s: %w", s.CACertFile, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("tls-ca-cert-file %s: no PEM certificate in the file", s.CACertFile)
		}
	}
	if s.CACertDir != "" {
		ents, err := os.ReadDir(s.CACertDir)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-cert-dir: %w", err)
		}
		total := 0
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			p := filepath.Join(s.CACertDir, e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("tls-ca-cert-dir: %w", err)
			}
			// Files without certificates (a README, CRLs) are skipped,
			// as OpenSSL's hashed directory lookup does.
			n, err := addCAs(m, p, b)
			if err != nil {
				return nil, fmt.Errorf("tls-ca-cert-dir: %s: %w", p, err)
			}
			total += n
		}
		if total == 0 {
			return nil, fmt.Errorf("tls-ca-cert-dir %s: no PEM certificate in the directory", s.CACertDir)
		}
	}
	if s.CertFile != "" {
		c, err := loadPair(s.CertFile, s.KeyFile, s.KeyFilePass)
		if err != nil {
			return nil, fmt.Errorf("tls-cert-file/tls-key-file: %w", err)
		}
		m.server = c
		m.certs = append(m.certs, info("server", s.CertFile, c.Leaf))
	}
	if s.ClientCertFile != "" {
		c, err := loadPair(s.ClientCertFile, s.ClientKeyFile, s.ClientKeyFilePass)
		if err != nil {
			return nil, fmt.Errorf("tls-client-cert-file/tls-client-key-file: %w", err)
		}
		m.client = c
		m.certs = append(m.certs, info("client", s.ClientCertFile, c.Leaf))
	} else {
		m.client = m.server
	}
	return m, nil
}

func info(role, file string, c *x509.Certificate) CertInfo {
	return CertInfo{Role: role, File: file, Subject: c.Subject.String(), NotAfter: c.NotAfter}
}

// addCAs adds the certificates of a PEM file to m's roots.
func addCAs(m *material, file string, b []byte) (int, error) {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return n, nil
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return n, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		m.roots.AddCert(c)
		m.certs = append(m.certs, info("ca", file, c))
		n++
	}
}

// loadPair reads a certificate chain and its key; pass decrypts a key in
// the legacy encrypted PEM format (what "openssl rsa -aes256" writes and
// Redis's tls-key-file-pass opens).
func loadPair(certFile, keyFile, pass string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	if pass != "" {
		if keyPEM, err = decryptKey(keyFile, keyPEM, pass); err != nil {
			return nil, err
		}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", certFile, keyFile, err)
	}
	return &c, nil // Go 1.23+ fills c.Leaf
}

func decryptKey(file string, b []byte, pass string) ([]byte, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", file)
	}
	if blk.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, fmt.Errorf("%s: PKCS#8-encrypted keys are not supported by Go's standard library; convert the key with \"openssl pkcs8 -topk8 -nocrypt\" (and protect it by file permissions) or to the legacy format (\"openssl rsa -aes256\" / \"openssl ec -aes256\")", file)
	}
	//lint:ignore SA1019 legacy PEM encryption is what tls-key-file-pass opens; it is the only passphrase format the standard library reads.
	if !x509.IsEncryptedPEMBlock(blk) {
		return b, nil
	}
	//lint:ignore SA1019 see above.
	der, err := x509.DecryptPEMBlock(blk, []byte(pass))
	if err != nil {
		return nil, fmt.Errorf("%s: decrypt with tls-key-file-pass: %w", file, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: der}), nil
}

// ServerConfig is the API's configuration. Each handshake reads the latest
// material, so Reload applies to the next client.
func (src *Source) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: src.p.min,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			m := src.cur.Load()
			c := &tls.Config{
				MinVersion:             src.p.min,
				MaxVersion:             src.p.max,
				CipherSuites:           src.p.suites,
				ClientCAs:              m.roots,
				SessionTicketsDisabled: !src.s.SessionCaching,
			}
			if m.server != nil {
				c.Certificates = []tls.Certificate{*m.server}
			}
			switch src.s.AuthClients {
			case AuthYes:
				c.ClientAuth = tls.RequireAndVerifyClientCert
			case AuthOptional:
				c.ClientAuth = tls.VerifyClientCertIfGiven
			default:
				c.ClientAuth = tls.NoClientCert
			}
			if lc, ok := hello.Conn.(*liveConn); ok { // TrackListener
				c.VerifyConnection = src.verifyConnection(lc)
			}
			return c, nil
		},
	}
}

// ClientConfig is the configuration of one outgoing link to host (a name
// or an IP address as the link dials it). The server's certificate must
// chain to the CA and name host: a DNS SAN for a hostname, an IP SAN for
// an address (crypto/tls checks whichever ServerName is).
func (src *Source) ClientConfig(host string) *tls.Config {
	m := src.cur.Load()
	return &tls.Config{
		ServerName:         host,
		RootCAs:            m.roots,
		MinVersion:         src.p.min,
		MaxVersion:         src.p.max,
		CipherSuites:       src.p.suites,
		ClientSessionCache: src.cache,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := src.cur.Load().client; c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil // none: the server decides
		},
	}
}

// Expiring returns the certificates that expire within d of now (or have
// expired).
func (src *Source) Expiring(now time.Time, d time.Duration) []CertInfo {
	var out []CertInfo
	for _, c := range src.cur.Load().certs {
		if c.NotAfter.Sub(now) < d {
			out = append(out, c)
		}
	}
	return out
}

// ReadCertificates describes the certificates s names (CAs, server and
// client certificates) without reading any key: what a status command
// run by an operator who may not read the keys can show.
func ReadCertificates(s Settings) ([]CertInfo, error) {
	m := &material{roots: x509.NewCertPool()}
	var files []string
	if s.CACertFile != "" {
		files = append(files, s.CACertFile)
	}
	if s.CACertDir != "" {
		ents, err := os.ReadDir(s.CACertDir)
		if err != nil {
			return nil, fmt.Errorf("tls-ca-cert-dir: %w", err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				files = append(files, filepath.Join(s.CACertDir, e.Name()))
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if _, err := addCAs(m, f, b); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	for _, l := range []struct{ role, file string }{{"server", s.CertFile}, {"client", s.ClientCertFile}} {
		if l.file == "" {
			continue
		}
		b, err := os.ReadFile(l.file)
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM certificate", l.file)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.file, err)
		}
		m.certs = append(m.certs, info(l.role, l.file, c))
	}
	return m.certs, nil
}
