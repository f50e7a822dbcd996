package redislink

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipsentinel/vipsentinel/agent/internal/redistest"
	"github.com/vipsentinel/vipsentinel/agent/peerproof"
	"github.com/vipsentinel/vipsentinel/agent/resp"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
	"github.com/vipsentinel/vipsentinel/internal/testenv"
)

// fakePeer is a TCP endpoint standing for an announced peer: it answers
// VIPSENTINEL PROVE as behaviour says, then AUTH, CLIENT, PING and
// SENTINEL MYID as a peer would, and records every command it received
// (what must never reach it is AUTH before a valid proof).
type fakePeer struct {
	ln       net.Listener
	secret   string // the requirepass it holds
	runid    string // what it claims
	behave   string
	mu       sync.Mutex
	cmds     []string
	authSeen []string
}

func startFakePeer(t *testing.T, secret, runid, behave string) *fakePeer {
	t.Helper()
	return startFakePeerOn(t, nil, secret, runid, behave)
}

// startFakePeerOn is startFakePeer on a listener wrapped by wrap (TLS).
func startFakePeerOn(t *testing.T, wrap func(net.Listener) net.Listener, secret, runid, behave string) *fakePeer {
	t.Helper()
	ln := testenv.Listen(t)
	if wrap != nil {
		ln = wrap(ln)
	}
	p := &fakePeer{ln: ln, secret: secret, runid: runid, behave: behave}
	testenv.Serve(t, ln, p.serve)
	return p
}

func (p *fakePeer) addr() sentinel.Addr {
	a := p.ln.Addr().(*net.TCPAddr)
	return sentinel.Addr{Host: "127.0.0.1", Port: a.Port}
}

func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

func (p *fakePeer) serve(c net.Conn) {
	rd := resp.NewReader(c)
	for {
		args, err := rd.ReadRequest(resp.Authenticated)
		if err != nil {
			return
		}
		var words []string
		for _, a := range args {
			words = append(words, string(a))
		}
		p.mu.Lock()
		p.cmds = append(p.cmds, strings.Join(words, " "))
		if strings.EqualFold(words[0], "AUTH") {
			p.authSeen = append(p.authSeen, words[len(words)-1])
		}
		p.mu.Unlock()
		var out string
		switch {
		case strings.EqualFold(words[0], "VIPSENTINEL") && len(words) == 3:
			nonce := words[2]
			local := c.LocalAddr().(*net.TCPAddr)
			here := peerproof.Addr(local.IP.String(), local.Port)
			switch p.behave {
			case "prove":
				out = "*2\r\n" + bulk(p.runid) + bulk(peerproof.MAC(p.secret, nonce, p.runid, here))
			case "relayed": // a real peer's answer, over the real peer's address
				out = "*2\r\n" + bulk(p.runid) + bulk(peerproof.MAC(p.secret, nonce, p.runid, "127.0.0.1:1"))
			case "wrong-secret":
				out = "*2\r\n" + bulk(p.runid) + bulk(peerproof.MAC("guess", nonce, p.runid, here))
			case "no-mac":
				out = "*2\r\n" + bulk(p.runid) + bulk("")
			case "huge":
				out = "$9223372036854775806\r\n"
			case "nested":
				out = strings.Repeat("*1\r\n", 100)
			case "sentinel", "sentinel-other-id":
				out = "-ERR unknown command 'VIPSENTINEL'\r\n"
			}
		case strings.EqualFold(words[0], "SENTINEL") && len(words) == 2 && strings.EqualFold(words[1], "MYID"):
			id := p.runid
			if p.behave == "sentinel-other-id" {
				id = strings.Repeat("e", 40)
			}
			out = bulk(id)
		case strings.EqualFold(words[0], "PING"):
			out = "+PONG\r\n"
		case strings.EqualFold(words[0], "HELLO"):
			out = "-ERR unknown command 'HELLO'\r\n" // as Redis before 6
		default:
			out = "+OK\r\n"
		}
		if _, err := c.Write([]byte(out)); err != nil {
			return
		}
	}
}

func (p *fakePeer) auths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.authSeen...)
}

// awaitLink returns the LinkUp or LinkDown of the command link to ref.
func awaitLink(t *testing.T, tr *Transport, ref sentinel.Ref) sentinel.Input {
	t.Helper()
	return awaitTo[sentinel.LinkUp](t, tr, "link up or down", ref)
}

