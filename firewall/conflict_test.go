package firewall

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// fakeRuleset is a ruleset fixture for the conflict analysis.
type fakeRuleset struct {
	chains  []*nftables.Chain
	rulesOf map[chainKey][]*nftables.Rule
	sets    map[chainKey]setEntry
}

func (f *fakeRuleset) chain(t *nftables.Table, name string) *nftables.Chain {
	for _, c := range f.chains {
		if c.Table.Family == t.Family && c.Table.Name == t.Name && c.Name == name {
			return c
		}
	}
	return nil
}

func (f *fakeRuleset) rules(ch *nftables.Chain) ([]*nftables.Rule, error) {
	return f.rulesOf[keyOf(ch)], nil
}

func (f *fakeRuleset) set(t *nftables.Table, name string) (*nftables.Set, []nftables.SetElement, error) {
	e, ok := f.sets[chainKey{t.Family, t.Name, name}]
	if !ok {
		return nil, nil, errors.New("no such set")
	}
	return e.set, e.elems, nil
}

// Builders for the expressions nft generates.

func xTCP() []expr.Any { return matchTCP() }
func xUDP() []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Register: 1, Data: []byte{unix.IPPROTO_UDP}}}
}
func xDport(op expr.CmpOp, p uint16) []expr.Any {
	return []expr.Any{loadDport(), &expr.Cmp{Op: op, Register: 1, Data: be16(p)}}
}
func xDportRange(from, to uint16) []expr.Any {
	return []expr.Any{loadDport(), &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(from), ToData: be16(to)}}
}

// xDportBetween is how nft writes "tcp dport from-to" in a rule.
func xDportBetween(from, to uint16) []expr.Any {
	return []expr.Any{loadDport(), &expr.Cmp{Op: expr.CmpOpGte, Register: 1, Data: be16(from)},
		&expr.Cmp{Op: expr.CmpOpLte, Register: 1, Data: be16(to)}}
}
func xDportSet(name string) []expr.Any {
	return []expr.Any{loadDport(), &expr.Lookup{SourceRegister: 1, SetName: name}}
}
func xCtState(mask uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binary.NativeEndian.AppendUint32(nil, mask), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}
func xCtVmap() []expr.Any {
	return []expr.Any{
		&expr.Ct{Key: expr.CtKeySTATE, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: "__map0", IsDestRegSet: true},
	}
}
func xIif(op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, 16)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}
func xSaddr4(a string) []expr.Any {
	return append(matchNFProto(false),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Cmp{Register: 1, Data: netip.MustParseAddr(a).AsSlice()})
}
func xDaddrLoopback() []expr.Any {
	return append(matchNFProto(false),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 0, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Register: 1, Data: []byte{127, 0, 0, 0}})
}
func xVerdict(k expr.VerdictKind, chain string) []expr.Any {
	return []expr.Any{&expr.Verdict{Kind: k, Chain: chain}}
}

var (
	accept = xVerdict(expr.VerdictAccept, "")
	drop   = xVerdict(expr.VerdictDrop, "")
	reject = []expr.Any{&expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}}
)

func rule(parts ...[]expr.Any) *nftables.Rule {
	var all []expr.Any
	for _, p := range parts {
		all = append(all, p...)
	}
	return &nftables.Rule{Exprs: all}
}

// fixture builds a ruleset from tables of chains. A chain spec is
// "family table chain [input policy prio]" plus its rules; handles are
// numbered from 2 per chain, as the kernel does after the chain itself.
type chainSpec struct {
	family nftables.TableFamily
	table  string
	name   string
	base   bool
	drop   bool
	prio   int32
	rules  []*nftables.Rule
}

