package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

// TestIssue: the files Issue writes are a key pair for the hosts, signed by
// the CA whose certificate lies beside them, and by no other.
func TestIssue(t *testing.T) {
	dir := t.TempDir()
	ca, other := NewCA(t, "test CA"), NewCA(t, "other CA")
	f := Issue(t, ca, dir, "server", "127.0.0.1", "localhost")
	if want := filepath.Join(dir, "server.crt"); f.Cert != want || f.Key != filepath.Join(dir, "server.key") || f.CA != filepath.Join(dir, "ca.crt") {
		t.Fatalf("files %+v, want server.crt, server.key and ca.crt in %s", f, dir)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("certificate for %s: %v", host, err)
		}
	}
	others := x509.NewCertPool()
	others.AddCert(other.Cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: others}); err == nil {
		t.Error("certificate verified by another CA")
	}
}
