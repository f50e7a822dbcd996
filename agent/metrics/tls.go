package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// TLSCollector exports the notAfter of the certificates the agent uses
// (tls-* directives), read at scrape time so that a certificate rotated
// by a reload shows at once. Register it with Metrics.Registry.
func TLSCollector(certs func() []tlsconf.CertInfo) prometheus.Collector {
	return &tlsCollector{certs: certs, desc: prometheus.NewDesc("vipsentinel_tls_certificate_not_after_timestamp_seconds",
		"Unix time at which a certificate the agent uses expires (its notAfter); role is server, client or ca. The agent warns (+tls-certificate-expiring) 14 days before.",
		[]string{"role", "file", "subject"}, nil)}
}

type tlsCollector struct {
	certs func() []tlsconf.CertInfo
	desc  *prometheus.Desc
}

func (c *tlsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *tlsCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[[3]string]bool{}
	for _, ci := range c.certs() {
		k := [3]string{ci.Role, ci.File, ci.Subject}
		if seen[k] { // a CA file may repeat a certificate
			continue
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(ci.NotAfter.Unix()), ci.Role, ci.File, ci.Subject)
	}
}
