package config

import (
	"strings"
	"testing"

	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
	"github.com/vipsentinel/vipsentinel/internal/testenv/testpki"
)

func TestTLSOnly(t *testing.T) {
	dir := t.TempDir()
	files := testpki.Issue(t, testpki.NewCA(t, "ca"), dir, "agent", "198.18.0.1")
	text := "port 0\ntls-port 26380\n" +
		"tls-cert-file " + files.Cert + "\ntls-key-file " + files.Key + "\ntls-ca-cert-file " + files.CA + "\n" +
		"tls-auth-clients optional\ntls-replication yes\ntls-protocols \"TLSv1.2 TLSv1.3\"\n" +
		"tls-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256\ntls-dh-params-file /etc/redis/dh.pem\n" +
		"sentinel monitor m 198.18.0.1 6379 2\n"
	f, warns, err := Parse(testPath, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if f.Port != 0 || f.TLS.Port != 26380 || !f.TLS.Replication || f.TLS.AuthClients != tlsconf.AuthOptional {
		t.Fatalf("parsed %+v / %+v", f.Port, f.TLS)
	}
	if got := f.AnnouncedPort(); got != 26380 {
		t.Errorf("AnnouncedPort = %d, want the tls-port", got)
	}
	var all []string
	for _, w := range warns {
		all = append(all, w.String())
	}
	if !strings.Contains(strings.Join(all, "\n"), "no finite-field Diffie-Hellman") {
		t.Errorf("warnings %q do not explain tls-dh-params-file", all)
	}
	eff := f.Effective()
	g, _, err := Parse(testPath, []byte(eff))
	if err != nil {
		t.Fatalf("Effective does not parse: %v\n%s", err, eff)
	}
	if g.Effective() != eff {
		t.Errorf("Effective round trip differs:\n%s\n---\n%s", eff, g.Effective())
	}
	if !strings.Contains(eff, "tls-port 26380") || !strings.Contains(eff, "port 0") {
		t.Errorf("Effective lacks the TLS settings:\n%s", eff)
	}
}
