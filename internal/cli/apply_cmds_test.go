package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/store"
)

func runApplyCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// TestApplyCommandsEndToEnd drives demo, status, verify, apply and renew
// through the command line and checks their exit codes (0, 2, 3).
func TestApplyCommandsEndToEnd(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runApplyCLI(t, "demo", "--dir", dir)
	if code != ExitOK || !strings.Contains(out, "Verification PASSED") || !strings.Contains(out, "Every certificate is requested") {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	topo, ws := filepath.Join(dir, "demo.yaml"), filepath.Join(dir, "workspace")
	// Files the stores did not write survive status, verify, apply and renew.
	same := plantForeign(t, filepath.Join(ws, "servers", "edge01.contoso.net"))
	defer same("status, verify, apply and renew")
	ca := []string{"--ca-dir", filepath.Join(dir, "ca"), "--passphrase-file", filepath.Join(dir, "ca-passphrase")}

	out, _, code = runApplyCLI(t, "status", "-t", topo, "--workspace", ws, "-o", "json")
	var st struct{ Complete bool }
	if code != ExitOK || json.Unmarshal([]byte(out), &st) != nil || !st.Complete {
		t.Fatalf("status: exit %d %s", code, out)
	}
	if out, _, code = runApplyCLI(t, "apply", "-t", topo, "--workspace", ws, "--dry-run"); code != ExitOK || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("dry run: exit %d %s", code, out)
	}

	usage := [][]string{
		{"apply", "-t", topo, "--workspace", ws},                               // no CA
		{"apply", "-t", topo, "--workspace", ws, "-o", "yaml"},                 // format
		{"verify", "-t", topo, "--workspace", ws, "--live", "--endpoint", "x"}, // NAME=ADDR
		{"verify", "-t", topo, "--workspace", ws, "--certificate", "nope/x"},
		{"renew", "-t", topo, "--workspace", ws, "--within", "3x"},
		{"status", "-t", topo, "--workspace", filepath.Join(dir, "missing")},
		{"proxy", "nginx", "-t", topo, "--workspace", ws, "--server", "edge01.contoso.net", "--out", t.TempDir()},
	}
	for _, args := range usage {
		if _, errOut, code := runApplyCLI(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitUsage, errOut)
		}
	}

	// Take the CA root away from a pool member: verify fails (exit 3),
	// apply puts it back, verify passes.
	s, err := store.Open(filepath.Join(ws, "servers", "edge02.contoso.net"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	roots, _ := s.List(store.Root)
	for _, r := range roots {
		if err := s.Delete(r.Thumbprint); err != nil {
			t.Fatal(err)
		}
	}
	out, _, code = runApplyCLI(t, "verify", "-t", topo, "--workspace", ws, "--skip-revocation")
	if code != ExitVerify || !strings.Contains(out, "FAIL") || !strings.Contains(out, "How to fix") {
		t.Fatalf("verify after removing the roots: exit %d\n%s", code, out)
	}
	out, errOut, code = runApplyCLI(t, append([]string{"apply", "-t", topo, "--workspace", ws, "-o", "json"}, ca...)...)
	if code != ExitOK && code != ExitVerify {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, `"step":"chain","server":"edge02.contoso.net","status":"done"`) {
		t.Fatalf("apply did not put the chain back on edge02:\n%s", out)
	}
	if out, _, code = runApplyCLI(t, "verify", "-t", topo, "--workspace", ws, "--skip-revocation"); code != ExitOK {
		t.Fatalf("verify after apply: exit %d\n%s", code, out)
	}
	out, errOut, code = runApplyCLI(t, append([]string{"renew", "-t", topo, "--workspace", ws, "--within", "1d"}, ca...)...)
	if code != ExitOK || !strings.Contains(out, "0 certificates done") {
		t.Fatalf("renew of fresh certificates: exit %d\n%s\n%s", code, out, errOut)
	}
}
