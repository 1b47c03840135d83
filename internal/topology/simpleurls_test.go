package topology_test

import (
	"maps"
	"os"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// asxmlLines returns testdata/asxml.xml (a Get-CsTopology -AsXml document
// with the SIP domains fabrikam.com, the default, and contoso.com) as lines.
func asxmlLines(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("testdata/asxml.xml")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n")
}

// withoutLines blanks lines from..to (1-based, inclusive).
func withoutLines(lines []string, from, to int) []string {
	var edits []edit
	for n := from; n <= to; n++ {
		edits = append(edits, edit{n, ""})
	}
	return applyEdits(lines, edits)
}

// TestSimpleURLDefaults: a Topology Builder document with no meet, or no
// dial-in, simple URL gets Topology Builder's defaults for it
// (https://meet.<SIP domain> for each SIP domain, https://dialin.<default
// SIP domain>), each with a warning naming it; what the overlay sets is
// kept, and a document that has its simple URLs gets no default.
func TestSimpleURLDefaults(t *testing.T) {
	lines := asxmlLines(t)
	noConfig := withoutLines(lines, 7, 18)
	emptyConfig := applyEdits(noConfig, []edit{{7, `  <SimpleUrlConfiguration UseBackendDatabase="false" />`}})
	adminOnly := withoutLines(lines, 8, 16)
	const (
		meetF  = "https://meet.fabrikam.com"
		meetC  = "https://meet.contoso.com"
		dialF  = "https://dialin.fabrikam.com"
		ownC   = "https://lync.contoso.com/meet"
		admin  = "https://admin.contoso.com"
		dialIn = "https://dialin.contoso.com"
	)
	cases := []struct {
		name      string
		doc       []string
		overlay   string
		meet      map[string]string
		dialin    string
		admin     string
		defaulted []string // the URLs the warnings name
	}{
		{"no-SimpleUrlConfiguration", noConfig, "", map[string]string{"fabrikam.com": meetF, "contoso.com": meetC}, dialF, "", []string{meetF, meetC, dialF}},
		{"empty-SimpleUrlConfiguration", emptyConfig, "", map[string]string{"fabrikam.com": meetF, "contoso.com": meetC}, dialF, "", []string{meetF, meetC, dialF}},
		{"admin-only", adminOnly, "", map[string]string{"fabrikam.com": meetF, "contoso.com": meetC}, dialF, admin, []string{meetF, meetC, dialF}},
		{"no-dialin", withoutLines(lines, 8, 10), "", map[string]string{"fabrikam.com": meetF, "contoso.com": meetC}, dialF, admin, []string{dialF}},
		{"no-meet", withoutLines(lines, 11, 16), "", map[string]string{"fabrikam.com": meetF, "contoso.com": meetC}, dialIn, admin, []string{meetF, meetC}},
		{"overlay-sets-one-meet-url", noConfig, "simple_urls:\n  meet: {contoso.com: " + ownC + "}\n", map[string]string{"fabrikam.com": meetF, "contoso.com": ownC}, dialF, "", []string{meetF, dialF}},
		{"overlay-sets-dialin", noConfig, "simple_urls:\n  dialin: " + dialIn + "\n", map[string]string{"fabrikam.com": meetF, "contoso.com": meetC}, dialIn, "", []string{meetF, meetC}},
		{"overlay-sets-all", noConfig, "simple_urls:\n  meet:\n    contoso.com: " + ownC + "\n    fabrikam.com: " + meetF + "\n  dialin: " + dialIn + "\n  admin: " + admin + "\n",
			map[string]string{"fabrikam.com": meetF, "contoso.com": ownC}, dialIn, admin, nil},
		{"document-has-them", lines, "", map[string]string{"fabrikam.com": meetF, "contoso.com": meetC}, dialIn, admin, nil},
		{"overlay-replaces-one", lines, "simple_urls: {meet: {contoso.com: " + ownC + "}, dialin: " + dialF + "}\n", map[string]string{"fabrikam.com": meetF, "contoso.com": ownC}, dialF, admin, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var overlay []byte
			if tc.overlay != "" {
				overlay = []byte(tc.overlay)
			}
			topo, err := topology.ParseXML("asxml.xml", []byte(strings.Join(tc.doc, "\n")), overlay, "extra.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if u := topo.SimpleURLs; !maps.Equal(u.Meet, tc.meet) || u.Dialin != tc.dialin || u.Admin != tc.admin {
				t.Errorf("simple_urls = %+v\nwant meet %v, dialin %q, admin %q", u, tc.meet, tc.dialin, tc.admin)
			}
			if len(topo.Warnings) != len(tc.defaulted) {
				t.Fatalf("warnings = %q, want one for each of %v", topo.Warnings, tc.defaulted)
			}
			for i, w := range topo.Warnings {
				if !strings.HasPrefix(w, "R83: ") || !strings.Contains(w, tc.defaulted[i]+";") || !strings.Contains(w, "overlay") {
					t.Errorf("warning %d = %q, want R83 naming %s and the overlay", i, w, tc.defaulted[i])
				}
			}
		})
	}
}

