package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"edgecert/internal/plan"
)

// runPlanCLI runs edgecert with args in-process and returns stdout, stderr
// and the exit code.
func runPlanCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func examplePath(name string) string { return filepath.Join("..", "..", "examples", name) }

func TestPlanCommandTable(t *testing.T) {
	out, stderr, code := runPlanCLI(t, "plan", "-t", examplePath("single-edge.yaml"))
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	for _, s := range []string{"KIND", "SANS", "edge-internal/lsedge.contoso.net", "edge-external/lsedge.contoso.net", "webcon.contoso.com", "sip.fabrikam.com"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "Why each name") {
		t.Error("table without --explain explains")
	}
}

func TestPlanCommandJSONParses(t *testing.T) {
	out, stderr, code := runPlanCLI(t, "plan", "-t", examplePath("reverse-proxy.yaml"), "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	var p plan.Plan
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("JSON does not parse as a plan: %v\n%s", err, out)
	}
	if p.Version != 1 || len(p.Certificates) == 0 || p.Warnings == nil {
		t.Errorf("plan %+v", p)
	}
	var generic map[string]any
	if err := json.Unmarshal([]byte(out), &generic); err != nil {
		t.Fatal(err)
	}
	c0 := generic["certificates"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "kind", "usages", "site", "subject", "sans", "key_usage", "key_usage_critical", "eku", "key", "issuer", "template", "friendly_name", "servers", "request_on", "rules"} {
		if _, ok := c0[k]; !ok {
			t.Errorf("certificate JSON lacks %q", k)
		}
	}
}

func TestPlanCommandYAML(t *testing.T) {
	out, _, code := runPlanCLI(t, "plan", "-t", examplePath("single-edge.yaml"), "-o", "yaml")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	var v struct {
		Certificates []struct {
			ID   string   `yaml:"id"`
			SANs []string `yaml:"sans"`
		} `yaml:"certificates"`
	}
	if err := yaml.Unmarshal([]byte(out), &v); err != nil || len(v.Certificates) != 2 || v.Certificates[1].SANs[0] != "sip.contoso.com" {
		t.Errorf("yaml %v %+v", err, v)
	}
}

func TestPlanCommandExplain(t *testing.T) {
	out, _, code := runPlanCLI(t, "plan", "-t", examplePath("xmpp-federation.yaml"), "--explain")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(out, "Why each name is there:") {
		t.Fatalf("no explanation:\n%s", out)
	}
	// The XMPP domain line carries its rules.
	found := false
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "fabrikam.com" && strings.Contains(line, "R25") && strings.Contains(line, "M4") {
			found = true
		}
	}
	if !found {
		t.Errorf("--explain has no line for fabrikam.com with R25 and M4:\n%s", out)
	}
}

func TestPlanCommandDeterministic(t *testing.T) {
	for _, format := range []string{"table", "json", "yaml"} {
		first, _, _ := runPlanCLI(t, "plan", "-t", examplePath("multi-site.yaml"), "-o", format, "--explain")
		for i := 0; i < 5; i++ {
			again, _, _ := runPlanCLI(t, "plan", "-t", examplePath("multi-site.yaml"), "-o", format, "--explain")
			if again != first {
				t.Fatalf("%s output differs between runs", format)
			}
		}
	}
}

func TestPlanCommandInvalidTopology(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	body := `version: 1
sip_domains: [contoso.com]
simple_urls:
  dialin: https://dialin.contoso.com
colour: blue
sites:
  - name: Redmond
    edge_pools:
      - fqdn: "*.contoso.net"
        servers: [edge01.contoso.net]
        access: sip.contoso.com
        webconf: webcon.contoso.com
        av: av.contoso.com
`
	if err := os.WriteFile(bad, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := runPlanCLI(t, "plan", "-t", bad)
	if code != ExitUsage {
		t.Fatalf("exit %d, want 2; stderr:\n%s", code, stderr)
	}
	if out != "" {
		t.Errorf("stdout not empty: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) < 2 {
		t.Fatalf("want every problem on its own line, got:\n%s", stderr)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, bad+":") {
			t.Errorf("problem line without file:line:col: %q", l)
		}
	}
	if !strings.Contains(stderr, "colour") {
		t.Errorf("unknown key not reported:\n%s", stderr)
	}
}

func TestPlanCommandUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want int
	}{
		{"no topology flag", []string{"plan"}, ExitUsage},
		{"missing file", []string{"plan", "-t", "/nonexistent/topo.yaml"}, ExitUsage},
		{"bad format", []string{"plan", "-t", examplePath("single-edge.yaml"), "-o", "xml"}, ExitUsage},
		{"extra argument", []string{"plan", "-t", examplePath("single-edge.yaml"), "extra"}, ExitUsage},
		{"help", []string{"plan", "--help"}, ExitOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runPlanCLI(t, tc.args...)
			if code != tc.want {
				t.Errorf("exit %d, want %d; stderr %s", code, tc.want, stderr)
			}
			if tc.name == "help" && !strings.Contains(out, "Examples:") {
				t.Errorf("help has no examples:\n%s", out)
			}
		})
	}
}

