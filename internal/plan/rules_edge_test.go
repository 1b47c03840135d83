package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// Tests named after the rules of docs/rules.md that decide the
// edge certificates (R13–R40). Each fails when its rule is broken.

func TestR7_WildcardSubjectIsRefused(t *testing.T) {
	cases := map[string]func(*topology.Topology){
		"access":       func(tp *topology.Topology) { tp.Sites[0].EdgePools[0].Access = "*.contoso.com" },
		"edge fqdn":    func(tp *topology.Topology) { tp.Sites[0].EdgePools[0].FQDN = "*.contoso.net" },
		"web_external": func(tp *topology.Topology) { tp.Sites[0].Pools[0].WebExternal = "*.contoso.com" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			tp := contoso()
			mutate(tp)
			_, err := Build(tp)
			var ps topology.Problems
			if !errors.As(err, &ps) || !errors.Is(err, topology.ErrInvalid) {
				t.Fatalf("Build = %v, want topology.Problems", err)
			}
			if !slices.ContainsFunc(ps, func(p topology.Problem) bool { return p.Rule == "R7" }) {
				t.Errorf("problems %v lack R7", ps)
			}
		})
	}
}

func TestR13_EdgeExternalFromPublicCA(t *testing.T) {
	tp := edgeOnly()
	tp.Sites[0].EdgePools[0].ExternalIssuer = "" // default
	c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net")
	if c.Issuer != topology.IssuerPublic {
		t.Errorf("issuer = %q, want public", c.Issuer)
	}
	if !slices.Contains(c.Rules, "R13") {
		t.Errorf("rules %v lack R13", c.Rules)
	}
}

func TestR14_OneExternalCertificateServesThreeUsages(t *testing.T) {
	p := mustBuild(t, edgeOnly())
	if n := len(ofKind(p, KindEdgeExternal)); n != 1 {
		t.Fatalf("%d edge-external certificates, want 1", n)
	}
	c := cert(t, p, "edge-external/edge.contoso.net")
	want := []string{UsageAccessEdgeExternal, UsageAudioVideoAuthentication, UsageDataEdgeExternal}
	if !slices.Equal(c.Usages, want) {
		t.Errorf("usages = %v, want %v", c.Usages, want)
	}
}

func TestR15_ExternalSubjectIsAccessEdgeFQDN(t *testing.T) {
	tp := edgeOnly()
	tp.Sites[0].EdgePools[0].Access = "access.contoso.com" // L2: not sip.<domain>
	c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net")
	if c.Subject.CommonName != "access.contoso.com" {
		t.Errorf("CN = %q, want the access FQDN (M2)", c.Subject.CommonName)
	}
}

func TestR16_SubjectIsAlsoFirstSAN(t *testing.T) {
	for _, c := range mustBuild(t, contoso()).Certificates {
		if len(c.SANs) == 0 || c.SANs[0] != c.Subject.CommonName {
			t.Errorf("%s: SANs %v do not start with the subject %q", c.ID, c.SANs, c.Subject.CommonName)
		}
	}
}

func TestR17_ExternalSANsHaveAccessAndWebConf(t *testing.T) {
	c := cert(t, mustBuild(t, edgeOnly()), "edge-external/edge.contoso.net")
	for _, n := range []string{"sip.contoso.com", "webcon.contoso.com"} {
		if !hasName(c.SANs, n) {
			t.Errorf("SANs %v lack %s", c.SANs, n)
		}
	}
	if !slices.Contains(nameRules(c, "webcon.contoso.com"), "R17") {
		t.Errorf("webcon not explained by R17: %v", nameRules(c, "webcon.contoso.com"))
	}
}

func TestR18_SIPAccessNameForEverySIPDomain(t *testing.T) {
	tp := edgeOnly()
	tp.SIPDomains = []string{"contoso.com", "fabrikam.com", "litwareinc.com"}
	c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net")
	for _, d := range tp.SIPDomains {
		if !hasName(c.SANs, "sip."+d) || !slices.Contains(nameRules(c, "sip."+d), "R18") {
			t.Errorf("sip.%s missing or not from R18: %v", d, c.Names)
		}
	}
}

