package topology

import (
	"slices"
	"strings"
)

// maxOperators bounds one operators list.
const maxOperators = 32

// operators checks every operators list: CA user group names (as `ca user
// add --groups` takes them: no spaces, commas or colons, at most 128
// bytes), at most maxOperators per list.
func (v *validator) operators() {
	for _, s := range v.r.Sites {
		lists := []slist{s.Operators}
		for _, p := range slices.Concat(s.Pools, s.Directors) {
			lists = append(lists, p.Operators)
		}
		for _, e := range s.Edges {
			lists = append(lists, e.Operators)
		}
		for _, p := range s.RPs {
			lists = append(lists, p.Operators)
		}
		for _, l := range lists {
			v.operatorList(l)
		}
	}
}

func (v *validator) operatorList(l slist) {
	if !l.Set || l.Bad {
		return
	}
	if len(l.Items) > maxOperators {
		v.add(l.P, "operators", "name at most 32 groups", "operators names %d groups", len(l.Items))
		return
	}
	for _, g := range l.Items {
		if g.Bad {
			continue
		}
		if g.V == "" || len(g.V) > 128 || strings.ContainsAny(g.V, ", \t\r\n:") {
			v.add(g.P, "operators", "name a CA user group (no spaces, commas or colons, at most 128 bytes)", "operators: %q is not a group name", g.V)
		}
	}
}
