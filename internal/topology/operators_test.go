package topology_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// operatorsBase is acmeBase with operators on the site, the edge pool and
// a reverse proxy; the pool inherits the site's.
const operatorsBase = `version: 1
organization: {name: Contoso Ltd, country: US}
sip_domains: [contoso.com]
simple_urls:
  meet: {contoso.com: https://meet.contoso.com}
  dialin: https://dialin.contoso.com
sites:
  - name: Redmond
    operators: [lync-admins]
    pools:
      - fqdn: pool01.contoso.net
        servers: [fe01.contoso.net]
        web_external: webext.contoso.com
    directors:
      - fqdn: dir01.contoso.net
        servers: [dir01.contoso.net]
        operators: []
    edge_pools:
      - fqdn: lsedge.contoso.net
        servers: [edge01.contoso.net, edge02.contoso.net]
        access: sip.contoso.com
        webconf: webcon.contoso.com
        av: av.contoso.com
        operators: [edge-ops, edge-ops, lync-admins]
    reverse_proxies:
      - name: rp
        servers: [rp01.contoso.com]
        publishes: [pool01.contoso.net]
        operators: [web-ops]
`

func TestOperators(t *testing.T) {
	topo, err := topology.ParseWithOverlay("topo.yaml", []byte(operatorsBase), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := topo.Sites[0]
	for _, c := range []struct {
		name      string
		got, want []string
	}{
		{"site", s.Operators, []string{"lync-admins"}},
		{"pool inherits the site's", s.Pools[0].Operators, []string{"lync-admins"}},
		{"an empty list means none", s.Directors[0].Operators, nil},
		{"edge pool's own, duplicates dropped", s.EdgePools[0].Operators, []string{"edge-ops", "lync-admins"}},
		{"proxy's own", s.ReverseProxies[0].Operators, []string{"web-ops"}},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: operators %q, want %q", c.name, c.got, c.want)
		}
	}

	overlay := `sites:
  - name: Redmond
    operators: [tier2]
edge_pools:
  - fqdn: lsedge.contoso.net
    operators: [dmz-ops]
`
	base := strings.Replace(operatorsBase, "        operators: [edge-ops, edge-ops, lync-admins]\n", "", 1)
	topo, err = topology.ParseWithOverlay("topo.yaml", []byte(base), "ov.yaml", []byte(overlay))
	if err != nil {
		t.Fatal(err)
	}
	s = topo.Sites[0]
	if !slices.Equal(s.Pools[0].Operators, []string{"tier2"}) || !slices.Equal(s.EdgePools[0].Operators, []string{"dmz-ops"}) {
		t.Errorf("overlay: pool %q edge %q, want [tier2] and [dmz-ops]", s.Pools[0].Operators, s.EdgePools[0].Operators)
	}
}

func TestOperatorsProblems(t *testing.T) {
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"not a list", "operators: [web-ops]", "operators: web-ops", "topo.yaml:29:20"},
		{"comma in a name", "operators: [web-ops]", "operators: [\"web,ops\"]", `topo.yaml:29:21: [operators] operators: "web,ops" is not a group name`},
		{"empty name", "operators: [web-ops]", `operators: [""]`, `topo.yaml:29:21: [operators] operators: "" is not a group name`},
		{"unknown key beside it", "operators: [web-ops]", "operator: [web-ops]", "topo.yaml:29:9"},
		{"too many", "operators: [web-ops]", "operators: [" + strings.Repeat("g,", 33) + "g]", "topo.yaml:29:20: [operators] operators names 34 groups"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := topology.ParseWithOverlay("topo.yaml", []byte(strings.Replace(operatorsBase, c.from, c.to, 1)), "", nil)
			var ps topology.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("error %v, want problems", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("problems:\n%v\nwant %q", err, c.want)
			}
		})
	}
}
