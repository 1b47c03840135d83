package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/apply/applytest"
	"edgecert/internal/certfmt"
	"edgecert/internal/windows"
)

// TestVerifySnapshots runs verify --snapshot on the snapshots of a
// deployed edge pool: clean they pass (exit 0); with a planted fault they
// fail (exit 3) naming the server; bad files are usage errors (exit 2).
func TestVerifySnapshots(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "edge-pool-dns.yaml"), applytest.Options{})
	if _, err := e.ApplyAllErr(e.Options()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, s *applytest.PSSnapshot) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, applytest.WindowsFile(t, s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	snaps := e.Snapshots(t)
	args := []string{"verify", "-t", e.Topology}
	for srv, s := range snaps {
		args = append(args, "--snapshot", write(srv+".json", s))
	}
	if out, errOut, code := runApplyCLI(t, args...); code != ExitOK || !strings.Contains(out, "edge02.contoso.net") {
		t.Fatalf("clean snapshots: exit %d\n%s\n%s", code, out, errOut)
	}

	// edge02 lost its private keys (a .cer imported instead of the .pfx).
	bad := e.Snapshot(t, "edge02.contoso.net")
	no := false
	for i := range bad.My {
		bad.My[i].HasPrivateKey = &no
	}
	faulty := []string{"verify", "-t", e.Topology, "-o", "json",
		"--snapshot", write("edge01-again.json", snaps["edge01.contoso.net"]),
		"--snapshot", write("edge02-bad.json", bad)}
	out, errOut, code := runApplyCLI(t, faulty...)
	if code != ExitVerify || !strings.Contains(out, `"server":"edge02.contoso.net"`) || !strings.Contains(out, `"check":"key"`) {
		t.Fatalf("planted fault: exit %d\n%s\n%s", code, out, errOut)
	}

	stranger := e.Snapshot(t, "edge01.contoso.net")
	stranger.Computer = "mail01.contoso.net"
	notJSON := filepath.Join(dir, "not.json")
	if err := os.WriteFile(notJSON, []byte("Thumbprint   Subject\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string][]string{
		"computer not in the topology": {"verify", "-t", e.Topology, "--snapshot", write("stranger.json", stranger)},
		"two snapshots of one server":  {"verify", "-t", e.Topology, "--snapshot", args[4], "--snapshot", args[4]},
		"not a snapshot":               {"verify", "-t", e.Topology, "--snapshot", notJSON},
		"with --live":                  {"verify", "-t", e.Topology, "--snapshot", args[4], "--live"},
		"missing file":                 {"verify", "-t", e.Topology, "--snapshot", filepath.Join(dir, "nope.json")},
	} {
		t.Run(name, func(t *testing.T) {
			if _, errOut, code := runApplyCLI(t, a...); code != ExitUsage || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Fatalf("exit %d, want %d with one line\n%s", code, ExitUsage, errOut)
			}
		})
	}
}

func TestExportSnapshotScript(t *testing.T) {
	dir := t.TempDir()
	out, errOut, code := runApplyCLI(t, "export", "snapshot-script", "--out", dir)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	got, err := os.ReadFile(filepath.Join(dir, windows.CollectScriptName))
	if err != nil || !bytes.Equal(got, windows.CollectScript()) || !strings.Contains(out, windows.CollectScriptName) {
		t.Fatalf("script not written: %v %q", err, out)
	}
	if _, _, code := runApplyCLI(t, "export", "snapshot-script"); code != ExitUsage {
		t.Fatalf("no --out: exit %d", code)
	}
}

// TestExportWindows writes the bundle of an edge server through the
// command line: every file, the key files and the password 0600, the
// password usable; bad input is a usage error that writes nothing.
func TestExportWindows(t *testing.T) {
	e := applytest.New(t, applytest.Example(t, "edge-pool-dns.yaml"), applytest.Options{})
	if _, err := e.ApplyAllErr(e.Options()); err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(e.Dir, "workspace")
	out := filepath.Join(t.TempDir(), "bundle-edge02")
	stdout, errOut, code := runApplyCLI(t, "export", "windows", "-t", e.Topology, "--workspace", ws, "--server", "edge02.contoso.net", "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
	}
	for name, mode := range map[string]os.FileMode{
		"transfer-password.txt":                0o600,
		"edge-internal_lsedge.contoso.net.pfx": 0o600,
		"edge-external_lsedge.contoso.net.pfx": 0o600,
		"chain.p7b":                            0o644,
		windows.InstallScriptName:              0o644,
		windows.CollectScriptName:              0o644,
	} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v, want %o", name, err, fi, mode)
		}
		if !strings.Contains(stdout, name) {
			t.Errorf("the output does not list %s", name)
		}
	}
	pw, err := os.ReadFile(filepath.Join(out, "transfer-password.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := os.ReadFile(filepath.Join(out, "edge-internal_lsedge.contoso.net.pfx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certfmt.DecodePFX(pfx, strings.TrimSpace(string(pw))); err != nil {
		t.Fatalf("the written password does not open the .pfx: %v", err)
	}

	// An operator's password, and JSON output.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("operator password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "b2")
	stdout, errOut, code = runApplyCLI(t, "export", "windows", "-t", e.Topology, "--workspace", ws, "--server", "edge01.contoso.net", "--out", out2, "--transfer-password-file", pwFile, "-o", "json")
	if code != ExitOK || !strings.Contains(stdout, `"certificates":2`) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
	}
	if _, err := os.Stat(filepath.Join(out2, "transfer-password.txt")); err == nil {
		t.Fatal("a password file was written though the operator gave one")
	}

	for name, args := range map[string][]string{
		"server not in the topology": {"--server", "mail01.contoso.net", "--out", filepath.Join(t.TempDir(), "x")},
		"no --out":                   {"--server", "edge01.contoso.net"},
		"--out is a file":            {"--server", "edge01.contoso.net", "--out", pwFile},
	} {
		t.Run(name, func(t *testing.T) {
			a := append([]string{"export", "windows", "-t", e.Topology, "--workspace", ws}, args...)
			if _, errOut, code := runApplyCLI(t, a...); code != ExitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, ExitUsage, errOut)
			}
		})
	}
}

