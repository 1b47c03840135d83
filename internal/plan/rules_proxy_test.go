package plan

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// Tests named after the reverse proxy rules (R50–R65) and the simple URL
// rules the planner applies (R85).

func TestR50_ReverseProxyCertificateFromPublicCAOnEveryProxyServer(t *testing.T) {
	tp := contoso()
	tp.Sites[0].ReverseProxies[0].Servers = []string{"rp01.contoso.com", "rp02.contoso.com"}
	tp.Sites[0].ReverseProxies[0].Issuer = ""
	c := cert(t, mustBuild(t, tp), "reverse-proxy/rp-redmond")
	if c.Issuer != topology.IssuerPublic {
		t.Errorf("issuer = %q, want public", c.Issuer)
	}
	if !slices.Equal(c.Servers, []string{"rp01.contoso.com", "rp02.contoso.com"}) {
		t.Errorf("servers = %v", c.Servers)
	}
	if !slices.Equal(c.Usages, []string{UsageWebServicesExternal}) {
		t.Errorf("usages = %v", c.Usages)
	}
}

func TestR52_ProxySubjectIsFirstPublishedWebExternal(t *testing.T) {
	tp := contoso()
	tp.Sites[0].ReverseProxies[0].Publishes = []string{"dirpool.contoso.net", "pool01.contoso.net"}
	c := cert(t, mustBuild(t, tp), "reverse-proxy/rp-redmond")
	if c.Subject.CommonName != "webdirext.contoso.com" || c.SANs[0] != "webdirext.contoso.com" {
		t.Errorf("CN %q SANs %v, want the first published web_external as subject and first SAN", c.Subject.CommonName, c.SANs)
	}
	tp.Sites[0].Pools[0].WebExternal = ""
	_, err := Build(tp)
	if !errors.Is(err, topology.ErrInvalid) || !strings.Contains(err.Error(), "no web_external") {
		t.Errorf("publishing a pool without web_external: Build = %v", err)
	}
}

func TestR53_ProxySANsCarryEveryPublishedName(t *testing.T) {
	c := cert(t, mustBuild(t, contoso()), "reverse-proxy/rp-redmond")
	want := []string{
		"webext.contoso.com", "webdirext.contoso.com", "meet.contoso.com", "meet.fabrikam.com",
		"dialin.contoso.com", "officewebapps01.contoso.com", "lyncdiscover.contoso.com", "lyncdiscover.fabrikam.com",
	}
	if !slices.Equal(c.SANs, want) {
		t.Errorf("SANs =\n %v\nwant\n %v", c.SANs, want)
	}
	for _, n := range want[1:] {
		if !slices.Contains(nameRules(c, n), "R53") {
			t.Errorf("%s not explained by R53: %v", n, nameRules(c, n))
		}
	}
	tp := contoso()
	tp.Mobility = false
	c = cert(t, mustBuild(t, tp), "reverse-proxy/rp-redmond")
	if slices.ContainsFunc(c.SANs, func(s string) bool { return strings.HasPrefix(s, "lyncdiscover") }) {
		t.Errorf("mobility off: SANs %v hold lyncdiscover", c.SANs)
	}
}

func TestR53_DefaultPublishesEveryPoolAndDirectorOfTheSite(t *testing.T) {
	tp := contoso()
	tp.Sites[0].ReverseProxies[0].Publishes = nil
	c := cert(t, mustBuild(t, tp), "reverse-proxy/rp-redmond")
	if c.SANs[0] != "webext.contoso.com" || !hasName(c.SANs, "webdirext.contoso.com") {
		t.Errorf("SANs %v, want the pool then the Director", c.SANs)
	}
}

func TestR54_AdminURLIsNeverPublished(t *testing.T) {
	p := mustBuild(t, contoso())
	for _, c := range p.Certificates {
		public := c.Kind == KindReverseProxy || c.Kind == KindWebExternal || strings.HasPrefix(c.Kind, "edge")
		if public && hasName(c.SANs, "admin.contoso.com") {
			t.Errorf("%s publishes the admin URL: %v", c.ID, c.SANs)
		}
	}
	if c := cert(t, p, "web-internal/fe01.contoso.net"); !hasName(c.SANs, "admin.contoso.com") {
		t.Errorf("internal web certificate lacks the admin URL (R69): %v", c.SANs)
	}
	if ws := warningsWith(p, "R54", ""); len(ws) != 0 {
		t.Errorf("unexpected R54 warnings: %q", ws)
	}
	tp := contoso()
	tp.SimpleURLs.Admin = "https://meet.contoso.com/admin"
	p = mustBuild(t, tp)
	if ws := warningsWith(p, "R54", "reverse-proxy/rp-redmond"); len(ws) != 1 || !strings.Contains(ws[0], "internal only") {
		t.Errorf("admin URL sharing a published host: warnings %q", p.Warnings)
	}
}

