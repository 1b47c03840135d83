package topology_test

import (
	"encoding/binary"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"edgecert/examples"
	"edgecert/internal/topology"
)

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestContosoSample loads the real Topology Builder document.
func TestContosoSample(t *testing.T) {
	data := readExample(t, "contoso-sfb.tbxml")
	if !strings.HasPrefix(string(data), "\xEF\xBB\xBF") {
		t.Fatal("the sample lost its byte order mark")
	}
	topo, err := topology.ParseXML("contoso-sfb.tbxml", data, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(topo.SIPDomains, []string{"contoso.com"}) {
		t.Errorf("sip_domains = %v", topo.SIPDomains)
	}
	wantURLs := topology.SimpleURLs{Meet: map[string]string{"contoso.com": "https://meet.contoso.com"}, Dialin: "https://dialin.contoso.com"}
	if !reflect.DeepEqual(topo.SimpleURLs, wantURLs) {
		t.Errorf("simple_urls = %+v", topo.SimpleURLs)
	}
	if len(topo.Sites) != 1 || topo.Sites[0].Name != "Contoso" {
		t.Fatalf("sites = %+v", topo.Sites)
	}
	site := topo.Sites[0]
	wantEdge := topology.EdgePool{
		FQDN:           "edgepool.contoso.com",
		Servers:        []string{"xedge1.contoso.com", "xedge2.contoso.com", "xedge3.contoso.com"},
		LoadBalancing:  "dns",
		Access:         "externaledge.contoso.com",
		WebConf:        "externaledge.contoso.com",
		AV:             "externaledge.contoso.com",
		ExternalIssuer: "public",
	}
	if len(site.EdgePools) != 1 {
		t.Fatalf("edge pools = %+v", site.EdgePools)
	}
	got := site.EdgePools[0]
	got.Pos = topology.Pos{}
	if !reflect.DeepEqual(got, wantEdge) {
		t.Errorf("edge pool = %+v\nwant %+v", got, wantEdge)
	}
	if len(site.Pools) != 1 || len(site.Directors) != 0 {
		t.Fatalf("pools = %+v, directors = %+v", site.Pools, site.Directors)
	}
	pool := site.Pools[0]
	if pool.FQDN != "frontendpool.contoso.com" || len(pool.Servers) != 4 || pool.Servers[0] != "xfrontend1.contoso.com" ||
		pool.WebExternal != "frontendpool.contoso.com" || pool.WebInternal != "frontendpool.contoso.com" || pool.Standard {
		t.Errorf("pool = %+v", pool)
	}
	if !reflect.DeepEqual(site.WAC, []string{"xoffice1.contoso.com"}) || topo.OfficeWebApps != "xoffice1.contoso.com" {
		t.Errorf("wac = %v, office_web_apps = %q", site.WAC, topo.OfficeWebApps)
	}
	if p, e := pool.Pos, site.EdgePools[0].Pos; p.Line != 21 || p.Col != 13 || e.Line != 46 || e.Col != 13 {
		t.Errorf("positions: pool %+v, edge pool %+v, want lines 21 and 46, column 13", p, e)
	}
}

func TestContosoWithOverlay(t *testing.T) {
	topo, err := topology.ParseXML("contoso-sfb.tbxml", readExample(t, "contoso-sfb.tbxml"), readExample(t, "contoso-overlay.yaml"), "contoso-overlay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if topo.Organization.Name != "Contoso Ltd" || topo.Organization.Country != "US" || !topo.Mobility {
		t.Errorf("overlay not applied: %+v", topo)
	}
	rps := topo.Sites[0].ReverseProxies
	if len(rps) != 1 || !reflect.DeepEqual(rps[0].Publishes, []string{"frontendpool.contoso.com"}) || rps[0].Issuer != "public" {
		t.Errorf("reverse proxies = %+v", rps)
	}
	if topo.Overlay != "contoso-overlay.yaml" || topo.Source != "contoso-sfb.tbxml" {
		t.Errorf("source %q overlay %q", topo.Source, topo.Overlay)
	}
}

// TestGetCsTopologyXML reads the Get-CsTopology -AsXml form, where clusters
// and services are linked by ClusterId (SiteId, Number).
func TestGetCsTopologyXML(t *testing.T) {
	data, err := os.ReadFile("testdata/asxml.xml")
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Parse("asxml.xml", data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(topo.SIPDomains, []string{"fabrikam.com", "contoso.com"}) {
		t.Errorf("sip_domains = %v (the default domain comes first)", topo.SIPDomains)
	}
	if topo.SimpleURLs.Meet["fabrikam.com"] != "https://meet.fabrikam.com" || topo.SimpleURLs.Admin != "https://admin.contoso.com" {
		t.Errorf("simple_urls = %+v", topo.SimpleURLs)
	}
	s := topo.Sites[0]
	if s.Name != "Redmond" || len(s.Pools) != 1 || s.Pools[0].FQDN != "pool01.contoso.net" || s.Pools[0].WebExternal != "webext.contoso.com" {
		t.Errorf("pools = %+v", s.Pools)
	}
	if len(s.Directors) != 1 || s.Directors[0].FQDN != "dirpool.contoso.net" || s.Directors[0].WebExternal != "webdirext.contoso.com" {
		t.Errorf("directors = %+v", s.Directors)
	}
	e := s.EdgePools[0]
	if e.FQDN != "lsedge.contoso.net" || e.Access != "sip.contoso.com" || e.WebConf != "webcon.contoso.com" || e.AV != "av.contoso.com" || e.LoadBalancing != "dns" {
		t.Errorf("edge pool = %+v", e)
	}
	if topo.OfficeWebApps != "officewebapps01.contoso.com" {
		t.Errorf("office_web_apps = %q", topo.OfficeWebApps)
	}
}

// TestXMLEncodings: the same document in UTF-16 (what PowerShell's
// Out-File writes) and without a byte order mark gives the same topology.
func TestXMLEncodings(t *testing.T) {
	data := readExample(t, "contoso-sfb.tbxml")
	want, err := topology.Parse("x", data)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(string(data), "\xEF\xBB\xBF")
	units := utf16.Encode([]rune(body))
	le := []byte{0xFF, 0xFE}
	be := []byte{0xFE, 0xFF}
	for _, u := range units {
		le = binary.LittleEndian.AppendUint16(le, u)
		be = binary.BigEndian.AppendUint16(be, u)
	}
	for name, in := range map[string][]byte{"utf-8 without BOM": []byte(body), "utf-16le": le, "utf-16be": be} {
		t.Run(name, func(t *testing.T) {
			got, err := topology.Parse("x", in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Sites, want.Sites) || !reflect.DeepEqual(got.SIPDomains, want.SIPDomains) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestXMLRules: problems in a Topology Builder document carry its
// file:line:col (the column of the element's '<').
func TestXMLRules(t *testing.T) {
	base, err := os.ReadFile("testdata/asxml.xml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(base), "\n")
	cases := []struct {
		name  string
		edits []edit
		want  want
	}{
		{"R7/configured-fqdn", []edit{{85, strings.Replace(lines[84], "sip.contoso.com", "*.contoso.com", 1)}}, want{"R7", 85, "<Port", 0}},
		{"R83/missing-meet", []edit{{14, ""}, {15, ""}, {16, ""}}, want{"R83", 11, "<SimpleUrl", 0}},
		{"R84/port", []edit{{17, strings.Replace(lines[16], "admin.contoso.com", "admin.contoso.com:8443", 1)}}, want{"R84", 17, "<SimpleUrl", 0}},
		{"required/access", []edit{{85, strings.Replace(lines[84], ` ConfiguredFqdn="sip.contoso.com"`, "", 1)}}, want{"required", 35, "<Cluster", 0}},
		{"xml-reference", []edit{{81, `        <ClusterId SiteId="1" Number="9" />`}}, want{"xml-reference", 78, "<Service", 0}},
		{"server-in-two-pools", []edit{{33, strings.Replace(lines[32], "dir01", "fe01", 1)}}, want{"server-in-two-pools", 33, "<Machine", 0}},
		{"dns-name/machine", []edit{{37, strings.Replace(lines[36], "edge01", "edge_01", 1)}}, want{"dns-name", 37, "<Machine", 0}},
		{"duplicate-fqdn/web-external", []edit{{75, strings.Replace(lines[74], "webdirext", "webext", 1)}}, want{"duplicate-fqdn", 75, "<ExternalSettings", 0}},
		{"syntax", []edit{{30, "    </Clustr>"}}, want{"syntax", 30, "", 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := applyEdits(lines, tc.edits)
			_, err := topology.ParseXML("asxml.xml", []byte(strings.Join(doc, "\n")), nil, "")
			ps := problemsOf(t, err)
			col := 1
			if tc.want.at != "" {
				col = column(t, doc[tc.want.line-1], tc.want.at, 0)
			}
			if tc.want.rule == "syntax" {
				if ps[0].Rule != "syntax" || ps[0].Pos.Line != tc.want.line {
					t.Errorf("want [syntax] on line %d, got %v", tc.want.line, ps)
				}
				return
			}
			if !hasProblem(ps, "asxml.xml", tc.want.rule, tc.want.line, col) {
				t.Errorf("want [%s] at asxml.xml:%d:%d, got:\n%v", tc.want.rule, tc.want.line, col, ps)
			}
		})
	}
}

func TestNotATopologyDocument(t *testing.T) {
	for name, doc := range map[string]string{"other root": "<Foo/>", "garbage": "<<<", "empty": "  "} {
		t.Run(name, func(t *testing.T) {
			ps := problemsOf(t, func() error { _, err := topology.Parse("x.xml", []byte(doc)); return err }())
			if ps[0].Pos.File != "x.xml" || ps[0].Pos.Line < 1 {
				t.Errorf("problem without a position: %v", ps)
			}
		})
	}
}

// TestOverlay: an overlay's settings apply to the document, and its own
// problems carry the overlay's file:line:col.
func TestOverlay(t *testing.T) {
	base, err := os.ReadFile("testdata/asxml.xml")
	if err != nil {
		t.Fatal(err)
	}
	ov := `organization: {name: Contoso Ltd, country: us}
mobility: true
xmpp_domains: [Contoso.com]
public_im_aol: true
key: {algorithm: ECDSA, bits: 384}
office_web_apps: owa.contoso.com
edge_pools:
  - fqdn: LSEDGE.contoso.net
    load_balancing: hardware
    separate_av_certificate: true
    external_issuer: internal
sites:
  - name: redmond
    reverse_proxies:
      - name: rp1
        servers: [rp01.contoso.com, rp02.contoso.com]
        certificate: per-pool
`
	topo, err := topology.ParseXML("asxml.xml", base, []byte(ov), "extra.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := topo.Sites[0].EdgePools[0]
	if e.LoadBalancing != "hardware" || !e.SeparateAVCertificate || e.ExternalIssuer != "internal" {
		t.Errorf("edge settings not applied: %+v", e)
	}
	rp := topo.Sites[0].ReverseProxies
	if len(rp) != 1 || !reflect.DeepEqual(rp[0].Publishes, []string{"pool01.contoso.net", "dirpool.contoso.net"}) || rp[0].Certificate != "per-pool" {
		t.Errorf("reverse proxies = %+v", rp)
	}
	if topo.Organization.Country != "US" || !topo.Mobility || !topo.PublicIMAOL || topo.Key != (topology.KeySpec{Algorithm: "ECDSA", Bits: 384}) ||
		!slices.Equal(topo.XMPPDomains, []string{"contoso.com"}) || topo.OfficeWebApps != "owa.contoso.com" {
		t.Errorf("overlay settings not applied: %+v", topo)
	}
}

func TestOverlayRules(t *testing.T) {
	base, err := os.ReadFile("testdata/asxml.xml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, overlay string
		want          want
	}{
		{"unknown-site", "sites:\n  - name: Dublin\n    reverse_proxies: []\n", want{"unknown-site", 2, "Dublin", 0}},
		{"unknown-edge-pool", "edge_pools:\n  - fqdn: lsedge9.contoso.net\n", want{"unknown-edge-pool", 2, "lsedge9", 0}},
		{"unknown-key/not-in-overlay", "sip_domains: [contoso.com]\n", want{"unknown-key", 1, "sip_domains", 0}},
		{"unknown-key/site", "sites:\n  - name: Redmond\n    pools: []\n", want{"unknown-key", 3, "pools", 0}},
		{"enum/overlay-load-balancing", "edge_pools:\n  - fqdn: lsedge.contoso.net\n    load_balancing: roundrobin\n", want{"enum", 3, "roundrobin", 0}},
		{"publish-unknown-pool", "sites:\n  - name: Redmond\n    reverse_proxies:\n      - name: rp\n        servers: [rp01.contoso.com]\n        publishes: [officewebapps01.contoso.com]\n", want{"publish-unknown-pool", 6, "officewebapps01", 0}},
		{"combine-with-edge", "sites:\n  - name: Redmond\n    reverse_proxies:\n      - name: rp\n        servers: [rp01.contoso.com]\n        combine_with_edge: edge.contoso.net\n", want{"combine-with-edge", 6, "edge.contoso.net", 0}},
		{"type", "mobility: sure\n", want{"type", 1, "sure", 0}},
		{"unknown-key/simple_urls", "simple_urls:\n  meeting: {contoso.com: https://meet.contoso.com}\n", want{"unknown-key", 2, "meeting", 0}},
		{"R83/overlay-meet-not-sip-domain", "simple_urls:\n  meet:\n    litware.com: https://meet.litware.com\n", want{"R83", 3, "litware.com", 0}},
		{"R84/overlay-dialin-port", "simple_urls:\n  dialin: https://dialin.contoso.com:444\n", want{"R84", 2, "https", 0}},
		{"type/overlay-simple_urls", "simple_urls: https://meet.contoso.com\n", want{"type", 1, "https", 0}},
		{"version", "version: 3\n", want{"version", 1, "3", 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := topology.ParseXML("asxml.xml", base, []byte(tc.overlay), "extra.yaml")
			ps := problemsOf(t, err)
			line := strings.Split(tc.overlay, "\n")[tc.want.line-1]
			col := column(t, line, tc.want.at, 0)
			if !hasProblem(ps, "extra.yaml", tc.want.rule, tc.want.line, col) {
				t.Errorf("want [%s] at extra.yaml:%d:%d, got:\n%v", tc.want.rule, tc.want.line, col, ps)
			}
		})
	}
}

// TestProblemsFromBothFiles: a broken document and a broken overlay are
// reported together, the document's problems first.
func TestProblemsFromBothFiles(t *testing.T) {
	base, err := os.ReadFile("testdata/asxml.xml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(base), `ConfiguredFqdn="av.contoso.com"`, `ConfiguredFqdn="*.contoso.com"`, 1)
	_, err = topology.ParseXML("asxml.xml", []byte(doc), []byte("mobility: 1\nmobilty: true\n"), "extra.yaml")
	ps := problemsOf(t, err)
	var got []string
	for _, p := range ps {
		got = append(got, p.Pos.File+":"+p.Rule)
	}
	want := []string{"asxml.xml:R7", "extra.yaml:type", "extra.yaml:unknown-key"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestHardwareLoadBalancerInDocument(t *testing.T) {
	base, err := os.ReadFile("testdata/asxml.xml")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(base), `Fqdn="lsedge.contoso.net">`, `Fqdn="lsedge.contoso.net" IsHardwareLoadBalanced="true">`, 1)
	topo, err := topology.Parse("asxml.xml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if lb := topo.Sites[0].EdgePools[0].LoadBalancing; lb != "hardware" {
		t.Errorf("load_balancing = %q, want hardware", lb)
	}
}
