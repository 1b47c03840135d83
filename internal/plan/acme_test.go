package plan_test

import (
	"strings"
	"testing"

	"edgecert/internal/plan"
	"edgecert/internal/topology"
)

const acmeTopo = `version: 1
organization: {name: Contoso Ltd, country: US}
sip_domains: [contoso.com]
simple_urls:
  meet: {contoso.com: https://meet.contoso.com}
  dialin: https://dialin.contoso.com
sites:
  - name: Redmond
    pools:
      - fqdn: pool01.contoso.net
        servers: [fe01.contoso.net]
        web_external: webext.contoso.com
    edge_pools:
      - fqdn: lsedge.contoso.net
        servers: [edge01.contoso.net, edge02.contoso.net]
        access: sip.contoso.com
        webconf: webcon.contoso.com
        av: av.contoso.com
    reverse_proxies:
      - name: rp
        servers: [rp01.contoso.com, rp02.contoso.com]
        publishes: [pool01.contoso.net]
acme:
  directory: https://acme.test/dir
  accept_tos: true
  challenges:
`

// Every name of every public certificate needs a challenge rule; the
// internal certificates' names need none.
func TestPlanACMEChallengeForEveryPublicName(t *testing.T) {
	for _, tc := range []struct {
		name, rules string
		missing     []string
	}{
		{"domain covers all", "    - domains: [contoso.com]\n      dns01: {hook: /bin/true}\n", nil},
		{"names for the proxy only", "    - names: [webext.contoso.com, meet.contoso.com, dialin.contoso.com]\n      http01: {webroot: /w}\n",
			[]string{"sip.contoso.com of the public certificate edge-external/", "webcon.contoso.com of"}},
		{"another domain", "    - domains: [fabrikam.com]\n      dns01: {hook: /bin/true}\n", []string{"sip.contoso.com", "webext.contoso.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo, err := topology.Parse("t.yaml", []byte(acmeTopo+tc.rules))
			if err != nil {
				t.Fatal(err)
			}
			p, err := plan.Build(topo)
			if len(tc.missing) == 0 {
				if err != nil || p == nil {
					t.Fatalf("Build: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("a public name without a challenge rule was planned")
			}
			for _, m := range tc.missing {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %v\ndoes not name %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "[acme] lsedge.contoso.net ") {
				t.Errorf("an internal certificate's name was checked: %v", err)
			}
		})
	}
}
