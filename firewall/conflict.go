package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Tool names the program that manages a foreign table, as far as can be told
// from the ruleset.
type Tool string

// Tools recognised in foreign tables.
const (
	ToolNftables  Tool = "nftables"     // hand-written nft rules (/etc/nftables.conf)
	ToolIptables  Tool = "iptables-nft" // iptables rules through the nf_tables backend
	ToolUFW       Tool = "ufw"
	ToolFirewalld Tool = "firewalld"
)

// Conflict is a foreign input base chain that drops or rejects, or may drop
// or reject, TCP traffic to the ports vipsentinel opens. An accept in
// vipsentinel's table never overrides a drop in another base chain on the
// same hook, so such traffic does not get through unless the foreign chain
// accepts it first.
type Conflict struct {
	Family   string // table family: "ip", "ip6" or "inet"
	Table    string
	Chain    string
	Hook     string // "input"
	Priority int32
	Policy   string // "accept" or "drop"
	Tool     Tool
	// Ports are the opened ports the chain may drop: agent port, agent TLS
	// port, redis port, in that order.
	Ports []int
	// IPv4 and IPv6 say which address families are affected.
	IPv4, IPv6 bool
	// Certain is false when only rules whose match could not be fully
	// analysed (source addresses, rate limits, xt matches...) may drop.
	Certain bool
	// Reason names what drops: "policy drop", "rule handle 7 rejects", ...
	Reason string
	// Injected reports that (firewall-mode inject) vipsentinel's accept rules
	// sit at the top of the chain, so the conflict is handled.
	Injected bool
	// Injectable is false when the table cannot be modified by another
	// process (firewalld >= 2.2 owns its table).
	Injectable bool
	// Fix is the suggested change to the foreign firewall.
	Fix string

	chain *nftables.Chain // the chain itself, for injecting
	risk  flows           // what it may drop
}

// Handled reports whether the traffic gets through despite the chain.
func (c Conflict) Handled() bool { return c.Injected }

// String is the human-readable message for the log and `vipsentinel status`.
func (c Conflict) String() string {
	verb := "drops"
	if !c.Certain {
		verb = "may drop"
	}
	var fams []string
	if c.IPv4 {
		fams = append(fams, "IPv4")
	}
	if c.IPv6 {
		fams = append(fams, "IPv6")
	}
	s := fmt.Sprintf("table %s %s chain %s (%s, hook %s, priority %d, policy %s) %s TCP to port %s (%s): %s",
		c.Family, c.Table, c.Chain, c.Tool, c.Hook, c.Priority, c.Policy, verb, joinInts(c.Ports, ", "),
		strings.Join(fams, ", "), c.Reason)
	if c.Injected {
		return s + "; handled: vipsentinel inserted accept rules at the top of the chain (firewall-mode inject)"
	}
	return s + "; an accept in table inet " + TableName + " cannot override it. Fix: " + c.Fix
}

func joinInts(v []int, sep string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, sep)
}

// ruleset is the read side of the kernel the analysis needs; snapshot
// implements it against the kernel, tests against fixtures.
type ruleset interface {
	chain(t *nftables.Table, name string) *nftables.Chain
	rules(ch *nftables.Chain) ([]*nftables.Rule, error)
	set(t *nftables.Table, name string) (*nftables.Set, []nftables.SetElement, error)
}

// tableOwnedFlag is NFT_TABLE_F_OWNER: only the creating socket may change
// the table (firewalld >= 2.2).
const tableOwnedFlag = 0x2

