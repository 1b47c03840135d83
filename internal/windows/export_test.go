package windows_test

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgecert/internal/apply/applytest"
	"edgecert/internal/certfmt"
	"edgecert/internal/testtool"
	"edgecert/internal/windows"
)

// TestExportBundle exports every server of a deployed demo topology and
// reads each .pfx back with edgecert, OpenSSL and GnuTLS: key, chain,
// friendly name and the key provider Windows imports it into; the
// install script assigns what the store assigns.
func TestExportBundle(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	certtool := testtool.Path(t, "certtool")
	e := applytest.New(t, applytest.Example(t, "demo.yaml"), applytest.Options{})
	if _, err := e.ApplyAllErr(e.Options()); err != nil {
		t.Fatal(err)
	}
	const pw = "transfer password"
	servers := map[string]bool{}
	for _, c := range e.Plan.Certificates {
		for _, s := range c.Servers {
			servers[s] = true
		}
	}
	for server := range servers {
		t.Run(server, func(t *testing.T) {
			b, files, err := windows.Export(e.Plan, e.Store(t, server), server, windows.ExportOptions{Password: pw, Profile: certfmt.PFXLegacy, Rand: rand.Reader})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			byName := map[string][]byte{}
			for _, f := range files {
				byName[f.Name] = f.Data
				p := filepath.Join(dir, filepath.FromSlash(f.Name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
					t.Fatal(err)
				}
				if strings.HasSuffix(f.Name, ".pfx") && f.Mode != 0o600 {
					t.Errorf("%s mode %o", f.Name, f.Mode)
				}
			}
			for _, want := range []string{"chain.p7b", windows.InstallScriptName, windows.CollectScriptName} {
				if byName[want] == nil {
					t.Fatalf("no %s in %v", want, len(files))
				}
			}
			if len(b.Roots) == 0 {
				t.Fatal("no root in the bundle")
			}
			for _, pc := range b.Certificates {
				data := byName[pc.Name]
				got, err := certfmt.DecodePFX(data, pw)
				if err != nil {
					t.Fatalf("%s: %v", pc.Name, err)
				}
				if got.FriendlyName != pc.FriendlyName || !strings.EqualFold(windows.Thumbprint(got.Leaf.Raw), pc.Thumbprint) || len(got.CA) == 0 {
					t.Fatalf("%s: friendly %q leaf %s, %d CA", pc.Name, got.FriendlyName, windows.Thumbprint(got.Leaf.Raw), len(got.CA))
				}
				path := filepath.Join(dir, pc.Name)
				out := run(t, openssl, "pkcs12", "-in", path, "-passin", "pass:"+pw, "-info", "-noenc")
				for _, want := range []string{"friendlyName: " + pc.FriendlyName, "Microsoft CSP Name: Microsoft RSA SChannel Cryptographic Provider", "BEGIN PRIVATE KEY"} {
					if !strings.Contains(out, want) {
						t.Fatalf("%s: openssl shows no %q:\n%s", pc.Name, want, out)
					}
				}
				out = run(t, certtool, "--p12-info", "--inder", "--infile", path, "--password", pw)
				if !strings.Contains(out, pc.FriendlyName) {
					t.Fatalf("%s: certtool shows no friendly name:\n%s", pc.Name, out)
				}
			}
			script := string(byName[windows.InstallScriptName])
			as, err := e.Store(t, server).Assignments()
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				if a.Usage == "WebServicesExternal" && strings.HasPrefix(server, "rp") {
					continue
				}
				if !strings.Contains(script, a.Thumbprint) {
					t.Errorf("the script does not name %s for %s", a.Thumbprint, a.Usage)
				}
			}
		})
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}
