package scenario

import "testing"

// TestKillMasterMovesVIPTLS is TestKillMasterMovesVIP on a TLS-only
// deployment (what vipsentinel-lab demo -tls and bench -tls run): the
// client writes through the floating IP over TLS, and the failover loses
// none of its acknowledged writes.
func TestKillMasterMovesVIPTLS(t *testing.T) {
	res := killMasterMoves(t, Options{Name: "tlskill", TLS: true})
	if res.Acked == 0 {
		t.Fatal("no write acknowledged over TLS")
	}
	if res.Lost != 0 {
		t.Errorf("%d acknowledged writes lost", res.Lost)
	}
}
