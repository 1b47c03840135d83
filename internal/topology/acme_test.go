package topology_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/topology"
)

// acmeBase is a small YAML topology the ACME tests add a block to.
const acmeBase = `version: 1
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
`

// acmeSpec is the block of ../shared/spec/topology.md, as written there.
const acmeSpec = `acme:
  directory: https://acme-v02.api.letsencrypt.org/directory
  contact: [mailto:pki@contoso.com]
  accept_tos: true
  eab: {kid: KEYID, hmac_file: eab.key}
  profile: tlsserver
  directory_ca: pebble-ca.pem
  trusted_roots: acme-roots.pem
  resolvers: [192.0.2.53:53]
  challenges:
    - domains: [contoso.com]
      dns01:
        rfc2136: {server: 192.0.2.53:53, zone: contoso.com., tsig_key: acme-update, tsig_algorithm: hmac-sha256, tsig_secret_file: tsig.key}
    - domains: [fabrikam.com]
      dns01: {hook: /usr/local/lib/edgecert/dns-hook}
    - names: [webext.contoso.com, meet.contoso.com, dialin.contoso.com, lyncdiscover.contoso.com]
      http01: {webroot: /var/lib/edgecert/acme}
`

func TestACMEBlockAsSpecified(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "topo.yaml")
	if err := os.WriteFile(path, []byte(acmeBase+acmeSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load(path, "")
	if err != nil {
		t.Fatal(err)
	}
	a := topo.ACME
	if a == nil {
		t.Fatal("the acme block was not read")
	}
	if a.Directory != "https://acme-v02.api.letsencrypt.org/directory" || !a.AcceptTOS || a.Profile != "tlsserver" ||
		len(a.Contact) != 1 || a.Contact[0] != "mailto:pki@contoso.com" || len(a.Resolvers) != 1 {
		t.Errorf("acme block read as %+v", a)
	}
	if a.EAB == nil || a.EAB.KID != "KEYID" || a.EAB.HMACFile != filepath.Join(dir, "eab.key") {
		t.Errorf("eab = %+v, want its file relative to the topology", a.EAB)
	}
	if a.DirectoryCA != filepath.Join(dir, "pebble-ca.pem") || a.TrustedRoots != filepath.Join(dir, "acme-roots.pem") {
		t.Errorf("directory_ca %q, trusted_roots %q: want them relative to the topology", a.DirectoryCA, a.TrustedRoots)
	}
	rfc := a.Challenges[0].DNS01.RFC2136
	if rfc == nil || rfc.Server != "192.0.2.53:53" || rfc.Zone != "contoso.com." || rfc.TSIGKey != "acme-update" ||
		rfc.TSIGAlgorithm != "hmac-sha256" || rfc.TSIGSecretFile != filepath.Join(dir, "tsig.key") {
		t.Errorf("rfc2136 = %+v", rfc)
	}
	if h := a.Challenges[1].DNS01; h == nil || h.Hook != "/usr/local/lib/edgecert/dns-hook" {
		t.Errorf("hook = %+v", h)
	}
	if w := a.Challenges[2].HTTP01; w == nil || w.Webroot != "/var/lib/edgecert/acme" {
		t.Errorf("http01 = %+v", w)
	}
	for _, tc := range []struct {
		name string
		rule int // -1: none
	}{
		{"sip.contoso.com", 0},
		{"contoso.com", 0},
		{"webext.contoso.com", 0}, // first match wins: the domain rule comes first
		{"meet.fabrikam.com", 1},
		{"notcontoso.com", -1},
		{"example.org", -1},
	} {
		got := a.Rule(tc.name)
		switch {
		case tc.rule < 0 && got != nil:
			t.Errorf("%s matched a rule", tc.name)
		case tc.rule >= 0 && got != &a.Challenges[tc.rule]:
			t.Errorf("%s: got rule %v, want %d", tc.name, got, tc.rule)
		}
	}
}

func TestACMEBlockInOverlay(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "topo.yaml")
	sub := filepath.Join(dir, "ov")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(sub, "overlay.yaml")
	if err := os.WriteFile(base, []byte(acmeBase), 0o600); err != nil {
		t.Fatal(err)
	}
	ov := "acme:\n  directory: https://acme.test/dir\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com]\n      dns01:\n        rfc2136: {server: 127.0.0.1:53, zone: contoso.com, tsig_key: k, tsig_secret_file: tsig.key}\n"
	if err := os.WriteFile(overlay, []byte(ov), 0o600); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load(base, overlay)
	if err != nil {
		t.Fatal(err)
	}
	rfc := topo.ACME.Challenges[0].DNS01.RFC2136
	if rfc.TSIGSecretFile != filepath.Join(sub, "tsig.key") || rfc.Zone != "contoso.com." || rfc.TSIGAlgorithm != "hmac-sha256" {
		t.Errorf("overlay rfc2136 = %+v: want the secret relative to the overlay, the zone with its dot, hmac-sha256", rfc)
	}
	if topo, err := topology.Load(base, ""); err != nil || topo.ACME != nil {
		t.Errorf("a topology without the block has ACME %+v (%v)", topo.ACME, err)
	}
}