// TestYAMLGetsNoSimpleURLDefaults: a YAML topology says what it means; a
// missing simple URL is still R83.
func TestYAMLGetsNoSimpleURLDefaults(t *testing.T) {
	lines := applyEdits(readBase(t), []edit{{6, ""}, {7, ""}, {8, ""}, {9, ""}, {10, ""}, {11, ""}})
	ps := problemsOf(t, func() error { _, err := topology.ParseYAML("topo.yaml", []byte(strings.Join(lines, "\n"))); return err }())
	if len(ps) != 3 || ps[0].Rule != "R83" || ps[1].Rule != "R83" || ps[2].Rule != "R83" {
		t.Errorf("want three R83 (two meet URLs, dial-in), got:\n%v", ps)
	}
}

// TestR83FixWorks: what R83 proposes is YAML that, put where it says, makes
// the topology load: an overlay for a Topology Builder document (merged per
// SIP domain, so the document's other meet URLs stay), a line under
// simple_urls for a YAML topology.
func TestR83FixWorks(t *testing.T) {
	lines := asxmlLines(t)
	xmlCases := []struct {
		name     string
		doc      []string
		meet     map[string]string
		dialin   string
		mentions string
	}{
		{"xml/missing-meet", withoutLines(lines, 14, 16), map[string]string{"contoso.com": "https://meet.contoso.com", "fabrikam.com": "https://meet.fabrikam.com"}, "https://dialin.contoso.com", "fabrikam.com"},
	}
	for _, tc := range xmlCases {
		t.Run(tc.name, func(t *testing.T) {
			doc := []byte(strings.Join(tc.doc, "\n"))
			ps := problemsOf(t, func() error { _, err := topology.ParseXML("asxml.xml", doc, nil, ""); return err }())
			if len(ps) != 1 || ps[0].Rule != "R83" || !strings.Contains(ps[0].Fix, tc.mentions) || !strings.Contains(ps[0].Msg, tc.mentions) {
				t.Fatalf("want one R83 naming %s, got:\n%v", tc.mentions, ps)
			}
			_, overlay, ok := strings.Cut(ps[0].Fix, "(--overlay FILE): ")
			if !ok {
				t.Fatalf("fix proposes no overlay: %q", ps[0].Fix)
			}
			topo, err := topology.ParseXML("asxml.xml", doc, []byte(overlay+"\n"), "fix.yaml")
			if err != nil {
				t.Fatalf("the proposed overlay %q does not work:\n%v", overlay, err)
			}
			if !maps.Equal(topo.SimpleURLs.Meet, tc.meet) || topo.SimpleURLs.Dialin != tc.dialin || len(topo.Warnings) != 0 {
				t.Errorf("simple_urls = %+v, warnings %q", topo.SimpleURLs, topo.Warnings)
			}
		})
	}
	yamlCases := []struct {
		name  string
		drop  int    // the line of base.yaml that is left out
		under string // the key the fix names, whose next line takes the fix
		at    int    // where the fixed line goes
	}{
		{"yaml/missing-meet", 9, "simple_urls.meet: ", 9},
		{"yaml/missing-dialin", 10, "simple_urls: ", 10},
	}
	for _, tc := range yamlCases {
		t.Run(tc.name, func(t *testing.T) {
			lines := applyEdits(readBase(t), []edit{{tc.drop, "  # left out"}})
			ps := problemsOf(t, func() error { _, err := topology.ParseYAML("topo.yaml", []byte(strings.Join(lines, "\n"))); return err }())
			if len(ps) != 1 || ps[0].Rule != "R83" {
				t.Fatalf("want one R83, got:\n%v", ps)
			}
			_, line, ok := strings.Cut(ps[0].Fix, "add it under "+tc.under)
			if !ok {
				t.Fatalf("fix %q does not say where the line goes", ps[0].Fix)
			}
			indent := "  "
			if strings.Contains(tc.under, ".meet") {
				indent = "    "
			}
			fixed := applyEdits(lines, []edit{{tc.at, indent + line}})
			if _, err := topology.ParseYAML("topo.yaml", []byte(strings.Join(fixed, "\n"))); err != nil {
				t.Errorf("the proposed line %q does not work:\n%v", line, err)
			}
		})
	}
}

