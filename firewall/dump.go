package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The renderer turns tables, sets and rules into one canonical text. The same
// code renders what vipsentinel wants and what the kernel reports, so
// "in sync" is a string comparison, and the text doubles as the dump shown by
// Manager.Ruleset. Rules are rendered at the register level (like
// `nft --debug=netlink`), which is exact without re-implementing nft's
// pretty printer. Counter values and set IDs are left out: they change
// without the rule changing.

// familyName returns the nft spelling of a table family.
func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return fmt.Sprintf("family%d", f)
}

func hookName(h *nftables.ChainHook) string {
	if h == nil {
		return ""
	}
	switch *h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookInput:
		return "input"
	case *nftables.ChainHookForward:
		return "forward"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return fmt.Sprintf("hook%d", *h)
}

func policyName(p *nftables.ChainPolicy) string {
	if p != nil && *p == nftables.ChainPolicyDrop {
		return "drop"
	}
	return "accept"
}

// renderChain renders a chain header.
func renderChain(c *nftables.Chain) string {
	if c.Hooknum == nil {
		return fmt.Sprintf("chain %s", c.Name)
	}
	var prio int32
	if c.Priority != nil {
		prio = int32(*c.Priority)
	}
	return fmt.Sprintf("chain %s { type %s hook %s priority %d; policy %s }",
		c.Name, c.Type, hookName(c.Hooknum), prio, policyName(c.Policy))
}

// renderSet renders a set and its elements, sorted.
func renderSet(s *nftables.Set, elems []nftables.SetElement) string {
	var b strings.Builder
	fmt.Fprintf(&b, "set %s { type %s;", s.Name, s.KeyType.Name)
	if s.Interval {
		b.WriteString(" flags interval;")
	}
	fmt.Fprintf(&b, " elements = { %s } }", strings.Join(renderElems(s, elems), ", "))
	return b.String()
}

// renderElems renders elements sorted by key; interval sets as prefixes or
// ranges ("198.18.0.0/24", "198.18.0.1-198.18.0.5").
func renderElems(s *nftables.Set, elems []nftables.SetElement) []string {
	es := slices.Clone(elems)
	slices.SortFunc(es, func(a, b nftables.SetElement) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		// An end element sorts before a start element with the same key.
		switch {
		case a.IntervalEnd == b.IntervalEnd:
			return 0
		case a.IntervalEnd:
			return -1
		}
		return 1
	})
	var out []string
	for i := 0; i < len(es); i++ {
		e := es[i]
		if !s.Interval {
			out = append(out, renderKey(s.KeyType, e.Key))
			continue
		}
		if e.IntervalEnd {
			// Ranges are "start, end" pairs; a lone end is out of place.
			out = append(out, renderKey(s.KeyType, e.Key)+" (end)")
			continue
		}
		first, ok1 := netip.AddrFromSlice(e.Key)
		if i+1 < len(es) && es[i+1].IntervalEnd {
			end, ok2 := netip.AddrFromSlice(es[i+1].Key)
			if ok1 && ok2 {
				out = append(out, renderRange(first, end.Prev()))
				i++
				continue
			}
		}
		if ok1 {
			// A start without an end reaches the top of the address space.
			out = append(out, renderRange(first, lastAddr(netip.PrefixFrom(first, 0))))
			continue
		}
		out = append(out, renderKey(s.KeyType, e.Key)+" (start)")
	}
	return out
}

// renderRange renders [first, last] as an address, a prefix or a range.
func renderRange(first, last netip.Addr) string {
	if first == last {
		return first.String()
	}
	for bits := first.BitLen() - 1; bits >= 0; bits-- {
		p := netip.PrefixFrom(first, bits)
		if p.Masked().Addr() != first {
			break
		}
		if lastAddr(p) == last {
			return p.String()
		}
	}
	return first.String() + "-" + last.String()
}

func renderKey(t nftables.SetDatatype, k []byte) string {
	switch t.Name {
	case nftables.TypeIPAddr.Name, nftables.TypeIP6Addr.Name:
		if a, ok := netip.AddrFromSlice(k); ok {
			return a.String()
		}
	case nftables.TypeInetService.Name:
		if len(k) == 2 {
			return fmt.Sprint(binary.BigEndian.Uint16(k))
		}
	}
	return fmt.Sprintf("0x%x", k)
}

// anonSet matches the kernel-assigned names of anonymous sets.
var anonSet = regexp.MustCompile(`^__set[0-9]+$`)

// renderRule renders a rule's expressions and comment on one line.
// Anonymous set names are rendered as "__set" since the kernel numbers them.
func renderRule(r *nftables.Rule) string {
	parts := make([]string, 0, len(r.Exprs)+1)
	for _, e := range r.Exprs {
		parts = append(parts, renderExpr(e))
	}
	s := strings.Join(parts, "; ")
	if c := ruleComment(r.UserData); c != "" {
		s += fmt.Sprintf(" comment %q", c)
	}
	return s
}