func TestACMEBlockProblems(t *testing.T) {
	for _, tc := range []struct {
		name, block, want string
	}{
		{"no directory", "acme:\n  accept_tos: true\n  challenges: [{domains: [contoso.com], http01: {webroot: w}}]\n", "t.yaml:19:1: [acme] acme.directory is required"},
		{"http directory", "acme:\n  directory: http://acme.test/dir\n  accept_tos: true\n  challenges: [{domains: [contoso.com], http01: {webroot: w}}]\n", `t.yaml:20:14: [acme] acme.directory "http://acme.test/dir" is not an https URL`},
		{"tos false", "acme:\n  directory: https://a.test/d\n  accept_tos: false\n  challenges: [{domains: [contoso.com], http01: {webroot: w}}]\n", "t.yaml:21:15: [acme] acme.accept_tos must be true"},
		{"unknown key", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  directry: x\n  challenges: [{domains: [contoso.com], http01: {webroot: w}}]\n", `t.yaml:22:3: [unknown-key] unknown key "directry" in acme; did you mean "directory"?`},
		{"no challenges", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n", "t.yaml:19:1: [acme] acme.challenges lists no rule"},
		{"both challenges", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com]\n      http01: {webroot: w}\n      dns01: {hook: h}\n", "t.yaml:24:7: [acme] a challenge rule has both dns01 and http01"},
		{"rfc2136 missing secret", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com]\n      dns01:\n        rfc2136: {server: 127.0.0.1:53, zone: contoso.com., tsig_key: k}\n", "t.yaml:25:9: [acme] rfc2136.tsig_secret_file is required"},
		{"secret inline", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com]\n      dns01:\n        rfc2136: {server: 127.0.0.1:53, zone: contoso.com., tsig_key: k, tsig_secret: abc}\n", `t.yaml:25:74: [unknown-key] unknown key "tsig_secret" in dns01.rfc2136`},
		{"bad algorithm", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com]\n      dns01:\n        rfc2136: {server: 127.0.0.1:53, zone: contoso.com., tsig_key: k, tsig_secret_file: f, tsig_algorithm: hmac-md5}\n", `[acme] unknown tsig_algorithm "hmac-md5"`},
		{"server without port", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com]\n      dns01:\n        rfc2136: {server: 127.0.0.1, zone: contoso.com., tsig_key: k, tsig_secret_file: f}\n", `[acme] rfc2136.server "127.0.0.1" is not host:port`},
		{"wildcard name", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  challenges: [{names: ['*.contoso.com'], http01: {webroot: w}}]\n", `[acme] "*.contoso.com" is not a DNS name`},
		{"bad contact", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  contact: [pki@contoso.com]\n  challenges: [{domains: [contoso.com], http01: {webroot: w}}]\n", `t.yaml:22:13: [acme] acme.contact "pki@contoso.com" is not a mailto: URL`},
		{"eab without file", "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  eab: {kid: K}\n  challenges: [{domains: [contoso.com], http01: {webroot: w}}]\n", "t.yaml:22:3: [acme] acme.eab.hmac_file is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := topology.Parse("t.yaml", []byte(acmeBase+tc.block))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant a problem containing %q", err, tc.want)
			}
		})
	}
}

// A Topology Builder document gets its acme block from the overlay.
func TestACMEBlockInOverlayOfTopologyBuilderDocument(t *testing.T) {
	base, err := os.ReadFile("../../examples/contoso-overlay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	overlay := filepath.Join(dir, "overlay.yaml")
	ov := string(base) + "acme:\n  directory: https://acme.test/dir\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com]\n      dns01: {hook: ./dns-hook}\n"
	if err := os.WriteFile(overlay, []byte(ov), 0o600); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load("../../examples/contoso-sfb.tbxml", overlay)
	if err != nil {
		t.Fatal(err)
	}
	if topo.ACME == nil || topo.ACME.Challenges[0].DNS01.Hook != filepath.Join(dir, "dns-hook") {
		t.Errorf("acme from the overlay of a .tbxml: %+v (the hook relative to the overlay)", topo.ACME)
	}
}

// GSS-TSIG (Windows DNS's secure updates) takes a realm, a user and a
// keytab or a password file instead of a TSIG key.
func TestACMEGSSTSIG(t *testing.T) {
	block := "acme:\n  directory: https://a.test/d\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com]\n      dns01:\n        rfc2136: {server: 192.0.2.53:53, zone: contoso.com., tsig_algorithm: gss-tsig, gss_realm: CONTOSO.COM, gss_username: acme-dns%s}\n"
	topo, err := topology.Parse("/etc/edgecert/t.yaml", []byte(acmeBase+fmt.Sprintf(block, ", gss_keytab_file: acme.keytab")))
	if err != nil {
		t.Fatal(err)
	}
	rfc := topo.ACME.Challenges[0].DNS01.RFC2136
	if rfc.TSIGAlgorithm != "gss-tsig" || rfc.GSSRealm != "CONTOSO.COM" || rfc.GSSUsername != "acme-dns" || rfc.GSSKeytabFile != "/etc/edgecert/acme.keytab" {
		t.Errorf("gss-tsig read as %+v", rfc)
	}
	for _, extra := range []string{"", ", gss_keytab_file: k, gss_password_file: p"} {
		_, err := topology.Parse("t.yaml", []byte(acmeBase+fmt.Sprintf(block, extra)))
		if err == nil || !strings.Contains(err.Error(), "gss-tsig needs one of gss_keytab_file and gss_password_file") {
			t.Errorf("%q: got %v", extra, err)
		}
	}
}