// TestSuggestionsUseTheTopologysDomains: every suggestion is made from the
// topology's own domains, never from a domain of the documentation.
func TestSuggestionsUseTheTopologysDomains(t *testing.T) {
	const head = "version: 1\nsip_domains: [litware.com]\n"
	const site = "sites:\n  - name: Lab\n    pools:\n      - {fqdn: pool01.litware.net, servers: [fe01.litware.net]}\n"
	cases := []struct {
		name, doc, rule, want string
	}{
		{"R83/dialin", head + "simple_urls: {meet: {litware.com: https://meet.litware.com}}\n" + site, "R83", "https://dialin.litware.com"},
		{"R83/meet", head + "simple_urls: {dialin: https://dialin.litware.com}\n" + site, "R83", "litware.com: https://meet.litware.com"},
		{"R84/http", head + "simple_urls: {meet: {litware.com: http://meet.litware.com}, dialin: https://dialin.litware.com}\n" + site, "R84", "https://meet.litware.com"},
		{"R84/pool-fqdn", head + "simple_urls: {meet: {litware.com: https://meet.litware.com}, dialin: https://pool01.litware.net/dialin}\n" + site, "R84", "https://dialin.litware.com"},
		{"dns-name/url-host", head + "simple_urls: {meet: {litware.com: https://meet}, dialin: https://dialin.litware.com}\n" + site, "dns-name", "https://meet.litware.com"},
		{"dns-name/server", head + "simple_urls: {meet: {litware.com: https://meet.litware.com}, dialin: https://dialin.litware.com}\n" + strings.Replace(site, "fe01.litware.net", "fe01", 1), "dns-name", "host.litware.com"},
		{"R84/suggestion-is-a-pool", head + "simple_urls: {meet: {litware.com: https://meet.litware.com}, dialin: https://dialin.litware.com}\n" + strings.Replace(site, "pool01.litware.net", "meet.litware.com", 1), "R84", "such as https://lync.litware.com/meet"},
		{"required/sip_domains", "version: 1\nsip_domains: []\nsimple_urls: {dialin: https://dialin.litware.com}\n" + site, "required", "sip_domains: [litware.net]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps := problemsOf(t, func() error { _, err := topology.ParseYAML("topo.yaml", []byte(tc.doc)); return err }())
			found := false
			for _, p := range ps {
				if strings.Contains(strings.ToLower(p.Fix), "contoso") || strings.Contains(strings.ToLower(p.Fix), "fabrikam") {
					t.Errorf("suggestion from the documentation's domains: %v", p)
				}
				found = found || p.Rule == tc.rule && strings.Contains(p.Fix, tc.want)
			}
			if !found {
				t.Errorf("want [%s] proposing %q, got:\n%v", tc.rule, tc.want, ps)
			}
		})
	}
}