var metaKeys = map[expr.MetaKey]string{
	expr.MetaKeyLEN: "length", expr.MetaKeyPROTOCOL: "protocol", expr.MetaKeyMARK: "mark",
	expr.MetaKeyIIF: "iif", expr.MetaKeyOIF: "oif", expr.MetaKeyIIFNAME: "iifname",
	expr.MetaKeyOIFNAME: "oifname", expr.MetaKeyIIFTYPE: "iiftype", expr.MetaKeyOIFTYPE: "oiftype",
	expr.MetaKeyNFPROTO: "nfproto", expr.MetaKeyL4PROTO: "l4proto", expr.MetaKeyPKTTYPE: "pkttype",
	expr.MetaKeySKUID: "skuid", expr.MetaKeySKGID: "skgid",
}

var cmpOps = map[expr.CmpOp]string{
	expr.CmpOpEq: "eq", expr.CmpOpNeq: "neq", expr.CmpOpLt: "lt",
	expr.CmpOpLte: "lte", expr.CmpOpGt: "gt", expr.CmpOpGte: "gte",
}

var payloadBases = map[expr.PayloadBase]string{
	expr.PayloadBaseLLHeader: "link", expr.PayloadBaseNetworkHeader: "network",
	expr.PayloadBaseTransportHeader: "transport",
}

func nameOr[K comparable](m map[K]string, k K) string {
	if s, ok := m[k]; ok {
		return s
	}
	return fmt.Sprint(k)
}

func renderExpr(e expr.Any) string {
	switch e := e.(type) {
	case *expr.Meta:
		if e.SourceRegister {
			return fmt.Sprintf("meta set %s with reg %d", nameOr(metaKeys, e.Key), e.Register)
		}
		return fmt.Sprintf("meta load %s => reg %d", nameOr(metaKeys, e.Key), e.Register)
	case *expr.Cmp:
		return fmt.Sprintf("cmp %s reg %d 0x%x", nameOr(cmpOps, e.Op), e.Register, e.Data)
	case *expr.Payload:
		if e.OperationType != expr.PayloadLoad {
			return fmt.Sprintf("payload write reg %d => %db @ %s + %d", e.SourceRegister, e.Len, nameOr(payloadBases, e.Base), e.Offset)
		}
		return fmt.Sprintf("payload load %db @ %s + %d => reg %d", e.Len, nameOr(payloadBases, e.Base), e.Offset, e.DestRegister)
	case *expr.Bitwise:
		return fmt.Sprintf("bitwise reg %d = (reg %d & 0x%x) ^ 0x%x", e.DestRegister, e.SourceRegister, e.Mask, e.Xor)
	case *expr.Lookup:
		name := e.SetName
		if anonSet.MatchString(name) || name == "__set%d" {
			name = "__set"
		}
		s := fmt.Sprintf("lookup reg %d set %s", e.SourceRegister, name)
		if e.IsDestRegSet {
			s += fmt.Sprintf(" dreg %d", e.DestRegister)
		}
		if e.Invert {
			s += " invert"
		}
		return s
	case *expr.Counter:
		return "counter"
	case *expr.Verdict:
		return renderVerdict(e)
	case *expr.Reject:
		if e.Type == unix.NFT_REJECT_TCP_RST {
			return "reject tcp reset"
		}
		return fmt.Sprintf("reject type %d code %d", e.Type, e.Code)
	case *expr.Ct:
		if e.SourceRegister {
			return fmt.Sprintf("ct set %d with reg %d", e.Key, e.Register)
		}
		return fmt.Sprintf("ct load %d => reg %d", e.Key, e.Register)
	case *expr.Range:
		return fmt.Sprintf("range %s reg %d 0x%x 0x%x", nameOr(cmpOps, e.Op), e.Register, e.FromData, e.ToData)
	case *expr.Immediate:
		return fmt.Sprintf("immediate reg %d 0x%x", e.Register, e.Data)
	}
	return fmt.Sprintf("%T%+v", e, e)
}

func renderVerdict(v *expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictJump:
		return "jump " + v.Chain
	case expr.VerdictGoto:
		return "goto " + v.Chain
	case expr.VerdictReturn:
		return "return"
	case expr.VerdictContinue:
		return "continue"
	}
	return fmt.Sprintf("verdict %d", v.Kind)
}

// ruleComment returns the comment stored in a rule's userdata (the TLV
// format nft uses). Unlike userdata.GetString it never panics on a
// malformed TLV: foreign rules are untrusted input.
func ruleComment(ud []byte) string {
	for len(ud) >= 2 {
		typ, n := ud[0], int(ud[1])
		if len(ud) < 2+n {
			return ""
		}
		if typ == 0 { // userdata.TypeComment
			return string(bytes.TrimRight(ud[2:2+n], "\x00"))
		}
		ud = ud[2+n:]
	}
	return ""
}
