package proxy_test

import (
	"reflect"
	"testing"

	"edgecert/internal/plan"
	"edgecert/internal/proxy"
	"edgecert/internal/topology"
)

func TestRules(t *testing.T) {
	topo := &topology.Topology{
		SIPDomains:    []string{"contoso.com", "fabrikam.com"},
		Mobility:      true,
		OfficeWebApps: "owa.contoso.com",
		SimpleURLs: topology.SimpleURLs{
			Meet:   map[string]string{"contoso.com": "https://meet.contoso.com", "fabrikam.com": "https://meet.fabrikam.com"},
			Dialin: "https://dialin.contoso.com/",
		},
	}
	site := &topology.Site{
		Name:      "Redmond",
		Pools:     []topology.Pool{{FQDN: "pool01.contoso.net", WebExternal: "webext.contoso.com"}},
		Directors: []topology.Pool{{FQDN: "dir.contoso.net", WebExternal: "webdir.contoso.com"}},
	}
	rp := &topology.ReverseProxy{Name: "rp", Servers: []string{"rp01.contoso.com"}}
	all := []string{"webext.contoso.com", "webdir.contoso.com", "meet.contoso.com", "meet.fabrikam.com", "dialin.contoso.com",
		"lyncdiscover.contoso.com", "lyncdiscover.fabrikam.com", "owa.contoso.com"}
	cases := []struct {
		name  string
		sans  []string
		up    proxy.Upstreams
		want  []proxy.Rule
		check func(t *testing.T, rules []proxy.Rule)
	}{
		{name: "shared certificate publishes everything, simple URLs to the Director", sans: all, want: []proxy.Rule{
			{Name: "external web services of pool01.contoso.net", Hosts: []string{"webext.contoso.com"}, HTTPSUpstream: "pool01.contoso.net:4443", HTTPUpstream: "pool01.contoso.net:8080", UpstreamName: "pool01.contoso.net"},
			{Name: "external web services of dir.contoso.net", Hosts: []string{"webdir.contoso.com"}, HTTPSUpstream: "dir.contoso.net:4443", HTTPUpstream: "dir.contoso.net:8080", UpstreamName: "dir.contoso.net"},
			{Name: "simple URLs and lyncdiscover (to dir.contoso.net)", Hosts: []string{"dialin.contoso.com", "lyncdiscover.contoso.com", "lyncdiscover.fabrikam.com", "meet.contoso.com", "meet.fabrikam.com"},
				HTTPSUpstream: "dir.contoso.net:4443", HTTPUpstream: "dir.contoso.net:8080", UpstreamName: "dir.contoso.net"},
			{Name: "Office Web Apps", Hosts: []string{"owa.contoso.com"}, HTTPSUpstream: "owa.contoso.com:443", HTTPUpstream: "owa.contoso.com:80", UpstreamName: "owa.contoso.com"},
		}},
		{name: "per-pool certificate only serves its pool", sans: []string{"webext.contoso.com"}, want: []proxy.Rule{
			{Name: "external web services of pool01.contoso.net", Hosts: []string{"webext.contoso.com"}, HTTPSUpstream: "pool01.contoso.net:4443", HTTPUpstream: "pool01.contoso.net:8080", UpstreamName: "pool01.contoso.net"},
		}},
		{name: "wildcard covers the simple URLs (R55)", sans: []string{"webext.contoso.com", "*.contoso.com"}, check: func(t *testing.T, rules []proxy.Rule) {
			var hosts []string
			for _, r := range rules {
				hosts = append(hosts, r.Hosts...)
			}
			want := []string{"webext.contoso.com", "webdir.contoso.com", "dialin.contoso.com", "lyncdiscover.contoso.com", "meet.contoso.com", "owa.contoso.com"}
			if !reflect.DeepEqual(hosts, want) {
				t.Fatalf("hosts %v, want %v", hosts, want)
			}
		}},
		{name: "upstream overrides", sans: []string{"webext.contoso.com"},
			up:   proxy.Upstreams{HTTPS: map[string]string{"pool01.contoso.net": "127.0.0.1:9443"}, HTTP: map[string]string{"pool01.contoso.net": "127.0.0.1:9080"}},
			want: []proxy.Rule{{Name: "external web services of pool01.contoso.net", Hosts: []string{"webext.contoso.com"}, HTTPSUpstream: "127.0.0.1:9443", HTTPUpstream: "127.0.0.1:9080", UpstreamName: "pool01.contoso.net"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := proxy.Rules(topo, site, rp, &plan.Certificate{SANs: tc.sans}, tc.up)
			if tc.check != nil {
				tc.check(t, got)
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("rules:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestFindReverseProxy(t *testing.T) {
	topo := &topology.Topology{Sites: []topology.Site{{Name: "A"}, {Name: "B", ReverseProxies: []topology.ReverseProxy{{Name: "rp", Servers: []string{"rp02.contoso.com"}}}}}}
	if s, rp := proxy.FindReverseProxy(topo, "RP02.contoso.com"); rp == nil || s.Name != "B" {
		t.Fatalf("FindReverseProxy: %v %v", s, rp)
	}
	if _, rp := proxy.FindReverseProxy(topo, "edge01.contoso.net"); rp != nil {
		t.Fatal("an edge server was found as a reverse proxy")
	}
}
