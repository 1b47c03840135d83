package windows

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"edgecert/examples"
	"edgecert/internal/plan"
	"edgecert/internal/topology"
)

var update = flag.Bool("update", false, "rewrite the golden scripts in testdata/")

func fakeThumb(s string) string {
	sum := sha1.Sum([]byte(s))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func loadPlan(t testing.TB, name string) *plan.Plan {
	t.Helper()
	data, err := examples.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load(path, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(topo)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testBundle builds the bundle of server as a finished apply leaves it,
// with thumbprints derived from the plan ids; staged lists usages rolled
// to a next certificate at a fixed effective date.
func testBundle(t testing.TB, p *plan.Plan, server string, staged ...string) *Bundle {
	t.Helper()
	current := map[string]Current{}
	for _, c := range p.Certificates {
		if !hasServer(&c, server) {
			continue
		}
		for _, u := range c.Usages {
			cur := Current{Thumbprint: fakeThumb(c.ID)}
			if contains(staged, u) {
				cur.Staged, cur.Effective = fakeThumb(c.ID+" next"), time.Date(2027, 1, 15, 18, 0, 0, 0, time.UTC)
			}
			current[u] = cur
		}
	}
	roots := []File{{Name: "roots/Contoso-Root-CA.cer", Thumbprint: fakeThumb("root"), Subject: "CN=Contoso Root CA"}}
	inter := []File{{Name: "intermediates/Contoso-Issuing-CA.cer", Thumbprint: fakeThumb("issuing"), Subject: "CN=Contoso Issuing CA, O=Contoso's IT"}}
	b, err := PlanBundle(p, server, current, roots, inter)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenCases are the scripts checked against testdata/golden: every
// server of the demo, and an edge pool whose A/V certificate is rolled.
var goldenCases = []struct {
	name, topology, server string
	staged                 []string
}{
	{"demo-edge01", "demo.yaml", "edge01.contoso.net", nil},
	{"demo-edge02", "demo.yaml", "edge02.contoso.net", nil},
	{"demo-rp01", "demo.yaml", "rp01.contoso.com", nil},
	{"demo-fe01", "demo.yaml", "fe01.contoso.net", nil},
	{"demo-fe02", "demo.yaml", "fe02.contoso.net", nil},
	{"demo-fe01-oauth-roll", "demo.yaml", "fe01.contoso.net", []string{plan.UsageOAuthTokenIssuer}},
	{"edge-pool-av-roll", "edge-pool-dns.yaml", "edge01.contoso.net", []string{plan.UsageAudioVideoAuthentication}},
}

// requestCases are the servers whose delayed-request scripts are golden.
var requestCases = []struct{ name, topology, server string }{
	{"demo-edge01", "demo.yaml", "edge01.contoso.net"},
	{"demo-fe01", "demo.yaml", "fe01.contoso.net"},
}

func goldenScripts(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, rc := range requestCases {
		r, err := PlanRequests(loadPlan(t, rc.topology), rc.server)
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range map[string]func(*Requests) ([]byte, error){"request": RequestScript, "complete": CompleteScript} {
			s, err := f(r)
			if err != nil {
				t.Fatal(err)
			}
			out[rc.name+"-"+name+".ps1"] = s
		}
	}
	for _, gc := range goldenCases {
		b := testBundle(t, loadPlan(t, gc.topology), gc.server, gc.staged...)
		s, err := InstallScript(b)
		if err != nil {
			t.Fatal(err)
		}
		out[gc.name+".ps1"] = s
	}
	return out
}

func TestInstallScriptGolden(t *testing.T) {
	for name, got := range goldenScripts(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/windows -run Golden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from the golden file (review, then -update)", name)
			}
		})
	}
}

// TestInstallScriptContent checks what each bundle must do, whatever the
// layout: the OAuth assignment only on the first server and -Identity
// Global; rolls with -Roll -EffectiveDate; the reverse proxy's bundle
// assigns nothing; exportability as the plan says.
func TestInstallScriptContent(t *testing.T) {
	p := loadPlan(t, "demo.yaml")
	tests := []struct {
		name, server string
		staged       []string
		want, not    []string
	}{
		{name: "edge member", server: "edge02.contoso.net",
			want: []string{"Types = @('AccessEdgeExternal', 'AudioVideoAuthentication', 'DataEdgeExternal')", "Types = @('Internal')", "Exportable   = $true", "Lync          = $true"}},
		{name: "reverse proxy", server: "rp01.contoso.com",
			want: []string{"Lync          = $false", "Assign       = @(\r\n            )"}, not: []string{"[switch]$Rollback"}},
		{name: "first front end holds the OAuth assignment", server: "fe01.contoso.net",
			want: []string{"Types = @('OAuthTokenIssuer'); Roll = $false; EffectiveDate = $null; Global = $true", "Exportable   = $false"}},
		{name: "second front end imports the OAuth certificate only", server: "fe02.contoso.net",
			not: []string{"Types = @('OAuthTokenIssuer')"}},
		{name: "OAuth roll", server: "fe01.contoso.net", staged: []string{plan.UsageOAuthTokenIssuer},
			want: []string{"Types = @('OAuthTokenIssuer'); Roll = $true; EffectiveDate = [datetime]::Parse('2027-01-15T18:00:00Z'"}},
		{name: "server not in the plan", server: "mail01.contoso.net"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil && tc.not == nil {
				if _, err := PlanBundle(p, tc.server, nil, nil, nil); err == nil {
					t.Fatal("a server without certificates got a bundle")
				}
				return
			}
			s, err := InstallScript(testBundle(t, p, tc.server, tc.staged...))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(s), w) {
					t.Errorf("missing %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(s), n) {
					t.Errorf("holds %q", n)
				}
			}
		})
	}
}

