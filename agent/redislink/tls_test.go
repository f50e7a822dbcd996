package redislink

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
	"github.com/vipsentinel/vipsentinel/internal/testenv/testpki"
)

// pki is a group CA with a certificate for 127.0.0.1 (Redis, agents), one
// naming another host only, and a foreign CA's certificate.
type pki struct {
	group, wrongName, foreign tlsca.Files
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca, other := testpki.NewCA(t, "group"), testpki.NewCA(t, "foreign")
	return &pki{
		group:     testpki.Issue(t, ca, dir, "node", "127.0.0.1"),
		wrongName: testpki.Issue(t, ca, dir, "elsewhere", "redis.example", "198.18.0.9"),
		foreign:   testpki.Issue(t, other, filepath.Join(dir, "foreign"), "foreign", "127.0.0.1"),
	}
}

func (p *pki) redis(f tlsca.Files) redistest.TLSFiles {
	return redistest.TLSFiles{Cert: f.Cert, Key: f.Key, CA: p.group.CA}
}

func clientConfig(t *testing.T, p *pki) *tls.Config {
	t.Helper()
	s := tlsconf.Defaults()
	s.Replication, s.CertFile, s.KeyFile, s.CACertFile = true, p.group.Cert, p.group.Key, p.group.CA
	src, err := tlsconf.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return src.ClientConfig("127.0.0.1")
}

// tlsTransport returns a Transport whose links use TLS with cert as the
// client certificate, trusting ca.
func tlsTransport(t *testing.T, cert tlsca.Files, ca string, certProof bool) *Transport {
	t.Helper()
	s := tlsconf.Defaults()
	s.Replication, s.CertFile, s.KeyFile, s.CACertFile = true, cert.Cert, cert.Key, ca
	src, err := tlsconf.New(s)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransportWith(t, Options{CommandTimeout: 2 * time.Second, TLS: src.Client, CertProof: certProof})
	return tr
}

// TestTLSRedis: links to a TLS-only redis-server (real) work over TLS with
// our client certificate; a server whose certificate names another host, a
// server from another CA, or our certificate from another CA fail the
// link before anything is sent.
func TestTLSRedis(t *testing.T) {
	p := newPKI(t)
	good := redistest.Start(t, redistest.TLSOnly(t, p.redis(p.group))...)
	misnamed := redistest.Start(t, redistest.TLSOnly(t, p.redis(p.wrongName))...)

	tr := tlsTransport(t, p.group, p.group.CA, false)
	ref := refOf(good, sentinel.KindMaster)
	connectUp(t, tr, ref, sentinel.LinkCmd, nil)
	tr.Do(sentinel.Command{ID: 1, Kind: sentinel.CmdInfo, To: ref, Link: sentinel.LinkCmd, Cmds: [][]string{{"INFO"}}})
	in := awaitType[sentinel.InfoReply](t, tr, "INFO reply")
	if !strings.Contains(in.Raw, "role:master") {
		t.Fatalf("INFO over TLS: %.200q", in.Raw)
	}

	for _, tc := range []struct {
		name string
		tr   *Transport
		to   *redistest.Server
		want string
	}{
		{"server certificate names another host", tr, misnamed, "127.0.0.1"},
		// TLS 1.3: the server's refusal of our certificate arrives with
		// its first record after the handshake; anything we sent went
		// to a server whose certificate verified.
		{"our certificate from another CA", tlsTransport(t, p.foreign, p.group.CA, false), good, "unknown certificate authority"},
		{"server from a CA we do not trust", tlsTransport(t, p.group, p.foreign.CA, false), good, "unknown authority"},
		{"plain link to a TLS-only server", newTransport(t), good, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := refOf(tc.to, sentinel.KindMaster)
			connectCmd(tc.tr, ref, []string{"secret-never-sent"})
			down, ok := awaitLink(t, tc.tr, ref).(sentinel.LinkDown)
			if !ok {
				t.Fatal("link up")
			}
			// With TLS 1.3 the server judges our certificate after our
			// side of the handshake is done: its alert may arrive as
			// the answer to our first write, or, when the write races
			// the server's close, only as a reset.
			if !strings.Contains(down.Err, tc.want) &&
				!(tc.want == "unknown certificate authority" && strings.Contains(down.Err, "connection reset by peer")) {
				t.Errorf("error %q does not contain %q", down.Err, tc.want)
			}
		})
	}
}

// TestTLSReplication: a TLS-only master and replica replicate over TLS
// (what the lab's TLS groups rely on), and a link sees the replica in the
// master's INFO.
func TestTLSReplication(t *testing.T) {
	p := newPKI(t)
	master := redistest.Start(t, redistest.TLSOnly(t, p.redis(p.group))...)
	replica := redistest.Start(t, append(redistest.TLSOnly(t, p.redis(p.group)), fmt.Sprintf("replicaof 127.0.0.1 %d", master.Port))...)
	tr := tlsTransport(t, p.group, p.group.CA, false)
	ref := refOf(master, sentinel.KindMaster)
	connectUp(t, tr, ref, sentinel.LinkCmd, nil)
	want := fmt.Sprintf("port=%d,state=online", replica.Port)
	var id uint64
	testenv.Eventually(t, 15*time.Second, "replica online over TLS", func() error {
		id++
		tr.Do(sentinel.Command{ID: id, Kind: sentinel.CmdInfo, To: ref, Link: sentinel.LinkCmd, Cmds: [][]string{{"INFO"}}})
		in := awaitType[sentinel.InfoReply](t, tr, "INFO")
		return testenv.Pending(strings.Contains(in.Raw, want), fmt.Sprintf("INFO %.400q", in.Raw))
	})
}

