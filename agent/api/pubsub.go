package api

import (
	"sort"

	"github.com/vipsentinel/vipsentinel/agent/redisrule"
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

// publish delivers a message to the channel's subscribers and to those of
// the patterns that match it.
func (p *pubsub) publish(channel, message string) int {
	n := pushAll(p.channels[channel], func(w *resp.Writer) {
		w.Push(3)
		w.Bulk("message")
		w.Bulk(channel)
		w.Bulk(message)
	})
	for pat, set := range p.patterns {
		if redisrule.Match(pat, channel) {
			n += pushAll(set, func(w *resp.Writer) {
				w.Push(4)
				w.Bulk("pmessage")
				w.Bulk(pat)
				w.Bulk(channel)
				w.Bulk(message)
			})
		}
	}
	return n
}

// pushAll pushes the message enc writes to every client in set, encoded
// once per protocol version, and returns how many clients took it.
func pushAll(set map[*client]struct{}, enc func(*resp.Writer)) int {
	var encoded [4][]byte
	n := 0
	for c := range set {
		proto := c.protoVersion()
		if encoded[proto] == nil {
			w := resp.NewWriter(proto)
			enc(w)
			encoded[proto] = append([]byte(nil), w.Bytes()...)
		}
		if c.push(encoded[proto]) {
			n++
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
