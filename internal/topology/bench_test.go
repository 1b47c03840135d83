package topology_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// generatedYAML returns a valid topology of `sites` sites holding `edges`
// edge pools of four servers in all, with a Front End pool and a reverse
// proxy per site.
func generatedYAML(sites, edges int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\norganization: {name: Contoso Ltd, country: US}\nsip_domains: [contoso.com]\n")
	b.WriteString("simple_urls:\n  meet:\n    contoso.com: https://meet.contoso.com\n  dialin: https://dialin.contoso.com\nmobility: true\nsites:\n")
	for s := 0; s < sites; s++ {
		fmt.Fprintf(&b, "  - name: site%d\n    pools:\n      - fqdn: pool%d.contoso.net\n", s, s)
		fmt.Fprintf(&b, "        servers: [fe%da.contoso.net, fe%db.contoso.net]\n        web_external: webext%d.contoso.com\n", s, s, s)
		b.WriteString("    edge_pools:\n")
		for e := s; e < edges; e += sites {
			fmt.Fprintf(&b, "      - fqdn: edge%d.contoso.net\n        servers: [", e)
			for i := 0; i < 4; i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "edge%d-%d.contoso.net", e, i)
			}
			fmt.Fprintf(&b, "]\n        access: sip%d.contoso.com\n        webconf: webcon%d.contoso.com\n        av: av%d.contoso.com\n", e, e, e)
		}
		fmt.Fprintf(&b, "    reverse_proxies:\n      - name: rp%d\n        servers: [rp%d.contoso.com]\n", s, s)
	}
	return []byte(b.String())
}

func TestGeneratedTopologyLoads(t *testing.T) {
	topo, err := topology.ParseYAML("gen.yaml", generatedYAML(10, 100))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range topo.Sites {
		n += len(s.EdgePools)
	}
	if n != 100 || len(topo.Sites) != 10 {
		t.Errorf("%d sites, %d edge pools", len(topo.Sites), n)
	}
}

// BenchmarkLoadYAML1000EdgePools loads and validates a topology of 100
// sites and 1,000 edge pools of 4 servers.
func BenchmarkLoadYAML1000EdgePools(b *testing.B) {
	data := generatedYAML(100, 1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := topology.ParseYAML("gen.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadContosoTBXML loads the Topology Builder sample.
func BenchmarkLoadContosoTBXML(b *testing.B) {
	data, err := os.ReadFile("../../examples/contoso-sfb.tbxml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := topology.Parse("contoso-sfb.tbxml", data); err != nil {
			b.Fatal(err)
		}
	}
}