func TestR56_ProxyEKUAndKeyUsage(t *testing.T) {
	c := cert(t, mustBuild(t, contoso()), "reverse-proxy/rp-redmond")
	if !slices.Equal(c.EKU, []string{EKUClientAuth, EKUServerAuth}) || c.EKUCritical {
		t.Errorf("EKU %v critical %v, want serverAuth+clientAuth not critical (M6)", c.EKU, c.EKUCritical)
	}
	if !slices.Equal(c.KeyUsage, []string{KUDigitalSignature, KUKeyEncipherment}) || !c.KeyUsageCritical {
		t.Errorf("KU %v critical %v, want digitalSignature+keyEncipherment critical", c.KeyUsage, c.KeyUsageCritical)
	}
	if c.Template != TemplateWebServerClientAuth {
		t.Errorf("template = %q", c.Template)
	}
}

func TestM6_PublicProxyClientAuthIsWarned(t *testing.T) {
	p := mustBuild(t, contoso())
	ws := warningsWith(p, "M6", "reverse-proxy/rp-redmond")
	if len(ws) != 1 || !strings.Contains(ws[0], "Server Authentication only") || !strings.Contains(ws[0], "internal CA") {
		t.Errorf("want one M6 warning naming both choices, got %q", p.Warnings)
	}
	tp := contoso()
	tp.Sites[0].ReverseProxies[0].Issuer = "internal"
	if ws := warningsWith(mustBuild(t, tp), "M6", ""); len(ws) != 0 {
		t.Errorf("internal issuer: %q", ws)
	}
}

func TestR58_ProxyFarmKeyIsExportable(t *testing.T) {
	tp := contoso()
	if c := cert(t, mustBuild(t, tp), "reverse-proxy/rp-redmond"); c.Key.Exportable {
		t.Error("single proxy server: key exportable, want not (M11)")
	}
	tp.Sites[0].ReverseProxies[0].Servers = []string{"rp01.contoso.com", "rp02.contoso.com"}
	if c := cert(t, mustBuild(t, tp), "reverse-proxy/rp-redmond"); !c.Key.Exportable {
		t.Error("proxy farm: key not exportable")
	}
}

func TestR59_OneCertificatePerPublishedPool(t *testing.T) {
	tp := contoso()
	tp.Sites[0].ReverseProxies[0].Certificate = "per-pool"
	p := mustBuild(t, tp)
	rps := ofKind(p, KindReverseProxy)
	if len(rps) != 2 {
		t.Fatalf("%d reverse proxy certificates, want one per published pool", len(rps))
	}
	pool := cert(t, p, "reverse-proxy/rp-redmond/pool01.contoso.net")
	dir := cert(t, p, "reverse-proxy/rp-redmond/dirpool.contoso.net")
	if pool.Subject.CommonName != "webext.contoso.com" || dir.Subject.CommonName != "webdirext.contoso.com" {
		t.Errorf("subjects %q, %q", pool.Subject.CommonName, dir.Subject.CommonName)
	}
	if !slices.Equal(dir.SANs, []string{"webdirext.contoso.com"}) {
		t.Errorf("Director certificate SANs %v, want only its own name", dir.SANs)
	}
	if !hasName(pool.SANs, "meet.contoso.com") || hasName(pool.SANs, "webdirext.contoso.com") {
		t.Errorf("first pool certificate SANs %v: want the shared names, not the Director's", pool.SANs)
	}
	if pool.FriendlyName == dir.FriendlyName {
		t.Errorf("friendly names collide: %q", pool.FriendlyName)
	}
}

