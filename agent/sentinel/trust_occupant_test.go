package sentinel

import (
	"strings"
	"testing"
)

// Simulator seed 5595, reduced: a verified peer P, gone during a
// partition, is moved to a phantom address by a forged hello; a phantom Q
// is proposed at P's real address; P's own hello brings it back there. Q
// must go: two records at one address share the transport's connection
// while the core gives each a link, and P's replies were dropped as Q's
// (the two real agents never verified each other again, the master's agent
// stayed fenced for 117 s). A later phantom at P's address is refused
// while P is not gone.
func TestPeerBackAtItsAddressDisplacesPhantoms(t *testing.T) {
	h := newHealthy(t)
	m := h.n.masters["mymaster"]
	p := h.verifiedPeer("198.18.0.2", strings.Repeat("c", 40))
	real := p.addr
	down := func(c Command) Input {
		if c.Kind == CmdConnect && c.To.Kind == KindSentinel {
			return LinkDown{To: c.To, Link: c.Link, Err: "connect timeout"}
		}
		return std(defaultInfo)(c)
	}
	h.serve(3*m.cfg.DownAfter, down)
	if !h.n.gone(p) {
		t.Fatal("peer not gone after 3×down-after unreachable")
	}
	hello := func(host, runid string) {
		h.step(forged(m, HelloMsg{Addr: Addr{Host: host, Port: 26379}, RunID: runid, Master: "mymaster", MasterAddr: tMaster}))
	}
	hello("198.18.250.1", p.runid) // P moved away by anyone's hello
	q := strings.Repeat("a", 40)   // sorts before P
	hello(real.Host, q)
	if m.sentinels[q] == nil {
		t.Fatal("phantom not proposed at the free address")
	}
	hello(real.Host, p.runid) // P back at its verified address
	at := h.n.occupants(m, real, "")
	if len(at) != 1 || at[0].runid != p.runid {
		var ids []string
		for _, s := range at {
			ids = append(ids, s.runid[:4])
		}
		t.Fatalf("records at %s: %v, want only the verified peer", real, ids)
	}
	if l := h.n.peerLinks[real.String()]; l == nil || l != m.sentinels[p.runid].link {
		t.Fatal("the address's link is not the verified peer's")
	}
	hello(real.Host, strings.Repeat("b", 40))
	if m.sentinels[strings.Repeat("b", 40)] != nil || m.sentinels[p.runid] == nil {
		t.Fatal("a phantom displaced the verified peer just back at its address")
	}
}