func build(specs []chainSpec, sets map[chainKey]setEntry) (*fakeRuleset, []*nftables.Chain) {
	f := &fakeRuleset{rulesOf: map[chainKey][]*nftables.Rule{}, sets: sets}
	for _, s := range specs {
		t := &nftables.Table{Family: s.family, Name: s.table}
		ch := &nftables.Chain{Name: s.name, Table: t, Type: nftables.ChainTypeFilter}
		if s.base {
			pol := nftables.ChainPolicyAccept
			if s.drop {
				pol = nftables.ChainPolicyDrop
			}
			ch.Hooknum, ch.Priority, ch.Policy = nftables.ChainHookInput, nftables.ChainPriorityRef(nftables.ChainPriority(s.prio)), &pol
		}
		for i, r := range s.rules {
			r.Handle = uint64(i + 2)
			r.Table, r.Chain = t, ch
		}
		f.chains = append(f.chains, ch)
		f.rulesOf[keyOf(ch)] = s.rules
	}
	return f, f.chains
}

func TestFindConflicts(t *testing.T) {
	inet, ip, ip6 := nftables.TableFamilyINet, nftables.TableFamilyIPv4, nftables.TableFamilyIPv6
	portsSet := map[chainKey]setEntry{
		{inet, "filter", "__set0"}: {&nftables.Set{Name: "__set0", KeyType: nftables.TypeInetService},
			[]nftables.SetElement{{Key: be16(6379)}, {Key: be16(26379)}}},
		{inet, "filter", "web"}: {&nftables.Set{Name: "web", KeyType: nftables.TypeInetService, Interval: true},
			[]nftables.SetElement{{Key: be16(80)}, {Key: be16(81), IntervalEnd: true}, {Key: be16(6000)}, {Key: be16(6379), IntervalEnd: true}}},
		{inet, "filter", "all3"}: {&nftables.Set{Name: "all3", KeyType: nftables.TypeInetService},
			[]nftables.SetElement{{Key: be16(6379)}, {Key: be16(26379)}, {Key: be16(26380)}}},
		{inet, "filter", "tlsonly"}: {&nftables.Set{Name: "tlsonly", KeyType: nftables.TypeInetService},
			[]nftables.SetElement{{Key: be16(26380)}}},
	}
	ours := userdata.AppendString(nil, userdata.TypeComment, injectComment)
	injected := rule(xTCP(), accept)
	injected.UserData = ours
	v4only := []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24")}

	type want struct {
		chain   string
		ports   []int
		v4, v6  bool
		certain bool
		reason  string // substring
		tool    Tool
		fix     string // substring
	}
	for _, tc := range []struct {
		name  string
		specs []chainSpec
		allow []netip.Prefix
		tls   int // Config.AgentTLSPort
		owned bool
		want  []want
	}{
		{name: "accept policy, no rules", specs: []chainSpec{{inet, "filter", "input", true, false, 0, nil}}},
		{
			name:  "policy drop",
			specs: []chainSpec{{inet, "filter", "input", true, true, 0, nil}},
			want: []want{{chain: "input", ports: []int{26379, 6379}, v4: true, v6: true, certain: true,
				reason: "policy drop", tool: ToolNftables,
				fix: `add "tcp dport { 26379, 6379 } accept" before the drop in chain input of table inet filter`}},
		},
		{
			name: "policy drop, ports opened by the admin",
			specs: []chainSpec{{inet, "filter", "input", true, true, 0, []*nftables.Rule{
				rule(xCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept),
				rule(xIif(expr.CmpOpEq, "lo"), accept),
				rule(xTCP(), xDportSet("__set0"), accept),
			}}},
		},
		{
			name: "policy drop, only redis opened",
			specs: []chainSpec{{inet, "filter", "input", true, true, 0, []*nftables.Rule{
				rule(xCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept),
				rule(xTCP(), xDport(expr.CmpOpEq, 6379), accept),
			}}},
			want: []want{{chain: "input", ports: []int{26379}, v4: true, v6: true, certain: true, reason: "policy drop"}},
		},
		{
			name: "drops of other traffic",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xCtState(expr.CtStateBitINVALID), drop),
				rule(xUDP(), xDport(expr.CmpOpEq, 53), drop),
				rule(xTCP(), xDport(expr.CmpOpEq, 22), drop),
				rule(xTCP(), xDportRange(7000, 8000), reject),
				rule(xTCP(), xDportBetween(6380, 26378), reject),
				rule(xTCP(), xDportBetween(1, 1024), reject),
				rule(xTCP(), xDportSet("web"), drop),
				rule(xIif(expr.CmpOpNeq, "lo"), xDaddrLoopback(), drop),
				rule(xCtVmap()),
			}}},
		},
		{
			name: "drop some sources",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xSaddr4("198.51.100.7"), drop),
			}}},
			want: []want{{chain: "input", ports: []int{26379, 6379}, v4: true, certain: false,
				reason: "rule handle 2 may drop"}},
		},
		{
			name: "negated port",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), xDport(expr.CmpOpNeq, 22), drop),
			}}},
			want: []want{{chain: "input", ports: []int{26379, 6379}, v4: true, v6: true, certain: true,
				reason: "rule handle 2 drops"}},
		},
		{
			name: "port ranges",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), xDportBetween(26000, 27000), reject),
				rule(xTCP(), xDportRange(6000, 7000), reject),
				rule(xTCP(), drop), // never reached: both ports already rejected
			}}},
			want: []want{{chain: "input", ports: []int{26379, 6379}, v4: true, v6: true, certain: true,
				reason: "rule handle 2 rejects; rule handle 3 rejects"}},
		},
		{
			name: "firewalld-like jump, zone opens redis only, final reject",
			specs: []chainSpec{
				{inet, "firewalld", "filter_INPUT", true, false, 10, []*nftables.Rule{
					rule(xCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept),
					rule(xVerdict(expr.VerdictJump, "filter_IN_public")),
					rule(reject),
				}},
				{inet, "firewalld", "filter_IN_public", false, false, 0, []*nftables.Rule{
					rule(xTCP(), xDport(expr.CmpOpEq, 6379), accept),
				}},
			},
			owned: true,
			want: []want{{chain: "filter_INPUT", ports: []int{26379}, v4: true, v6: true, certain: true,
				reason: "rule handle 4 rejects", tool: ToolFirewalld,
				fix: "firewall-cmd --permanent --add-port=26379/tcp && firewall-cmd --reload (firewall-mode inject cannot work"}},
		},
		{
			name: "reject inside a jumped-to chain",
			specs: []chainSpec{
				{ip, "filter", "INPUT", true, false, 0, []*nftables.Rule{rule(xVerdict(expr.VerdictJump, "ufw-before-input"))}},
				{ip, "filter", "ufw-before-input", false, false, 0, []*nftables.Rule{rule(xTCP(), reject)}},
			},
			want: []want{{chain: "INPUT", ports: []int{26379, 6379}, v4: true, certain: true,
				reason: "rule handle 2 in chain ufw-before-input rejects", tool: ToolUFW,
				fix: "ufw allow proto tcp from any to any port 26379,6379"}},
		},
		{
			name:  "iptables-nft policy drop",
			specs: []chainSpec{{ip6, "filter", "INPUT", true, true, 0, nil}},
			want: []want{{chain: "INPUT", ports: []int{26379, 6379}, v6: true, certain: true, reason: "policy drop",
				tool: ToolIptables, fix: "ip6tables -I INPUT -p tcp -m multiport --dports 26379,6379 -j ACCEPT"}},
		},
		{
			name:  "firewall-allow without IPv6 ignores ip6 chains",
			specs: []chainSpec{{ip6, "filter", "INPUT", true, true, 0, nil}, {ip, "filter", "INPUT", true, true, 0, nil}},
			allow: v4only,
			want: []want{{chain: "INPUT", ports: []int{26379, 6379}, v4: true, certain: true, reason: "policy drop",
				fix: "iptables -I INPUT -p tcp -m multiport --dports 26379,6379 -s 198.18.0.0/24 -j ACCEPT"}},
		},
		{
			name:  "injected rules are not counted",
			specs: []chainSpec{{inet, "filter", "input", true, true, 0, []*nftables.Rule{injected}}},
			want:  []want{{chain: "input", ports: []int{26379, 6379}, v4: true, v6: true, certain: true, reason: "policy drop"}},
		},
		{
			name: "own table and other hooks are skipped",
			specs: []chainSpec{
				{inet, TableName, "input", true, true, -10, nil},
				{inet, "filter", "forward", false, false, 0, []*nftables.Rule{rule(drop)}},
			},
		},
		{
			name: "verdict map on ports",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), loadDportVmap()),
			}}},
			want: []want{{chain: "input", ports: []int{26379, 6379}, v4: true, v6: true, certain: false,
				reason: "rule handle 2 may drop (verdict map or queue)"}},
		},
		{
			name: "no TLS port: its port is not analysed",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), xDport(expr.CmpOpEq, 26380), drop),
				rule(xTCP(), xDportSet("tlsonly"), drop),
			}}},
		},
		// The agent's TLS port is one more opened port: every row below is
		// a row above with it added.
		{
			name:  "TLS port: policy drop",
			specs: []chainSpec{{inet, "filter", "input", true, true, 0, nil}},
			tls:   26380,
			want: []want{{chain: "input", ports: []int{26379, 26380, 6379}, v4: true, v6: true, certain: true,
				reason: "policy drop", tool: ToolNftables,
				fix: `add "tcp dport { 26379, 26380, 6379 } accept" before the drop in chain input of table inet filter`}},
		},
		{
			name: "TLS port: policy drop, admin opened the plain ports only",
			specs: []chainSpec{{inet, "filter", "input", true, true, 0, []*nftables.Rule{
				rule(xCtState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept),
				rule(xTCP(), xDportSet("__set0"), accept),
			}}},
			tls: 26380,
			want: []want{{chain: "input", ports: []int{26380}, v4: true, v6: true, certain: true, reason: "policy drop",
				fix: `add "tcp dport { 26380 } accept"`}},
		},
		{
			name: "TLS port: policy drop, all three opened by a set",
			specs: []chainSpec{{inet, "filter", "input", true, true, 0, []*nftables.Rule{
				rule(xTCP(), xDportSet("all3"), accept),
			}}},
			tls: 26380,
		},
		{
			name: "TLS port: policy drop, opened one by one",
			specs: []chainSpec{{inet, "filter", "input", true, true, 0, []*nftables.Rule{
				rule(xTCP(), xDport(expr.CmpOpEq, 6379), accept),
				rule(xTCP(), xDport(expr.CmpOpEq, 26380), accept),
			}}},
			tls:  26380,
			want: []want{{chain: "input", ports: []int{26379}, v4: true, v6: true, certain: true, reason: "policy drop"}},
		},
		{
			name: "TLS port: dropped by value",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), xDport(expr.CmpOpEq, 26380), drop),
			}}},
			tls:  26380,
			want: []want{{chain: "input", ports: []int{26380}, v4: true, v6: true, certain: true, reason: "rule handle 2 drops"}},
		},
		{
			name: "TLS port: dropped by set",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), xDportSet("tlsonly"), drop),
			}}},
			tls:  26380,
			want: []want{{chain: "input", ports: []int{26380}, v4: true, v6: true, certain: true, reason: "rule handle 2 drops"}},
		},
		{
			name: "TLS port: negated port",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), xDport(expr.CmpOpNeq, 26380), drop),
			}}},
			tls: 26380,
			want: []want{{chain: "input", ports: []int{26379, 6379}, v4: true, v6: true, certain: true,
				reason: "rule handle 2 drops"}},
		},
		{
			name: "TLS port: port ranges",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), xDportBetween(26380, 26400), reject),
				rule(xTCP(), xDportRange(26000, 26379), reject),
				rule(xTCP(), xDportRange(6379, 6379), accept),
				rule(xTCP(), drop), // never reached: all three decided
			}}},
			tls: 26380,
			want: []want{{chain: "input", ports: []int{26379, 26380}, v4: true, v6: true, certain: true,
				reason: "rule handle 2 rejects; rule handle 3 rejects"}},
		},
		{
			name: "TLS port: firewalld zone opens the plain ports",
			specs: []chainSpec{
				{inet, "firewalld", "filter_INPUT", true, false, 10, []*nftables.Rule{
					rule(xVerdict(expr.VerdictJump, "filter_IN_public")),
					rule(reject),
				}},
				{inet, "firewalld", "filter_IN_public", false, false, 0, []*nftables.Rule{
					rule(xTCP(), xDport(expr.CmpOpEq, 6379), accept),
					rule(xTCP(), xDport(expr.CmpOpEq, 26379), accept),
				}},
			},
			tls: 26380,
			want: []want{{chain: "filter_INPUT", ports: []int{26380}, v4: true, v6: true, certain: true,
				reason: "rule handle 3 rejects", tool: ToolFirewalld,
				fix: "firewall-cmd --permanent --add-port=26380/tcp && firewall-cmd --reload, or set"}},
		},
		{
			name:  "TLS port: iptables-nft policy drop with firewall-allow",
			specs: []chainSpec{{ip6, "filter", "INPUT", true, true, 0, nil}, {ip, "filter", "INPUT", true, true, 0, nil}},
			allow: v4only,
			tls:   26380,
			want: []want{{chain: "INPUT", ports: []int{26379, 26380, 6379}, v4: true, certain: true, reason: "policy drop",
				fix: "iptables -I INPUT -p tcp -m multiport --dports 26379,26380,6379 -s 198.18.0.0/24 -j ACCEPT"}},
		},
		{
			name: "TLS port: verdict map on ports",
			specs: []chainSpec{{inet, "filter", "input", true, false, 0, []*nftables.Rule{
				rule(xTCP(), loadDportVmap()),
			}}},
			tls: 26380,
			want: []want{{chain: "input", ports: []int{26379, 26380, 6379}, v4: true, v6: true, certain: false,
				reason: "rule handle 2 may drop (verdict map or queue)"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, chains := build(tc.specs, portsSet)
			var tables []*nftables.Table
			for _, c := range chains {
				tb := *c.Table
				if tc.owned {
					tb.Flags = tableOwnedFlag
				}
				tables = append(tables, &tb)
			}
			cfg := Config{AgentPort: 26379, AgentTLSPort: tc.tls, RedisPort: 6379, Allow: tc.allow}
			got := findConflicts(rs, tables, chains, cfg)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d conflicts, want %d: %v", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				c := got[i]
				if c.Chain != w.chain || !slices.Equal(c.Ports, w.ports) || c.IPv4 != w.v4 || c.IPv6 != w.v6 ||
					c.Certain != w.certain || !strings.Contains(c.Reason, w.reason) {
					t.Errorf("conflict %d = %+v\nwant %+v", i, c, w)
				}
				if w.tool != "" && c.Tool != w.tool {
					t.Errorf("tool = %s, want %s", c.Tool, w.tool)
				}
				if !strings.Contains(c.Fix, w.fix) {
					t.Errorf("fix = %q, want it to contain %q", c.Fix, w.fix)
				}
				if c.Injectable == tc.owned {
					t.Errorf("injectable = %v for owned=%v", c.Injectable, tc.owned)
				}
				msg := c.String()
				for _, part := range []string{"table " + c.Family + " " + c.Table, "chain " + c.Chain, "hook input",
					"priority ", c.Reason, "Fix: " + c.Fix} {
					if !strings.Contains(msg, part) {
						t.Errorf("message %q lacks %q", msg, part)
					}
				}
			}
		})
	}
}

