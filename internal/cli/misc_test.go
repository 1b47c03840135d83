package cli

import (
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"edgecert/internal/certfmt"
)

// TestVersion: --version prints the version and the commit of the build
// information, and says when there is none.
func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "3c6f7e9a1b2c3d4e5f60718293a4b5c6d7e8f901"}, {Key: "vcs.time", Value: "2026-12-06T16:00:00Z"}, {Key: "vcs.modified", Value: "false"}}},
			"v1.2.0 commit 3c6f7e9a1b2c of 2026-12-06T16:00:00Z, go1.26.8"},
		{"work tree with changes", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abcdef"}, {Key: "vcs.modified", Value: "true"}}},
			"(devel) commit abcdef (modified), go1.26.8"},
		{"no version control", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"(devel) commit unknown (built without version control information)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatVersion(&tc.bi); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	out, errOut, code := runApplyCLI(t, "--version")
	if code != ExitOK || out != "edgecert "+version()+"\n" || !strings.Contains(out, " commit ") {
		t.Fatalf("--version: exit %d %q %q", code, out, errOut)
	}
}

// TestCommandsSayWhatTheyDid: store export and assign report what they
// did; ca template set never prints an empty enroll list.
func TestCommandsSayWhatTheyDid(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	tca := newTestCA(t)
	req := filepath.Join(dir, "edge.csr")
	mustRun(t, "request", "new", "--store", st, "--cn", "edge.contoso.com", "--key", "p256", "--exportable", "--out", req)
	cert := tca.issue(t, req, time.Now().AddDate(1, 0, 0))
	cer := writeFile(t, dir, "edge.cer", certfmt.EncodeCertificatePEM(cert))
	mustRun(t, "store", "import", "--store", st, writeFile(t, dir, "chain.pem", certfmt.EncodeCertificatePEM(tca.inter, tca.root)))
	mustRun(t, "store", "import", "--store", st, cer)
	sum := sha1.Sum(cert.Raw)
	tp := strings.ToUpper(hex.EncodeToString(sum[:]))
	pw := writeFile(t, dir, "pw", []byte("transfer password\n"))
	pfx := filepath.Join(dir, "edge.pfx")
	_, errOut, code := runStoreCLI(t, "store", "export", "--store", st, "--thumbprint", tp, "--out", pfx, "--password-file", pw)
	if code != ExitOK || !strings.Contains(errOut, "exported the certificate with its private key and chain "+tp+" to "+pfx+" (PFX, mode 0600)") {
		t.Fatalf("store export: exit %d, %q", code, errOut)
	}
	out, errOut, code := runStoreCLI(t, "assign", "--store", st, "--usage", "Internal", "--thumbprint", strings.ToLower(tp))
	if code != ExitOK || out != "assigned "+tp+" to Internal in "+st+"\n" {
		t.Fatalf("assign: exit %d, %q %s", code, out, errOut)
	}

	caDir := filepath.Join(dir, "ca")
	pass := caWrite(t, dir, "ca.pass", "a long CA passphrase\n")
	mustRun(t, "ca", "init", "--dir", caDir, "--key", "p256", "--passphrase-file", pass)
	out, _, code = runStoreCLI(t, "ca", "template", "set", "--dir", caDir, "WebServer", "--validity", "90d")
	if code != ExitOK || strings.Contains(out, "enroll \n") || !strings.Contains(out, "enroll (administrators only)") {
		t.Fatalf("template set: exit %d, %q", code, out)
	}
	if _, err := os.Stat(pfx); err != nil {
		t.Fatal(err)
	}
}

// TestDemoCleansUpAndProxyListsItsFiles: demo without --dir removes its
// temporary folder (CA keys and passphrase included); with --dir it keeps
// it; proxy nginx names every file it wrote.
func TestDemoCleansUpAndProxyListsItsFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	out, errOut, code := runApplyCLI(t, "demo")
	if code != ExitOK || !strings.Contains(out, "was removed") {
		t.Fatalf("demo: exit %d\n%s\n%s", code, out, errOut)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("demo left %v in the temporary folder", left)
	}

	dir := t.TempDir()
	if out, errOut, code := runApplyCLI(t, "demo", "--dir", dir); code != ExitOK || !strings.Contains(out, "Everything is in "+dir) {
		t.Fatalf("demo --dir: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca")); err != nil {
		t.Fatalf("demo --dir did not keep its CA: %v", err)
	}
	nginxDir := filepath.Join(dir, "nginx")
	out, errOut, code = runApplyCLI(t, "proxy", "nginx", "-t", filepath.Join(dir, "demo.yaml"), "--workspace", filepath.Join(dir, "workspace"),
		"--server", "rp01.contoso.com", "--out", nginxDir)
	if code != ExitOK {
		t.Fatalf("proxy nginx: exit %d\n%s", code, errOut)
	}
	err := filepath.WalkDir(nginxDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.Contains(out, p+"\n") {
			t.Errorf("proxy nginx wrote %s but does not say so:\n%s", p, out)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// --conf-d with a relative --out: the server-block file, absolute paths.
	t.Chdir(dir)
	out, errOut, code = runApplyCLI(t, "proxy", "nginx", "-t", "demo.yaml", "--workspace", "workspace", "--server", "rp01.contoso.com", "--out", "confd", "--conf-d")
	conf := filepath.Join(dir, "confd", "rp01.contoso.com.conf")
	if code != ExitOK || !strings.Contains(out, conf+"\n") || !strings.Contains(out, "ln -s "+conf+" /etc/nginx/conf.d/") {
		t.Fatalf("proxy nginx --conf-d: exit %d\n%s%s", code, out, errOut)
	}
	b, err := os.ReadFile(conf)
	if err != nil || !strings.Contains(string(b), "ssl_certificate "+filepath.Join(dir, "confd")) || strings.Contains(string(b), "events") {
		t.Fatalf("the conf.d file: %v\n%s", err, b)
	}
}

// TestRulesExplainsIDs: edgecert rules explains a cited id in full, lists
// them all, answers JSON, and refuses an unknown id as usage.
func TestRulesExplainsIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"one rule, any case", []string{"rules", "r33"}, ExitOK, "Each Edge Server needs exactly **one** certificate on its internal interface"},
		{"a resolution", []string{"rules", "M6", "-o", "json"}, ExitOK, `"id":"M6"`},
		{"the list", []string{"rules"}, ExitOK, "M12 "},
		{"unknown id", []string{"rules", "R999"}, ExitUsage, `no rule "R999"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runApplyCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d, want %d and %q:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}
