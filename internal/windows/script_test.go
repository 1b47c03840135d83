package windows

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgecert/internal/plan"
	"edgecert/internal/topology"
)

var update = flag.Bool("update", false, "rewrite the golden scripts in testdata/golden")

// fakeThumbprint is a stand-in thumbprint, the same for the same id.
func fakeThumbprint(id string) string {
	sum := sha1.Sum([]byte(id))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func demoPlan(t *testing.T) *plan.Plan {
	t.Helper()
	topo, err := topology.Load(filepath.Join("..", "..", "examples", "demo.yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(topo)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// demoInstall is the install of server in the demo topology, with its
// chain.
func demoInstall(t *testing.T, server string) Install {
	return Install{
		Server:        server,
		Roots:         []CertFile{{File: "root.cer", Thumbprint: fakeThumbprint("root"), Subject: "CN=Contoso Demo Root CA"}},
		Intermediates: []CertFile{{File: "issuing.cer", Thumbprint: fakeThumbprint("issuing"), Subject: "CN=Contoso Demo Issuing CA"}},
		Personal:      PersonalFromPlan(demoPlan(t), server, fakeThumbprint),
	}
}

// goldenCases are the scripts of the demo topology: an Edge Server, the
// same at renewal (A/V authentication staged with -Roll), the Front End
// that assigns the global OAuth certificate and one that does not, and a
// reverse proxy (import only).
func goldenCases(t *testing.T) map[string]Install {
	renew := demoInstall(t, "edge01.contoso.net")
	for i := range renew.Personal {
		renew.Personal[i].EffectiveDate = time.Date(2027, 3, 1, 2, 0, 0, 0, time.UTC)
	}
	return map[string]Install{
		"edge01":       demoInstall(t, "edge01.contoso.net"),
		"edge01-renew": renew,
		"fe01":         demoInstall(t, "fe01.contoso.net"),
		"fe02":         demoInstall(t, "fe02.contoso.net"),
		"rp01":         demoInstall(t, "rp01.contoso.com"),
	}
}

func render(t *testing.T, in Install) string {
	t.Helper()
	b, err := InstallScript(in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := InstallScript(in)
	if err != nil || !bytes.Equal(b, again) {
		t.Fatalf("a second rendering differs: %v", err)
	}
	return string(b)
}

// TestGoldenScripts compares each script to testdata/golden (regenerate
// with go test ./internal/windows -update, then review the difference).
func TestGoldenScripts(t *testing.T) {
	for name, in := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			got := render(t, in)
			path := filepath.Join("testdata", "golden", name+".ps1")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from its golden file (run go test -update and review)", path)
			}
		})
	}
}

// TestScriptContent checks what each script must and must not do.
func TestScriptContent(t *testing.T) {
	cases := goldenCases(t)
	edge, renew, fe01, fe02, rp := render(t, cases["edge01"]), render(t, cases["edge01-renew"]), render(t, cases["fe01"]), render(t, cases["fe02"]), render(t, cases["rp01"])
	ext := "'" + fakeThumbprint("edge-external/lsedge.contoso.net") + "'"
	oauth := "'" + fakeThumbprint("oauth/global") + "'"
	checks := []struct {
		name, script, text string
		want               bool
	}{
		{"edge assigns its external usages at once", edge, "Set-CsCertificate -Type AccessEdgeExternal,AudioVideoAuthentication,DataEdgeExternal -Thumbprint " + ext + " -Confirm:$false", true},
		{"renewal assigns access and data at once", renew, "Set-CsCertificate -Type AccessEdgeExternal,DataEdgeExternal -Thumbprint " + ext + " -Confirm:$false", true},
		{"renewal stages A/V with -Roll", renew, "Set-CsCertificate -Type AudioVideoAuthentication -Thumbprint " + ext + " -Roll -EffectiveDate ([datetime]'2027-03-01T02:00:00Z') -Confirm:$false", true},
		{"edge imports its exportable internal key", edge, "Install-Pfx 'edge-internal_lsedge.contoso.net.pfx' '" + fakeThumbprint("edge-internal/lsedge.contoso.net") + "' 'Edge Internal lsedge.contoso.net' $true", true},
		{"front end keys are not exportable", fe01, "Install-Pfx 'default_fe01.contoso.net.pfx' '" + fakeThumbprint("default/fe01.contoso.net") + "' 'Default fe01.contoso.net' $false", true},
		{"the OAuth requester assigns it globally", fe01, "Set-CsCertificate -Identity Global -Type OAuthTokenIssuer -Thumbprint " + oauth + " -Confirm:$false", true},
		{"another front end imports OAuth", fe02, "Install-Pfx 'oauth_global.pfx' " + oauth, true},
		{"another front end does not assign OAuth", fe02, "-Type OAuthTokenIssuer", false},
		{"a reverse proxy assigns nothing", rp, "Set-CsCertificate -Type", false},
		{"a reverse proxy needs no Lync module", rp, "SkypeForBusiness", false},
		{"a reverse proxy imports its certificate", rp, "Install-Pfx 'reverse-proxy_rp-redmond.pfx'", true},
		{"roots go to Root", edge, "Install-CertFile 'root.cer' '" + fakeThumbprint("root") + "' 'Root'", true},
		{"intermediates go to CA", edge, "Install-CertFile 'issuing.cer' '" + fakeThumbprint("issuing") + "' 'CA'", true},
		{"the script checks its computer", edge, "$Server = 'edge01.contoso.net'", true},
		{"the script checks elevation", edge, "WindowsBuiltInRole]::Administrator", true},
		{"the fallback without Import-PfxCertificate", edge, "& certutil.exe -f -p $PasswordText -importpfx My $path NoExport", true},
	}
	for _, c := range checks {
		if strings.Contains(c.script, c.text) != c.want {
			t.Errorf("%s: contains %q = %v, want %v", c.name, c.text, !c.want, c.want)
		}
	}
}

// TestEncoding: UTF-8 with a byte order mark (Windows PowerShell 5.1 reads
// a file without one in the ANSI code page) and CRLF line ends only.
func TestEncoding(t *testing.T) {
	in := demoInstall(t, "fe01.contoso.net")
	in.Personal[0].FriendlyName = "Défaut fe01 – Zürich"
	s := render(t, in)
	if !strings.HasPrefix(s, "\xEF\xBB\xBF#Requires -Version 4.0\r\n") {
		t.Errorf("script starts with %q", s[:min(len(s), 40)])
	}
	if strings.Count(s, "\n") != strings.Count(s, "\r\n") || strings.Contains(s, "\r\r") {
		t.Error("a line does not end in CRLF")
	}
	if !strings.Contains(s, "'Défaut fe01 – Zürich'") {
		t.Error("the friendly name is not kept as UTF-8")
	}
}

// pwshString decodes the PowerShell single-quoted string at the start of s
// and returns it and what follows.
func pwshString(t *testing.T, s string) (string, string) {
	t.Helper()
	quotes := "'\u2018\u2019\u201a\u201b"
	r := []rune(s)
	if len(r) == 0 || !strings.ContainsRune(quotes, r[0]) {
		t.Fatalf("no string at %q", s)
	}
	var b strings.Builder
	for i := 1; i < len(r); i++ {
		if strings.ContainsRune(quotes, r[i]) {
			if i+1 < len(r) && strings.ContainsRune(quotes, r[i+1]) {
				b.WriteRune(r[i])
				i++
				continue
			}
			return b.String(), string(r[i+1:])
		}
		b.WriteRune(r[i])
	}
	t.Fatalf("unterminated string in %q", s)
	return "", ""
}

// TestFriendlyNameCannotEscapeItsString: a friendly name (it comes from the
// topology) that closes the string with a plain or typographic quote, which
// Windows PowerShell also takes as a quote, stays one string argument.
func TestFriendlyNameCannotEscapeItsString(t *testing.T) {
	for _, name := range []string{
		"Edge'; Remove-Item -Recurse -Force C:\\ ; '",
		"Edge\u2019; Remove-Item -Recurse -Force C:\\ ; \u2018",
		"Edge\u201a\u201b''$(Stop-Computer)",
		"#> <# $env:PATH `n",
	} {
		in := demoInstall(t, "rp01.contoso.com")
		in.Personal[0].FriendlyName = name
		s := render(t, in)
		prefix := "Install-Pfx 'reverse-proxy_rp-redmond.pfx' '" + fakeThumbprint("reverse-proxy/rp-redmond") + "' "
		i := strings.Index(s, prefix)
		if i < 0 {
			t.Fatal("no Install-Pfx line")
		}
		line, _, _ := strings.Cut(s[i+len(prefix):], "\r\n")
		got, rest := pwshString(t, line)
		if got != name || rest != " $true" {
			t.Errorf("friendly name %q became %q followed by %q", name, got, rest)
		}
	}
}

// TestInvalidInput: what the script could not carry safely is refused,
// with no script.
func TestInvalidInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(in *Install)
	}{
		{"server-upper-case", func(in *Install) { in.Server = "EDGE01.contoso.net" }},
		{"server-not-fqdn", func(in *Install) { in.Server = "edge01" }},
		{"server-quote", func(in *Install) { in.Server = "edge01'.contoso.net" }},
		{"thumbprint-short", func(in *Install) { in.Personal[0].Thumbprint = "ABCD" }},
		{"thumbprint-not-hex", func(in *Install) { in.Roots[0].Thumbprint = strings.Repeat("Z", 40) }},
		{"file-with-directory", func(in *Install) { in.Personal[0].File = `..\x.pfx` }},
		{"file-wrong-extension", func(in *Install) { in.Roots[0].File = "root.pfx" }},
		{"file-hidden", func(in *Install) { in.Intermediates[0].File = ".pfx" }},
		{"friendly-name-newline", func(in *Install) { in.Personal[0].FriendlyName = "a\nSet-CsCertificate" }},
		{"friendly-name-line-separator", func(in *Install) { in.Personal[0].FriendlyName = "a\u2028b" }},
		{"subject-control", func(in *Install) { in.Roots[0].Subject = "CN=a\rb" }},
		{"friendly-name-not-utf8", func(in *Install) { in.Personal[0].FriendlyName = "a\x9eb" }},
		{"unknown-usage", func(in *Install) { in.Personal[0].Usages = []string{"Internal;Stop-Computer"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := demoInstall(t, "edge01.contoso.net")
			tc.edit(&in)
			b, err := InstallScript(in)
			if !errors.Is(err, ErrInvalid) || b != nil {
				t.Errorf("got %d bytes, error %v; want ErrInvalid and no script", len(b), err)
			}
		})
	}
}

