package redislink

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/agent/tlsca"
	"github.com/vipsentinel/vipsentinel/agent/tlsconf"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// TestTLSReloadClosesUntrustedLinks: with links to two TLS-only
// redis-servers (real), one with a certificate of the old CA and one of
// the new, a reload of unchanged files keeps both; a reload that trusts
// only the new CA closes the link to the old CA's server (reported down,
// logged) and keeps the other.
func TestTLSReloadClosesUntrustedLinks(t *testing.T) {
	dir := t.TempDir()
	rot, err := tlsca.NewRotation(dir, tlsca.Spec{Name: "node", Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	oldLeaf, newLeaf, trusted := rot.OldLeaf, rot.NewLeaf, rot.Trusted
	// The servers keep trusting both CAs: only the agent's trust rotates.
	both := filepath.Join(dir, "both.crt")
	if err := tlsca.WriteBundle(both, rot.Old, rot.New); err != nil {
		t.Fatal(err)
	}
	oldSrv := redistest.Start(t, redistest.TLSOnly(t, redistest.TLSFiles{Cert: oldLeaf.Cert, Key: oldLeaf.Key, CA: both})...)
	newSrv := redistest.Start(t, redistest.TLSOnly(t, redistest.TLSFiles{Cert: newLeaf.Cert, Key: newLeaf.Key, CA: both})...)

	s := tlsconf.Defaults()
	s.Replication, s.CertFile, s.KeyFile, s.CACertFile = true, newLeaf.Cert, newLeaf.Key, trusted
	src, err := tlsconf.New(s)
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	src.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	tr := newTransportWith(t, Options{CommandTimeout: 2 * time.Second, TLS: src.Client})

	oldRef, newRef := refOf(oldSrv, sentinel.KindMaster), refOf(newSrv, sentinel.KindMaster)
	for _, ref := range []sentinel.Ref{oldRef, newRef} {
		connectCmd(tr, ref, nil)
		if _, ok := awaitLink(t, tr, ref).(sentinel.LinkUp); !ok {
			t.Fatalf("link to %s not up", ref.Addr)
		}
	}
	// ping checks a link with a PING: true for PONG, false for the link
	// reported down.
	ping := func(ref sentinel.Ref) bool {
		tr.Do(sentinel.Command{Kind: sentinel.CmdPing, To: ref, Cmds: [][]string{{"PING"}}})
		pr, ok := awaitTo[sentinel.PingReply](t, tr, "PING reply or link down", ref).(sentinel.PingReply)
		return ok && pr.Status == "PONG"
	}

	if err := src.Reload(); err != nil { // same files
		t.Fatal(err)
	}
	for _, ref := range []sentinel.Ref{oldRef, newRef} {
		if !ping(ref) {
			t.Fatalf("a reload of unchanged files closed the link to %s", ref.Addr)
		}
	}
	if n := src.Tracked(); n != 2 {
		t.Fatalf("Tracked %d, want 2", n)
	}

	if err := rot.Trust(rot.New); err != nil { // the old CA is rotated out
		t.Fatal(err)
	}
	if err := src.Reload(); err != nil {
		t.Fatal(err)
	}
	if ping(oldRef) {
		t.Error("the link to the old CA's server is still up")
	}
	if !ping(newRef) {
		t.Error("the link to the new CA's server went down")
	}
	if got := logs.String(); !strings.Contains(got, "peer="+oldRef.Addr.String()) || !strings.Contains(got, "unknown authority") {
		t.Errorf("no log line names the closed link and the reason:\n%s", got)
	}
	// Redialled under the new configuration, the old server is refused.
	connectCmd(tr, oldRef, nil)
	if _, ok := awaitLink(t, tr, oldRef).(sentinel.LinkDown); !ok {
		t.Error("a new link to the old CA's server came up")
	}
}
