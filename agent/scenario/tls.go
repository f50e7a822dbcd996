package scenario

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/lab"
	"github.com/vipsentinel/vipsentinel/agent/tlsca"
)

// pki is a TLS deployment's throw-away CA: one certificate per host, for
// its redis-server and its agent (naming the host's addresses and the
// floating IP, where clients reach the master), and one for the clients.
type pki struct {
	hosts  []tlsca.Files
	client tlsca.Files
	cfg    *tls.Config // the clients' configuration
}

func (c *Cluster) setupTLS() error {
	if c.Opts.Stack != Vipsentinel {
		return fmt.Errorf("scenario: TLS runs the vipsentinel stack only")
	}
	ca, err := tlsca.New("vipsentinel lab CA (throw-away)")
	if err != nil {
		return err
	}
	dir := filepath.Join(c.Lab.Dir(), "pki")
	issue := func(name string, hosts ...string) (tlsca.Files, error) {
		return ca.IssueFiles(dir, tlsca.Spec{Name: name, Hosts: hosts})
	}
	p := &pki{}
	for _, h := range c.Hosts {
		names := []string{h.IP4.String(), c.VIP.String(), "127.0.0.1"}
		if h.IP6.IsValid() {
			names = append(names, h.IP6.String())
		}
		f, err := issue(h.Name, names...)
		if err != nil {
			return err
		}
		p.hosts = append(p.hosts, f)
	}
	if p.client, err = issue("client"); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(p.client.Cert, p.client.Key)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	p.cfg = &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}
	c.pki = p
	return nil
}

// redisTLS is host i's redis-server's TLS setting (nil without TLS).
func (c *Cluster) redisTLS(i int) *lab.RedisTLS {
	if c.pki == nil {
		return nil
	}
	f := c.pki.hosts[i]
	return &lab.RedisTLS{Cert: f.Cert, Key: f.Key, CA: f.CA, Client: c.pki.cfg}
}

// agentTLS is host i's agent's TLS configuration lines ("" without TLS):
// TLS only on AgentPort, client certificates required, links over TLS.
func (c *Cluster) agentTLS(i int) string {
	if c.pki == nil {
		return ""
	}
	f := c.pki.hosts[i]
	return strings.Join([]string{
		"port 0", "tls-port " + strconv.Itoa(AgentPort),
		"tls-cert-file " + f.Cert, "tls-key-file " + f.Key, "tls-ca-cert-file " + f.CA,
		"tls-auth-clients yes", "tls-replication yes",
	}, "\n") + "\n"
}

// clientTLS is the clients' TLS configuration, nil without TLS.
func (c *Cluster) clientTLS() *tls.Config {
	if c.pki == nil {
		return nil
	}
	return c.pki.cfg
}

// dial connects from the client namespace, over TLS when the deployment
// uses it.
func (c *Cluster) dial(ctx context.Context, addr string) (net.Conn, error) {
	if c.pki == nil {
		return c.Client.DialContext(ctx, "tcp", addr)
	}
	return c.Client.TLSDialer(c.pki.cfg)(ctx, "tcp", addr)
}

// TLSFiles returns the client certificate files of a TLS deployment (for
// redis-cli --tls), and false without TLS.
func (c *Cluster) TLSFiles() (tlsca.Files, bool) {
	if c.pki == nil {
		return tlsca.Files{}, false
	}
	return c.pki.client, true
}
