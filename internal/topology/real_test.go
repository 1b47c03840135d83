package topology_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// realPool is what a real document's pool must give.
type realPool struct {
	fqdn, webExternal string
	servers           []string
	standard          bool
}

// realCase is one real document and what it must give.
type realCase struct {
	file     string
	domains  []string
	meet     string // the default domain's meet URL
	dialin   string
	warnings int
	pools    []realPool
	owa      string
}

// TestRealDocuments loads every Topology Builder document of testdata/real
// (extracts of documents published by lab-automation projects, see its
// README) and the Contoso sample, each with the overlay it needs (none
// does), and checks what it gives: the SIP domains, the simple URLs
// (Topology Builder's defaults where the document has none, each with a
// warning), the pools and the Office Web Apps Server.
func TestRealDocuments(t *testing.T) {
	cases := []realCase{
		{"testdata/real/rlevchenko-defaulttopology.xml", []string{"tenant.rlevchenko.com"}, "https://meet.tenant.rlevchenko.com", "https://dialin.tenant.rlevchenko.com", 2,
			[]realPool{{"poolfe.tenant.rlevchenko.com", "poolfe.tenant.rlevchenko.com", []string{"skype-fe-01.tenant.rlevchenko.com"}, false}}, "srv-owa-01.tenant.rlevchenko.com"},
		{"testdata/real/eic-jivewindev.com.tbxml", []string{"jivewindev.com"}, "https://meet.jivewindev.com", "https://dialin.jivewindev.com", 0,
			[]realPool{{"windev-lync2013.jivewindev.com", "windev-lync2013.jivewindev.com", []string{"windev-lync2013.jivewindev.com"}, true}}, ""},
		{"testdata/real/eic-pocketdomain.corp.tbxml", []string{"pocketdomain.corp"}, "https://meet.pocketdomain.corp", "https://dialin.pocketdomain.corp", 1,
			[]realPool{{"lync2013.pocketdomain.corp", "lync2013.pocketdomain.corp", []string{"lync2013.pocketdomain.corp"}, true}}, ""},
		{"../../examples/contoso-sfb.tbxml", []string{"contoso.com"}, "https://meet.contoso.com", "https://dialin.contoso.com", 0,
			[]realPool{{"frontendpool.contoso.com", "frontendpool.contoso.com", []string{"xfrontend1.contoso.com", "xfrontend2.contoso.com", "xfrontend3.contoso.com", "xfrontend4.contoso.com"}, false}}, "xoffice1.contoso.com"},
	}
	files, err := filepath.Glob("testdata/real/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if ext := filepath.Ext(f); (ext == ".xml" || ext == ".tbxml") && !slices.ContainsFunc(cases, func(c realCase) bool { return c.file == f }) {
			t.Errorf("%s has no case in this test", f)
		}
	}
	for _, tc := range cases {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			data, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			topo, err := topology.Parse(filepath.Base(tc.file), data)
			if err != nil {
				t.Fatalf("the document is refused:\n%v", err)
			}
			if !slices.Equal(topo.SIPDomains, tc.domains) {
				t.Errorf("sip_domains = %v, want %v", topo.SIPDomains, tc.domains)
			}
			if u := topo.SimpleURLs; u.Meet[tc.domains[0]] != tc.meet || u.Dialin != tc.dialin {
				t.Errorf("simple_urls = %+v, want meet %s, dialin %s", u, tc.meet, tc.dialin)
			}
			if len(topo.Warnings) != tc.warnings {
				t.Errorf("warnings = %q, want %d", topo.Warnings, tc.warnings)
			}
			for _, w := range topo.Warnings {
				if !strings.HasPrefix(w, "R83: ") || !strings.Contains(w, tc.domains[0]) {
					t.Errorf("warning %q is not an R83 default of the document's domain", w)
				}
			}
			var got []realPool
			for _, s := range topo.Sites {
				for _, p := range s.Pools {
					got = append(got, realPool{p.FQDN, p.WebExternal, p.Servers, p.Standard})
				}
			}
			if len(got) != len(tc.pools) {
				t.Fatalf("pools = %+v, want %+v", got, tc.pools)
			}
			for i := range got {
				g, w := got[i], tc.pools[i]
				if g.fqdn != w.fqdn || g.webExternal != w.webExternal || g.standard != w.standard || !slices.Equal(g.servers, w.servers) {
					t.Errorf("pool %d = %+v, want %+v", i, g, w)
				}
			}
			if topo.OfficeWebApps != tc.owa {
				t.Errorf("office_web_apps = %q, want %q", topo.OfficeWebApps, tc.owa)
			}
		})
	}
}
