package api

import (
	"sort"

	"github.com/vipsentinel/vipsentinel/agent/resp"
)

// pubsub is the subscription registry. It is guarded by Server.mu.
type pubsub struct {
	channels map[string]map[*client]struct{}
	patterns map[string]map[*client]struct{}
}

func newPubSub() pubsub {
	return pubsub{
		channels: map[string]map[*client]struct{}{},
		patterns: map[string]map[*client]struct{}{},
	}
}

func (p *pubsub) add(m map[string]map[*client]struct{}, name string, c *client) {
	set := m[name]
	if set == nil {
		set = map[*client]struct{}{}
		m[name] = set
	}
	set[c] = struct{}{}
}

func (p *pubsub) remove(m map[string]map[*client]struct{}, name string, c *client) {
	if set := m[name]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(m, name)
		}
	}
}

func (p *pubsub) unsubscribeAll(c *client) {
	c.mu.Lock()
	subs := sortedKeys(c.subs)
	psubs := sortedKeys(c.psubs)
	c.mu.Unlock()
	for _, ch := range subs {
		p.remove(p.channels, ch, c)
	}
	for _, pat := range psubs {
		p.remove(p.patterns, pat, c)
	}
}

// publish delivers a message; encodings are shared between clients of the
// same protocol version.
func (p *pubsub) publish(channel, message string) int {
	var enc [4][]byte
	n := 0
	for c := range p.channels[channel] {
		proto := c.protoVersion()
		if enc[proto] == nil {
			w := resp.NewWriter(proto)
			w.Push(3)
			w.Bulk("message")
			w.Bulk(channel)
			w.Bulk(message)
			enc[proto] = append([]byte(nil), w.Bytes()...)
		}
		if c.push(enc[proto]) {
			n++
		}
	}
	for pat, set := range p.patterns {
		if !globMatch(pat, channel) {
			continue
		}
		var penc [4][]byte
		for c := range set {
			proto := c.protoVersion()
			if penc[proto] == nil {
				w := resp.NewWriter(proto)
				w.Push(4)
				w.Bulk("pmessage")
				w.Bulk(pat)
				w.Bulk(channel)
				w.Bulk(message)
				penc[proto] = append([]byte(nil), w.Bytes()...)
			}
			if c.push(penc[proto]) {
				n++
			}
		}
	}
	return n
}

func (c *client) protoVersion() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proto == 3 {
		return 3
	}
	return 2
}

func sortedKeys(m map[string]struct{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// globMatch reports whether s matches the Redis glob pattern: * ? [abc]
// [^a] [a-z] and \ escapes, as PSUBSCRIBE, SENTINEL RESET and CONFIG GET
// use them. It backtracks only to the last '*', so its cost is
// O(len(pattern)*len(s)) whatever the pattern.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) && p[pi] == '*' {
			for pi < len(p) && p[pi] == '*' {
				pi++
			}
			if pi == len(p) {
				return true
			}
			star, mark = pi, si
			continue
		}
		if pi < len(p) {
			if n, ok := matchOne(p[pi:], s[si]); ok {
				pi += n
				si++
				continue
			}
		}
		if star < 0 {
			return false
		}
		mark++
		pi, si = star, mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchOne matches one pattern element (not '*') at the start of p against
// c, returning the element's length.
func matchOne(p string, c byte) (int, bool) {
	switch p[0] {
	case '?':
		return 1, true
	case '\\':
		if len(p) >= 2 {
			return 2, p[1] == c
		}
		return 1, c == '\\'
	case '[':
		i := 1
		not := i < len(p) && p[i] == '^'
		if not {
			i++
		}
		match := false
		for i < len(p) && p[i] != ']' {
			switch {
			case p[i] == '\\' && i+1 < len(p):
				match = match || p[i+1] == c
				i += 2
			case i+2 < len(p) && p[i+1] == '-' && p[i+2] != ']':
				lo, hi := p[i], p[i+2]
				if lo > hi {
					lo, hi = hi, lo
				}
				match = match || (c >= lo && c <= hi)
				i += 3
			default:
				match = match || p[i] == c
				i++
			}
		}
		if i < len(p) {
			i++ // the ']'
		}
		return i, match != not
	default:
		return 1, p[0] == c
	}
}