// TestTLSCertProof: with CertProof, a peer whose certificate verified is
// verified without a shared secret (ProofCert): a vipsentinel peer that
// answers PROVE with the announced run id and no MAC, and a real TLS-only
// redis-sentinel (not listed) by SENTINEL MYID. Without CertProof the
// same redis-sentinel is refused; a peer from another CA never gets AUTH.
func TestTLSCertProof(t *testing.T) {
	p := newPKI(t)
	id := strings.Repeat("a", 40)
	serverCfg := func(f tlsca.Files) *tls.Config {
		s := tlsconf.Defaults()
		s.Port, s.CertFile, s.KeyFile, s.CACertFile = 1, f.Cert, f.Key, p.group.CA
		src, err := tlsconf.New(s)
		if err != nil {
			t.Fatal(err)
		}
		return src.ServerConfig()
	}
	// tlsPeer starts a fake peer behind TLS with a certificate from f,
	// claiming id, with requirepass secret.
	tlsPeer := func(secret, behave string, f tlsca.Files) *fakePeer {
		return startFakePeerOn(t, func(ln net.Listener) net.Listener { return tls.NewListener(ln, serverCfg(f)) }, secret, id, behave)
	}
	// link connects to peer with our secret and returns what the link
	// became.
	link := func(t *testing.T, peer *fakePeer, certProof bool) sentinel.Input {
		tr := tlsTransport(t, p.group, p.group.CA, certProof)
		ref := sentinel.Ref{Master: "mymaster", Kind: sentinel.KindSentinel, Addr: peer.addr(), RunID: id}
		connectCmd(tr, ref, []string{"our-secret"})
		return awaitLink(t, tr, ref)
	}
	t.Run("agent peer, no secret", func(t *testing.T) {
		peer := tlsPeer("", "no-mac", p.group)
		up, ok := link(t, peer, true).(sentinel.LinkUp)
		if !ok || up.Proof != sentinel.ProofCert {
			t.Fatalf("got %+v, want LinkUp with ProofCert", up)
		}
	})
	// Refused peers: the link goes down (with wantErr in its error) and
	// the peer never gets AUTH.
	for _, tc := range []struct {
		name           string
		secret, behave string
		ca             tlsca.Files
		certProof      bool
		wantErr        string
	}{
		// A verified certificate does not excuse a proof that fails.
		{"agent peer with a wrong MAC", "other", "wrong-secret", p.group, true, ""},
		{"agent peer, certificate proof off", "", "no-mac", p.group, false, ""},
		{"peer from another CA", "", "no-mac", p.foreign, true, "unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peer := tlsPeer(tc.secret, tc.behave, tc.ca)
			down, ok := link(t, peer, tc.certProof).(sentinel.LinkDown)
			if !ok || !strings.Contains(down.Err, tc.wantErr) {
				t.Fatalf("got %+v, want a LinkDown naming %q", down, tc.wantErr)
			}
			if got := peer.auths(); len(got) != 0 {
				t.Fatalf("AUTH %q sent to a refused peer", got)
			}
		})
	}
	t.Run("real redis-sentinel, TLS only", func(t *testing.T) {
		master := redistest.Start(t, redistest.TLSOnly(t, p.redis(p.group))...)
		sent := redistest.StartSentinel(t, append(redistest.TLSOnly(t, p.redis(p.group)), fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 1", master.Port))...)
		myid := sentinelMyID(t, clientConfig(t, p), sent)
		for _, certProof := range []bool{true, false} {
			tr := tlsTransport(t, p.group, p.group.CA, certProof)
			ref := sentinel.Ref{Master: "mymaster", Kind: sentinel.KindSentinel, Addr: sentinel.Addr{Host: "127.0.0.1", Port: sent.Port}, RunID: myid}
			connectCmd(tr, ref, nil)
			in := awaitLink(t, tr, ref)
			up, ok := in.(sentinel.LinkUp)
			if ok != certProof || ok && up.Proof != sentinel.ProofCert {
				t.Errorf("CertProof %v: %+v", certProof, in)
			}
		}
	})
}

// sentinelMyID asks a TLS-only sentinel its run id with go-redis over TLS
// (Options.TLSConfig: go-redis dials itself here).
func sentinelMyID(t *testing.T, cfg *tls.Config, s *redistest.Server) string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), TLSConfig: cfg, Protocol: 2})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := c.Do(ctx, "SENTINEL", "MYID").Text()
	if err != nil {
		t.Fatalf("SENTINEL MYID over TLS: %v", err)
	}
	return id
}
