// Package tlsconf turns Redis's tls-* directives into crypto/tls
// configurations for the agent's API (server side) and its links to Redis
// and to peer agents (client side).
//
// The certificates, keys and CAs are read by New and again by Reload; the
// configurations handed out read the latest successful load through
// callbacks (GetConfigForClient, GetClientCertificate), so a certificate
// rotated on disk takes effect for the next handshake without closing any
// listener. Connections stay up unless a Reload changed the CAs and their
// peer no longer verifies under them (live.go). A Reload that fails keeps
// the previous material.
//
// Go's crypto/tls is not OpenSSL: it has no finite-field Diffie-Hellman,
// does not let TLS 1.3 suites be chosen, always chooses the suite itself
// (server preference) and resumes sessions with tickets only. Settings.Check
// reports where a directive therefore has no effect, so that check-config
// can say so rather than ignore it silently.
package tlsconf

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AuthClients is tls-auth-clients: whether API clients must present a
// certificate signed by the CA.
type AuthClients string

// tls-auth-clients values.
const (
	AuthYes      AuthClients = "yes"      // a valid client certificate is required
	AuthNo       AuthClients = "no"       // none is asked for
	AuthOptional AuthClients = "optional" // one is verified when given
)

// Redis's defaults for the settings that have one.
const (
	DefaultSessionCacheSize    = 20480
	DefaultSessionCacheTimeout = 300 // seconds
)

// Settings are the tls-* directives, with Redis's meaning.
type Settings struct {
	Port int // tls-port: 0 serves no TLS API

	CertFile    string // tls-cert-file: the API's certificate (and the client one by default)
	KeyFile     string // tls-key-file
	KeyFilePass string // tls-key-file-pass: secret

	ClientCertFile    string // tls-client-cert-file: certificate for outgoing links
	ClientKeyFile     string // tls-client-key-file
	ClientKeyFilePass string // tls-client-key-file-pass: secret

	CACertFile string // tls-ca-cert-file
	CACertDir  string // tls-ca-cert-dir

	AuthClients AuthClients // tls-auth-clients, default yes
	// Replication is tls-replication: Sentinel's switch for TLS on its
	// outgoing links to masters, replicas and other sentinels.
	Replication bool

	Protocols           []string // tls-protocols, e.g. TLSv1.2 TLSv1.3; empty: TLS 1.2 and 1.3
	Ciphers             string   // tls-ciphers: TLS 1.2 suites, OpenSSL or IANA names, ':'-separated
	CipherSuites        string   // tls-ciphersuites: TLS 1.3 suites
	PreferServerCiphers bool     // tls-prefer-server-ciphers

	SessionCaching      bool // tls-session-caching, default yes
	SessionCacheSize    int  // tls-session-cache-size
	SessionCacheTimeout int  // tls-session-cache-timeout, seconds

	DHParamsFile string // tls-dh-params-file: accepted, unused (no finite-field DH in Go)
}

// Defaults returns the settings of a file without tls-* directives.
func Defaults() Settings {
	return Settings{
		AuthClients:         AuthYes,
		SessionCaching:      true,
		SessionCacheSize:    DefaultSessionCacheSize,
		SessionCacheTimeout: DefaultSessionCacheTimeout,
	}
}

// Server reports whether the API is served over TLS (tls-port).
func (s *Settings) Server() bool { return s.Port != 0 }

// Client reports whether outgoing links use TLS (tls-replication yes).
func (s *Settings) Client() bool { return s.Replication }

// Enabled reports whether TLS is used at all.
func (s *Settings) Enabled() bool { return s.Server() || s.Client() }

// clientPair returns the certificate and key for outgoing links: the client
// pair when set, else the server's, as Redis does.
func (s *Settings) clientPair() (cert, key, pass string) {
	if s.ClientCertFile != "" {
		return s.ClientCertFile, s.ClientKeyFile, s.ClientKeyFilePass
	}
	return s.CertFile, s.KeyFile, s.KeyFilePass
}