func TestPlanCommandOverlay(t *testing.T) {
	out, stderr, code := runPlanCLI(t, "plan", "-t", examplePath("contoso-sfb.tbxml"), "--overlay", examplePath("contoso-overlay.yaml"), "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	var p plan.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, c := range p.Certificates {
		ids[c.ID] = true
	}
	for _, id := range []string{"edge-internal/edgepool.contoso.com", "edge-external/edgepool.contoso.com", "reverse-proxy/rp-contoso"} {
		if !ids[id] {
			t.Errorf("plan lacks %s", id)
		}
	}
}

// TestPlanCommandSimpleURLDefaults: a Get-CsTopology -AsXml document
// without simple URLs plans (exit 0) with a warning naming each of Topology
// Builder's defaults; an overlay's simple_urls replace them, and a meet URL
// for a domain that is not a SIP domain is refused at its place in the
// overlay (exit 2).
func TestPlanCommandSimpleURLDefaults(t *testing.T) {
	doc := filepath.Join("..", "topology", "testdata", "real", "rlevchenko-defaulttopology.xml")
	out, stderr, code := runPlanCLI(t, "plan", "-t", doc)
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q (plan prints its warnings with the plan only)", code, stderr)
	}
	for _, s := range []string{"2 warning(s)", "R83: ", "default https://meet.tenant.rlevchenko.com;", "default https://dialin.tenant.rlevchenko.com;"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	dir := t.TempDir()
	ov := filepath.Join(dir, "overlay.yaml")
	if err := os.WriteFile(ov, []byte("simple_urls:\n  meet: {tenant.rlevchenko.com: https://lync.tenant.rlevchenko.com/meet}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runPlanCLI(t, "plan", "-t", doc, "--overlay", ov)
	if code != ExitOK || !strings.Contains(out, "1 warning(s)") || !strings.Contains(out, "lync.tenant.rlevchenko.com") || strings.Contains(out, "meet.tenant.rlevchenko.com") {
		t.Errorf("overlay meet URL: exit %d, stderr %s\n%s", code, stderr, out)
	}
	if err := os.WriteFile(ov, []byte("simple_urls:\n  meet: {litware.com: https://meet.litware.com}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = runPlanCLI(t, "plan", "-t", doc, "--overlay", ov)
	if code != ExitUsage || out != "" || !strings.Contains(stderr, ov+":2:") || !strings.Contains(stderr, "[R83]") {
		t.Errorf("unknown SIP domain in the overlay: exit %d, stdout %q, stderr %s", code, out, stderr)
	}
}

// TestLoaderWarningsOnStderr: the commands that do not print the plan say
// on stderr what the loader filled in.
func TestLoaderWarningsOnStderr(t *testing.T) {
	doc := filepath.Join("..", "topology", "testdata", "real", "eic-pocketdomain.corp.tbxml")
	ws := t.TempDir()
	_, stderr, code := runPlanCLI(t, "status", "-t", doc, "--workspace", ws)
	if code != ExitWaiting { // nothing applied yet: work left
		t.Fatalf("status: exit %d, stderr %s", code, stderr)
	}
	want := "warning: R83: the Topology Builder document has no meet simple URL: the meet URL of pocketdomain.corp is Topology Builder's default https://meet.pocketdomain.corp;"
	if !strings.HasPrefix(stderr, want) || strings.Count(stderr, "warning: ") != 1 {
		t.Errorf("status stderr = %q, want one line starting %q", stderr, want)
	}
}