func TestBundleValidate(t *testing.T) {
	good := func() *Bundle {
		return &Bundle{Server: "edge01.contoso.net", Certificates: []Personal{{ID: "a/b", Name: "a_b.pfx", Thumbprint: fakeThumb("x"), FriendlyName: "Edge",
			Assign: []SetCall{{Types: []string{"Internal"}}}}}}
	}
	tests := []struct {
		name  string
		bend  func(b *Bundle)
		valid bool
	}{
		{"valid", func(*Bundle) {}, true},
		{"quote in a friendly name is fine", func(b *Bundle) { b.Certificates[0].FriendlyName = "Contoso's ‘edge’" }, true},
		{"newline in a friendly name", func(b *Bundle) { b.Certificates[0].FriendlyName = "Edge\r\n$x = 1" }, false},
		{"escape in a subject", func(b *Bundle) { b.Roots = []File{{Name: "r.cer", Thumbprint: fakeThumb("r"), Subject: "CN=\x1b[2J"}} }, false},
		{"lower-case thumbprint", func(b *Bundle) { b.Certificates[0].Thumbprint = strings.ToLower(fakeThumb("x")) }, false},
		{"unknown usage", func(b *Bundle) { b.Certificates[0].Assign[0].Types = []string{"Internal; Remove-Item"} }, false},
		{"roll without a date", func(b *Bundle) { b.Certificates[0].Assign[0].Roll = true }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			tc.bend(b)
			_, err := InstallScript(b)
			if (err == nil) != tc.valid {
				t.Fatalf("error %v, valid %v", err, tc.valid)
			}
		})
	}
}

func TestPSQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "'plain'",
		"Contoso's":    "'Contoso''s'",
		"‘smart’":      "'‘‘smart’’'",
		"$(Remove-It)": "'$(Remove-It)'",
	} {
		if got := psQuote(in); got != want {
			t.Errorf("psQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

// parameterSets are the documented parameter sets of the cmdlets the
// scripts call (Microsoft's reference for Lync Server 2013 / Skype for
// Business Server and the Windows Server 2012 R2 PKI module): each
// emitted call must use only its parameters and give the required ones.
var parameterSets = map[string][]struct {
	name               string
	required, optional []string
}{
	"Set-CsCertificate": {
		{"Thumbprint", []string{"Thumbprint"}, []string{"NetportId", "Type", "Force", "Report", "WhatIf", "Confirm", "Identity", "EffectiveDate", "Roll"}},
		{"CertificateReference", []string{"Reference"}, []string{"NetportId", "Type", "Force", "Report", "WhatIf", "Confirm", "Identity", "EffectiveDate", "Roll"}},
		{"Path", []string{"Identity", "Path", "Type"}, []string{"Confirm", "EffectiveDate", "Force", "Password", "Report", "Roll", "WhatIf"}},
	},
	"Get-CsCertificate": {
		{"Default", nil, []string{"Type", "NetportId", "Report", "Identity"}},
	},
	"Import-PfxCertificate": {
		{"(All)", []string{"FilePath"}, []string{"Exportable", "Password", "CertStoreLocation", "WhatIf", "Confirm"}},
	},
	"Export-PfxCertificate": {
		{"Cert", []string{"Cert", "FilePath"}, []string{"ChainOption", "NoProperties", "NoClobber", "Force", "ProtectTo", "Password", "WhatIf", "Confirm"}},
		{"PFXData", []string{"PFXData", "FilePath"}, []string{"ChainOption", "NoProperties", "NoClobber", "Force", "ProtectTo", "Password", "WhatIf", "Confirm"}},
	},
	"Import-Certificate": {
		{"(All)", []string{"FilePath"}, []string{"CertStoreLocation", "WhatIf", "Confirm"}},
	},
	"Request-CsCertificate": {
		{"ByNew", []string{"Type"}, []string{"New", "CA", "CaAccount", "CaPassword", "City", "ClientEKU", "ComputerFqdn", "Country", "DomainName", "FriendlyName",
			"GlobalCatalog", "GlobalSettingsDomainController", "KeyAlg", "KeySize", "Organization", "OU", "Output", "PrivateKeyExportable", "State", "Template",
			"Force", "Report", "WhatIf", "Confirm", "AllSipDomain"}},
	},
	"Import-CsCertificate": {
		{"Default", []string{"Path"}, []string{"Password", "PrivateKeyExportable", "Force", "Report", "WhatIf", "Confirm"}},
		{"CMS", []string{"Identity", "Path", "Type"}, []string{"Confirm", "EffectiveDate", "Force", "Password", "Report", "Roll", "WhatIf"}},
		{"Local", []string{"Path"}, []string{"Confirm", "EffectiveDate", "Force", "Password", "PrivateKeyExportable", "Report", "Roll", "WhatIf"}},
	},
}

// commonParameters every cmdlet takes.
var commonParameters = []string{"Verbose", "Debug", "ErrorAction", "WarningAction", "ErrorVariable", "WarningVariable", "OutVariable", "OutBuffer"}

var (
	cmdletCall = regexp.MustCompile(`\b(Set-CsCertificate|Get-CsCertificate|Import-PfxCertificate|Export-PfxCertificate|Import-Certificate|Request-CsCertificate|Import-CsCertificate)\b([^\r\n|;)}]*)`)
	paramName  = regexp.MustCompile(`(?:^|\s)-([A-Za-z]+)(?::\S*)?`)
)

// checkCmdletLines checks every call of a cmdlet of parameterSets in
// script against its documented parameter sets.
func checkCmdletLines(t *testing.T, name string, script []byte) int {
	t.Helper()
	code := stripComments(string(script))
	calls := 0
	for _, idx := range cmdletCall.FindAllStringSubmatchIndex(code, -1) {
		cmdlet, rest := code[idx[2]:idx[3]], code[idx[4]:idx[5]]
		if before := strings.TrimRight(code[:idx[0]], " "); strings.HasSuffix(before, "-Name") || strings.HasSuffix(before, "'") {
			continue // an argument (Get-Command -Name X) or a string, not a call
		}
		var used []string
		for _, p := range paramName.FindAllStringSubmatch(rest, -1) {
			used = append(used, p[1])
		}
		if len(used) == 0 && (strings.HasPrefix(rest, " is ") || strings.HasPrefix(rest, "`")) {
			continue // prose in a message
		}
		calls++
		if !fitsASet(cmdlet, used) {
			t.Errorf("%s: %s %s: no documented parameter set of %s takes %v", name, cmdlet, strings.TrimSpace(rest), cmdlet, used)
		}
		if contains(used, "Roll") && !contains(used, "EffectiveDate") {
			t.Errorf("%s: %s -Roll without -EffectiveDate fails (R80)", name, cmdlet)
		}
	}
	return calls
}

func fitsASet(cmdlet string, used []string) bool {
	for _, set := range parameterSets[cmdlet] {
		ok := true
		for _, r := range set.required {
			ok = ok && containsFold(used, r)
		}
		for _, u := range used {
			ok = ok && (containsFold(set.required, u) || containsFold(set.optional, u) || containsFold(commonParameters, u))
		}
		if ok {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func TestScriptsUseDocumentedParameterSets(t *testing.T) {
	all := allScripts(t)
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	total := 0
	for _, n := range names {
		total += checkCmdletLines(t, n, all[n])
	}
	if total < 20 {
		t.Fatalf("only %d cmdlet calls were checked: the matcher is broken", total)
	}
	// The checker must catch what it is for.
	bad := []byte("Set-CsCertificate -Type Internal -Roll\r\nImport-PfxCertificate -Path x.pfx\r\nImport-CsCertificate -Path a.cer -Thumbprint X\r\n")
	var errs []string
	for _, m := range cmdletCall.FindAllStringSubmatch(string(bad), -1) {
		var used []string
		for _, p := range paramName.FindAllStringSubmatch(m[2], -1) {
			used = append(used, p[1])
		}
		if !fitsASet(m[1], used) {
			errs = append(errs, m[1])
		}
	}
	if len(errs) != 3 {
		t.Fatalf("the checker caught %v of three bad calls", errs)
	}
}

// FuzzPSQuote checks that any text quoted for a script is one
// single-quoted PowerShell string that reads back as the text: every
// quote character PowerShell knows is doubled.
func FuzzPSQuote(f *testing.F) {
	for _, s := range []string{"plain", "Contoso's", "‘smart’", "'; Remove-Item C:\\ -Recurse; '", "‛‚"} {
		f.Add(s)
	}
	quotes := "'\u2018\u2019\u201A\u201B"
	f.Fuzz(func(t *testing.T, s string) {
		q := psQuote(s)
		if !strings.HasPrefix(q, "'") || !strings.HasSuffix(q, "'") || len(q) < 2 {
			t.Fatalf("%q is not quoted", q)
		}
		body := []rune(q[1 : len(q)-1])
		var back []rune
		for i := 0; i < len(body); i++ {
			back = append(back, body[i])
			if strings.ContainsRune(quotes, body[i]) {
				if i+1 >= len(body) || body[i+1] != body[i] {
					t.Fatalf("%q: a lone quote ends the string early", q)
				}
				i++
			}
		}
		if string(back) != string([]rune(s)) {
			t.Fatalf("%q reads back as %q", s, string(back))
		}
	})
}