// A Problem is a tls-* directive that Check refuses or notes.
type Problem struct {
	Directive string
	Msg       string
}

func (p Problem) Error() string { return p.Directive + ": " + p.Msg }

// Check validates the settings without reading any file. errs are
// settings that cannot work; notes are settings accepted but without the
// effect they have under OpenSSL.
func (s *Settings) Check() (errs, notes []Problem) {
	bad := func(d, format string, a ...any) { errs = append(errs, Problem{d, fmt.Sprintf(format, a...)}) }
	note := func(d, format string, a ...any) { notes = append(notes, Problem{d, fmt.Sprintf(format, a...)}) }
	if _, err := s.params(); err != nil {
		var p Problem
		if errors.As(err, &p) {
			errs = append(errs, p)
		} else {
			bad("tls-protocols", "%v", err)
		}
	}
	switch s.AuthClients {
	case AuthYes, AuthNo, AuthOptional:
	default:
		bad("tls-auth-clients", "invalid value %q: want yes, no or optional", s.AuthClients)
	}
	if !s.Enabled() {
		return errs, notes
	}
	if s.Server() && (s.CertFile == "" || s.KeyFile == "") {
		bad("tls-port", "tls-port needs tls-cert-file and tls-key-file (the API's certificate)")
	}
	if s.Client() {
		if c, k, _ := s.clientPair(); c == "" || k == "" {
			bad("tls-replication", "tls-replication needs a client certificate: tls-client-cert-file and tls-client-key-file, or tls-cert-file and tls-key-file")
		}
	}
	if s.CACertFile == "" && s.CACertDir == "" {
		// As Redis: without a CA nothing can be verified, and trusting
		// the system's public CAs would admit any certificate they sign.
		bad("tls-ca-cert-file", "TLS needs tls-ca-cert-file or tls-ca-cert-dir: the CA that signs the agents', Redis's and clients' certificates")
	}
	if (s.ClientCertFile == "") != (s.ClientKeyFile == "") {
		bad("tls-client-cert-file", "tls-client-cert-file and tls-client-key-file go together")
	}
	if s.DHParamsFile != "" {
		note("tls-dh-params-file", "accepted but unused: Go's crypto/tls has no finite-field Diffie-Hellman; key exchange is always ECDHE (X25519, P-256, ...)")
	}
	if s.PreferServerCiphers {
		note("tls-prefer-server-ciphers", "Go's crypto/tls always chooses the cipher suite itself (server preference); the directive changes nothing")
	}
	if s.CipherSuites != "" {
		note("tls-ciphersuites", "Go's crypto/tls does not let TLS 1.3 suites be chosen: all three (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) stay enabled; the names were checked only")
	}
	if s.SessionCaching && s.SessionCacheTimeout != DefaultSessionCacheTimeout {
		note("tls-session-cache-timeout", "Go resumes sessions with tickets whose lifetime it fixes (at most 7 days); the timeout cannot be shortened")
	}
	if s.Server() && s.AuthClients == AuthNo {
		note("tls-auth-clients", "no: API clients are not asked for a certificate, so peer agents cannot be verified by certificate (set requirepass or sentinel-pass for the peer proof)")
	}
	return errs, notes
}

// params are the protocol settings derived from the directives.
type params struct {
	min, max uint16
	suites   []uint16 // nil: Go's defaults
}

var protocolVersions = map[string]uint16{
	"tlsv1":   tls.VersionTLS10,
	"tlsv1.1": tls.VersionTLS11,
	"tlsv1.2": tls.VersionTLS12,
	"tlsv1.3": tls.VersionTLS13,
}

var versionOrder = []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

