package firewall

import (
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
)

// snapshot is one reading of the kernel's ruleset: the table and chain
// lists up front, rules and set elements fetched on demand and cached.
type snapshot struct {
	c      *nftables.Conn
	tables []*nftables.Table
	chains []*nftables.Chain // families ip, ip6 and inet only
	rcache map[chainKey][]*nftables.Rule
	scache map[chainKey]setEntry // chainKey.chain holds the set name
}

type chainKey struct {
	family nftables.TableFamily
	table  string
	chain  string
}

type setEntry struct {
	set   *nftables.Set
	elems []nftables.SetElement
}

func keyOf(ch *nftables.Chain) chainKey {
	return chainKey{ch.Table.Family, ch.Table.Name, ch.Name}
}

func readSnapshot(c *nftables.Conn) (*snapshot, error) {
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	all, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	s := &snapshot{c: c, tables: tables, rcache: map[chainKey][]*nftables.Rule{}, scache: map[chainKey]setEntry{}}
	for _, ch := range all {
		switch ch.Table.Family {
		case nftables.TableFamilyIPv4, nftables.TableFamilyIPv6, nftables.TableFamilyINet:
			s.chains = append(s.chains, ch)
		}
	}
	return s, nil
}

func (s *snapshot) chain(t *nftables.Table, name string) *nftables.Chain {
	for _, ch := range s.chains {
		if ch.Table.Family == t.Family && ch.Table.Name == t.Name && ch.Name == name {
			return ch
		}
	}
	return nil
}

func (s *snapshot) rules(ch *nftables.Chain) ([]*nftables.Rule, error) {
	k := keyOf(ch)
	if r, ok := s.rcache[k]; ok {
		return r, nil
	}
	r, err := s.c.GetRules(ch.Table, ch)
	if err != nil {
		return nil, fmt.Errorf("get rules of chain %s %s %s: %w", familyName(ch.Table.Family), ch.Table.Name, ch.Name, err)
	}
	s.rcache[k] = r
	return r, nil
}

func (s *snapshot) set(t *nftables.Table, name string) (*nftables.Set, []nftables.SetElement, error) {
	k := chainKey{t.Family, t.Name, name}
	if e, ok := s.scache[k]; ok {
		return e.set, e.elems, nil
	}
	set, err := s.c.GetSetByName(t, name)
	if err != nil {
		return nil, nil, fmt.Errorf("get set %s of table %s %s: %w", name, familyName(t.Family), t.Name, err)
	}
	elems, err := s.c.GetSetElements(set)
	if err != nil {
		return nil, nil, fmt.Errorf("get elements of set %s of table %s %s: %w", name, familyName(t.Family), t.Name, err)
	}
	s.scache[k] = setEntry{set, elems}
	return set, elems, nil
}

func (s *snapshot) hasOwnTable() bool {
	return slices.ContainsFunc(s.tables, isOwn)
}

// renderOwn renders vipsentinel's table as the kernel has it ("" if absent).
func (s *snapshot) renderOwn() (string, error) {
	if !s.hasOwnTable() {
		return "", nil
	}
	t := ownTable()
	sets, err := s.c.GetSets(t)
	if err != nil {
		return "", fmt.Errorf("get sets of table inet %s: %w", TableName, err)
	}
	var specs []setSpec
	for _, set := range sets {
		elems, err := s.c.GetSetElements(set)
		if err != nil {
			return "", fmt.Errorf("get elements of set %s: %w", set.Name, err)
		}
		specs = append(specs, setSpec{set, elems})
	}
	var chains []chainRules
	for _, ch := range s.chains {
		if isOwn(ch.Table) {
			rules, err := s.rules(ch)
			if err != nil {
				return "", err
			}
			chains = append(chains, chainRules{ch, rules})
		}
	}
	return renderTable(t, specs, chains), nil
}

// injected returns, per foreign input base chain, the rules vipsentinel
// injected there (found by their comment).
func (s *snapshot) injected() (map[chainKey][]*nftables.Rule, error) {
	out := map[chainKey][]*nftables.Rule{}
	for _, ch := range s.chains {
		if !isInputBase(ch) || isOwn(ch.Table) {
			continue
		}
		rules, err := s.rules(ch)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			if ruleComment(r.UserData) == injectComment {
				out[keyOf(ch)] = append(out[keyOf(ch)], r)
			}
		}
	}
	return out, nil
}

type chainRules struct {
	chain *nftables.Chain
	rules []*nftables.Rule
}

// renderTable renders a table: sets sorted by name, then chains sorted by
// name, each followed by its rules in order.
func renderTable(t *nftables.Table, sets []setSpec, chains []chainRules) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s %s\n", familyName(t.Family), t.Name)
	sets = slices.Clone(sets)
	slices.SortFunc(sets, func(a, b setSpec) int { return strings.Compare(a.set.Name, b.set.Name) })
	for _, s := range sets {
		fmt.Fprintf(&b, "\t%s\n", renderSet(s.set, s.elems))
	}
	chains = slices.Clone(chains)
	slices.SortFunc(chains, func(a, b chainRules) int { return strings.Compare(a.chain.Name, b.chain.Name) })
	for _, c := range chains {
		fmt.Fprintf(&b, "\t%s\n", renderChain(c.chain))
		for _, r := range c.rules {
			fmt.Fprintf(&b, "\t\t%s\n", renderRule(r))
		}
	}
	return b.String()
}

// render renders the desired table in the same form as snapshot.renderOwn.
func (spec tableSpec) render() string {
	return renderTable(spec.table, spec.sets, []chainRules{{spec.chain, spec.rules}})
}
