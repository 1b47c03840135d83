package cli

import (
	"encoding/json"
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