func TestR19_AVEdgeFQDNNotInExternalCertificate(t *testing.T) {
	for _, c := range mustBuild(t, contoso()).Certificates {
		if c.Kind != KindEdgeAV && hasName(c.SANs, "av.contoso.com") {
			t.Errorf("%s carries the A/V FQDN (M3): %v", c.ID, c.SANs)
		}
	}
}

func TestR20_SANsComparedCaseInsensitively(t *testing.T) {
	tp := edgeOnly()
	tp.Sites[0].EdgePools[0].Access = "SIP.Contoso.COM"
	c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net")
	n := 0
	for _, s := range c.SANs {
		if strings.EqualFold(s, "sip.contoso.com") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("sip.contoso.com appears %d times in %v, want once", n, c.SANs)
	}
	if rs := nameRules(c, "sip.contoso.com"); !slices.Contains(rs, "R15") || !slices.Contains(rs, "R18") {
		t.Errorf("merged name keeps rules of both sources, got %v", rs)
	}
}

func TestR22_NoWildcardOnEdgeInterfaces(t *testing.T) {
	tp := edgeOnly()
	tp.XMPPDomains = []string{"*.contoso.com"}
	if _, err := Build(tp); !errors.Is(err, topology.ErrInvalid) || !strings.Contains(err.Error(), "[R22]") {
		t.Fatalf("wildcard XMPP domain: Build = %v, want an R22 problem", err)
	}
	for _, c := range mustBuild(t, contoso()).Certificates {
		if strings.HasPrefix(c.Kind, "edge") && slices.ContainsFunc(c.SANs, isWildcard) {
			t.Errorf("%s has a wildcard SAN: %v", c.ID, c.SANs)
		}
	}
}

func TestR23_ClientAuthOnlyWithPublicIMAOL(t *testing.T) {
	tp := edgeOnly()
	c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net")
	if !slices.Equal(c.EKU, []string{EKUServerAuth}) {
		t.Errorf("without public IM: EKU = %v, want [serverAuth]", c.EKU)
	}
	tp.PublicIMAOL = true
	p := mustBuild(t, tp)
	c = cert(t, p, "edge-external/edge.contoso.net")
	if !slices.Equal(c.EKU, []string{EKUClientAuth, EKUServerAuth}) {
		t.Errorf("with public IM: EKU = %v, want clientAuth and serverAuth", c.EKU)
	}
	ws := warningsWith(p, "R23", c.ID)
	if len(ws) != 1 {
		t.Fatalf("want one R23 warning naming %s, got %q", c.ID, p.Warnings)
	}
	for _, s := range []string{"public CA", "2026", "server-authentication-only", "without Client Authentication", "internal CA"} {
		if !strings.Contains(ws[0], s) {
			t.Errorf("R23 warning lacks %q: %s", s, ws[0])
		}
	}
	tp.Sites[0].EdgePools[0].ExternalIssuer = "internal"
	if ws := warningsWith(mustBuild(t, tp), "R23", c.ID); len(ws) != 0 {
		t.Errorf("internal issuer: no clientAuth warning expected, got %q", ws)
	}
}

func TestR24_ClientAuthNeedsATemplateWithClientEKU(t *testing.T) {
	tp := edgeOnly()
	if c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net"); c.Template != TemplateWebServer {
		t.Errorf("template = %q, want WebServer (R12)", c.Template)
	}
	tp.PublicIMAOL = true
	if c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net"); c.Template != TemplateWebServerClientAuth {
		t.Errorf("template = %q, want %s", c.Template, TemplateWebServerClientAuth)
	}
}

func TestR25_XMPPDomainsAreExplicitSANs(t *testing.T) {
	tp := edgeOnly()
	c := cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net")
	if slices.Contains(c.Usages, UsageXMPPServer) {
		t.Errorf("no XMPP: usages %v must not hold XMPPServer", c.Usages)
	}
	tp.XMPPDomains = []string{"contoso.com", "corp.fabrikam.com"}
	c = cert(t, mustBuild(t, tp), "edge-external/edge.contoso.net")
	for _, x := range tp.XMPPDomains {
		if !hasName(c.SANs, x) || !slices.Contains(nameRules(c, x), "M4") {
			t.Errorf("XMPP domain %s missing or not from R25/M4: %v", x, c.Names)
		}
	}
	if !slices.Contains(c.Usages, UsageXMPPServer) {
		t.Errorf("usages %v lack XMPPServer", c.Usages)
	}
}