func TestR60_EdgeAndProxyCombined(t *testing.T) {
	tp := contoso()
	tp.Sites[0].ReverseProxies[0].CombineWithEdge = "lsedge.contoso.net"
	p := mustBuild(t, tp)
	if n := len(ofKind(p, KindReverseProxy)) + len(ofKind(p, KindEdgeExternal)); n != 0 {
		t.Fatalf("%d separate edge external/reverse proxy certificates, want them combined", n)
	}
	c := cert(t, p, "edge-external+reverse-proxy/lsedge.contoso.net")
	if c.Kind != KindEdgeExternalAndProxy || c.Subject.CommonName != "sip.contoso.com" {
		t.Errorf("kind %q CN %q", c.Kind, c.Subject.CommonName)
	}
	for _, n := range []string{"sip.contoso.com", "webcon.contoso.com", "sip.fabrikam.com", "webext.contoso.com", "webdirext.contoso.com", "meet.contoso.com", "lyncdiscover.fabrikam.com"} {
		if !hasName(c.SANs, n) {
			t.Errorf("combined SANs %v lack %s", c.SANs, n)
		}
	}
	if !slices.Equal(c.Servers, []string{"edge01.contoso.net", "edge02.contoso.net", "rp01.contoso.com"}) {
		t.Errorf("servers = %v, want edge and proxy servers", c.Servers)
	}
	if !c.Key.Exportable || !slices.Contains(c.Usages, UsageWebServicesExternal) || !slices.Contains(c.Usages, UsageAccessEdgeExternal) {
		t.Errorf("exportable %v usages %v", c.Key.Exportable, c.Usages)
	}
	if c.RequestOn != "edge01.contoso.net" {
		t.Errorf("request_on = %q", c.RequestOn)
	}
	// Endpoints: the edge's Access and Web Conferencing listeners and every
	// name the proxy publishes, but not sip.<other domain>, which nothing serves.
	for _, e := range []string{"sip.contoso.com:443", "webcon.contoso.com:443", "webext.contoso.com:443", "meet.fabrikam.com:443"} {
		if !slices.Contains(c.Endpoints, e) {
			t.Errorf("endpoints %v lack %s", c.Endpoints, e)
		}
	}
	if slices.Contains(c.Endpoints, "sip.fabrikam.com:443") {
		t.Errorf("endpoints %v hold sip.fabrikam.com:443", c.Endpoints)
	}
	tp.Sites[0].ReverseProxies[0].CombineWithEdge = "nosuch.contoso.net"
	if _, err := Build(tp); !errors.Is(err, topology.ErrInvalid) || !strings.Contains(err.Error(), "[R60]") {
		t.Errorf("unknown edge pool: Build = %v", err)
	}
}

func TestR63_OfficeWebAppsFromTheSiteWhenNotGiven(t *testing.T) {
	tp := contoso()
	tp.OfficeWebApps = ""
	tp.Sites[0].WAC = []string{"xoffice1.contoso.com"}
	c := cert(t, mustBuild(t, tp), "reverse-proxy/rp-redmond")
	if !hasName(c.SANs, "xoffice1.contoso.com") || hasName(c.SANs, "officewebapps01.contoso.com") {
		t.Errorf("SANs %v", c.SANs)
	}
}

func TestR65_LyncDiscoverInAnotherDomainIsWarned(t *testing.T) {
	p := mustBuild(t, contoso())
	ws := warningsWith(p, "R65", "reverse-proxy/rp-redmond")
	if len(ws) != 1 || !strings.Contains(ws[0], "lyncdiscover.fabrikam.com") {
		t.Fatalf("want one R65 warning for fabrikam.com only, got %q", p.Warnings)
	}
	tp := contoso()
	tp.SIPDomains = []string{"contoso.com"}
	tp.SimpleURLs.Meet = map[string]string{"contoso.com": "https://meet.contoso.com"}
	if ws := warningsWith(mustBuild(t, tp), "R65", ""); len(ws) != 0 {
		t.Errorf("same domain: %q", ws)
	}
	tp.Mobility = false
	tp.Sites[0].Directors[0].WebExternal = "webdirext.contoso.net"
	if ws := warningsWith(mustBuild(t, tp), "R65", ""); len(ws) != 0 {
		t.Errorf("mobility off: %q", ws)
	}
}

func TestR85_SimpleURLBaseHost(t *testing.T) {
	tp := contoso()
	tp.SimpleURLs.Meet["contoso.com"] = "https://Lync.Contoso.com/Meet"
	tp.SimpleURLs.Dialin = "https://lync.contoso.com/Dialin"
	c := cert(t, mustBuild(t, tp), "reverse-proxy/rp-redmond")
	if !hasName(c.SANs, "lync.contoso.com") || hasName(c.SANs, "meet.contoso.com") {
		t.Errorf("SANs %v, want the base host lync.contoso.com once", c.SANs)
	}
	n := 0
	for _, s := range c.SANs {
		if s == "lync.contoso.com" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("lync.contoso.com appears %d times", n)
	}
}