func TestPersonalFromPlan(t *testing.T) {
	p := demoPlan(t)
	usages := func(server string) map[string][]string {
		out := map[string][]string{}
		for _, x := range PersonalFromPlan(p, server, fakeThumbprint) {
			out[x.ID] = x.Usages
		}
		return out
	}
	fe01, fe02, rp, edge := usages("fe01.contoso.net"), usages("fe02.contoso.net"), usages("rp01.contoso.com"), usages("edge02.contoso.net")
	if !slices.Equal(fe01["oauth/global"], []string{"OAuthTokenIssuer"}) || len(fe02["oauth/global"]) != 0 {
		t.Errorf("OAuth: fe01 %v, fe02 %v; want it assigned on fe01 only", fe01["oauth/global"], fe02["oauth/global"])
	}
	if u, ok := rp["reverse-proxy/rp-redmond"]; !ok || len(u) != 0 {
		t.Errorf("reverse proxy: %v; want its certificate, unassigned", rp)
	}
	if len(edge) != 2 || !slices.Equal(edge["edge-internal/lsedge.contoso.net"], []string{"Internal"}) {
		t.Errorf("edge02: %v", edge)
	}
	if _, ok := fe01["default/fe02.contoso.net"]; ok {
		t.Error("fe01 gets fe02's certificate")
	}
}

// FuzzFriendlyNameQuoting: whatever friendly name the script accepts, it
// reads back as the same single string argument.
func FuzzFriendlyNameQuoting(f *testing.F) {
	for _, s := range []string{"Edge External sip.contoso.com", "a'b", "a\u2019b''", "\u201a\u201b$(x)`", "Zürich – Défaut"} {
		f.Add(s)
	}
	pfx := PFX{ID: "x/y", File: "y.pfx", Thumbprint: strings.Repeat("A", 40), Usages: []string{"Default"}}
	f.Fuzz(func(t *testing.T, name string) {
		p := pfx
		p.FriendlyName = name
		b, err := InstallScript(Install{Server: "fe01.contoso.net", Personal: []PFX{p}})
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		prefix := "Install-Pfx 'y.pfx' '" + strings.Repeat("A", 40) + "' "
		s := string(b)
		i := strings.Index(s, prefix)
		if i < 0 {
			t.Fatal("no Install-Pfx line")
		}
		line, _, _ := strings.Cut(s[i+len(prefix):], "\r\n")
		got, rest := pwshString(t, line)
		if got != name || rest != " $false" {
			t.Fatalf("friendly name %q became %q followed by %q", name, got, rest)
		}
	})
}