// findConflicts analyses every foreign input base chain of families ip, ip6
// and inet. Rules carrying injectComment are ignored, so the result
// describes the foreign firewall as if vipsentinel had injected nothing.
func findConflicts(rs ruleset, tables []*nftables.Table, chains []*nftables.Chain, cfg Config) []Conflict {
	var out []Conflict
	ports := cfg.ports()
	for _, ch := range chains {
		fl := chainFlows(ch) & cfg.openFlows()
		if !isInputBase(ch) || isOwn(ch.Table) || fl == 0 {
			continue
		}
		a := &analyzer{rs: rs, ports: ports}
		a.walk(ch, fl, 0)
		if a.risk == 0 {
			continue
		}
		t := findTable(tables, ch.Table)
		c := Conflict{
			Family:     familyName(ch.Table.Family),
			Table:      ch.Table.Name,
			Chain:      ch.Name,
			Hook:       hookName(ch.Hooknum),
			Policy:     policyName(ch.Policy),
			Tool:       toolOf(ch.Table, chains),
			Ports:      a.risk.ports(ports),
			IPv4:       a.risk&v4Flows != 0,
			IPv6:       a.risk&v6Flows != 0,
			Certain:    a.certain,
			Reason:     strings.Join(a.reasons, "; "),
			Injectable: t == nil || t.Flags&tableOwnedFlag == 0,
			chain:      ch,
			risk:       a.risk,
		}
		if ch.Priority != nil {
			c.Priority = int32(*ch.Priority)
		}
		c.Fix = fixFor(c, cfg)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Conflict) int {
		return strings.Compare(a.Family+" "+a.Table+" "+a.Chain, b.Family+" "+b.Table+" "+b.Chain)
	})
	return out
}

func isInputBase(ch *nftables.Chain) bool {
	return ch.Hooknum != nil && *ch.Hooknum == *nftables.ChainHookInput && ch.Type == nftables.ChainTypeFilter
}

func isOwn(t *nftables.Table) bool {
	return t.Family == nftables.TableFamilyINet && t.Name == TableName
}

// chainFlows returns the traffic a chain of this family sees.
func chainFlows(ch *nftables.Chain) flows {
	switch ch.Table.Family {
	case nftables.TableFamilyIPv4:
		return v4Flows
	case nftables.TableFamilyIPv6:
		return v6Flows
	case nftables.TableFamilyINet:
		return allFlows
	}
	return 0
}

func findTable(tables []*nftables.Table, t *nftables.Table) *nftables.Table {
	for _, x := range tables {
		if x.Family == t.Family && x.Name == t.Name {
			return x
		}
	}
	return nil
}

// toolOf guesses which program manages table t.
func toolOf(t *nftables.Table, chains []*nftables.Chain) Tool {
	if t.Name == "firewalld" {
		return ToolFirewalld
	}
	if t.Name == "filter" && t.Family != nftables.TableFamilyINet {
		for _, c := range chains {
			if c.Table.Family == t.Family && c.Table.Name == t.Name && strings.HasPrefix(c.Name, "ufw") {
				return ToolUFW
			}
		}
		for _, c := range chains {
			if c.Table.Family == t.Family && c.Table.Name == t.Name && c.Name == "INPUT" {
				return ToolIptables
			}
		}
	}
	return ToolNftables
}

