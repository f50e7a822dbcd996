// Package tlsca is a throw-away certificate authority for labs, demos and
// tests: it issues ECDSA P-256 certificates with crypto/x509 and writes
// them as PEM files in the layout the tls-* directives expect. It is not
// meant for production keys (they live in memory and on disk unencrypted).
package tlsca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA signs certificates.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
	PEM  []byte
}

// New creates a CA named name, valid from an hour ago for a year.
func New(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"vipsentinel throw-away CA"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// Leaf is an issued certificate and its key, PEM-encoded.
type Leaf struct {
	CertPEM, KeyPEM []byte
}

// Spec says what to issue.
type Spec struct {
	Name      string   // common name
	Hosts     []string // SANs: IP addresses become IP SANs, anything else DNS SANs
	NotBefore time.Time
	NotAfter  time.Time // zero: a year from now
}

// Issue signs a certificate for both server and client use (the agents,
// like Redis, use one certificate in both roles).
func (ca *CA) Issue(s Spec) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if s.NotBefore.IsZero() {
		s.NotBefore = time.Now().Add(-time.Hour)
	}
	if s.NotAfter.IsZero() {
		s.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: s.Name},
		NotBefore:    s.NotBefore,
		NotAfter:     s.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range s.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}

// Files are the paths WriteFiles wrote.
type Files struct {
	CA, Cert, Key string
}

// WriteFiles writes the CA certificate (ca.crt), and the leaf as
// <name>.crt and <name>.key (mode 0600) in dir.
func (ca *CA) WriteFiles(dir, name string, l *Leaf) (Files, error) {
	f := Files{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return f, err
	}
	for _, w := range []struct {
		path string
		b    []byte
		mode os.FileMode
	}{{f.CA, ca.PEM, 0o644}, {f.Cert, l.CertPEM, 0o644}, {f.Key, l.KeyPEM, 0o600}} {
		if err := writeAtomic(w.path, w.b, w.mode); err != nil {
			return f, err
		}
	}
	return f, nil
}

// IssueFiles issues a leaf for s and writes it in dir as WriteFiles does,
// named s.Name.
func (ca *CA) IssueFiles(dir string, s Spec) (Files, error) {
	l, err := ca.Issue(s)
	if err != nil {
		return Files{}, err
	}
	return ca.WriteFiles(dir, s.Name, l)
}

// writeAtomic replaces path by rename, as a certificate rotation should:
// a reader never sees half a file.
func writeAtomic(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Rotation is the fixture of a CA rotation: an old and a new CA, each with
// a certificate for the same spec (in dir/old and dir/new), and a CA file,
// Trusted, that a test rewrites with Trust to trust both or only the new
// one before it asks for a reload.
type Rotation struct {
	Old, New         *CA
	OldLeaf, NewLeaf Files
	Trusted          string
}

// NewRotation creates the two CAs, issues spec from each, and writes
// Trusted (dir/trusted.crt) trusting both.
func NewRotation(dir string, spec Spec) (*Rotation, error) {
	r := &Rotation{Trusted: filepath.Join(dir, "trusted.crt")}
	var err error
	if r.Old, err = New("old CA"); err != nil {
		return nil, err
	}
	if r.New, err = New("new CA"); err != nil {
		return nil, err
	}
	if r.OldLeaf, err = r.Old.IssueFiles(filepath.Join(dir, "old"), spec); err != nil {
		return nil, err
	}
	if r.NewLeaf, err = r.New.IssueFiles(filepath.Join(dir, "new"), spec); err != nil {
		return nil, err
	}
	return r, r.Trust(r.Old, r.New)
}

// Trust rewrites Trusted with the certificates of cas.
func (r *Rotation) Trust(cas ...*CA) error { return WriteBundle(r.Trusted, cas...) }

// WriteBundle writes the certificates of cas to path, replacing it.
func WriteBundle(path string, cas ...*CA) error {
	var b []byte
	for _, ca := range cas {
		b = append(b, ca.PEM...)
	}
	return writeAtomic(path, b, 0o644)
}
