package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/metrics"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// startTLS reads the TLS material (when any tls-* directive is in use) and
// opens the tls-port listeners.
func startTLS(f *config.File, log *slog.Logger) (*tlsconf.Source, []net.Listener, error) {
	if !f.TLS.Enabled() {
		return nil, nil, nil
	}
	src, err := tlsconf.New(f.TLS)
	if err != nil {
		return nil, nil, configError{fmt.Errorf("tls: %w", err)}
	}
	src.SetLogger(log)
	for _, c := range src.Certificates() {
		log.Info("TLS certificate", "role", c.Role, "file", c.File, "subject", c.Subject, "not_after", c.NotAfter.UTC())
	}
	if !f.TLS.Server() {
		return src, nil, nil
	}
	lns, err := listenOn(f, f.TLS.Port, log)
	if err != nil {
		return nil, nil, fmt.Errorf("tls-port: %w", err)
	}
	return src, lns, nil
}

// reloadTLS re-reads the certificates, keys and CAs on SIGHUP. The next
// handshake uses them; the VIPs are untouched, and so are open connections
// unless the CAs changed and their peer no longer verifies (closed and
// logged by the Source, then redialled). A failure keeps the material in
// use.
func reloadTLS(src *tlsconf.Source, log *slog.Logger) {
	if src == nil {
		return
	}
	if err := src.Reload(); err != nil {
		log.Error("reload: TLS certificates not reloaded; keeping the ones in use", "err", err)
		return
	}
	for _, c := range src.Certificates() {
		log.Info("TLS certificate reloaded", "role", c.Role, "file", c.File, "subject", c.Subject, "not_after", c.NotAfter.UTC())
	}
}

// expiryWarning is how long before a certificate expires the agent warns.
const expiryWarning = 14 * 24 * time.Hour

// watchTLS exports the certificates' notAfter as a metric and publishes a
// +tls-certificate-expiring warning event (logged, and seen by
// subscribers and the events counter) for each certificate within
// expiryWarning of its notAfter: at start, then every hour for a
// certificate not yet warned about in the last day. A rotated certificate
// (reload) has a new notAfter and so is judged afresh.
func watchTLS(ctx context.Context, src *tlsconf.Source, met *metrics.Metrics, publish func(sentinel.Event)) {
	if src == nil {
		return
	}
	met.Registry().MustRegister(metrics.TLSCollector(src.Certificates))
	warned := map[tlsconf.CertInfo]time.Time{}
	check := func(now time.Time) {
		for _, c := range src.Expiring(now, expiryWarning) {
			if last, ok := warned[c]; ok && now.Sub(last) < 24*time.Hour {
				continue
			}
			warned[c] = now
			left := c.NotAfter.Sub(now).Round(time.Hour)
			what := "expires in " + left.String()
			if left <= 0 {
				what = "EXPIRED"
			}
			publish(sentinel.Event{Type: "+tls-certificate-expiring", Level: sentinel.LevelWarning,
				Payload: fmt.Sprintf("%s %s %q %s (notAfter %s)", c.Role, c.File, c.Subject, what, c.NotAfter.UTC().Format(time.RFC3339))})
		}
	}
	check(time.Now())
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			check(now)
		}
	}
}

// statusTLS reads the TLS side of the configuration at path for status:
// the certificates it names (their expiry is printed), and, for a TLS-only
// agent (port 0), the TLS configuration to reach it, with addr moved to
// tls-port unless given. A configuration that does not load leaves status
// in plain TCP, unless it was named explicitly.
func statusTLS(path string, addr *string, explicitAddr, explicitPath bool) (*tls.Config, []tlsconf.CertInfo, error) {
	f, _, err := config.Load(path)
	if err != nil {
		if explicitPath {
			return nil, nil, fmt.Errorf("read %s: %w", path, err)
		}
		return nil, nil, nil
	}
	if !f.TLS.Enabled() {
		return nil, nil, nil
	}
	certs, err := tlsconf.ReadCertificates(f.TLS)
	if err != nil {
		return nil, nil, fmt.Errorf("TLS certificates of %s: %w", path, err)
	}
	if f.Port != 0 || !f.TLS.Server() {
		return nil, certs, nil
	}
	if !explicitAddr {
		*addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(f.TLS.Port))
	}
	src, err := tlsconf.New(f.TLS)
	if err != nil {
		return nil, nil, fmt.Errorf("the agent is TLS-only (port 0) and its client certificate does not load (run status as a user who may read the keys): %w", err)
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return nil, nil, err
	}
	return src.ClientConfig(host), certs, nil
}

// printCertificates lists the certificates with their expiry, flagging
// those within expiryWarning.
func printCertificates(w io.Writer, certs []tlsconf.CertInfo, now time.Time) {
	if len(certs) == 0 {
		return
	}
	fmt.Fprintln(w, "TLS certificates (from the configuration file):")
	for _, c := range certs {
		left := c.NotAfter.Sub(now)
		note := fmt.Sprintf("%d days left", int(left.Hours()/24))
		switch {
		case left <= 0:
			note = "EXPIRED"
		case left < expiryWarning:
			note = "EXPIRES SOON: " + note
		}
		fmt.Fprintf(w, "  %-6s %s  %s  notAfter %s  (%s)\n", c.Role, c.File, c.Subject, c.NotAfter.UTC().Format(time.RFC3339), note)
	}
}
