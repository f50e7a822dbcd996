package firewall

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

const (
	// ownComment tags the rules of vipsentinel's table.
	ownComment = "vipsentinel"
	// injectComment tags the rules injected into foreign chains. Close removes
	// exactly the rules carrying it, so it must not look like something an
	// administrator would write.
	injectComment = "vipsentinel (auto, removed on stop)"
	// inputChain is the base chain of vipsentinel's table.
	inputChain = "input"
	// inputPriority runs our chain before the usual filter chains (priority
	// 0) so that the fence rejects before anything else accepts.
	inputPriority = -10
)

// setSpec is a set together with the elements it must hold.
type setSpec struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

// tableSpec is the complete desired content of vipsentinel's table.
type tableSpec struct {
	table *nftables.Table
	chain *nftables.Chain
	sets  []setSpec
	rules []*nftables.Rule
}

// ownTable returns the table handle vipsentinel manages.
func ownTable() *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
}

// idAlloc hands out set IDs unique within one netlink batch. IDs are always
// set explicitly: nftables.Conn.AddSet would otherwise take them from a
// package-level counter shared by all connections.
type idAlloc uint32

func (a *idAlloc) next() uint32 { *a++; return uint32(*a) }

// buildTable computes the table for cfg in the given fence state.
//
//	set ports  { inet_service: agent, [agent TLS,] redis }
//	set allow4 { ipv4_addr, interval }   only with firewall-allow
//	set allow6 { ipv6_addr, interval }   only with firewall-allow
//	set fence4 / fence6 { addresses }    only while fenced
//	chain input (filter, hook input, priority -10, policy accept):
//	  while fenced, per family: new TCP connection (SYN without ACK) to the
//	    redis port, not from loopback, source not in @fenceN -> reject with tcp reset
//	  [source in @allowN] TCP to @ports -> accept
//
// The chain never drops anything else: its policy is accept, so the table
// can only add to what other firewalls allow, except for the fence.
func buildTable(cfg Config, fenced bool, fenceAllow []netip.Addr) tableSpec {
	t := ownTable()
	policy := nftables.ChainPolicyAccept
	spec := tableSpec{
		table: t,
		chain: &nftables.Chain{
			Name: inputChain, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityRef(inputPriority),
			Policy: &policy,
		},
	}
	var ids idAlloc
	addSet := func(name string, kt nftables.SetDatatype, interval bool, elems []nftables.SetElement) *nftables.Set {
		s := &nftables.Set{Table: t, Name: name, ID: ids.next(), KeyType: kt, Interval: interval, Comment: ownComment}
		spec.sets = append(spec.sets, setSpec{s, elems})
		return s
	}
	tag := userdata.AppendString(nil, userdata.TypeComment, ownComment)
	addRule := func(exprs ...[]expr.Any) {
		var all []expr.Any
		for _, e := range exprs {
			all = append(all, e...)
		}
		spec.rules = append(spec.rules, &nftables.Rule{Table: t, Chain: spec.chain, Exprs: all, UserData: tag})
	}

	portSet := addSet("ports", nftables.TypeInetService, false, portElements(cfg))
	var allow [2]*nftables.Set // by family: 0 IPv4, 1 IPv6
	for i, v6 := range []bool{false, true} {
		if pre := cfg.allowOf(v6); len(pre) > 0 {
			allow[i] = addSet("allow"+famSuffix(v6), addrType(v6), true, intervalElements(pre))
		}
	}

	if fenced {
		for _, v6 := range []bool{false, true} {
			var elems []nftables.SetElement
			for _, a := range fenceAllow {
				if a.Is6() == v6 {
					elems = append(elems, nftables.SetElement{Key: a.AsSlice()})
				}
			}
			s := addSet("fence"+famSuffix(v6), addrType(v6), false, elems)
			addRule(matchNFProto(v6), matchTCP(), matchDport(uint16(cfg.RedisPort)), matchSYN(), matchNotLoopback(),
				matchSaddrSet(v6, s, true),
				[]expr.Any{&expr.Counter{}, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST}})
		}
	}

	accept := []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept}}
	if len(cfg.Allow) == 0 {
		addRule(matchTCP(), matchDportSet(portSet), accept)
	} else {
		for i, v6 := range []bool{false, true} {
			if allow[i] != nil {
				addRule(matchNFProto(v6), matchSaddrSet(v6, allow[i], false), matchTCP(), matchDportSet(portSet), accept)
			}
		}
	}
	return spec
}

