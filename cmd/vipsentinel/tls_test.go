package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/config"
	"github.com/vipsentinel/vipsentinel/agent/metrics"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
)

// tlsOnlyConf writes a TLS-only configuration whose certificate expires
// after validFor, and returns its path.
func tlsOnlyConf(t *testing.T, validFor time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := tlsca.New("ca")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ca.IssueFiles(dir, tlsca.Spec{Name: "agent", Hosts: []string{"127.0.0.1"}, NotAfter: time.Now().Add(validFor)})
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "vipsentinel.conf")
	text := "port 0\ntls-port 26380\ntls-cert-file " + f.Cert + "\ntls-key-file " + f.Key + "\ntls-ca-cert-file " + f.CA +
		"\ntls-replication yes\nsentinel monitor m 198.18.0.1 6379 2\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

func TestStatusTLS(t *testing.T) {
	conf := tlsOnlyConf(t, 3*24*time.Hour)
	addr := "127.0.0.1:26379"
	cfg, certs, err := statusTLS(conf, &addr, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg == nil || cfg.ServerName != "127.0.0.1" || addr != "127.0.0.1:26380" {
		t.Fatalf("TLS-only agent: config %v, addr %s; want TLS to 127.0.0.1:26380", cfg != nil, addr)
	}
	var out bytes.Buffer
	printCertificates(&out, certs, time.Now())
	if !strings.Contains(out.String(), "EXPIRES SOON") || !strings.Contains(out.String(), "CN=agent") {
		t.Fatalf("status output:\n%s", out.String())
	}
}

func TestWatchTLSWarns(t *testing.T) {
	conf := tlsOnlyConf(t, 3*24*time.Hour)
	f, _, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tlsconf.New(f.TLS)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan sentinel.Event, 8)
	go watchTLS(ctx, src, metrics.New(metrics.Options{}), func(e sentinel.Event) { events <- e })
	select {
	case e := <-events:
		if e.Type != "+tls-certificate-expiring" || e.Level != sentinel.LevelWarning || !strings.Contains(e.Payload, "expires in") {
			t.Fatalf("event %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no warning for a certificate expiring in 3 days")
	}
}
