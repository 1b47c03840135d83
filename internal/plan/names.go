package plan

import (
	"cmp"
	"slices"
	"sort"
	"strings"
)

// nameSet collects the subject name and the SANs of one certificate, with
// the rules that put each name there. Names are compared case-insensitively
// (R20, M1); the subject name is always the first SAN (R16, R52, M5); the
// other names are ordered by the group they were first added in (one group
// per rule, in the order the planner applies the rules), then alphabetically.
type nameSet struct {
	entries []*nameEntry
	index   map[string]*nameEntry
}

type nameEntry struct {
	name    string
	group   int
	subject bool
	rules   []string
	whys    []string
}

func newNameSet() *nameSet { return &nameSet{} }

// indexFrom is the size from which a set keeps a map of its names; smaller
// sets (most certificates) are searched linearly.
const indexFrom = 16

// lookup returns the entry of key (lower case), if any.
func (s *nameSet) lookup(key string) (*nameEntry, bool) {
	if s.index != nil {
		e, ok := s.index[key]
		return e, ok
	}
	for _, e := range s.entries {
		if e.name == key {
			return e, true
		}
	}
	return nil, false
}

// setSubject adds the subject name (first SAN) with the rules that chose it.
func (s *nameSet) setSubject(name, why string, rules ...string) {
	e := s.add(-1, name, why, rules...)
	e.subject = true
}

// add adds name in group (lower groups come first), or merges its rules and
// reason into the entry already there.
func (s *nameSet) add(group int, name, why string, rules ...string) *nameEntry {
	key := strings.ToLower(name)
	e, ok := s.lookup(key)
	if !ok {
		e = &nameEntry{name: key, group: group}
		s.entries = append(s.entries, e)
		switch {
		case s.index != nil:
			s.index[key] = e
		case len(s.entries) >= indexFrom:
			s.index = make(map[string]*nameEntry, 2*len(s.entries))
			for _, x := range s.entries {
				s.index[x.name] = x
			}
		}
	}
	if group < e.group {
		e.group = group
	}
	e.rules = append(e.rules, rules...)
	if why != "" && !hasPrefixIn(e.whys, why) {
		e.whys = append(e.whys, why)
	}
	return e
}

// has reports whether name is in the set.
func (s *nameSet) has(name string) bool {
	_, ok := s.lookup(strings.ToLower(name))
	return ok
}

// subject returns the subject name.
func (s *nameSet) subject() string {
	for _, e := range s.entries {
		if e.subject {
			return e.name
		}
	}
	return ""
}

// ordered returns the entries: the subject first, then by group, then by name.
func (s *nameSet) ordered() []*nameEntry {
	out := make([]*nameEntry, len(s.entries))
	copy(out, s.entries)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.subject != b.subject {
			return a.subject
		}
		if a.group != b.group {
			return a.group < b.group
		}
		return a.name < b.name
	})
	return out
}

// result returns the SAN list and the explanation of each name.
func (s *nameSet) result() ([]string, []NameSource) {
	ord := s.ordered()
	sans := make([]string, len(ord))
	src := make([]NameSource, len(ord))
	for i, e := range ord {
		sans[i] = e.name
		src[i] = NameSource{Name: e.name, Rules: sortRules(slices.Clone(e.rules)), Why: strings.Join(e.whys, "; ")}
	}
	return sans, src
}

// allRules returns every rule that put a name in the set.
func (s *nameSet) allRules() []string {
	n := 0
	for _, e := range s.entries {
		n += len(e.rules)
	}
	rs := make([]string, 0, n)
	for _, e := range s.entries {
		rs = append(rs, e.rules...)
	}
	return rs
}

// sortRules sorts and deduplicates rule ids: the R rules first, then the L
// and M rules, each by number ("R33", "R35", "M5", "M11"). It sorts in place.
func sortRules(rules []string) []string {
	rules = slices.DeleteFunc(rules, func(r string) bool { return r == "" })
	slices.SortFunc(rules, compareRules)
	return slices.Clip(slices.Compact(rules))
}

// compareRules orders rule ids by prefix (R, L, M, others), then number.
func compareRules(a, b string) int {
	ka, kb := keyOf(a), keyOf(b)
	if c := cmp.Compare(ka.rank, kb.rank); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// ruleKey is a rule id with its sort rank (prefix rank, then number).
type ruleKey struct {
	rank int
	id   string
}

func keyOf(r string) ruleKey {
	i := 0
	for i < len(r) && (r[i] < '0' || r[i] > '9') {
		i++
	}
	n := 0
	for j := i; j < len(r) && n < 1e6; j++ {
		if r[j] < '0' || r[j] > '9' {
			break
		}
		n = n*10 + int(r[j]-'0')
	}
	return ruleKey{rank: prefixRank(r[:i])*1e7 + n, id: r}
}

func prefixRank(p string) int {
	switch p {
	case "R":
		return 0
	case "L":
		return 1
	case "M":
		return 2
	}
	return 3
}

// hasPrefixIn reports whether some reason in whys starts with why.
func hasPrefixIn(whys []string, why string) bool {
	for _, w := range whys {
		if strings.HasPrefix(w, why) {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// containsFold reports whether list holds s, ignoring case.
func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// sortedUnique returns a sorted copy of list without duplicates (case-insensitive, lower-cased).
func sortedUnique(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, v := range list {
		k := strings.ToLower(v)
		if k != "" && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