func TestR26_ExternalKeyAlwaysExportable(t *testing.T) {
	c := cert(t, mustBuild(t, edgeOnly()), "edge-external/edge.contoso.net")
	if len(c.Servers) != 1 || !c.Key.Exportable {
		t.Errorf("single edge server: servers %v exportable %v, want exportable", c.Servers, c.Key.Exportable)
	}
}

func TestR27_OneExternalCertificateSharedByThePool(t *testing.T) {
	tp := contoso()
	tp.Sites[0].EdgePools[0].Servers = []string{"edge03.contoso.net", "edge01.contoso.net", "edge02.contoso.net"}
	p := mustBuild(t, tp)
	ext := ofKind(p, KindEdgeExternal)
	if len(ext) != 1 {
		t.Fatalf("%d edge external certificates, want 1 per pool", len(ext))
	}
	want := []string{"edge01.contoso.net", "edge02.contoso.net", "edge03.contoso.net"}
	if !slices.Equal(ext[0].Servers, want) || !ext[0].Key.Exportable {
		t.Errorf("servers %v exportable %v, want %v and exportable", ext[0].Servers, ext[0].Key.Exportable, want)
	}
	// A shared external certificate whose key is not exportable is warned about.
	bad := *ext[0]
	bad.Key.Exportable = false
	if w := sharedKeyWarning(&bad); !strings.HasPrefix(w, "R27: ") || !strings.Contains(w, bad.ID) || !strings.Contains(w, "exportable") {
		t.Errorf("shared non-exportable warning = %q", w)
	}
}

func TestR28_SeparateAVCertificate(t *testing.T) {
	tp := contoso()
	tp.Sites[0].EdgePools[0].SeparateAVCertificate = true
	p := mustBuild(t, tp)
	av := cert(t, p, "edge-av/lsedge.contoso.net")
	if av.Subject.CommonName != "av.contoso.com" || !slices.Equal(av.SANs, []string{"av.contoso.com"}) {
		t.Errorf("A/V certificate subject %q SANs %v, want av.contoso.com (M3)", av.Subject.CommonName, av.SANs)
	}
	if !slices.Equal(av.Usages, []string{UsageAudioVideoAuthentication}) || !av.Key.Exportable {
		t.Errorf("A/V usages %v exportable %v", av.Usages, av.Key.Exportable)
	}
	if !slices.Equal(av.Servers, []string{"edge01.contoso.net", "edge02.contoso.net"}) {
		t.Errorf("A/V servers %v, want every edge server", av.Servers)
	}
	ext := cert(t, p, "edge-external/lsedge.contoso.net")
	if slices.Contains(ext.Usages, UsageAudioVideoAuthentication) {
		t.Errorf("external certificate still serves A/V: %v", ext.Usages)
	}
}

func TestR29_AccessCertificateServesAVByDefault(t *testing.T) {
	p := mustBuild(t, contoso())
	if n := len(ofKind(p, KindEdgeAV)); n != 0 {
		t.Errorf("%d separate A/V certificates without separate_av_certificate", n)
	}
	if c := cert(t, p, "edge-external/lsedge.contoso.net"); !slices.Contains(c.Usages, UsageAudioVideoAuthentication) {
		t.Errorf("usages %v lack AudioVideoAuthentication", c.Usages)
	}
}

func TestR33_OneInternalCertificatePerEdgePool(t *testing.T) {
	tp := contoso()
	second := tp.Sites[0].EdgePools[0]
	second.FQDN, second.Servers = "lsedge2.contoso.net", []string{"edge03.contoso.net"}
	second.Access, second.WebConf, second.AV = "sip2.contoso.com", "webcon2.contoso.com", "av2.contoso.com"
	tp.Sites[0].EdgePools = append(tp.Sites[0].EdgePools, second)
	p := mustBuild(t, tp)
	in := ofKind(p, KindEdgeInternal)
	if len(in) != 2 {
		t.Fatalf("%d internal certificates, want one per edge pool", len(in))
	}
	for _, c := range in {
		if !slices.Equal(c.Usages, []string{UsageInternal}) {
			t.Errorf("%s usages %v, want [Internal]", c.ID, c.Usages)
		}
	}
	seen := map[string]int{}
	for _, c := range in {
		for _, s := range c.Servers {
			seen[s]++
		}
	}
	for s, n := range seen {
		if n != 1 {
			t.Errorf("server %s has %d internal certificates, want exactly one", s, n)
		}
	}
}

