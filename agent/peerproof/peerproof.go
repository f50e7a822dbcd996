// Package peerproof is the challenge-response with which an agent checks a
// peer it is about to talk to, before it sends that peer any credential.
//
// The verifier opens its command link to the address a hello announced and,
// before AUTH, sends
//
//	VIPSENTINEL PROVE <nonce>
//
// with a fresh random nonce (NonceLen random bytes, hex). The peer answers
// a two-element array: its run id and MAC(nonce, run id, address) in hex,
// keyed with the group's peer secret (the password agents AUTH to each
// other with: sentinel-pass, else requirepass), or an empty string when it
// has none. The address is the one the challenge arrived
// at, as the peer sees it (its side of the connection, or its announced
// address): an attacker who announces itself and relays the challenge to a
// real peer gets a MAC over the real peer's address, not its own.
//
// The verifier's key is the password it would AUTH to peers with. It
// accepts the answer when the run id is the announced one and the MAC
// verifies (secret mode); with no password of its own, a matching run id
// is all it can check (open mode: unauthenticated). Everything here is
// pure; redislink (verifier) and the API (prover) do the I/O.
package peerproof

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// NonceLen is the number of random bytes in a nonce (hex-encoded on the
// wire).
const NonceLen = 32

// Domain separates these MACs from any other use of the password.
const Domain = "vipsentinel-peer-proof-v1"

// NewNonce returns a fresh hex nonce.
func NewNonce() (string, error) {
	b := make([]byte, NonceLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("peer proof nonce: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// ValidNonce reports whether s has the shape of a nonce: a prover answers
// nothing else, so it cannot be made to MAC arbitrary text.
func ValidNonce(s string) bool {
	if len(s) != 2*NonceLen {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Addr renders an address as both sides must write it in the MAC:
// host:port, [v6]:port, IPv4-mapped IPv6 unmapped.
func Addr(host string, port int) string {
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().WithZone("").String()
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// MAC is the proof for (nonce, runid, addr) under secret, in hex. It is
// empty when secret is empty: there is nothing to prove.
func MAC(secret, nonce, runid, addr string) string {
	if secret == "" {
		return ""
	}
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(Domain))
	for _, s := range []string{nonce, runid, addr} {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Check verifies a prover's answer (gotRunID, gotMAC) against the announced
// run id and the address we dialled, keyed with secret. It reports whether
// the proof is a secret one (false: open mode, accepted because we have no
// secret).
func Check(secret, nonce, wantRunID, addr, gotRunID, gotMAC string) (secretProof bool, err error) {
	if !hmac.Equal([]byte(gotRunID), []byte(wantRunID)) {
		return false, fmt.Errorf("run id %.40q is not the announced %s", gotRunID, wantRunID)
	}
	if secret == "" {
		return false, nil
	}
	if gotMAC == "" {
		return false, fmt.Errorf("the peer proves no secret (no requirepass?) and we have one")
	}
	want := MAC(secret, nonce, wantRunID, addr)
	if !hmac.Equal([]byte(gotMAC), []byte(want)) {
		return false, fmt.Errorf("wrong proof of the secret for %s", addr)
	}
	return true, nil
}