func loadDportVmap() []expr.Any {
	return []expr.Any{loadDport(), &expr.Lookup{SourceRegister: 1, SetName: "__map1", IsDestRegSet: true}}
}

func TestConflictString(t *testing.T) {
	c := Conflict{Family: "inet", Table: "filter", Chain: "input", Hook: "input", Priority: 0, Policy: "drop",
		Tool: ToolNftables, Ports: []int{26379, 6379}, IPv4: true, IPv6: true, Certain: true, Reason: "policy drop",
		Fix: "do this"}
	want := "table inet filter chain input (nftables, hook input, priority 0, policy drop) drops TCP to port 26379, 6379 " +
		"(IPv4, IPv6): policy drop; an accept in table inet vipsentinel cannot override it. Fix: do this"
	if got := c.String(); got != want {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
	c.Injected = true
	if got := c.String(); !strings.HasSuffix(got, "handled: vipsentinel inserted accept rules at the top of the chain (firewall-mode inject)") {
		t.Errorf("injected String() = %s", got)
	}
	s := Status{Open: true, Conflicts: []Conflict{c}}
	if got := s.String(); got != "firewall open (mode own)" {
		t.Errorf("Status.String() with a handled conflict = %q", got)
	}
}

func TestRuleComment(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{userdata.AppendString(nil, userdata.TypeComment, "x y"), "x y"},
		{userdata.AppendString(userdata.AppendUint32(nil, 1, 7), userdata.TypeComment, "c"), "c"},
		{[]byte{0, 200, 'a'}, ""}, // length beyond the buffer: no panic
		{[]byte{0}, ""},
		{nil, ""},
	} {
		if got := ruleComment(tc.in); got != tc.want {
			t.Errorf("ruleComment(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBuildTableRender(t *testing.T) {
	cfg := Config{AgentPort: 26379, RedisPort: 6379, Fence: true,
		Allow: []netip.Prefix{netip.MustParsePrefix("198.18.0.0/24"), netip.MustParsePrefix("fd00:1::/64")}}
	got := buildTable(cfg, true, []netip.Addr{netip.MustParseAddr("198.18.0.9")}).render()
	want := `table inet vipsentinel
	set allow4 { type ipv4_addr; flags interval; elements = { 198.18.0.0/24 } }
	set allow6 { type ipv6_addr; flags interval; elements = { fd00:1::/64 } }
	set fence4 { type ipv4_addr; elements = { 198.18.0.9 } }
	set fence6 { type ipv6_addr; elements = {  } }
	set ports { type inet_service; elements = { 6379, 26379 } }
	chain input { type filter hook input priority -10; policy accept }
		meta load nfproto => reg 1; cmp eq reg 1 0x02; meta load l4proto => reg 1; cmp eq reg 1 0x06; payload load 2b @ transport + 2 => reg 1; cmp eq reg 1 0x18eb; payload load 1b @ transport + 13 => reg 1; bitwise reg 1 = (reg 1 & 0x12) ^ 0x00; cmp eq reg 1 0x02; meta load iifname => reg 1; cmp neq reg 1 0x6c6f0000000000000000000000000000; payload load 4b @ network + 12 => reg 1; lookup reg 1 set fence4 invert; counter; reject tcp reset comment "vipsentinel"
		meta load nfproto => reg 1; cmp eq reg 1 0x0a; meta load l4proto => reg 1; cmp eq reg 1 0x06; payload load 2b @ transport + 2 => reg 1; cmp eq reg 1 0x18eb; payload load 1b @ transport + 13 => reg 1; bitwise reg 1 = (reg 1 & 0x12) ^ 0x00; cmp eq reg 1 0x02; meta load iifname => reg 1; cmp neq reg 1 0x6c6f0000000000000000000000000000; payload load 16b @ network + 8 => reg 1; lookup reg 1 set fence6 invert; counter; reject tcp reset comment "vipsentinel"
		meta load nfproto => reg 1; cmp eq reg 1 0x02; payload load 4b @ network + 12 => reg 1; lookup reg 1 set allow4; meta load l4proto => reg 1; cmp eq reg 1 0x06; payload load 2b @ transport + 2 => reg 1; lookup reg 1 set ports; counter; accept comment "vipsentinel"
		meta load nfproto => reg 1; cmp eq reg 1 0x0a; payload load 16b @ network + 8 => reg 1; lookup reg 1 set allow6; meta load l4proto => reg 1; cmp eq reg 1 0x06; payload load 2b @ transport + 2 => reg 1; lookup reg 1 set ports; counter; accept comment "vipsentinel"
`
	if got != want {
		t.Errorf("render =\n%s\nwant\n%s", got, want)
	}

	// The agent's TLS port joins the opened set; the fence stays on the
	// Redis port (0x18eb) alone.
	cfg.AgentTLSPort = 26380
	got = buildTable(cfg, true, []netip.Addr{netip.MustParseAddr("198.18.0.9")}).render()
	want = strings.Replace(want, "elements = { 6379, 26379 }", "elements = { 6379, 26379, 26380 }", 1)
	if got != want {
		t.Errorf("render with a TLS port =\n%s\nwant\n%s", got, want)
	}
}