// TestDelayedRequestPath writes the delayed-request scripts, and checks
// requests against the plan: one made as planned passes (exit 0), one
// that lacks a name or has another key fails (exit 3) naming it.
func TestDelayedRequestPath(t *testing.T) {
	topo := examplePath("demo.yaml")
	out := t.TempDir()
	stdout, errOut, code := runApplyCLI(t, "export", "windows", "-t", topo, "--server", "edge01.contoso.net", "--requests", "--out", out)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
	}
	for _, name := range []string{windows.RequestScriptName, windows.CompleteScriptName} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !bytes.Contains(b, []byte("edge-external/lsedge.contoso.net")) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if !strings.Contains(stdout, "edgecert request check -t "+topo+" --certificate edge-internal/lsedge.contoso.net edge-internal_lsedge.contoso.net.req") {
		t.Fatalf("no check hint:\n%s", stdout)
	}
	// A reverse proxy requests nothing with the Lync cmdlets.
	rpOut := t.TempDir()
	stdout, _, code = runApplyCLI(t, "export", "windows", "-t", topo, "--server", "rp01.contoso.com", "--requests", "--out", rpOut)
	if code != ExitOK || !strings.Contains(stdout, "not requested on rp01.contoso.com") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
	if entries, _ := os.ReadDir(rpOut); len(entries) != 0 {
		t.Fatalf("scripts written for a reverse proxy: %v", entries)
	}

	dir := t.TempDir()
	id := "edge-external/lsedge.contoso.net"
	good := filepath.Join(dir, "good.req")
	if _, errOut, code := runApplyCLI(t, "request", "new", "--store", filepath.Join(dir, "s"), "--from-plan", id, "-t", topo, "--out", good); code != ExitOK {
		t.Fatalf("request new: %s", errOut)
	}
	bad := filepath.Join(dir, "bad.req")
	if _, errOut, code := runApplyCLI(t, "request", "new", "--store", filepath.Join(dir, "s"), "--cn", "sip.contoso.com", "--san", "sip.contoso.com", "--san", "webcon.contoso.com", "--key", "p256", "--out", bad); code != ExitOK {
		t.Fatalf("request new: %s", errOut)
	}
	if stdout, errOut, code := runApplyCLI(t, "request", "check", "-t", topo, "--certificate", id, good); code != ExitOK || !strings.Contains(stdout, "asks for what the plan says") {
		t.Fatalf("good request: exit %d\n%s\n%s", code, stdout, errOut)
	}
	stdout, _, code = runApplyCLI(t, "request", "check", "-t", topo, "--certificate", id, bad)
	if code != ExitVerify || !strings.Contains(stdout, "sip.fabrikam.com") || !strings.Contains(stdout, "key is ECDSA 256, the plan says RSA 2048") {
		t.Fatalf("bad request: exit %d\n%s", code, stdout)
	}
	for name, a := range map[string][]string{
		"unknown certificate": {"request", "check", "-t", topo, "--certificate", "nope/x", good},
		"not a request":       {"request", "check", "-t", topo, "--certificate", id, topo},
		"server not planned":  {"export", "windows", "-t", topo, "--server", "mail01.contoso.net", "--requests", "--out", t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			if _, errOut, code := runApplyCLI(t, a...); code != ExitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, ExitUsage, errOut)
			}
		})
	}
}

// TestSubmitChecksThePlan: request submit --check-plan refuses (exit 3)
// a request that differs from the plan before it contacts the CA.
func TestSubmitChecksThePlan(t *testing.T) {
	topo := examplePath("demo.yaml")
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.req")
	if _, errOut, code := runApplyCLI(t, "request", "new", "--store", filepath.Join(dir, "s"), "--cn", "sip.contoso.com", "--san", "sip.contoso.com", "--out", bad); code != ExitOK {
		t.Fatalf("request new: %s", errOut)
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("ect_x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: a check that let the request through
	// would fail with exit 1 instead.
	_, errOut, code := runApplyCLI(t, "request", "submit", "--ca", "https://127.0.0.1:1", "--token-file", token,
		"-t", topo, "--check-plan", "edge-external/lsedge.contoso.net", bad)
	if code != ExitVerify || !strings.Contains(errOut, "webcon.contoso.com") || !strings.Contains(errOut, "nothing was sent") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if _, _, code := runApplyCLI(t, "request", "submit", "--ca", "https://127.0.0.1:1", "--token-file", token, "-t", topo, bad); code != ExitUsage {
		t.Fatalf("-t without --check-plan: exit %d", code)
	}
}
