package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxYAMLDepth bounds nesting (and alias chains), so that a hostile document
// cannot make the decoder recurse without end.
const maxYAMLDepth = 64

// ydec decodes yaml.v3 nodes strictly into the raw model, reporting every
// unknown key, duplicate key and wrong type with its exact position.
type ydec struct {
	file    string
	c       *collector
	overlay bool
	depth   int
	// budget is how many more nodes the decoder may visit: aliases can make
	// a small document expand exponentially ("billion laughs").
	budget int
	spent  bool
}

// countNodes counts the nodes of a document without following aliases.
func countNodes(n *yaml.Node) int {
	total := 1
	for _, k := range n.Content {
		total += countNodes(k)
	}
	return total
}

// visit spends one node of the budget; false means stop decoding.
func (d *ydec) visit(n *yaml.Node) bool {
	if d.spent {
		return false
	}
	if d.budget--; d.budget < 0 {
		d.spent = true
		d.c.add(d.pos(n), "syntax", "the document expands its aliases too much", "write the values out instead of repeating aliases")
		return false
	}
	return true
}

type fieldFn func(k, v *yaml.Node)

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// yamlErrMsg is a yaml.v3 error without its "yaml: line N:" prefix.
func yamlErrMsg(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLineRE.FindStringIndex(msg); m != nil && m[0] == 0 {
		msg = strings.TrimPrefix(msg[m[1]:], ": ")
	}
	if strings.Contains(msg, "did not find expected") {
		msg += " (in the list or mapping that starts on this line)"
	}
	return msg
}

// decodeYAML reads one YAML topology (or overlay) document. It returns nil
// when the document cannot be parsed at all.
func decodeYAML(file string, data []byte, overlay bool, c *collector) *rawTopo {
	c.files = append(c.files, file)
	if n := yamlNodeBound(data); n > maxYAMLNodes {
		c.add(Pos{File: file, Line: 1, Col: 1}, "syntax", fmt.Sprintf("file too large: about %d YAML nodes, a topology has at most %d", n, maxYAMLNodes), "give a topology of one deployment (a real one is far smaller)")
		return nil
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			c.add(Pos{File: file, Line: 1, Col: 1}, "required", "the file is empty", "write a version 1 topology (see docs/topology.md)")
			return nil
		}
		c.add(yamlErrPos(file, err), "syntax", yamlErrMsg(err), "fix the YAML syntax")
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		c.add(Pos{File: file, Line: extra.Line, Col: extra.Column}, "syntax", "a second YAML document follows the topology", "keep one document per file (remove the '---' separator)")
	}
	d := &ydec{file: file, c: c, overlay: overlay, budget: 4*countNodes(&doc) + 1000}
	r := &rawTopo{P: Pos{File: file, Line: 1, Col: 1}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		c.add(r.P, "required", "the file has no content", "write a version 1 topology (see docs/topology.md)")
		return nil
	}
	r.P = d.pos(root)
	d.mapping(root, "the topology", d.topFields(r))
	return r
}

// yamlErrPos extracts the line of a yaml.v3 syntax error.
func yamlErrPos(file string, err error) Pos {
	p := Pos{File: file, Line: 1, Col: 1}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			p.Line = n
			// yaml.v3 numbers the lines of its parser errors (as opposed to
			// its scanner errors) from 0: they name where the enclosing
			// list or mapping starts.
			if strings.Contains(err.Error(), "did not find expected") {
				p.Line++
			}
		}
	}
	return p
}

func (d *ydec) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

// resolve follows aliases, with a bound on the chain.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < maxYAMLDepth; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int":
			return "a number"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "nothing"
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!")
	case yaml.AliasNode:
		return "an alias"
	}
	return "a node"
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (d *ydec) typeErr(n *yaml.Node, what, want string) {
	d.c.addf(d.pos(n), "type", "write "+what+" as "+want, "%s must be %s, not %s", what, want, kindName(n))
}

