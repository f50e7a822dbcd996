package api

import (
	"sync"
	"time"
)

// ACL LOG keeps the failed logins and the denials, as Redis does: newest first, at most
// aclLogMax entries, and a failure like one of the few most recent (same
// reason, context, command and user, within aclLogGroup of its last
// occurrence) counts into that entry instead of adding one.
const (
	aclLogMax   = 128 // Redis's acllog-max-len default
	aclLogGroup = 60 * time.Second
	aclLogScan  = 10 // how many recent entries a new one may merge into
)

// aclLogEntry is one ACL LOG entry.
type aclLogEntry struct {
	reason   string // "auth", "command" or "channel"
	context  string // "toplevel"
	object   string // AUTH as the client sent it, the command (sub|command) or the channel denied
	username string
	count    int64
	last     time.Time
	client   string // CLIENT LIST line of the client, at the last occurrence
}

// aclLog is the ACL LOG; it is safe for concurrent use.
type aclLog struct {
	mu      sync.Mutex
	entries []aclLogEntry // newest first
}

// add records one denial seen at now by the client described by info.
func (l *aclLog) add(e aclLogEntry, info string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < len(l.entries) && i < aclLogScan; i++ {
		o := l.entries[i]
		if o.reason == e.reason && o.context == e.context && o.object == e.object &&
			o.username == e.username && now.Sub(o.last) < aclLogGroup {
			o.count++
			o.last, o.client = now, info
			copy(l.entries[1:i+1], l.entries[:i])
			l.entries[0] = o
			return
		}
	}
	e.count, e.last, e.client = 1, now, info
	l.entries = append([]aclLogEntry{e}, l.entries...)
	if len(l.entries) > aclLogMax {
		l.entries = l.entries[:aclLogMax]
	}
}

// list returns up to n entries, newest first.
func (l *aclLog) list(n int) []aclLogEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	n = min(n, len(l.entries))
	return append([]aclLogEntry(nil), l.entries[:n]...)
}

func (l *aclLog) reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

func (c *client) writeACLLog(entries []aclLogEntry) {
	now := time.Now()
	c.w.Array(len(entries))
	for _, e := range entries {
		c.w.Map(7)
		c.w.Bulk("count")
		c.w.Int(e.count)
		c.field("reason", e.reason)
		c.field("context", e.context)
		c.field("object", e.object)
		c.field("username", e.username)
		c.w.Bulk("age-seconds")
		c.w.Double(now.Sub(e.last).Seconds())
		c.field("client-info", e.client)
	}
}