// injectSpec returns the rules to insert at the top of a conflicting foreign
// chain (with the anonymous sets they use): TCP to the ports, from the
// firewall-allow sources if any, accept. fl says which families the chain
// needs rules for.
func injectSpec(cfg Config, ch *nftables.Chain, fl flows, ids *idAlloc) ([]setSpec, []*nftables.Rule) {
	t := ch.Table
	var sets []setSpec
	anon := func(kt nftables.SetDatatype, interval bool, elems []nftables.SetElement) *nftables.Set {
		s := &nftables.Set{Table: t, Name: "__set%d", ID: ids.next(), Anonymous: true, Constant: true,
			Interval: interval, KeyType: kt}
		sets = append(sets, setSpec{s, elems})
		return s
	}
	portElems := portElements(cfg)
	tag := userdata.AppendString(nil, userdata.TypeComment, injectComment)
	accept := []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: expr.VerdictAccept}}
	var rules []*nftables.Rule
	add := func(parts ...[]expr.Any) {
		var all []expr.Any
		for _, p := range parts {
			all = append(all, p...)
		}
		rules = append(rules, &nftables.Rule{Table: t, Chain: ch, Exprs: all, UserData: tag})
	}
	if len(cfg.Allow) == 0 {
		add(matchTCP(), matchDportSet(anon(nftables.TypeInetService, false, portElems)), accept)
		return sets, rules
	}
	for _, v6 := range []bool{false, true} {
		famFlows := v4Flows
		if v6 {
			famFlows = v6Flows
		}
		pre := cfg.allowOf(v6)
		if fl&famFlows == 0 || len(pre) == 0 {
			continue
		}
		var proto []expr.Any
		if t.Family == nftables.TableFamilyINet {
			proto = matchNFProto(v6)
		}
		src := anon(addrType(v6), true, intervalElements(pre))
		add(proto, matchSaddrSet(v6, src, false), matchTCP(),
			matchDportSet(anon(nftables.TypeInetService, false, portElems)), accept)
	}
	return sets, rules
}

// portElements returns the elements of a set of every opened port.
func portElements(cfg Config) []nftables.SetElement {
	var out []nftables.SetElement
	for _, p := range cfg.ports() {
		out = append(out, nftables.SetElement{Key: be16(p)})
	}
	return out
}

func famSuffix(v6 bool) string {
	if v6 {
		return "6"
	}
	return "4"
}

func addrType(v6 bool) nftables.SetDatatype {
	if v6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

func be16(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

// The match helpers spell out the dependencies nft would add by itself
// (meta nfproto before ip saddr, meta l4proto before tcp dport):
// google/nftables sends exactly the expressions it is given.

func matchNFProto(v6 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV4)
	if v6 {
		p = unix.NFPROTO_IPV6
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

func matchTCP() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
	}
}

func loadDport() *expr.Payload {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
}

func matchDport(p uint16) []expr.Any {
	return []expr.Any{loadDport(), &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: be16(p)}}
}

func matchDportSet(s *nftables.Set) []expr.Any {
	return []expr.Any{loadDport(), &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID}}
}

// matchSYN matches "tcp flags & (syn|ack) == syn": the first packet of a
// new connection. It does not depend on conntrack, which would classify
// packets of connections opened before it started tracking as new.
func matchSYN() []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x12}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x02}},
	}
}

// matchNotLoopback exempts local clients, the agent itself among them: it
// must still reach its Redis to demote it.
func matchNotLoopback() []expr.Any {
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, "lo")
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: name},
	}
}

func matchSaddrSet(v6 bool, s *nftables.Set, invert bool) []expr.Any {
	off, n := uint32(12), uint32(4)
	if v6 {
		off, n = 8, 16
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n},
		&expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: invert},
	}
}
