package peerproof

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	id := strings.Repeat("a", 40)
	nonce, err := NewNonce()
	if err != nil || !ValidNonce(nonce) {
		t.Fatalf("nonce %q %v", nonce, err)
	}
	addr := Addr("::ffff:198.18.0.2", 26379)
	if addr != "198.18.0.2:26379" {
		t.Fatalf("Addr unmapped: %s", addr)
	}
	mac := MAC("s3cret", nonce, id, addr)
	for _, tc := range []struct {
		name, secret, runid, addr, mac string
		ok, secretProof                bool
	}{
		{"good", "s3cret", id, addr, mac, true, true},
		{"open mode", "", id, addr, "", true, false},
		{"other run id", "s3cret", strings.Repeat("b", 40), addr, mac, false, false},
		{"other address (relayed)", "s3cret", id, Addr("198.18.0.3", 26379), mac, false, false},
		{"other secret", "other", id, addr, mac, false, false},
		{"no mac", "s3cret", id, addr, "", false, false},
	} {
		sp, err := Check(tc.secret, nonce, id, tc.addr, tc.runid, tc.mac)
		if (err == nil) != tc.ok || sp != tc.secretProof {
			t.Errorf("%s: secret proof %v, err %v", tc.name, sp, err)
		}
	}
	if ValidNonce("zz") || ValidNonce(strings.Repeat("g", 64)) {
		t.Error("bad nonce accepted")
	}
	if MAC("", nonce, id, addr) != "" {
		t.Error("MAC without a secret")
	}
}
