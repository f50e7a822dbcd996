package redislink

import (
	"strings"

	"github.com/vipsentinel/vipsentinel/agent/sentinel"
)

// sharedSub is one pub/sub connection to a Redis server, shared by every
// master (and role) the core subscribes to that server's hello channel for
// with the same set-up commands.
//
// A hello names the master it is about, and the core processes it by that
// name whichever link it came through (as Sentinel does), so one
// subscription per server carries everything. Sentinel opens one per
// monitored master instead: when many masters name one server, every hello
// published there then arrives once per master, a cost that grows with the
// square of the number of masters and is pure duplication. Each member
// still sees a connection of its own: LinkUp and LinkDown are reported to
// every member, and a message goes to the member whose master it names, so
// each member's pub/sub activity (the core closes a silent pub/sub link) is
// kept by its own master's hellos, as over a connection of its own.
type sharedSub struct {
	key      string
	l        *link
	up       bool
	localIP  string
	members  []sentinel.Ref
	byMaster map[string]sentinel.Ref
}

// subKey identifies the shareable subscription a CmdConnect asks for: the
// server and the exact set-up commands (credentials included).
func subKey(cmd sentinel.Command) string {
	var b strings.Builder
	b.WriteString(cmd.To.Addr.String())
	for _, c := range cmd.Cmds {
		b.WriteByte(0)
		for _, a := range c {
			b.WriteString(a)
			b.WriteByte(1)
		}
	}
	return b.String()
}

// addMemberLocked adds ref to s. t.mu is held.
func (t *Transport) addMemberLocked(s *sharedSub, ref sentinel.Ref) {
	s.members = append(s.members, ref)
	s.byMaster[ref.Master] = ref
	t.subOf[ref] = s
}

// dropMemberLocked removes ref from its subscription and reports whether
// the subscription has no member left. t.mu is held.
func (t *Transport) dropMemberLocked(ref sentinel.Ref) (s *sharedSub, empty bool) {
	s = t.subOf[ref]
	if s == nil {
		return nil, false
	}
	delete(t.subOf, ref)
	for i, r := range s.members {
		if r == ref {
			s.members = append(s.members[:i], s.members[i+1:]...)
			break
		}
	}
	if s.byMaster[ref.Master] == ref {
		delete(s.byMaster, ref.Master)
		for _, r := range s.members {
			if r.Master == ref.Master {
				s.byMaster[r.Master] = r
				break
			}
		}
	}
	if len(s.members) > 0 {
		return s, false
	}
	if t.subs[s.key] == s {
		delete(t.subs, s.key)
	}
	return s, true
}

// connectSub handles a CmdConnect of a pub/sub link. t.mu is held; it
// reports whether a new connection must be started (l.run).
func (t *Transport) connectSubLocked(cmd sentinel.Command) (start *link) {
	if old, empty := t.dropMemberLocked(cmd.To); empty {
		// A new CmdConnect replaces the old connection: the core has
		// already forgotten it.
		old.l.close()
	}
	key := subKey(cmd)
	if s := t.subs[key]; s != nil {
		t.addMemberLocked(s, cmd.To)
		if s.up {
			up := sentinel.LinkUp{To: cmd.To, Link: sentinel.LinkPubSub, LocalIP: s.localIP}
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				t.report(up)
			}()
		}
		return nil
	}
	l := newLink(t, keyOf(cmd.To, cmd.Link), cmd)
	s := &sharedSub{key: key, l: l, byMaster: map[string]sentinel.Ref{}}
	l.sub = s
	t.subs[key] = s
	t.addMemberLocked(s, cmd.To)
	t.wg.Add(1)
	return l
}

// closeSubLocked handles a CmdClose of a pub/sub link. t.mu is held.
func (t *Transport) closeSubLocked(ref sentinel.Ref) {
	if s, empty := t.dropMemberLocked(ref); empty {
		s.l.close()
	}
}

// subUp marks s subscribed and returns the LinkUp of every member.
func (t *Transport) subUp(s *sharedSub, localIP string) []sentinel.Input {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.up, s.localIP = true, localIP
	out := make([]sentinel.Input, 0, len(s.members))
	for _, r := range s.members {
		out = append(out, sentinel.LinkUp{To: r, Link: sentinel.LinkPubSub, LocalIP: localIP})
	}
	return out
}

// subVia is the member a hello is delivered through: one of the master it
// names if there is one.
func (t *Transport) subVia(s *sharedSub, payload string) (sentinel.Ref, bool) {
	name := helloMaster(payload)
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := s.byMaster[name]; ok {
		return r, true
	}
	if len(s.members) == 0 {
		return sentinel.Ref{}, false
	}
	return s.members[0], true
}

// subGone removes s (its connection ended) and returns its members, who
// are told LinkDown.
func (t *Transport) subGone(s *sharedSub) []sentinel.Ref {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.subs[s.key] == s {
		delete(t.subs, s.key)
	}
	members := s.members
	s.members = nil
	for _, r := range members {
		if t.subOf[r] == s {
			delete(t.subOf, r)
		}
	}
	return members
}

// helloMaster returns the master name of a hello payload (its fifth
// comma-separated token), or "" when it has fewer tokens. The core parses
// and checks the whole payload; this only picks the member to deliver it to.
func helloMaster(p string) string {
	for range 4 {
		i := strings.IndexByte(p, ',')
		if i < 0 {
			return ""
		}
		p = p[i+1:]
	}
	if i := strings.IndexByte(p, ','); i >= 0 {
		return p[:i]
	}
	return p
}
