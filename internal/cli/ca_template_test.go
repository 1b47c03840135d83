package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newTemplateTestCA initialises a CA with the CLI and returns its directory and a
// runner that checks the exit code.
func newTemplateTestCA(t *testing.T) (string, func(want int, args ...string) string) {
	t.Helper()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "ca")
	pass := caWrite(t, tmp, "pass.txt", "ca passphrase\n")
	adminPW := caWrite(t, tmp, "admin.txt", "admin password\n")
	must := func(want int, args ...string) string {
		t.Helper()
		out, errs, code := runCACLI(t, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errs)
		}
		return out + errs
	}
	must(0, "ca", "init", "--dir", dir, "--name", "Contoso", "--key", "p256", "--passphrase-file", pass, "--admin", "admin", "--admin-password-file", adminPW)
	return dir, must
}

// templateJSON is `ca template show -o json` of name.
func templateJSON(t *testing.T, must func(int, ...string) string, dir, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(must(0, "ca", "template", "show", "--dir", dir, name, "-o", "json")), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCATemplateSetIPAndWildcard: IP SANs are off in the shipped
// templates and are turned on, restricted and off again with flags, as
// wildcard SANs are (issue 14, item 4).
func TestCATemplateSetIPAndWildcard(t *testing.T) {
	dir, must := newTemplateTestCA(t)
	if m := templateJSON(t, must, dir, "WebServer"); m["AllowIP"] != false {
		t.Fatalf("shipped WebServer takes IP SANs: %v", m["AllowIP"])
	}
	must(0, "ca", "template", "set", "--dir", dir, "WebServer", "--allow-ip", "10.0.0.0/24", "--allow-ip", "2001:db8::1", "--wildcard-sans=false")
	m := templateJSON(t, must, dir, "WebServer")
	if m["AllowIP"] != true || m["AllowWildcardSAN"] != false || strings.Join(toStrings(m["AllowedIPs"]), " ") != "10.0.0.0/24 2001:db8::1" {
		t.Fatalf("after set: %v", m)
	}
	for _, bad := range [][]string{{"--allow-ip", "10.0.0.1/24"}, {"--allow-ip", "ten"}, {"--ip-sans=false"}} {
		out := must(2, append([]string{"ca", "template", "set", "--dir", dir, "WebServer"}, bad...)...)
		if strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Errorf("%v: more than one line: %s", bad, out)
		}
	}
	must(0, "ca", "template", "set", "--dir", dir, "WebServer", "--wildcard-sans")
	if m := templateJSON(t, must, dir, "WebServer"); m["AllowWildcardSAN"] != true {
		t.Fatalf("wildcards not back on: %v", m)
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestCATemplateListShowsBrokenTemplates: a template file the CA cannot
// use is listed with its error, the others as usual (issue 14, item 12).
func TestCATemplateListShowsBrokenTemplates(t *testing.T) {
	dir, must := newTemplateTestCA(t)
	caWrite(t, filepath.Join(dir, "templates"), "Broken.yaml", "name: Broken\nvalidity: [\n")
	out := must(0, "ca", "template", "list", "--dir", dir)
	if !strings.Contains(out, "Broken") || !strings.Contains(out, "INVALID, skipped") || !strings.Contains(out, "WebServer") {
		t.Fatalf("list:\n%s", out)
	}
	var infos []map[string]any
	if err := json.Unmarshal([]byte(must(0, "ca", "template", "list", "--dir", dir, "-o", "json")), &infos); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, i := range infos {
		if i["error"] != nil {
			bad++
		}
	}
	if bad != 1 || len(infos) != 5 {
		t.Fatalf("json: %v", infos)
	}
}

// TestCATemplateSetPolicyChanges: every change is audited with before and
// after; a restriction is removed only by its --clear-* flag; a pattern
// that can never match is refused and the template file is left as it
// was (issue 14, item 14).
func TestCATemplateSetPolicyChanges(t *testing.T) {
	dir, must := newTemplateTestCA(t)
	file := filepath.Join(dir, "templates", "WebServer.yaml")
	set := func(want int, args ...string) string {
		t.Helper()
		return must(want, append([]string{"ca", "template", "set", "--dir", dir, "WebServer"}, args...)...)
	}
	lastAudit := func() map[string]any {
		t.Helper()
		var log []map[string]any
		if err := json.Unmarshal([]byte(must(0, "ca", "audit", "--dir", dir, "-n", "1", "-o", "json")), &log); err != nil || len(log) != 1 {
			t.Fatalf("audit: %v %v", log, err)
		}
		return log[0]
	}
	set(0, "--allow-dns", "contoso.com", "--allow-dns", "*.contoso.com")
	if a := lastAudit(); a["action"] != "template-set" || a["template"] != "WebServer" || a["detail"] != "allowed_dns: [] -> [contoso.com, *.contoso.com]" {
		t.Fatalf("audit of the restriction: %v", a)
	}
	before := readFile(t, file)
	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		{"empty value clears nothing", []string{"--allow-dns", ""}, "--clear-allow-dns"},
		{"leading dot", []string{"--allow-dns", ".contoso.com"}, `did you mean "*.contoso.com"`},
		{"empty label", []string{"--allow-dns", "a..contoso.com"}, "can never match"},
		{"wildcard inside a label", []string{"--allow-dns", "*a.contoso.com"}, "can never match"},
		{"illegal character", []string{"--allow-dns", "bad_name.contoso.com"}, "can never match"},
		{"empty element", []string{"--allow-dns", "contoso.com,"}, "is empty"},
		{"a top-level domain", []string{"--allow-dns", "*.com"}, "can never match"},
		{"an IP address", []string{"--allow-dns", "10.0.0.1"}, "allowed IP"},
		{"clear and set at once", []string{"--allow-dns", "a.contoso.com", "--clear-allow-dns"}, "contradict"},
		{"empty IP list", []string{"--allow-ip", ""}, "--clear-allow-ip"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := set(2, c.args...)
			if !strings.Contains(out, c.says) || strings.Count(strings.TrimSpace(out), "\n") > 0 {
				t.Errorf("message %q does not say %q on one line", out, c.says)
			}
			if readFile(t, file) != before {
				t.Error("a refused change touched the template")
			}
		})
	}
	set(0, "--clear-allow-dns", "--approval")
	if a := lastAudit(); a["detail"] != "allowed_dns: [contoso.com, *.contoso.com] -> []; approval: false -> true" {
		t.Fatalf("audit of the clearing: %v", a)
	}
	must(0, "ca", "template", "set", "--dir", dir, "Edge", "--copy-from", "WebServer", "--validity", "90d")
	if a := lastAudit(); a["action"] != "template-create" || !strings.HasPrefix(a["detail"].(string), "copy of WebServer; name: ") || !strings.Contains(a["detail"].(string), "validity: 0s -> 90d") {
		t.Fatalf("audit of the creation: %v", a)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCATemplateSetACMEPreauthorize: off in the shipped templates; set
// with a topology that loads (its path made absolute), audited, refused
// with a topology that does not load (the template file unchanged) or
// contradicting flags, and turned off with its clear flag.
func TestCATemplateSetACMEPreauthorize(t *testing.T) {
	dir, must := newTemplateTestCA(t)
	preauth := func() map[string]any {
		m, _ := templateJSON(t, must, dir, "WebServer")["ACMEPreauthorize"].(map[string]any)
		return m
	}
	if m := preauth(); m["Topology"] != "" {
		t.Fatalf("shipped WebServer pre-authorizes: %v", m)
	}
	topo := caWrite(t, t.TempDir(), "topo.yaml", `version: 1
organization: {name: Contoso Ltd, country: US}
sip_domains: [contoso.com]
simple_urls:
  meet: {contoso.com: https://meet.contoso.com}
  dialin: https://dialin.contoso.com
sites:
  - name: Redmond
    operators: [lync-ops]
    pools:
      - fqdn: pool01.contoso.net
        servers: [fe01.contoso.net]
`)
	bad := caWrite(t, t.TempDir(), "bad.yaml", "version: 1\nsites: 3\n")
	tmplFile := filepath.Join(dir, "templates", "WebServer.yaml")
	before, _ := os.ReadFile(tmplFile)
	// A topology that does not load: its problems listed, each with its place.
	if out := must(2, "ca", "template", "set", "--dir", dir, "WebServer", "--acme-preauthorize-topology", bad); !strings.Contains(out, "acme_preauthorize: invalid topology") || !strings.Contains(out, bad+":2:8: [type]") {
		t.Fatalf("bad topology: %s", out)
	}
	if after, _ := os.ReadFile(tmplFile); string(after) != string(before) {
		t.Fatal("a bad topology changed the template file")
	}
	for _, args := range [][]string{
		{"--acme-preauthorize-topology", ""},
		{"--acme-preauthorize-overlay", topo},
		{"--acme-preauthorize-topology", topo, "--clear-acme-preauthorize"},
	} {
		out := must(2, append([]string{"ca", "template", "set", "--dir", dir, "WebServer"}, args...)...)
		if strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Errorf("%v: more than one line: %s", args, out)
		}
		if after, _ := os.ReadFile(tmplFile); string(after) != string(before) {
			t.Fatalf("%v changed the template file", args)
		}
	}
	must(0, "ca", "template", "set", "--dir", dir, "WebServer", "--acme-preauthorize-topology", topo)
	if m := preauth(); m["Topology"] != topo {
		t.Fatalf("after set: %v", m)
	}
	if out := must(0, "ca", "audit", "--dir", dir); !strings.Contains(out, "acme_preauthorize: off -> topology "+topo) {
		t.Fatalf("the change is not audited:\n%s", out)
	}
	must(0, "ca", "template", "set", "--dir", dir, "WebServer", "--clear-acme-preauthorize")
	if m := preauth(); m["Topology"] != "" {
		t.Fatalf("after clear: %v", m)
	}
}
