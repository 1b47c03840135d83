package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"edgecert/internal/apply"
	"edgecert/internal/plan"
	"edgecert/internal/store"
)

// --on-change runs once per server of each changed certificate, with the
// certificate and server in its environment, and reports a failing run
// without stopping the others.
func TestRunOnChange(t *testing.T) {
	dir := t.TempDir()
	ws, err := apply.OpenWorkspace(filepath.Join(dir, "ws"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{Certificates: []plan.Certificate{
		{ID: "edge-external/lsedge.contoso.net", Servers: []string{"edge01.contoso.net", "edge02.contoso.net"}, RequestOn: "edge01.contoso.net"},
		{ID: "reverse-proxy/rp", Servers: []string{"rp01.contoso.net"}, RequestOn: "rp01.contoso.net"},
	}}
	log := filepath.Join(dir, "log")
	var errw bytes.Buffer
	env := &Env{Streams: Streams{Out: &bytes.Buffer{}, Err: &errw}}
	cmd := `echo "$EDGECERT_CERTIFICATE $EDGECERT_SERVER" >> ` + log + `; [ "$EDGECERT_SERVER" != edge02.contoso.net ]`
	err = runOnChange(context.Background(), env, cmd, p, ws, []string{"edge-external/lsedge.contoso.net"})
	if err == nil || !strings.Contains(err.Error(), "--on-change for edge-external/lsedge.contoso.net on edge02.contoso.net") {
		t.Errorf("got %v, want the failing server named", err)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(lines)
	want := []string{"edge-external/lsedge.contoso.net edge01.contoso.net", "edge-external/lsedge.contoso.net edge02.contoso.net"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("ran for %q, want %q (the unchanged certificate's servers not at all)", lines, want)
	}
}

// snapshot returns every file under dir with its content.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) != "apply.lock" {
			data, _ := os.ReadFile(p)
			b.WriteString(p + "\n" + string(data) + "\n")
		}
		return nil
	})
	return b.String()
}

// With an acme: block: an unreachable directory fails apply (exit 1) and
// leaves the workspace byte-identical; a public name without a challenge
// rule is invalid input (exit 2) naming the name; renew with the CA down
// decides by two thirds of the lifetime and exits 0 when nothing is due.
func TestACMECommands(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := runApplyCLI(t, "demo", "--dir", dir); code != ExitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	demo, err := os.ReadFile(filepath.Join(dir, "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, "workspace")
	ca := []string{"--ca-dir", filepath.Join(dir, "ca"), "--passphrase-file", filepath.Join(dir, "ca-passphrase")}
	down := "https://127.0.0.1:9/dir"
	write := func(name, rules string) string {
		p := filepath.Join(dir, name)
		block := "acme:\n  directory: " + down + "\n  accept_tos: true\n  challenges:\n" + rules
		if err := os.WriteFile(p, append(append([]byte{}, demo...), block...), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	all := write("acme.yaml", "    - domains: [contoso.com, fabrikam.com]\n      dns01: {hook: /bin/true}\n")
	partial := write("partial.yaml", "    - domains: [fabrikam.com]\n      dns01: {hook: /bin/true}\n")

	before := snapshot(t, ws)
	_, errOut, code := runApplyCLI(t, append([]string{"apply", "-t", all, "--workspace", ws}, ca...)...)
	if code != ExitFailure || !strings.Contains(errOut, down) {
		t.Errorf("apply with the directory down: exit %d, want %d and the directory named\n%s", code, ExitFailure, errOut)
	}
	if snapshot(t, ws) != before {
		t.Error("apply with the directory down changed the workspace")
	}
	_, errOut, code = runApplyCLI(t, append([]string{"apply", "-t", partial, "--workspace", ws}, ca...)...)
	if code != ExitUsage || !strings.Contains(errOut, "sip.contoso.com of the public certificate edge-external/") {
		t.Errorf("a public name without a rule: exit %d, want %d naming it\n%s", code, ExitUsage, errOut)
	}
	// verify of this workspace with the acme block: the stand-in public CA's
	// certificates pass as before (exit 0).
	if _, errOut, code := runApplyCLI(t, "verify", "-t", all, "--workspace", ws, "--skip-revocation"); code != ExitOK {
		t.Errorf("verify with an acme block: exit %d\n%s", code, errOut)
	}
	if !hasACME(&topoFlags{topology: all}) || hasACME(&topoFlags{topology: filepath.Join(dir, "demo.yaml")}) {
		t.Error("hasACME does not tell a topology with an acme block from one without")
	}
	metrics := filepath.Join(dir, "edgecert.prom")
	out, errOut, code := runApplyCLI(t, append([]string{"renew", "-t", all, "--workspace", ws, "--metrics-file", metrics}, ca...)...)
	if code != ExitOK || !strings.Contains(errOut, "renews at two thirds of its lifetime") || !strings.Contains(errOut, "could not be had") {
		t.Errorf("renew with the CA down: exit %d, want 0 and the two-thirds decision\n%s\n%s", code, out, errOut)
	}
	if m, err := os.ReadFile(metrics); err != nil || !strings.Contains(string(m), `source="two-thirds"`) {
		t.Errorf("metrics: %v\n%s", err, m)
	}
}

// A dry-run renew with an ACME CA writes nothing to the workspace.
func TestACMERenewDryRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	if out, errOut, code := runApplyCLI(t, "demo", "--dir", dir); code != ExitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	demo, err := os.ReadFile(filepath.Join(dir, "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	topo := filepath.Join(dir, "acme.yaml")
	block := "acme:\n  directory: https://127.0.0.1:9/dir\n  accept_tos: true\n  challenges:\n    - domains: [contoso.com, fabrikam.com]\n      dns01: {hook: /bin/true}\n"
	if err := os.WriteFile(topo, append(demo, block...), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, "workspace")
	before := snapshot(t, ws)
	_, errOut, code := runApplyCLI(t, "renew", "-t", topo, "--workspace", ws, "--dry-run", "--within", "1000d")
	if code != ExitOK || !strings.Contains(errOut, "renews at two thirds") {
		t.Errorf("dry-run renew: exit %d\n%s", code, errOut)
	}
	if snapshot(t, ws) != before {
		t.Error("a dry-run renew changed the workspace")
	}
}