// fixFor suggests the change that opens the ports in the foreign firewall.
func fixFor(c Conflict, cfg Config) string {
	ports := joinInts(c.Ports, ",")
	var srcs []string
	for _, p := range cfg.Allow {
		if (p.Addr().Is4() && c.IPv4) || (p.Addr().Is6() && c.IPv6) {
			srcs = append(srcs, p.Masked().String())
		}
	}
	inject := `, or set "firewall-mode inject"`
	if !c.Injectable {
		inject = " (firewall-mode inject cannot work: the table is owned by its creator)"
	}
	switch c.Tool {
	case ToolFirewalld:
		if len(srcs) == 0 {
			return fmt.Sprintf("firewall-cmd --permanent %s && firewall-cmd --reload%s",
				joinEach(c.Ports, "--add-port=%d/tcp"), inject)
		}
		var rich []string
		for _, s := range srcs {
			fam := "ipv4"
			if netip.MustParsePrefix(s).Addr().Is6() {
				fam = "ipv6"
			}
			for _, p := range c.Ports {
				rich = append(rich, fmt.Sprintf("--add-rich-rule='rule family=%s source address=%s port port=%d protocol=tcp accept'", fam, s, p))
			}
		}
		return fmt.Sprintf("firewall-cmd --permanent %s && firewall-cmd --reload%s", strings.Join(rich, " "), inject)
	case ToolUFW:
		from := "any"
		if len(srcs) > 0 {
			from = srcs[0]
			if len(srcs) > 1 {
				from += " (one rule per firewall-allow source)"
			}
		}
		return fmt.Sprintf("ufw allow proto tcp from %s to any port %s%s", from, ports, inject)
	case ToolIptables:
		cmd := "iptables"
		if c.Family == "ip6" {
			cmd = "ip6tables"
		}
		src := ""
		if len(srcs) > 0 {
			src = " -s " + strings.Join(srcs, ",")
		}
		return fmt.Sprintf("%s -I %s -p tcp -m multiport --dports %s%s -j ACCEPT and save it (/etc/sysconfig/%s or /etc/iptables/rules.v%s)%s",
			cmd, c.Chain, ports, src, cmd, map[bool]string{false: "4", true: "6"}[c.Family == "ip6"], inject)
	}
	match := fmt.Sprintf("tcp dport { %s } accept", strings.ReplaceAll(ports, ",", ", "))
	if len(srcs) > 0 {
		var v4, v6 []string
		for _, s := range srcs {
			if netip.MustParsePrefix(s).Addr().Is4() {
				v4 = append(v4, s)
			} else {
				v6 = append(v6, s)
			}
		}
		var ms []string
		if len(v4) > 0 {
			ms = append(ms, fmt.Sprintf("ip saddr { %s } %s", strings.Join(v4, ", "), match))
		}
		if len(v6) > 0 {
			ms = append(ms, fmt.Sprintf("ip6 saddr { %s } %s", strings.Join(v6, ", "), match))
		}
		match = strings.Join(ms, "\" and \"")
	}
	return fmt.Sprintf("add \"%s\" before the drop in chain %s of table %s %s (e.g. in /etc/nftables.conf)%s",
		match, c.Chain, c.Family, c.Table, inject)
}

func joinEach(v []int, format string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, " ")
}

// The analysis is a small abstract interpretation of a chain over the flows
// vipsentinel opens ({IPv4, IPv6} x every opened port, see flows). For
// each rule it computes which flows the rule can match. Conditions it
// understands (meta l4proto/nfproto, tcp dport, ct state, daddr loopback,
// lookups in readable sets) narrow that set exactly; anything else makes the
// rule "restricted": it may match some of the traffic. A restricted drop is
// reported as uncertain; a restricted accept does not count as opening the
// port. Jumps are followed; the base chain's policy applies to what is left.

type verdictKind int

const (
	vNone verdictKind = iota
	vAccept
	vDrop
	vReject
	vJump
	vGoto
	vUnknown // verdict map or queue: may drop
)

type regKind int

const (
	regOther regKind = iota
	regL4Proto
	regNFProto
	regDport
	regCtState
	regDaddr4
	regDaddr6
)

type regState struct {
	kind regKind
	mask []byte // from a bitwise and, for ct state and addresses
}

type ruleMatch struct {
	scope      flows
	restricted bool
	verdict    verdictKind
	target     string
}

const maxJumpDepth = 16

type analyzer struct {
	rs      ruleset
	ports   []uint16 // Config.ports
	risk    flows
	certain bool
	reasons []string
}

func (a *analyzer) report(fl flows, certain bool, reason string) {
	a.risk |= fl
	a.certain = a.certain || certain
	if len(a.reasons) < 3 {
		a.reasons = append(a.reasons, reason)
	}
}