// mapping walks a mapping node, calling the field function of each key and
// reporting unknown and duplicate keys.
func (d *ydec) mapping(n *yaml.Node, what string, fields map[string]fieldFn) bool {
	orig := n
	if n = resolve(n); n == nil || !d.visit(orig) {
		return false
	}
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.typeErr(orig, what, "a mapping")
		return false
	}
	if d.depth >= maxYAMLDepth {
		d.c.add(d.pos(orig), "syntax", "the document nests too deeply", "flatten the document")
		return false
	}
	d.depth++
	defer func() { d.depth-- }()
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if !d.visit(n.Content[i]) {
			return false
		}
		if k == nil || k.Kind != yaml.ScalarNode {
			d.c.addf(d.pos(n.Content[i]), "type", "use plain names as keys", "a key of %s must be a name", what)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.c.addf(d.pos(k), "duplicate-key", "remove one of the two", "key %q of %s is already set on line %d", k.Value, what, prev.Line)
			continue
		}
		seen[k.Value] = k
		fn, ok := fields[k.Value]
		if !ok {
			d.unknownKey(k, what, fields)
			continue
		}
		fn(k, v)
	}
	return true
}

func (d *ydec) unknownKey(k *yaml.Node, what string, fields map[string]fieldFn) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	fix := "remove it; the keys of " + what + " are " + strings.Join(names, ", ")
	if near := nearest(k.Value, names); near != "" {
		fix = "did you mean " + strconv.Quote(near) + "? The keys of " + what + " are " + strings.Join(names, ", ")
	}
	d.c.addf(d.pos(k), "unknown-key", fix, "unknown key %q in %s", k.Value, what)
}

// nearest returns the name closest to s when it is a likely typo.
func nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if dist := editDistance(strings.ToLower(s), n); dist < bestD {
			best, bestD = n, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// str reads a string scalar; lower normalises it to lower case (FQDNs).
func (d *ydec) str(v *yaml.Node, what string, lower bool) sval {
	n := resolve(v)
	if n == nil || isNull(n) || !d.visit(v) {
		return sval{P: d.pos(v)}
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.typeErr(v, what, "a string")
		return sval{P: d.pos(v), Bad: true}
	}
	s := n.Value
	if lower {
		s = strings.ToLower(s)
	}
	return sval{V: s, P: d.pos(v), Set: true}
}

func (d *ydec) boolean(v *yaml.Node, what string) bval {
	n := resolve(v)
	if n == nil || isNull(n) {
		return bval{P: d.pos(v)}
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.typeErr(v, what, "true or false")
		return bval{P: d.pos(v)}
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		d.typeErr(v, what, "true or false")
		return bval{P: d.pos(v)}
	}
	return bval{V: b, P: d.pos(v), Set: true}
}

func (d *ydec) integer(v *yaml.Node, what string) ival {
	n := resolve(v)
	if n == nil || isNull(n) {
		return ival{P: d.pos(v)}
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.typeErr(v, what, "a whole number")
		return ival{P: d.pos(v), Bad: true}
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 32)
	if err != nil {
		d.typeErr(v, what, "a whole number")
		return ival{P: d.pos(v), Bad: true}
	}
	return ival{V: int(i), P: d.pos(v), Set: true}
}

// strList reads a list of strings.
func (d *ydec) strList(v *yaml.Node, what string, lower bool) slist {
	n := resolve(v)
	l := slist{P: d.pos(v)}
	if n == nil || isNull(n) || !d.visit(v) {
		return l
	}
	if n.Kind != yaml.SequenceNode {
		d.typeErr(v, what, "a list")
		l.Bad = true
		return l
	}
	l.Set = true
	for _, it := range n.Content {
		if s := d.str(it, "an entry of "+what, lower); s.Set {
			l.Items = append(l.Items, s)
		}
	}
	return l
}

// seq walks a list of mappings.
func (d *ydec) seq(v *yaml.Node, what string, each func(item *yaml.Node)) {
	n := resolve(v)
	if n == nil || isNull(n) || !d.visit(v) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.typeErr(v, what, "a list")
		return
	}
	if d.depth >= maxYAMLDepth {
		d.c.add(d.pos(v), "syntax", "the document nests too deeply", "flatten the document")
		return
	}
	d.depth++
	defer func() { d.depth-- }()
	for _, it := range n.Content {
		each(it)
	}
}
