package plan

import (
	"slices"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// Tests named after the internal-server rules (R66–R79) and the rules of
// section M that are not tied to one role.

func TestR66_ThreeCertificatesPerFrontEndServer(t *testing.T) {
	p := mustBuild(t, contoso())
	for _, srv := range []string{"fe01.contoso.net", "fe02.contoso.net", "dir01.contoso.net"} {
		for _, kind := range []string{KindDefault, KindWebInternal, KindWebExternal} {
			c := cert(t, p, kind+"/"+srv)
			if !slices.Equal(c.Servers, []string{srv}) || c.RequestOn != srv {
				t.Errorf("%s: servers %v request_on %q", c.ID, c.Servers, c.RequestOn)
			}
		}
	}
	if n := len(ofKind(p, KindDefault)); n != 3 {
		t.Errorf("%d Default certificates, want one per server", n)
	}
}

func TestR66_NoInternalCertificatesWithoutPools(t *testing.T) {
	p := mustBuild(t, edgeOnly())
	for _, c := range p.Certificates {
		if !strings.HasPrefix(c.Kind, "edge") {
			t.Errorf("edge-only topology plans %s", c.ID)
		}
	}
}

func TestR67_InternalServerKeysNotExportableFromInternalCA(t *testing.T) {
	for _, c := range mustBuild(t, contoso()).Certificates {
		switch c.Kind {
		case KindDefault, KindWebInternal, KindWebExternal:
			if c.Key.Exportable || c.Issuer != topology.IssuerInternal {
				t.Errorf("%s: exportable %v issuer %q, want not exportable, internal (M7)", c.ID, c.Key.Exportable, c.Issuer)
			}
		}
	}
}

func TestR68_DefaultCertificateNames(t *testing.T) {
	c := cert(t, mustBuild(t, contoso()), "default/fe01.contoso.net")
	want := []string{"pool01.contoso.net", "fe01.contoso.net", "sip.contoso.com", "sip.fabrikam.com"}
	if c.Subject.CommonName != "pool01.contoso.net" || !slices.Equal(c.SANs, want) {
		t.Errorf("CN %q SANs %v, want %v", c.Subject.CommonName, c.SANs, want)
	}
	if !slices.Equal(c.Usages, []string{UsageDefault}) {
		t.Errorf("usages %v", c.Usages)
	}
}

func TestR68_StandardEditionServerIsItsOwnPool(t *testing.T) {
	tp := edgeOnly()
	tp.Sites[0].Pools = []topology.Pool{{FQDN: "se01.contoso.net", Standard: true, WebExternal: "webext.contoso.com"}}
	c := cert(t, mustBuild(t, tp), "default/se01.contoso.net")
	if !slices.Equal(c.SANs, []string{"se01.contoso.net", "sip.contoso.com"}) {
		t.Errorf("SANs %v", c.SANs)
	}
}

// TestR70_StandardEditionWebExternalIsItsOwnFQDN: Topology Builder's
// default external web FQDN of a Standard Edition server is the server's
// own FQDN; the loader accepts it and the web external certificate carries
// it as its subject and first SAN.
func TestR70_StandardEditionWebExternalIsItsOwnFQDN(t *testing.T) {
	const doc = `version: 1
sip_domains: [fabrikam.com]
simple_urls: {meet: {fabrikam.com: https://meet.fabrikam.com}, dialin: https://dialin.fabrikam.com}
sites:
  - name: Lab
    pools:
      - {fqdn: se01.fabrikam.com, servers: [se01.fabrikam.com], web_external: se01.fabrikam.com}
`
	tp, err := topology.ParseYAML("se.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := cert(t, mustBuild(t, tp), "web-external/se01.fabrikam.com")
	if c.Subject.CommonName != "se01.fabrikam.com" || len(c.SANs) == 0 || c.SANs[0] != "se01.fabrikam.com" {
		t.Errorf("subject %q, SANs %v", c.Subject.CommonName, c.SANs)
	}
	if !slices.Contains(nameRules(c, "se01.fabrikam.com"), "R70") {
		t.Errorf("se01.fabrikam.com not recorded as the external web FQDN (R70): %v", c.Names)
	}
}

func TestR69_WebInternalNames(t *testing.T) {
	c := cert(t, mustBuild(t, contoso()), "web-internal/fe01.contoso.net")
	for _, n := range []string{"webint.contoso.net", "fe01.contoso.net", "pool01.contoso.net", "meet.contoso.com", "meet.fabrikam.com", "dialin.contoso.com", "admin.contoso.com"} {
		if !hasName(c.SANs, n) || !slices.Contains(nameRules(c, n), "R69") {
			t.Errorf("%s missing or not from R69: %v", n, c.Names)
		}
	}
}

func TestR70_WebExternalNames(t *testing.T) {
	c := cert(t, mustBuild(t, contoso()), "web-external/fe01.contoso.net")
	for _, n := range []string{"webext.contoso.com", "meet.contoso.com", "meet.fabrikam.com", "dialin.contoso.com"} {
		if !hasName(c.SANs, n) || !slices.Contains(nameRules(c, n), "R70") {
			t.Errorf("%s missing or not from R70: %v", n, c.Names)
		}
	}
	if hasName(c.SANs, "admin.contoso.com") {
		t.Errorf("web external carries the admin URL (R54): %v", c.SANs)
	}
}

func TestR71_DirectorHasItsThreeCertificates(t *testing.T) {
	p := mustBuild(t, contoso())
	for _, kind := range []string{KindDefault, KindWebInternal, KindWebExternal} {
		c := cert(t, p, kind+"/dir01.contoso.net")
		if c.Subject.CommonName != "dirpool.contoso.net" || !slices.Contains(c.Rules, "R71") {
			t.Errorf("%s: CN %q rules %v", c.ID, c.Subject.CommonName, c.Rules)
		}
	}
	if c := cert(t, p, "web-external/dir01.contoso.net"); !hasName(c.SANs, "webdirext.contoso.com") {
		t.Errorf("Director web external SANs %v", c.SANs)
	}
}

func TestR75_MobilityDiscoverNamesOnWebCertificates(t *testing.T) {
	p := mustBuild(t, contoso())
	for _, srv := range []string{"fe01.contoso.net", "dir01.contoso.net"} {
		in := cert(t, p, "web-internal/"+srv)
		ex := cert(t, p, "web-external/"+srv)
		for _, d := range []string{"contoso.com", "fabrikam.com"} {
			if !hasName(in.SANs, "lyncdiscoverinternal."+d) || hasName(in.SANs, "lyncdiscover."+d) {
				t.Errorf("%s SANs %v: want lyncdiscoverinternal.%s only (M8)", in.ID, in.SANs, d)
			}
			if !hasName(ex.SANs, "lyncdiscover."+d) || hasName(ex.SANs, "lyncdiscoverinternal."+d) {
				t.Errorf("%s SANs %v: want lyncdiscover.%s only (M8)", ex.ID, ex.SANs, d)
			}
		}
	}
	tp := contoso()
	tp.Mobility = false
	for _, c := range mustBuild(t, tp).Certificates {
		if slices.ContainsFunc(c.SANs, func(s string) bool { return strings.HasPrefix(s, "lyncdiscover") }) {
			t.Errorf("mobility off: %s has %v", c.ID, c.SANs)
		}
	}
}

func TestR78_OneGlobalOAuthCertificateOnEveryFrontEnd(t *testing.T) {
	tp := contoso()
	tp.Sites = append(tp.Sites, topology.Site{Name: "Dublin", Pools: []topology.Pool{{FQDN: "pool02.contoso.net", Servers: []string{"fe03.contoso.net"}}}})
	p := mustBuild(t, tp)
	oa := ofKind(p, KindOAuth)
	if len(oa) != 1 || oa[0].ID != "oauth/global" {
		t.Fatalf("OAuth certificates %v, want one oauth/global", oa)
	}
	c := oa[0]
	if !slices.Equal(c.Servers, []string{"fe01.contoso.net", "fe02.contoso.net", "fe03.contoso.net"}) {
		t.Errorf("servers %v, want every Front End server", c.Servers)
	}
	if !c.Key.Exportable || !slices.Equal(c.Usages, []string{UsageOAuthTokenIssuer}) {
		t.Errorf("exportable %v usages %v", c.Key.Exportable, c.Usages)
	}
	if p.Certificates[len(p.Certificates)-1].ID != "oauth/global" {
		t.Errorf("global certificate is not last")
	}
	if n := len(ofKind(mustBuild(t, edgeOnly()), KindOAuth)); n != 0 {
		t.Errorf("no Front End: %d OAuth certificates", n)
	}
}

func TestR79_OAuthAtLeast2048BitsWithTheSIPDomainAsSubject(t *testing.T) {
	cases := []struct {
		name string
		key  topology.KeySpec
		want Key
	}{
		{"default", topology.KeySpec{}, Key{Algorithm: "RSA", Bits: 2048, Exportable: true}},
		{"rsa4096", topology.KeySpec{Algorithm: "RSA", Bits: 4096}, Key{Algorithm: "RSA", Bits: 4096, Exportable: true}},
		{"rsa1024", topology.KeySpec{Algorithm: "RSA", Bits: 1024}, Key{Algorithm: "RSA", Bits: 2048, Exportable: true}},
		{"ecdsa", topology.KeySpec{Algorithm: "ECDSA", Bits: 256}, Key{Algorithm: "RSA", Bits: 2048, Exportable: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tp := contoso()
			tp.Key = tc.key
			c := cert(t, mustBuild(t, tp), "oauth/global")
			if c.Key != tc.want {
				t.Errorf("key = %+v, want %+v (M10)", c.Key, tc.want)
			}
			if c.Subject.CommonName != "contoso.com" {
				t.Errorf("CN = %q, want the default SIP domain", c.Subject.CommonName)
			}
		})
	}
}

func TestR9_FriendlyNamesUniqueInEveryServerStore(t *testing.T) {
	tp := contoso()
	tp.Sites[0].EdgePools[0].SeparateAVCertificate = true
	checkFriendlyNames(t, mustBuild(t, tp))
	// Two certificates on one server with the same name: the later is numbered.
	certs := []Certificate{
		{ID: "a", FriendlyName: "Web", Servers: []string{"s1"}},
		{ID: "b", FriendlyName: "Web", Servers: []string{"s1", "s2"}},
		{ID: "c", FriendlyName: "Web", Servers: []string{"s3"}},
	}
	uniqueFriendlyNames(certs)
	if certs[0].FriendlyName != "Web" || certs[1].FriendlyName != "Web (2)" || certs[2].FriendlyName != "Web" {
		t.Errorf("friendly names %q %q %q", certs[0].FriendlyName, certs[1].FriendlyName, certs[2].FriendlyName)
	}
}

// checkFriendlyNames fails t when two certificates on one server share a friendly name.
func checkFriendlyNames(t *testing.T, p *Plan) {
	t.Helper()
	seen := map[string]string{}
	for _, c := range p.Certificates {
		for _, s := range c.Servers {
			k := s + "|" + strings.ToLower(c.FriendlyName)
			if prev, ok := seen[k]; ok {
				t.Errorf("server %s: %s and %s share friendly name %q", s, prev, c.ID, c.FriendlyName)
			}
			seen[k] = c.ID
		}
	}
}

func TestR10_SharedCertificateWithoutExportableKeyIsWarned(t *testing.T) {
	c := &Certificate{ID: "reverse-proxy/rp", Kind: KindReverseProxy, Servers: []string{"rp01", "rp02"}}
	if w := sharedKeyWarning(c); !strings.HasPrefix(w, "R10: certificate reverse-proxy/rp") {
		t.Errorf("warning = %q", w)
	}
	c.Key.Exportable = true
	if w := sharedKeyWarning(c); w != "" {
		t.Errorf("exportable: warning %q", w)
	}
	for _, c := range mustBuild(t, contoso()).Certificates {
		if len(c.Servers) > 1 && !c.Key.Exportable {
			t.Errorf("%s is shared by %v but not exportable", c.ID, c.Servers)
		}
	}
}

func TestM1_SANOrderByRuleThenAlphabetical(t *testing.T) {
	tp := edgeOnly()
	tp.SIPDomains = []string{"zeta.com", "alpha.com", "contoso.com"}
	tp.XMPPDomains = []string{"zeta.com", "beta.com"}
	c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net")
	want := []string{"sip.contoso.com", "webcon.contoso.com", "sip.alpha.com", "sip.zeta.com", "beta.com", "zeta.com"}
	if !slices.Equal(c.SANs, want) {
		t.Errorf("SANs = %v, want %v", c.SANs, want)
	}
}

func TestM5_SubjectIsFirstSANForEveryKind(t *testing.T) {
	tp := contoso()
	tp.Sites[0].EdgePools[0].SeparateAVCertificate = true
	kinds := map[string]bool{}
	for _, c := range mustBuild(t, tp).Certificates {
		kinds[c.Kind] = true
		if c.SANs[0] != c.Subject.CommonName || len(c.Names) != len(c.SANs) || c.Names[0].Name != c.SANs[0] {
			t.Errorf("%s: CN %q SANs %v names %v", c.ID, c.Subject.CommonName, c.SANs, c.Names)
		}
	}
	if len(kinds) != 8 {
		t.Errorf("fixture covers %d kinds, want 8: %v", len(kinds), kinds)
	}
}

func TestM11_ExportableExactlyWhenTheKeyLeavesItsComputer(t *testing.T) {
	tp := contoso()
	tp.Sites[0].EdgePools[0].SeparateAVCertificate = true
	for _, c := range mustBuild(t, tp).Certificates {
		always := c.Kind == KindEdgeExternal || c.Kind == KindEdgeAV || c.Kind == KindEdgeExternalAndProxy || c.Kind == KindOAuth
		want := always || len(c.Servers) > 1
		if c.Key.Exportable != want {
			t.Errorf("%s (%d servers): exportable %v, want %v", c.ID, len(c.Servers), c.Key.Exportable, want)
		}
	}
}

func TestM12_IssuerByKind(t *testing.T) {
	want := map[string]string{
		KindEdgeInternal: "internal", KindEdgeExternal: "public", KindReverseProxy: "public",
		KindDefault: "internal", KindWebInternal: "internal", KindWebExternal: "internal", KindOAuth: "internal",
	}
	for _, c := range mustBuild(t, contoso()).Certificates {
		if c.Issuer != want[c.Kind] {
			t.Errorf("%s: issuer %q, want %q", c.ID, c.Issuer, want[c.Kind])
		}
	}
}

func TestKeyFromTopology(t *testing.T) {
	tp := contoso()
	tp.Key = topology.KeySpec{Algorithm: "ecdsa", Bits: 384}
	c := cert(t, mustBuild(t, tp), "edge-internal/lsedge.contoso.net")
	if c.Key.Algorithm != "ECDSA" || c.Key.Bits != 384 {
		t.Errorf("key %+v", c.Key)
	}
	if !slices.Equal(c.KeyUsage, []string{KUDigitalSignature}) {
		t.Errorf("ECDSA key usage %v, want digitalSignature only", c.KeyUsage)
	}
}

func TestRulesSortedRBeforeM(t *testing.T) {
	got := sortRules([]string{"M11", "R38", "M5", "R33", "R5", "L3", "R35", "R38", ""})
	if want := []string{"R5", "R33", "R35", "R38", "L3", "M5", "M11"}; !slices.Equal(got, want) {
		t.Errorf("sortRules = %v, want %v", got, want)
	}
}

func TestPlanOrderBySiteKindID(t *testing.T) {
	tp := contoso()
	tp.Sites = append([]topology.Site{{Name: "Zurich", EdgePools: []topology.EdgePool{{
		FQDN: "edge.zurich.contoso.net", Servers: []string{"edge21.contoso.net"},
		Access: "sip3.contoso.com", WebConf: "webcon3.contoso.com", AV: "av3.contoso.com",
	}}}}, tp.Sites...)
	p := mustBuild(t, tp)
	for i := 1; i < len(p.Certificates); i++ {
		a, b := p.Certificates[i-1], p.Certificates[i]
		if a.Site == b.Site && (kindOrder[a.Kind] > kindOrder[b.Kind] || kindOrder[a.Kind] == kindOrder[b.Kind] && a.ID >= b.ID) {
			t.Errorf("%s before %s", a.ID, b.ID)
		}
		if a.Site != b.Site && b.Site != "" && a.Site > b.Site {
			t.Errorf("site %s before %s", a.Site, b.Site)
		}
	}
	if p.Certificates[0].Site != "Redmond" {
		t.Errorf("first site %q, want Redmond (sorted)", p.Certificates[0].Site)
	}
}

func TestEndpoints(t *testing.T) {
	p := mustBuild(t, contoso())
	want := map[string][]string{
		"edge-internal/lsedge.contoso.net": {"lsedge.contoso.net:5061"},
		"edge-external/lsedge.contoso.net": {"sip.contoso.com:443", "webcon.contoso.com:443"},
		"default/fe01.contoso.net":         {"fe01.contoso.net:5061"},
		"oauth/global":                     nil,
	}
	for id, w := range want {
		if got := cert(t, p, id).Endpoints; !slices.Equal(got, w) {
			t.Errorf("%s endpoints %v, want %v", id, got, w)
		}
	}
	rp := cert(t, p, "reverse-proxy/rp-redmond")
	if len(rp.Endpoints) != len(rp.SANs) || !slices.Contains(rp.Endpoints, "webext.contoso.com:443") {
		t.Errorf("reverse proxy endpoints %v", rp.Endpoints)
	}
}

func TestWarningsStartWithRuleAndNameACertificate(t *testing.T) {
	tp := contoso()
	tp.PublicIMAOL = true
	tp.SimpleURLs.Admin = "https://dialin.contoso.com/admin"
	p := mustBuild(t, tp)
	if len(p.Warnings) < 4 {
		t.Fatalf("want R23, M6, R54 and R65 warnings, got %q", p.Warnings)
	}
	for _, w := range p.Warnings {
		rule, _, ok := strings.Cut(w, ": ")
		if !ok || (rule[0] != 'R' && rule[0] != 'M') {
			t.Errorf("warning does not start with a rule id: %q", w)
		}
		if !slices.ContainsFunc(p.Certificates, func(c Certificate) bool { return strings.Contains(w, c.ID) }) {
			t.Errorf("warning names no certificate: %q", w)
		}
	}
}

// TestLoaderWarningsComeFirst: what the loader filled in (such as Topology
// Builder's default simple URLs) is in the plan's warnings, before the
// plan's own.
func TestLoaderWarningsComeFirst(t *testing.T) {
	tp := contoso()
	tp.PublicIMAOL = true
	tp.Warnings = []string{"R83: the Topology Builder document has no simple URLs: the dial-in URL is Topology Builder's default https://dialin.contoso.com"}
	p := mustBuild(t, tp)
	if len(p.Warnings) < 2 || p.Warnings[0] != tp.Warnings[0] {
		t.Errorf("warnings = %q, want the loader's first", p.Warnings)
	}
}

func TestBuildNil(t *testing.T) {
	if _, err := Build(nil); err == nil {
		t.Fatal("Build(nil) succeeded")
	}
}

func TestBuildReportsEveryProblem(t *testing.T) {
	tp := contoso()
	tp.Sites[0].ReverseProxies[0].Publishes = []string{"nosuch.contoso.net"}
	tp.Sites[0].EdgePools[0].Access = "*.contoso.com"
	_, err := Build(tp)
	ps, ok := err.(topology.Problems)
	if !ok || len(ps) < 2 {
		t.Fatalf("Build = %v, want at least two problems", err)
	}
}
