package redislink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vipsentinel/vipsentinel/agent/peerproof"
	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// Peer verification (package peerproof) runs on the raw connection of a
// command link to a peer agent, inside go-redis's Dialer: before go-redis
// or the link's set-up sends anything, in particular AUTH. A peer that does
// not prove what it announced never receives a credential.
//
// The reply is read here, not by go-redis: go-redis trusts the lengths a
// server declares (a hostile "peer" declaring a 2^63-byte bulk string makes
// it allocate that much), and this reply comes from an endpoint we know
// nothing about yet. It is at most maxProofReply bytes, and its two strings
// at most maxProofField each.

const (
	maxProofReply = 512
	maxProofField = 128
)

// ErrPeerProof is wrapped by every verification failure.
var ErrPeerProof = errors.New("peer proof failed")

// proofLogPeriod spaces the warnings about failed proofs.
const proofLogPeriod = 10 * time.Second

// authSecret is the password the set-up commands would AUTH with (the
// verifier's key), or "".
func authSecret(cmds [][]string) string {
	for _, c := range cmds {
		if len(c) >= 2 && strings.EqualFold(c[0], "AUTH") {
			return c[len(c)-1]
		}
	}
	return ""
}

// provePeer challenges the endpoint behind c, which we dialled as ref's
// announced address, and returns how it was verified. ProofListed still
// needs the SENTINEL MYID check after AUTH (checkMyID).
func (t *Transport) provePeer(c net.Conn, ref sentinel.Ref, secret string) (sentinel.PeerProof, error) {
	nonce, err := peerproof.NewNonce()
	if err != nil {
		return sentinel.ProofNone, err
	}
	if err := c.SetDeadline(time.Now().Add(t.opts.CommandTimeout)); err != nil {
		return sentinel.ProofNone, err
	}
	req := "*3\r\n$11\r\nVIPSENTINEL\r\n$5\r\nPROVE\r\n$" + strconv.Itoa(len(nonce)) + "\r\n" + nonce + "\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return sentinel.ProofNone, fmt.Errorf("%w: send challenge: %v", ErrPeerProof, err)
	}
	errReply, fields, err := readProofReply(c)
	if err != nil {
		return sentinel.ProofNone, fmt.Errorf("%w: %v", ErrPeerProof, err)
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		return sentinel.ProofNone, err
	}
	cert := t.certVerified(c)
	if errReply != "" {
		// A real redis-sentinel does not know the command.
		if t.opts.PeerAllowed != nil && t.opts.PeerAllowed(ref.Addr) {
			return sentinel.ProofListed, nil
		}
		if cert {
			// Its certificate makes it a member; SENTINEL MYID after
			// the set-up checks the run id (runCmd).
			return sentinel.ProofCert, nil
		}
		return sentinel.ProofNone, fmt.Errorf("%w: %s answered %.80q and is not listed (sentinel known-sentinel) as a redis-sentinel peer", ErrPeerProof, ref.Addr, errReply)
	}
	secretProof, err := peerproof.Check(secret, nonce, ref.RunID, peerproof.Addr(ref.Addr.Host, ref.Addr.Port), fields[0], fields[1])
	switch {
	case err != nil && cert && fields[0] == ref.RunID && fields[1] == "":
		// We have a secret, the peer none: its certificate suffices.
		return sentinel.ProofCert, nil
	case err != nil:
		return sentinel.ProofNone, fmt.Errorf("%w: %s: %v", ErrPeerProof, ref.Addr, err)
	case secretProof:
		return sentinel.ProofSecret, nil
	case cert:
		return sentinel.ProofCert, nil
	}
	return sentinel.ProofOpen, nil
}

// readProofReply reads one reply to PROVE: an error line, or an array of
// two bulk strings. It never reads past the reply (the connection is handed
// to go-redis afterwards) and never more than maxProofReply bytes.
func readProofReply(c net.Conn) (errReply string, fields []string, err error) {
	buf := make([]byte, 0, maxProofReply)
	for {
		done, errReply, fields, perr := parseProofReply(buf)
		if perr != nil {
			return "", nil, perr
		}
		if done > 0 {
			if done != len(buf) {
				return "", nil, errors.New("unsolicited data after the reply")
			}
			return errReply, fields, nil
		}
		if len(buf) == cap(buf) {
			return "", nil, fmt.Errorf("reply longer than %d bytes", maxProofReply)
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return "", nil, fmt.Errorf("read reply: %w", err)
		}
	}
}

// parseProofReply parses b. done is the length of a complete reply, 0 when
// more bytes are needed.
func parseProofReply(b []byte) (done int, errReply string, fields []string, err error) {
	line := func(at int) (string, int, bool) {
		i := bytes.Index(b[at:], []byte("\r\n"))
		if i < 0 {
			return "", 0, false
		}
		return string(b[at : at+i]), at + i + 2, true
	}
	if len(b) == 0 {
		return 0, "", nil, nil
	}
	switch b[0] {
	case '-':
		l, next, ok := line(1)
		if !ok {
			return 0, "", nil, nil
		}
		if l == "" {
			l = "ERR"
		}
		return next, l, nil, nil
	case '*':
	default:
		return 0, "", nil, fmt.Errorf("unexpected reply type %q", b[0])
	}
	l, at, ok := line(1)
	if !ok {
		return 0, "", nil, nil
	}
	if l != "2" {
		return 0, "", nil, fmt.Errorf("array of %.20q elements, want 2", l)
	}
	for len(fields) < 2 {
		if at >= len(b) {
			return 0, "", nil, nil
		}
		if b[at] != '$' {
			return 0, "", nil, fmt.Errorf("element of type %q, want a bulk string", b[at])
		}
		l, next, ok := line(at + 1)
		if !ok {
			return 0, "", nil, nil
		}
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 || n > maxProofField {
			return 0, "", nil, fmt.Errorf("bulk length %.20q out of range 0..%d", l, maxProofField)
		}
		if len(b) < next+n+2 {
			return 0, "", nil, nil
		}
		if string(b[next+n:next+n+2]) != "\r\n" {
			return 0, "", nil, errors.New("bulk string not terminated")
		}
		fields = append(fields, string(b[next:next+n]))
		at = next + n + 2
	}
	return at, "", fields, nil
}

// checkMyID completes the listed mode: after AUTH, the peer's SENTINEL
// MYID must be the announced run id.
func (l *link) checkMyID(ctx context.Context, conn *redis.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, l.t.opts.CommandTimeout)
	defer cancel()
	id, err := conn.Do(ctx, "SENTINEL", "MYID").Text()
	if err != nil {
		return fmt.Errorf("%w: %s: SENTINEL MYID: %v", ErrPeerProof, l.ref.Addr, err)
	}
	if !strings.EqualFold(id, l.ref.RunID) {
		return fmt.Errorf("%w: %s: SENTINEL MYID is %.40q, not the announced %s", ErrPeerProof, l.ref.Addr, id, l.ref.RunID)
	}
	return nil
}

// proofFailed logs a failed verification, at most once per proofLogPeriod.
func (t *Transport) proofFailed(ref sentinel.Ref, err error) {
	t.mu.Lock()
	now := time.Now()
	quiet := now.Sub(t.proofLogAt) < proofLogPeriod
	if !quiet {
		t.proofLogAt = now
	}
	t.proofFails++
	t.mu.Unlock()
	if !quiet {
		t.log.Warn("peer not verified; nothing sent to it", "addr", ref.Addr.String(), "runid", ref.RunID, "err", err)
	}
}

// ProofFailures returns how many peer verifications failed.
func (t *Transport) ProofFailures() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.proofFails
}
