// Package testpki makes the CAs and certificates that TLS tests use, with
// agent/tlsca, failing the test on an error. It is a package of its own,
// not part of testenv, so that the packages whose tests use testenv (vip,
// firewall, systemd) do not depend on anything in agent/.
package testpki

import (
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/tlsca"
)

// NewCA returns a new CA named name.
func NewCA(t testing.TB, name string) *tlsca.CA {
	t.Helper()
	ca, err := tlsca.New(name)
	if err != nil {
		t.Fatalf("new CA %q: %v", name, err)
	}
	return ca
}

// Issue issues a certificate from ca named name for hosts and writes it in
// dir as <name>.crt and <name>.key, beside ca's certificate (ca.crt).
func Issue(t testing.TB, ca *tlsca.CA, dir, name string, hosts ...string) tlsca.Files {
	t.Helper()
	return IssueSpec(t, ca, dir, name, tlsca.Spec{Name: name, Hosts: hosts})
}

// IssueSpec is Issue for any spec, written as <file>.crt and <file>.key:
// a certificate that replaces another under the same file name, or one
// with its own validity.
func IssueSpec(t testing.TB, ca *tlsca.CA, dir, file string, s tlsca.Spec) tlsca.Files {
	t.Helper()
	l, err := ca.Issue(s)
	if err != nil {
		t.Fatalf("issue %q: %v", s.Name, err)
	}
	f, err := ca.WriteFiles(dir, file, l)
	if err != nil {
		t.Fatalf("write %q in %s: %v", file, dir, err)
	}
	return f
}