// walk evaluates chain ch for the flows in scope and returns the flows the
// chain accepts unconditionally.
func (a *analyzer) walk(ch *nftables.Chain, scope flows, depth int) (covered flows) {
	where := ""
	if depth > 0 {
		where = " in chain " + ch.Name
	}
	rules, err := a.rs.rules(ch)
	if err != nil {
		a.report(scope, false, fmt.Sprintf("rules of chain %s unreadable (%v)", ch.Name, err))
		return 0
	}
	live := scope
	for _, r := range rules {
		if live == 0 {
			break
		}
		if ruleComment(r.UserData) == injectComment {
			continue
		}
		m := a.match(ch.Table, r, live)
		eff := m.scope & live
		if eff == 0 {
			continue
		}
		switch m.verdict {
		case vAccept:
			if !m.restricted {
				covered |= eff
				live &^= eff
			}
		case vDrop, vReject:
			what := "drops"
			if m.verdict == vReject {
				what = "rejects"
			}
			if m.restricted {
				what = "may " + strings.TrimSuffix(what, "s")
			}
			a.report(eff, !m.restricted, fmt.Sprintf("rule handle %d%s %s", r.Handle, where, what))
			if !m.restricted {
				live &^= eff
			}
		case vUnknown:
			a.report(eff, false, fmt.Sprintf("rule handle %d%s may drop (verdict map or queue)", r.Handle, where))
		case vJump, vGoto:
			target := a.rs.chain(ch.Table, m.target)
			if target == nil || depth >= maxJumpDepth {
				a.report(eff, false, fmt.Sprintf("rule handle %d%s jumps to chain %s, which was not analysed", r.Handle, where, m.target))
				continue
			}
			sub := a.walk(target, eff, depth+1)
			if !m.restricted {
				covered |= sub
				live &^= sub
			}
		}
	}
	if depth == 0 && live != 0 && ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
		a.report(live, true, "policy drop")
	}
	return covered
}

// match computes which of the flows in scope rule r can match, and its verdict.
func (a *analyzer) match(t *nftables.Table, r *nftables.Rule, scope flows) ruleMatch {
	m := ruleMatch{scope: scope}
	regs := map[uint32]regState{}
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Meta:
			if e.SourceRegister {
				continue
			}
			st := regState{}
			switch e.Key {
			case expr.MetaKeyL4PROTO:
				st.kind = regL4Proto
			case expr.MetaKeyNFPROTO:
				st.kind = regNFProto
			}
			regs[e.Register] = st
		case *expr.Payload:
			if e.OperationType == expr.PayloadLoad {
				regs[e.DestRegister] = regState{kind: payloadKind(e, t, m.scope)}
			}
		case *expr.Ct:
			if !e.SourceRegister {
				st := regState{}
				if e.Key == expr.CtKeySTATE {
					st.kind = regCtState
				}
				regs[e.Register] = st
			}
		case *expr.Bitwise:
			st := regs[e.SourceRegister]
			if (st.kind == regCtState || st.kind == regDaddr4 || st.kind == regDaddr6) && st.mask == nil &&
				!slices.ContainsFunc(e.Xor, func(b byte) bool { return b != 0 }) {
				st.mask = e.Mask
			} else {
				st = regState{}
			}
			regs[e.DestRegister] = st
		case *expr.Cmp:
			a.cmp(&m, regs[e.Register], e.Op, e.Data)
		case *expr.Range:
			a.rangeCmp(&m, regs[e.Register], e)
		case *expr.Lookup:
			a.lookup(&m, t, regs, e)
		case *expr.Immediate:
			regs[e.Register] = regState{}
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictAccept:
				m.verdict = vAccept
			case expr.VerdictDrop:
				m.verdict = vDrop
			case expr.VerdictJump:
				m.verdict, m.target = vJump, e.Chain
			case expr.VerdictGoto:
				m.verdict, m.target = vGoto, e.Chain
			}
		case *expr.Reject:
			m.verdict = vReject
		case *expr.Queue:
			m.verdict = vUnknown
		case *expr.Target:
			if e.Name == "REJECT" || e.Name == "DROP" {
				m.verdict = vReject
			}
		case *expr.Counter, *expr.Log, *expr.Notrack, *expr.Dynset:
			// No effect on whether the packet passes.
		case *expr.Hash, *expr.Numgen, *expr.Fib, *expr.Rt, *expr.Socket, *expr.Exthdr:
			// Loads into a register we do not model; a later cmp is restricted.
			for k := range regs {
				delete(regs, k)
			}
		default:
			// Limits, quotas, xt matches and the unknown: may match part of it.
			m.restricted = true
		}
		if m.scope == 0 {
			break
		}
	}
	return m
}