func (s *Settings) params() (params, error) {
	p := params{min: tls.VersionTLS12, max: tls.VersionTLS13}
	var words []string
	for _, a := range s.Protocols {
		words = append(words, strings.Fields(a)...)
	}
	if len(words) > 0 {
		var got []uint16
		for _, w := range words {
			v, ok := protocolVersions[strings.ToLower(w)]
			if !ok {
				return p, Problem{"tls-protocols", fmt.Sprintf("unknown protocol %q: want TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3", w)}
			}
			got = append(got, v)
		}
		slices.Sort(got)
		got = slices.Compact(got)
		// Go enables a contiguous range of versions; a set with a gap
		// (TLSv1.1 TLSv1.3) cannot be expressed.
		lo := slices.Index(versionOrder, got[0])
		for i, v := range got {
			if versionOrder[lo+i] != v {
				return p, Problem{"tls-protocols", fmt.Sprintf("%q leaves a gap between versions; Go enables a contiguous range (e.g. \"TLSv1.2 TLSv1.3\")", strings.Join(words, " "))}
			}
		}
		p.min, p.max = got[0], got[len(got)-1]
	}
	if s.Ciphers != "" {
		suites, err := parseCiphers(s.Ciphers)
		if err != nil {
			return p, Problem{"tls-ciphers", err.Error()}
		}
		p.suites = suites
	}
	if s.CipherSuites != "" {
		for _, n := range splitList(s.CipherSuites) {
			if !slices.Contains(tls13Suites, n) {
				return p, Problem{"tls-ciphersuites", fmt.Sprintf("unknown TLS 1.3 suite %q: want %s", n, strings.Join(tls13Suites, ", "))}
			}
		}
	}
	return p, nil
}

var tls13Suites = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// opensslNames maps OpenSSL's names of the TLS 1.2 suites Go implements to
// IANA's (Go's).
var opensslNames = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-ECDSA-RC4-SHA":           "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-RC4-SHA":             "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	"RC4-SHA":                       "TLS_RSA_WITH_RC4_128_SHA",
	"ECDHE-RSA-DES-CBC3-SHA":        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	"DES-CBC3-SHA":                  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' || r == ' ' })
}

// parseCiphers maps a tls-ciphers list to Go's suite IDs. Names are
// OpenSSL's or IANA's; DEFAULT stands for Go's defaults. OpenSSL's
// cipher-string language (HIGH, !aNULL, +x, @STRENGTH) is refused rather
// than approximated: an approximation could enable what the operator
// meant to exclude.
func parseCiphers(list string) ([]uint16, error) {
	ids := map[string]uint16{}
	for _, c := range tls.CipherSuites() {
		ids[c.Name] = c.ID
	}
	for _, c := range tls.InsecureCipherSuites() {
		ids[c.Name] = c.ID
	}
	var out []uint16
	for _, n := range splitList(list) {
		if strings.EqualFold(n, "DEFAULT") {
			for _, c := range tls.CipherSuites() {
				out = append(out, c.ID)
			}
			continue
		}
		name := n
		if iana, ok := opensslNames[strings.ToUpper(n)]; ok {
			name = iana
		}
		id, ok := ids[strings.ToUpper(name)]
		switch {
		case ok:
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		case strings.ContainsAny(n[:1], "!+-@") || !strings.ContainsAny(n, "-_"):
			return nil, fmt.Errorf("OpenSSL cipher-string keyword or operator %q is not supported: list the TLS 1.2 suites by name (e.g. ECDHE-RSA-AES128-GCM-SHA256), or write DEFAULT", n)
		case strings.HasPrefix(strings.ToUpper(n), "DHE-") || strings.Contains(strings.ToUpper(n), "_DHE_"):
			return nil, fmt.Errorf("cipher %q uses finite-field Diffie-Hellman, which Go's crypto/tls does not implement; use an ECDHE suite", n)
		default:
			return nil, fmt.Errorf("unknown or unsupported cipher %q: Go implements the ECDHE and RSA suites with AES-GCM, ChaCha20-Poly1305 and AES-CBC (names as OpenSSL's ECDHE-RSA-AES128-GCM-SHA256 or IANA's TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)", n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no cipher listed")
	}
	return out, nil
}
