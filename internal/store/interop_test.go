package store

import (
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/certfmt"
	"edgecert/internal/testtool"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// interopStore is a store with an RSA chain and an exportable edge
// certificate named "Edge Pool External".
func interopStore(t *testing.T) (*Store, *pki, *x509.Certificate) {
	p := newPKI(t, "Contoso", 2048)
	s := openTest(t, t.TempDir(), "")
	if _, err := s.Import(p7bOf(t, p.root, p.inter), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	key := newKey(t, 2048)
	leaf := p.leaf(t, key.Public(), "sip.contoso.com", testNow.AddDate(1, 0, 0))
	data := pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf, FriendlyName: "Edge Pool External"}, "pw")
	if _, err := s.Import(data, ImportOptions{Password: "pw", Exportable: true}); err != nil {
		t.Fatal(err)
	}
	return s, p, leaf
}

// TestInteropExportedPFX: OpenSSL 3 and GnuTLS read the PFX we export, in
// both profiles, with the friendly name, the key and the whole chain.
func TestInteropExportedPFX(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	certtool := testtool.Path(t, "certtool")
	s, _, leaf := interopStore(t)
	for _, tc := range []struct {
		name    string
		profile certfmt.PFXProfile
	}{{"modern", certfmt.PFXModern}, {"legacy", certfmt.PFXLegacy}} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := s.Export(thumb(leaf), ExportOptions{Format: "pfx", Password: "Pa55 word", Profile: tc.profile})
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "edge.pfx")
			os.WriteFile(f, data, 0o600)
			out := run(t, openssl, "pkcs12", "-info", "-in", f, "-passin", "pass:Pa55 word", "-noenc")
			if !strings.Contains(out, "friendlyName: Edge Pool External") {
				t.Errorf("openssl shows no friendly name:\n%s", out)
			}
			if n := strings.Count(out, "BEGIN CERTIFICATE"); n != 3 {
				t.Errorf("openssl sees %d certificates, want 3 (leaf + chain)", n)
			}
			if !strings.Contains(out, "BEGIN PRIVATE KEY") {
				t.Error("openssl sees no private key")
			}
			out = run(t, certtool, "--p12-info", "--inder", "--infile", f, "--password", "Pa55 word")
			if !strings.Contains(out, "Friendly name: Edge Pool External") {
				t.Errorf("certtool shows no friendly name:\n%s", out)
			}
		})
	}
}

// TestInteropChain: openssl verify and certtool --verify-chain accept the
// chain we export (.p7b of the certificate, and export-chain).
func TestInteropChain(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	certtool := testtool.Path(t, "certtool")
	s, _, leaf := interopStore(t)
	dir := t.TempDir()
	chain, err := s.ExportChain()
	if err != nil {
		t.Fatal(err)
	}
	p7b, err := s.Export(thumb(leaf), ExportOptions{Format: "p7b"})
	if err != nil {
		t.Fatal(err)
	}
	cer, err := s.Export(thumb(leaf), ExportOptions{Format: "cer"})
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	chainP7B, leafP7B, leafCer := write("chain.p7b", chain), write("leaf.p7b", p7b), write("leaf.cer", cer)
	chainPEM := filepath.Join(dir, "chain.pem")
	run(t, openssl, "pkcs7", "-inform", "DER", "-in", chainP7B, "-print_certs", "-out", chainPEM)
	leafPEM := filepath.Join(dir, "leaf.pem")
	run(t, openssl, "x509", "-inform", "DER", "-in", leafCer, "-out", leafPEM)
	if out := run(t, openssl, "verify", "-CAfile", chainPEM, leafPEM); !strings.Contains(out, "OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	pathPEM := filepath.Join(dir, "path.pem")
	run(t, openssl, "pkcs7", "-inform", "DER", "-in", leafP7B, "-print_certs", "-out", pathPEM)
	b, _ := os.ReadFile(pathPEM)
	if n := strings.Count(string(b), "BEGIN CERTIFICATE"); n != 3 {
		t.Fatalf("the .p7b of the certificate holds %d certificates, want 3", n)
	}
	if out := run(t, certtool, "--verify-chain", "--infile", pathPEM); !strings.Contains(out, "Chain verification output: Verified") {
		t.Fatalf("certtool --verify-chain:\n%s", out)
	}
}

// TestInteropImportOpenSSLPFX: PFX files that OpenSSL 3 makes, by default
// (AES-256, PBKDF2) and with -legacy (RC2-40/3DES, SHA-1 MAC), import with
// their friendly name, key and chain.
func TestInteropImportOpenSSLPFX(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	p := newPKI(t, "Contoso", 2048)
	key := newKey(t, 2048)
	leaf := p.leaf(t, key.Public(), "webext.contoso.com", testNow.AddDate(1, 0, 0))
	dir := t.TempDir()
	keyPEM, _ := certfmt.MarshalPrivateKeyPEM(key)
	os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "leaf.pem"), pemOf(leaf), 0o644)
	os.WriteFile(filepath.Join(dir, "chain.pem"), pemOf(p.inter, p.root), 0o644)
	for _, tc := range []struct {
		name  string
		extra []string
	}{{"default", nil}, {"legacy", []string{"-legacy"}}, {"windows-attributes", []string{"-LMK", "-CSP", "Microsoft Enhanced RSA and AES Cryptographic Provider"}}} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, tc.name+".pfx")
			args := append([]string{"pkcs12", "-export", "-in", filepath.Join(dir, "leaf.pem"), "-inkey", filepath.Join(dir, "key.pem"),
				"-certfile", filepath.Join(dir, "chain.pem"), "-name", "Reverse Proxy Listener", "-passout", "pass:pw", "-out", f}, tc.extra...)
			run(t, openssl, args...)
			data, _ := os.ReadFile(f)
			s := openTest(t, t.TempDir(), "")
			res, err := s.Import(data, ImportOptions{Password: "pw"})
			if err != nil {
				t.Fatal(err)
			}
			got := locations(res.Added)
			if got[thumb(leaf)] != My || got[thumb(p.inter)] != CA || got[thumb(p.root)] != Root {
				t.Fatalf("locations: %v", got)
			}
			e, _, _ := s.Certificate(thumb(leaf))
			if e.FriendlyName != "Reverse Proxy Listener" || !e.HasKey || e.Exportable {
				t.Fatalf("entry: %+v", e)
			}
			k, err := s.PrivateKey(thumb(leaf))
			if err != nil || !certfmt.PublicKeysEqual(k.Public(), leaf.PublicKey) {
				t.Fatalf("key: %v", err)
			}
			if err := s.Assign("WebServicesExternal", thumb(leaf)); err != nil {
				t.Fatal(err)
			}
			mustCheck(t, s)
		})
	}
}