// payloadKind classifies a payload load. Address loads are only recognised
// once the rule (or the table family) has pinned the network protocol.
func payloadKind(p *expr.Payload, t *nftables.Table, scope flows) regKind {
	switch {
	case p.Base == expr.PayloadBaseTransportHeader && p.Offset == 2 && p.Len == 2:
		return regDport
	case p.Base == expr.PayloadBaseNetworkHeader && p.Offset == 16 && p.Len == 4 &&
		(t.Family == nftables.TableFamilyIPv4 || scope&v6Flows == 0):
		return regDaddr4
	case p.Base == expr.PayloadBaseNetworkHeader && p.Offset == 24 && p.Len == 16 &&
		(t.Family == nftables.TableFamilyIPv6 || scope&v4Flows == 0):
		return regDaddr6
	}
	return regOther
}

// narrow applies "register == value" (eq) or "!=" (neq) where match is the
// set of flows for which the register holds value.
func narrow(m *ruleMatch, op expr.CmpOp, match flows) {
	switch op {
	case expr.CmpOpEq:
		m.scope &= match
	case expr.CmpOpNeq:
		m.scope &^= match
	default:
		m.restricted = true
	}
}

func (a *analyzer) cmp(m *ruleMatch, st regState, op expr.CmpOp, data []byte) {
	switch st.kind {
	case regDport:
		// nft writes "tcp dport 1-30000" as two ordered comparisons.
		if len(data) != 2 {
			m.restricted = true
			return
		}
		v := binary.BigEndian.Uint16(data)
		var holds flows
		for i, p := range a.ports {
			if cmpHolds(op, p, v) {
				holds |= portFlow(i)
			}
		}
		m.scope &= holds
		return
	case regCtState:
		a.ctState(m, st, op, data)
		return
	}
	if op != expr.CmpOpEq && op != expr.CmpOpNeq {
		m.restricted = true
		return
	}
	switch st.kind {
	case regL4Proto, regNFProto:
		narrow(m, op, a.valueFlows(st.kind, data))
	case regDaddr4, regDaddr6:
		// Clients reach us at a routable address: "daddr is loopback" never
		// matches, "daddr is not loopback" always does.
		addr := slices.Clone(data)
		for i := range addr {
			if i < len(st.mask) {
				addr[i] &= st.mask[i]
			}
		}
		ip, ok := netip.AddrFromSlice(addr)
		if !ok || !ip.IsLoopback() {
			m.restricted = true
			return
		}
		narrow(m, op, 0)
	default:
		m.restricted = true
	}
}

// cmpHolds evaluates "x op v".
func cmpHolds(op expr.CmpOp, x, v uint16) bool {
	switch op {
	case expr.CmpOpEq:
		return x == v
	case expr.CmpOpNeq:
		return x != v
	case expr.CmpOpLt:
		return x < v
	case expr.CmpOpLte:
		return x <= v
	case expr.CmpOpGt:
		return x > v
	case expr.CmpOpGte:
		return x >= v
	}
	return true
}

// valueFlows returns the flows for which a register of kind k holds v.
func (a *analyzer) valueFlows(k regKind, v []byte) flows {
	switch k {
	case regL4Proto:
		if len(v) == 1 && v[0] == unix.IPPROTO_TCP {
			return allFlows
		}
	case regNFProto:
		if len(v) == 1 && v[0] == unix.NFPROTO_IPV4 {
			return v4Flows
		}
		if len(v) == 1 && v[0] == unix.NFPROTO_IPV6 {
			return v6Flows
		}
	case regDport:
		if len(v) == 2 {
			return portFlows(a.ports, binary.BigEndian.Uint16(v))
		}
	}
	return 0
}

