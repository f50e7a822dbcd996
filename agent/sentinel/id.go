package sentinel

import (
	"encoding/hex"
	"hash/fnv"
	"math/rand"
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
)

// A run id is 40 hex characters, like Sentinel's. vipsentinel agents derive
// the last 8 characters from the first 32 so that a peer can recognise a
// vipsentinel agent from its hello without changing the 8-token wire format
// (a real redis-sentinel matches by chance with probability 2^-32, and the
// only consequence of a mistake is a shorter voter back-off, never a second
// vote in an epoch).

const agentTag = "vipsentinel-agent-id/1:"

func agentSuffix(prefix string) string {
	h := fnv.New32a()
	h.Write([]byte(agentTag))
	h.Write([]byte(strings.ToLower(prefix)))
	var b [4]byte
	s := h.Sum32()
	b[0], b[1], b[2], b[3] = byte(s>>24), byte(s>>16), byte(s>>8), byte(s)
	return hex.EncodeToString(b[:])
}

// NewID returns a fresh 40-hex run id drawn from r and tagged as a
// vipsentinel agent's.
func NewID(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Intn(256))
	}
	p := hex.EncodeToString(b[:])
	return p + agentSuffix(p)
}

// IsAgentID reports whether id carries the vipsentinel agent tag.
func IsAgentID(id string) bool {
	if !redisrule.IsRunID(id) {
		return false
	}
	return strings.EqualFold(id[32:], agentSuffix(id[:32]))
}