func TestR34_InternalEdgeFromInternalCA(t *testing.T) {
	if c := cert(t, mustBuild(t, contoso()), "edge-internal/lsedge.contoso.net"); c.Issuer != topology.IssuerInternal {
		t.Errorf("issuer = %q, want internal (M12)", c.Issuer)
	}
}

func TestR35_InternalSubjectIsEdgeInternalFQDN(t *testing.T) {
	if c := cert(t, mustBuild(t, contoso()), "edge-internal/lsedge.contoso.net"); c.Subject.CommonName != "lsedge.contoso.net" {
		t.Errorf("CN = %q", c.Subject.CommonName)
	}
}

func TestR36_InternalEdgeSANIsOnlyItsSubject(t *testing.T) {
	c := cert(t, mustBuild(t, contoso()), "edge-internal/lsedge.contoso.net")
	if !slices.Equal(c.SANs, []string{"lsedge.contoso.net"}) {
		t.Errorf("SANs = %v, want only the subject (M5)", c.SANs)
	}
}

func TestR37_InternalEdgeHasServerEKU(t *testing.T) {
	c := cert(t, mustBuild(t, contoso()), "edge-internal/lsedge.contoso.net")
	if !slices.Equal(c.EKU, []string{EKUServerAuth}) || c.EKUCritical {
		t.Errorf("EKU = %v critical %v, want [serverAuth] not critical", c.EKU, c.EKUCritical)
	}
}

func TestR38_PoolInternalKeyIsExportable(t *testing.T) {
	if c := cert(t, mustBuild(t, contoso()), "edge-internal/lsedge.contoso.net"); !c.Key.Exportable {
		t.Error("two-server pool: internal key not exportable")
	}
	if c := cert(t, mustBuild(t, edgeOnly()), "edge-internal/edge.contoso.net"); c.Key.Exportable {
		t.Error("single server: internal key exportable, want not (M11)")
	}
}

func TestR39_RequestMadeOnTheFirstEdgeServer(t *testing.T) {
	tp := contoso()
	tp.Sites[0].EdgePools[0].Servers = []string{"edge09.contoso.net", "edge01.contoso.net"}
	p := mustBuild(t, tp)
	for _, id := range []string{"edge-internal/lsedge.contoso.net", "edge-external/lsedge.contoso.net"} {
		if c := cert(t, p, id); c.RequestOn != "edge09.contoso.net" {
			t.Errorf("%s: request_on = %q, want the first listed server", id, c.RequestOn)
		}
	}
}

func TestR40_InternalCertificatePerSite(t *testing.T) {
	tp := contoso()
	dublin := topology.Site{Name: "Dublin", EdgePools: []topology.EdgePool{{
		FQDN: "lsedge.dublin.contoso.net", Servers: []string{"edge11.contoso.net"},
		Access: "sip2.contoso.com", WebConf: "webcon2.contoso.com", AV: "av2.contoso.com",
	}}}
	tp.Sites = append(tp.Sites, dublin)
	p := mustBuild(t, tp)
	sites := map[string]string{}
	for _, c := range ofKind(p, KindEdgeInternal) {
		sites[c.Site] = c.ID
	}
	if sites["Redmond"] != "edge-internal/lsedge.contoso.net" || sites["Dublin"] != "edge-internal/lsedge.dublin.contoso.net" {
		t.Errorf("internal certificates by site = %v", sites)
	}
}

func TestR94_EdgeExternalInternalIssuerIsLabOnly(t *testing.T) {
	tp := edgeOnly()
	tp.Sites[0].EdgePools[0].ExternalIssuer = "internal"
	p := mustBuild(t, tp)
	c := cert(t, p, "edge-external/edge.contoso.net")
	if c.Issuer != topology.IssuerInternal {
		t.Errorf("issuer = %q, want internal (M12)", c.Issuer)
	}
	if len(warningsWith(p, "R94", c.ID)) != 1 {
		t.Errorf("want an R94 warning for %s, got %q", c.ID, p.Warnings)
	}
}