// ctState handles "ct state & mask ==/!= value", e.g. nft's "ct state
// new,established" (mask new|established, != 0). Packets of the opened
// connections are in state new or established; a condition holding for both
// matches all of them, for neither none, otherwise part of them.
func (a *analyzer) ctState(m *ruleMatch, st regState, op expr.CmpOp, data []byte) {
	if len(data) != 4 {
		m.restricted = true
		return
	}
	val, mask := binary.NativeEndian.Uint32(data), ^uint32(0)
	if st.mask != nil {
		if len(st.mask) != 4 {
			m.restricted = true
			return
		}
		mask = binary.NativeEndian.Uint32(st.mask)
	}
	holds := func(state uint32) bool { return (state&mask == val) == (op == expr.CmpOpEq) }
	n, e := holds(expr.CtStateBitNEW), holds(expr.CtStateBitESTABLISHED)
	switch {
	case !n && !e:
		m.scope = 0
	case n != e:
		m.restricted = true
	}
}

func (a *analyzer) rangeCmp(m *ruleMatch, st regState, r *expr.Range) {
	if st.kind != regDport || len(r.FromData) != 2 || len(r.ToData) != 2 {
		m.restricted = true
		return
	}
	from, to := binary.BigEndian.Uint16(r.FromData), binary.BigEndian.Uint16(r.ToData)
	var in flows
	for i, p := range a.ports {
		if from <= p && p <= to {
			in |= portFlow(i)
		}
	}
	narrow(m, r.Op, in)
}

func (a *analyzer) lookup(m *ruleMatch, t *nftables.Table, regs map[uint32]regState, l *expr.Lookup) {
	st := regs[l.SourceRegister]
	if l.IsDestRegSet {
		if l.DestRegister != 0 {
			regs[l.DestRegister] = regState{} // data map: loads a value
			m.restricted = true               // and only matches keys present
			return
		}
		// A verdict map. One keyed on ct state decides established, related
		// and invalid packets ("ct state vmap { established : accept, invalid :
		// drop }"); its verdicts cannot be read back with google/nftables
		// v0.3.0, and a firewall that drops new connections that way would be
		// unusual, so it is treated as not deciding our traffic.
		if st.kind == regCtState {
			m.restricted = true
			return
		}
		m.verdict = vUnknown
		return
	}
	if st.kind != regL4Proto && st.kind != regNFProto && st.kind != regDport {
		m.restricted = true
		return
	}
	s, elems, err := a.rs.set(t, l.SetName)
	if err != nil || s.Concatenation || s.IsMap {
		m.restricted = true
		return
	}
	var values [][]byte
	switch st.kind {
	case regL4Proto:
		values = [][]byte{{unix.IPPROTO_TCP}}
	case regNFProto:
		values = [][]byte{{unix.NFPROTO_IPV4}, {unix.NFPROTO_IPV6}}
	case regDport:
		for _, p := range a.ports {
			values = append(values, be16(p))
		}
	}
	var in flows
	for _, v := range values {
		if setContains(s, elems, v) {
			in |= a.valueFlows(st.kind, v)
		}
	}
	op := expr.CmpOpEq
	if l.Invert {
		op = expr.CmpOpNeq
	}
	narrow(m, op, in)
}

// setContains reports whether key is in the set. Interval sets hold start
// elements and interval-end elements; key is inside when the greatest
// element not above it is a start.
func setContains(s *nftables.Set, elems []nftables.SetElement, key []byte) bool {
	if !s.Interval {
		return slices.ContainsFunc(elems, func(e nftables.SetElement) bool { return bytes.Equal(e.Key, key) })
	}
	var best *nftables.SetElement
	for i := range elems {
		e := &elems[i]
		if len(e.Key) != len(key) || bytes.Compare(e.Key, key) > 0 {
			continue
		}
		if best == nil || bytes.Compare(e.Key, best.Key) > 0 || (bytes.Equal(e.Key, best.Key) && !e.IntervalEnd) {
			best = e
		}
	}
	return best != nil && !best.IntervalEnd
}
