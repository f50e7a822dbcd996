package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

func TestTLSCollector(t *testing.T) {
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	c := TLSCollector(func() []tlsconf.CertInfo {
		return []tlsconf.CertInfo{{Role: "server", File: "/etc/vipsentinel/tls/agent.crt", Subject: "CN=h1", NotAfter: at}}
	})
	want := `# HELP vipsentinel_tls_certificate_not_after_timestamp_seconds Unix time at which a certificate the agent uses expires (its notAfter); role is server, client or ca. The agent warns (+tls-certificate-expiring) 14 days before.
# TYPE vipsentinel_tls_certificate_not_after_timestamp_seconds gauge
vipsentinel_tls_certificate_not_after_timestamp_seconds{file="/etc/vipsentinel/tls/agent.crt",role="server",subject="CN=h1"} 1.798859045e+09
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
