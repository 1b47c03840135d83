package plan

import (
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// contoso returns the topology of topology.md's example: two SIP domains,
// a Front End pool, a Director, a two-server DNS-balanced edge pool and a
// one-server reverse proxy publishing the pool and the Director.
func contoso() *topology.Topology {
	return &topology.Topology{
		Organization: topology.Organization{Name: "Contoso Ltd", Unit: "IT", Locality: "Redmond", State: "Washington", Country: "US"},
		SIPDomains:   []string{"contoso.com", "fabrikam.com"},
		SimpleURLs: topology.SimpleURLs{
			Meet:   map[string]string{"contoso.com": "https://meet.contoso.com", "fabrikam.com": "https://meet.fabrikam.com"},
			Dialin: "https://dialin.contoso.com",
			Admin:  "https://admin.contoso.com",
		},
		Mobility:      true,
		OfficeWebApps: "officewebapps01.contoso.com",
		Key:           topology.KeySpec{Algorithm: "RSA", Bits: 2048},
		Sites: []topology.Site{{
			Name: "Redmond",
			Pools: []topology.Pool{{
				FQDN: "pool01.contoso.net", Servers: []string{"fe01.contoso.net", "fe02.contoso.net"},
				WebInternal: "webint.contoso.net", WebExternal: "webext.contoso.com",
			}},
			Directors: []topology.Pool{{
				FQDN: "dirpool.contoso.net", Servers: []string{"dir01.contoso.net"}, WebExternal: "webdirext.contoso.com",
			}},
			EdgePools: []topology.EdgePool{{
				FQDN: "lsedge.contoso.net", Servers: []string{"edge01.contoso.net", "edge02.contoso.net"},
				LoadBalancing: "dns", Access: "sip.contoso.com", WebConf: "webcon.contoso.com", AV: "av.contoso.com",
				ExternalIssuer: "public",
			}},
			ReverseProxies: []topology.ReverseProxy{{
				Name: "rp-redmond", Servers: []string{"rp01.contoso.com"},
				Publishes:   []string{"pool01.contoso.net", "dirpool.contoso.net"},
				Certificate: "shared", Issuer: "public",
			}},
		}},
	}
}

// edgeOnly returns a single consolidated edge server and nothing else.
func edgeOnly() *topology.Topology {
	return &topology.Topology{
		SIPDomains: []string{"contoso.com"},
		SimpleURLs: topology.SimpleURLs{Meet: map[string]string{"contoso.com": "https://meet.contoso.com"}, Dialin: "https://dialin.contoso.com"},
		Sites: []topology.Site{{
			Name: "Redmond",
			EdgePools: []topology.EdgePool{{
				FQDN: "edge.contoso.net", Servers: []string{"edge.contoso.net"}, LoadBalancing: "none",
				Access: "sip.contoso.com", WebConf: "webcon.contoso.com", AV: "av.contoso.com",
			}},
		}},
	}
}

// mustBuild plans t or fails the test.
func mustBuild(t *testing.T, topo *topology.Topology) *Plan {
	t.Helper()
	p, err := Build(topo)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p
}

// cert returns the certificate with id, or fails the test.
func cert(t *testing.T, p *Plan, id string) *Certificate {
	t.Helper()
	for i := range p.Certificates {
		if p.Certificates[i].ID == id {
			return &p.Certificates[i]
		}
	}
	var ids []string
	for _, c := range p.Certificates {
		ids = append(ids, c.ID)
	}
	t.Fatalf("no certificate %q in plan; have %s", id, strings.Join(ids, ", "))
	return nil
}

// ofKind returns every certificate of kind.
func ofKind(p *Plan, kind string) []*Certificate {
	var out []*Certificate
	for i := range p.Certificates {
		if p.Certificates[i].Kind == kind {
			out = append(out, &p.Certificates[i])
		}
	}
	return out
}

// warningsWith returns the warnings that start with rule and mention id.
func warningsWith(p *Plan, rule, id string) []string {
	var out []string
	for _, w := range p.Warnings {
		if strings.HasPrefix(w, rule+":") && strings.Contains(w, id) {
			out = append(out, w)
		}
	}
	return out
}

func hasName(list []string, name string) bool { return containsFold(list, name) }

// nameRules returns the rules recorded for name in c.
func nameRules(c *Certificate, name string) []string {
	for _, n := range c.Names {
		if strings.EqualFold(n.Name, name) {
			return n.Rules
		}
	}
	return nil
}
