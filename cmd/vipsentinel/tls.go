package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/vipsentinel/vipsentinel/agent/config"
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
// handshake uses them; open connections and the VIPs are untouched. A
// failure keeps the material in use.
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
