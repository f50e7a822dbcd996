package runtime

import (
	"net"
	"sync"

	"github.com/vipsentinel/vipsentinel/agent/redislink"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// linkTLS sets the TLS options of the default Transport: TLS links with
// tls-replication yes, and certificates as proof of membership with
// tls-auth-clients yes (the CA then admits only the group's agents, and
// the peers check ours the same way).
func linkTLS(o *redislink.Options, src *tlsconf.Source) {
	if src == nil {
		return
	}
	s := src.Settings()
	if !s.Client() {
		return
	}
	o.TLS = src.Client
	o.CertProof = s.AuthClients == tlsconf.AuthYes
}

// serveTLS serves the API on the TLS listeners, tracked so that a reload
// of the CAs closes the clients whose certificate no longer verifies.
func (r *Runtime) serveTLS(wg *sync.WaitGroup) {
	if r.opts.TLS == nil {
		return
	}
	cfg := r.opts.TLS.ServerConfig()
	for _, ln := range r.opts.TLSListeners {
		wg.Add(1)
		go func(ln net.Listener) {
			defer wg.Done()
			if err := r.api.ServeTLS(r.opts.TLS.TrackListener(ln), cfg); err != nil {
				r.log.Error("api TLS listener failed", "addr", ln.Addr().String(), "err", err)
			}
		}(ln)
	}
}
