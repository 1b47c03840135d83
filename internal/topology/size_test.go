package topology

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"edgecert/internal/readlimit"
)

// TestDocumentSizeBudget: documents far larger than any topology are
// refused quickly with "file too large" and the bound, before a tree is
// built: a huge alias-free YAML document (block or flow), a Topology
// Builder document with too many elements, /dev/zero and an oversized
// file.
func TestDocumentSizeBudget(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var block, flow bytes.Buffer
	block.WriteString("version: 1\nsites:\n")
	for i := 0; block.Len() < 4<<20; i++ {
		block.WriteString("  - name: site\n    servers: [a, b]\n")
	}
	flow.WriteString("version: 1\nsites: [")
	for flow.Len() < 1<<20 {
		flow.WriteString("a,")
	}
	flow.WriteString("a]\n")
	xml := []byte(`<?xml version="1.0"?><Topology xmlns="urn:schema:Microsoft.Rtc.Management.Deploy.Topology.2008">` +
		strings.Repeat(`<Site/>`, maxXMLElements+1) + `</Topology>`)
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(readlimit.Topology + 1) // sparse
	f.Close()
	cases := []struct {
		name, path, want string
	}{
		{"yaml block", write("block.yaml", block.Bytes()), "file too large: about"},
		{"yaml flow", write("flow.yaml", flow.Bytes()), "file too large: about"},
		{"xml elements", write("many.tbxml", xml), "file too large: more than 100000 elements"},
		{"dev zero", "/dev/zero", "file too large: a topology is at most 64 MiB"},
		{"oversized", big, "file too large: a topology is at most 64 MiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Load(tc.path, "")
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Load("/dev/zero", ""); !errors.Is(err, readlimit.ErrTooLarge) {
		t.Fatalf("/dev/zero: %v does not wrap ErrTooLarge", err)
	}
	// The examples are far inside the budget.
	for _, name := range []string{"demo.yaml", "multi-site.yaml", "reverse-proxy.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		if n := yamlNodeBound(data); n > maxYAMLNodes/100 {
			t.Errorf("%s: bound %d, more than a hundredth of the budget", name, n)
		}
	}
}

// FuzzYAMLNodeBound: the estimate is never below the nodes yaml.v3 builds
// (aliases are nodes of their own; what they expand to is the decoder's
// budget).
func FuzzYAMLNodeBound(f *testing.F) {
	for _, s := range []string{"", "a", "a:", "- - - -", "{a, b, c}", "[,]", "? a\n: b", "a: [b, {c: d}]\n- e", "a: |\n  x\n  y\n", "&x a: *x", "'a, b': \"c: d\"", "---\na\n...\n", "!!str a", "[a, [b, [c]]]", "{? a}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return
		}
		if got, bound := countNodes(&doc), yamlNodeBound(data); got > bound {
			t.Fatalf("yaml.v3 built %d nodes from %q, more than the bound %d", got, data, bound)
		}
	})
}
