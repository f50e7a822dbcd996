package redistest

import (
	"testing"
)

// TLSFiles are the certificate, key and CA a TLS-only server uses.
type TLSFiles struct {
	Cert, Key, CA string
}

// TLSOnly returns the configuration lines of a TLS-only server (port 0,
// tls-port on the chosen port) that verifies its clients' certificates
// (tls-auth-clients yes) and replicates over TLS; pass them to Start or
// StartSentinel with any others. Server.Port is then the TLS port.
func TLSOnly(t testing.TB, f TLSFiles) []string {
	t.Helper()
	return []string{
		"port 0",
		"tls-port {port}",
		"tls-cert-file " + f.Cert,
		"tls-key-file " + f.Key,
		"tls-ca-cert-file " + f.CA,
		"tls-auth-clients yes",
		"tls-replication yes",
	}
}
