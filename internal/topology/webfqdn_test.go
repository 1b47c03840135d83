package topology_test

import (
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// TestWebFQDNOfItsOwnServer: a Standard Edition server (a pool whose one
// server has the pool's FQDN) may use that FQDN as its external and internal
// web FQDN, as Topology Builder proposes by default; a member server of an
// Enterprise pool, another pool's server or an edge pool's own FQDN may not.
func TestWebFQDNOfItsOwnServer(t *testing.T) {
	const head = "version: 1\nsip_domains: [fabrikam.com]\nsimple_urls:\n  meet: {fabrikam.com: https://meet.fabrikam.com}\n  dialin: https://dialin.fabrikam.com\nsites:\n  - name: Lab\n"
	cases := []struct {
		name, body string
		rule       string // "" when the topology is valid
	}{
		{"standard-edition/web_external", "    pools:\n      - {fqdn: se01.fabrikam.com, servers: [se01.fabrikam.com], web_external: se01.fabrikam.com}\n", ""},
		{"standard-edition/web_internal-and-external", "    pools:\n      - {fqdn: se01.fabrikam.com, servers: [se01.fabrikam.com], web_internal: se01.fabrikam.com, web_external: se01.fabrikam.com}\n", ""},
		{"standard-edition-director", "    directors:\n      - {fqdn: dir01.fabrikam.com, servers: [dir01.fabrikam.com], web_external: dir01.fabrikam.com}\n", ""},
		{"enterprise/member-server", "    pools:\n      - {fqdn: pool01.fabrikam.com, servers: [fe01.fabrikam.com, fe02.fabrikam.com], web_external: fe01.fabrikam.com}\n", "duplicate-fqdn"},
		{"single-server-named-otherwise", "    pools:\n      - {fqdn: pool01.fabrikam.com, servers: [fe01.fabrikam.com], web_external: fe01.fabrikam.com}\n", "duplicate-fqdn"},
		{"another-standard-edition", "    pools:\n      - {fqdn: se01.fabrikam.com, servers: [se01.fabrikam.com], web_external: se02.fabrikam.com}\n      - {fqdn: se02.fabrikam.com, servers: [se02.fabrikam.com]}\n", "duplicate-fqdn"},
		{"edge/own-fqdn", "    edge_pools:\n      - {fqdn: edge01.fabrikam.com, servers: [edge01.fabrikam.com], access: edge01.fabrikam.com, webconf: webcon.fabrikam.com, av: av.fabrikam.com}\n", "duplicate-fqdn"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := topology.ParseYAML("topo.yaml", []byte(head+tc.body))
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				p := append(topo.Sites[0].Pools, topo.Sites[0].Directors...)[0]
				if !p.Standard || p.WebExternal != p.FQDN {
					t.Errorf("pool = %+v, want a Standard Edition server with web_external %s", p, p.FQDN)
				}
				return
			}
			ps := problemsOf(t, err)
			if len(ps) != 1 || ps[0].Rule != tc.rule || !strings.Contains(ps[0].Msg, "fabrikam.com") {
				t.Errorf("want one [%s] problem, got:\n%v", tc.rule, ps)
			}
		})
	}
}
