package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// The tls-* directives, with Redis's meaning (package tlsconf builds the
// crypto/tls configurations). They join globalSpecs here, in a file of
// their own, so the TLS settings read as one unit.
var tlsSpecs = map[string]*spec{
	"tls-port":                  {pass: passGlobal, usage: "tls-port <port>", fn: setGlobal(func(f *File, v string) error { return port(v, 0, &f.TLS.Port) })},
	"tls-cert-file":             {pass: passGlobal, usage: "tls-cert-file <path>", fn: setGlobal(tlsPath(func(t *tlsconf.Settings) *string { return &t.CertFile }))},
	"tls-key-file":              {pass: passGlobal, usage: "tls-key-file <path>", fn: setGlobal(tlsPath(func(t *tlsconf.Settings) *string { return &t.KeyFile }))},
	"tls-key-file-pass":         {pass: passGlobal, usage: "tls-key-file-pass <password>", secret: true, fn: setGlobal(func(f *File, v string) error { f.TLS.KeyFilePass = v; return nil })},
	"tls-client-cert-file":      {pass: passGlobal, usage: "tls-client-cert-file <path>", fn: setGlobal(tlsPath(func(t *tlsconf.Settings) *string { return &t.ClientCertFile }))},
	"tls-client-key-file":       {pass: passGlobal, usage: "tls-client-key-file <path>", fn: setGlobal(tlsPath(func(t *tlsconf.Settings) *string { return &t.ClientKeyFile }))},
	"tls-client-key-file-pass":  {pass: passGlobal, usage: "tls-client-key-file-pass <password>", secret: true, fn: setGlobal(func(f *File, v string) error { f.TLS.ClientKeyFilePass = v; return nil })},
	"tls-ca-cert-file":          {pass: passGlobal, usage: "tls-ca-cert-file <path>", fn: setGlobal(tlsPath(func(t *tlsconf.Settings) *string { return &t.CACertFile }))},
	"tls-ca-cert-dir":           {pass: passGlobal, usage: "tls-ca-cert-dir <path>", fn: setGlobal(tlsPath(func(t *tlsconf.Settings) *string { return &t.CACertDir }))},
	"tls-auth-clients":          {pass: passGlobal, usage: "tls-auth-clients yes|no|optional", fn: setGlobal(doTLSAuthClients)},
	"tls-replication":           {pass: passGlobal, usage: "tls-replication yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.TLS.Replication) })},
	"tls-protocols":             {pass: passGlobal, usage: "tls-protocols <protocol>...", fn: doTLSProtocols},
	"tls-ciphers":               {pass: passGlobal, usage: "tls-ciphers <list>", fn: setGlobal(func(f *File, v string) error { f.TLS.Ciphers = v; return nil })},
	"tls-ciphersuites":          {pass: passGlobal, usage: "tls-ciphersuites <list>", fn: setGlobal(func(f *File, v string) error { f.TLS.CipherSuites = v; return nil })},
	"tls-prefer-server-ciphers": {pass: passGlobal, usage: "tls-prefer-server-ciphers yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.TLS.PreferServerCiphers) })},
	"tls-session-caching":       {pass: passGlobal, usage: "tls-session-caching yes|no", fn: setGlobal(func(f *File, v string) error { return yesNo(v, &f.TLS.SessionCaching) })},
	"tls-session-cache-size":    {pass: passGlobal, usage: "tls-session-cache-size <n>", fn: setGlobal(func(f *File, v string) error { return integer(v, 1, 1<<24, &f.TLS.SessionCacheSize) })},
	"tls-session-cache-timeout": {pass: passGlobal, usage: "tls-session-cache-timeout <seconds>", fn: setGlobal(func(f *File, v string) error { return integer(v, 1, 1<<31-1, &f.TLS.SessionCacheTimeout) })},
	"tls-dh-params-file":        {pass: passGlobal, usage: "tls-dh-params-file <path>", fn: setGlobal(tlsPath(func(t *tlsconf.Settings) *string { return &t.DHParamsFile }))},
}

func init() {
	for name, s := range tlsSpecs {
		s.init()
		globalSpecs[name] = s
	}
}

// tlsPath sets a file or directory path, made absolute: the agent may run
// from another directory than the one check-config ran in.
func tlsPath(field func(*tlsconf.Settings) *string) func(f *File, v string) error {
	return func(f *File, v string) error {
		if v == "" {
			return fmt.Errorf("empty path")
		}
		*field(&f.TLS) = absOr(v)
		return nil
	}
}

func doTLSAuthClients(f *File, v string) error {
	a := tlsconf.AuthClients(strings.ToLower(v))
	switch a {
	case tlsconf.AuthYes, tlsconf.AuthNo, tlsconf.AuthOptional:
		f.TLS.AuthClients = a
		return nil
	}
	return fmt.Errorf("invalid value %q: want yes, no or optional", v)
}

func doTLSProtocols(_ *parser, f *File, _ *Master, _ pos, a []string) error {
	f.TLS.Protocols = nil
	for _, w := range a {
		f.TLS.Protocols = append(f.TLS.Protocols, strings.Fields(w)...)
	}
	return nil
}

// finishTLS checks the TLS settings as a whole: port 0 needs tls-port, the
// named files must load, and what Go's crypto/tls does differently from
// OpenSSL is noted rather than ignored silently.
func (p *parser) finishTLS(f *File) {
	at := func(directive string) pos {
		for _, l := range p.lines {
			if l.args[0] == directive {
				return l.pos
			}
		}
		// A setting missing: blame the line that needs it.
		for _, l := range p.lines {
			if l.args[0] == "tls-port" || l.args[0] == "tls-replication" {
				return l.pos
			}
		}
		return pos{f.Path, 0}
	}
	if f.Port == 0 && f.TLS.Port == 0 {
		p.errorf(at("port"), "port", "port 0 disables the plain API port, and no tls-port is set: the agent would not listen at all; set tls-port")
	}
	if f.Port != 0 && f.Port == f.TLS.Port {
		p.errorf(at("tls-port"), "tls-port", "tls-port %d is also port: use another port, or port 0 for TLS only", f.Port)
	}
	errs, notes := f.TLS.Check()
	for _, e := range errs {
		p.errorf(at(e.Directive), e.Directive, "%s", e.Msg)
	}
	for _, n := range notes {
		p.warnf(at(n.Directive), n.Directive, "%s", n.Msg)
	}
	if len(errs) == 0 && f.TLS.Enabled() {
		if err := tlsconf.Check(f.TLS); err != nil {
			p.errorf(at("tls-cert-file"), "tls", "%v", err)
		}
	}
	if f.TLS.Enabled() && !f.TLS.Replication {
		p.warnf(at("tls-port"), "tls-replication", "tls-replication is no: the agent serves TLS but connects to Redis and to its peers in plain TCP (credentials included); set tls-replication yes for a TLS-only deployment")
	}
}

// AnnouncedPort is the API port peers should use: tls-port when the
// agents talk TLS to each other (tls-replication yes), as Sentinel
// announces, else port.
func (f *File) AnnouncedPort() int {
	if f.TLS.Replication && f.TLS.Port != 0 {
		return f.TLS.Port
	}
	return f.Port
}

// effectiveTLS renders the tls-* settings for Effective, when any is used.
func (f *File) effectiveTLS(w func(args ...string)) {
	if f.TLS.Port == 0 && !f.TLS.Replication && f.TLS.CertFile == "" && f.TLS.CACertFile == "" && f.TLS.CACertDir == "" {
		return
	}
	t := f.TLS
	w("tls-port", strconv.Itoa(t.Port))
	str := func(name, v string) {
		if v != "" {
			w(name, v)
		}
	}
	str("tls-cert-file", t.CertFile)
	str("tls-key-file", t.KeyFile)
	if t.KeyFilePass != "" {
		w("tls-key-file-pass", Masked)
	}
	str("tls-client-cert-file", t.ClientCertFile)
	str("tls-client-key-file", t.ClientKeyFile)
	if t.ClientKeyFilePass != "" {
		w("tls-client-key-file-pass", Masked)
	}
	str("tls-ca-cert-file", t.CACertFile)
	str("tls-ca-cert-dir", t.CACertDir)
	w("tls-auth-clients", string(t.AuthClients))
	w("tls-replication", yn(t.Replication))
	if len(t.Protocols) > 0 {
		w("tls-protocols", strings.Join(t.Protocols, " "))
	}
	str("tls-ciphers", t.Ciphers)
	str("tls-ciphersuites", t.CipherSuites)
	w("tls-prefer-server-ciphers", yn(t.PreferServerCiphers))
	w("tls-session-caching", yn(t.SessionCaching))
	w("tls-session-cache-size", strconv.Itoa(t.SessionCacheSize))
	w("tls-session-cache-timeout", strconv.Itoa(t.SessionCacheTimeout))
	str("tls-dh-params-file", t.DHParamsFile)
}