// The secret reaches only endpoints that proved they are the announced peer.
func TestPeerProof(t *testing.T) {
	const pass = "group-secret"
	id := strings.Repeat("a", 40)
	cases := []struct {
		name     string
		ourPass  string // what we AUTH to peers with
		peerPass string // the endpoint's requirepass
		claims   string // run id the endpoint claims
		behave   string
		listed   bool
		want     sentinel.PeerProof // ProofNone: the link must fail
	}{
		{"secret proof", pass, pass, id, "prove", false, sentinel.ProofSecret},
		{"open mode", "", "", id, "prove", false, sentinel.ProofOpen},
		{"wrong run id", pass, pass, strings.Repeat("b", 40), "prove", false, sentinel.ProofNone},
		{"wrong run id, open mode", "", "", strings.Repeat("b", 40), "prove", false, sentinel.ProofNone},
		{"relayed proof (attacker forwards to a real peer)", pass, pass, id, "relayed", false, sentinel.ProofNone},
		{"does not know the secret", pass, "", id, "wrong-secret", false, sentinel.ProofNone},
		{"proves no secret while we have one", pass, "", id, "no-mac", false, sentinel.ProofNone},
		{"huge bulk length", pass, pass, id, "huge", false, sentinel.ProofNone},
		{"deep nesting", pass, pass, id, "nested", false, sentinel.ProofNone},
		{"real sentinel, not listed", pass, pass, id, "sentinel", false, sentinel.ProofNone},
		{"real sentinel, listed", pass, pass, id, "sentinel", true, sentinel.ProofListed},
		{"real sentinel, listed, other MYID", pass, pass, id, "sentinel-other-id", true, sentinel.ProofNone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := startFakePeer(t, tc.peerPass, tc.claims, tc.behave)
			tr := newTransportWith(t, Options{CommandTimeout: 2 * time.Second, PeerAllowed: func(a sentinel.Addr) bool {
				return tc.listed && a == p.addr()
			}})
			ref := sentinel.Ref{Master: "mymaster", Kind: sentinel.KindSentinel, Addr: p.addr(), RunID: id}
			var auth []string
			if tc.ourPass != "" {
				auth = []string{tc.ourPass}
			}
			connectCmd(tr, ref, auth)
			switch in := awaitLink(t, tr, ref).(type) {
			case sentinel.LinkUp:
				if tc.want == sentinel.ProofNone || in.Proof != tc.want {
					t.Fatalf("link up with proof %v, want %v", in.Proof, tc.want)
				}
			case sentinel.LinkDown:
				if tc.want != sentinel.ProofNone {
					t.Fatalf("link down: %s", in.Err)
				}
				if !strings.Contains(in.Err, "peer proof failed") {
					t.Errorf("error %q does not say the proof failed", in.Err)
				}
				// Listed mode AUTHs before SENTINEL MYID: the operator
				// vouched for the address.
				if got := p.auths(); len(got) != 0 && !tc.listed {
					t.Fatalf("AUTH %q sent to an unverified endpoint", got)
				}
				if tr.ProofFailures() != 1 {
					t.Errorf("proof failures %d, want 1", tr.ProofFailures())
				}
			}
		})
	}
}

func TestParseProofReplyBounds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		done bool
		err  string
	}{
		{"*2\r\n$1\r\na\r\n$0\r\n\r\n", true, ""},
		{"-ERR unknown\r\n", true, ""},
		{"*2\r\n$1\r\na", false, ""},
		{"*3\r\n", false, "want 2"},
		{"*2\r\n$129\r\n", false, "out of range"},
		{"*2\r\n$-1\r\n", false, "out of range"},
		{"*2\r\n:1\r\n", false, "bulk string"},
		{"$9223372036854775806\r\n", false, "unexpected reply type"},
		{"*2\r\n$1\r\nab\r\n", false, "not terminated"},
	} {
		done, _, _, err := parseProofReply([]byte(tc.in))
		if (done > 0) != tc.done || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: done %d err %v, want done %v err %q", tc.in, done, err, tc.done, tc.err)
		}
	}
}

// A real redis-sentinel is verified only from a listed address, by
// SENTINEL MYID after AUTH.
func TestListedRealSentinel(t *testing.T) {
	master := redistest.Start(t)
	sent := redistest.StartSentinel(t, fmt.Sprintf("sentinel monitor mymaster 127.0.0.1 %d 1", master.Port))
	myid := strings.TrimSpace(sent.CLI(t, "SENTINEL", "MYID"))
	addr := sentinel.Addr{Host: "127.0.0.1", Port: sent.Port}
	ref := sentinel.Ref{Master: "mymaster", Kind: sentinel.KindSentinel, Addr: addr, RunID: myid}
	for _, listed := range []bool{false, true} {
		tr := newTransportWith(t, Options{CommandTimeout: 2 * time.Second, PeerAllowed: func(a sentinel.Addr) bool { return listed && a == addr }})
		connectCmd(tr, ref, nil)
		in := awaitLink(t, tr, ref)
		up, ok := in.(sentinel.LinkUp)
		if listed != ok || ok && up.Proof != sentinel.ProofListed {
			t.Errorf("listed %v: %+v", listed, in)
		}
		_ = tr.Close()
	}
}
