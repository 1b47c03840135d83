package store

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/csr"
	"edgecert/internal/testtool"
)

// gnutlsPKI makes a CA, a server key and certificate, and a request with
// GnuTLS's certtool, as an administrator on a Linux reverse proxy would.
func gnutlsPKI(t *testing.T, certtool string) string {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	write := func(name, s string) {
		if err := os.WriteFile(p(name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.tmpl", "cn = \"GnuTLS Test Root\"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 30\n")
	write("leaf.tmpl", "cn = \"webext.contoso.com\"\ndns_name = \"webext.contoso.com\"\ndns_name = \"meet.contoso.com\"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 10\n")
	run(t, certtool, "--generate-privkey", "--key-type", "rsa", "--bits", "2048", "--outfile", p("ca.key"))
	run(t, certtool, "--generate-self-signed", "--load-privkey", p("ca.key"), "--template", p("ca.tmpl"), "--outfile", p("ca.pem"))
	run(t, certtool, "--generate-privkey", "--key-type", "rsa", "--bits", "2048", "--outfile", p("leaf.key"))
	run(t, certtool, "--generate-certificate", "--load-privkey", p("leaf.key"), "--load-ca-certificate", p("ca.pem"),
		"--load-ca-privkey", p("ca.key"), "--template", p("leaf.tmpl"), "--outfile", p("leaf.pem"))
	run(t, certtool, "--generate-request", "--load-privkey", p("leaf.key"), "--template", p("leaf.tmpl"), "--outfile", p("leaf.csr"))
	run(t, certtool, "--p7-generate", "--load-certificate", p("ca.pem"), "--outfile", p("chain.p7b"))
	run(t, certtool, "--to-p12", "--load-privkey", p("leaf.key"), "--load-certificate", p("leaf.pem"),
		"--load-ca-certificate", p("ca.pem"), "--p12-name", "GnuTLS Reverse Proxy", "--password", "gnu pass",
		"--outder", "--outfile", p("leaf.p12"))
	return dir
}

// TestInteropGnuTLSWrittenFiles: files GnuTLS writes (a PKCS#7 chain, a
// PKCS#12 with a friendly name, a PKCS#10 request, PEM certificates) are read
// by edgecert and land where Windows would put them.
func TestInteropGnuTLSWrittenFiles(t *testing.T) {
	certtool := testtool.Path(t, "certtool")
	dir := gnutlsPKI(t, certtool)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s := openTest(t, t.TempDir(), "")

	res, err := s.Import(read("chain.p7b"), ImportOptions{})
	if err != nil {
		t.Fatalf("import certtool .p7b: %v", err)
	}
	if len(res.Added) != 1 || res.Added[0].Location != Root || !strings.Contains(res.Added[0].Subject, "GnuTLS Test Root") {
		t.Fatalf("certtool chain filed as %+v, want the root in root", res.Added)
	}

	res, err = s.Import(read("leaf.p12"), ImportOptions{Password: "gnu pass", Exportable: true})
	if err != nil {
		t.Fatalf("import certtool .p12: %v", err)
	}
	var leaf *Entry
	for i, e := range res.Added {
		if e.Location == My {
			leaf = &res.Added[i]
		}
	}
	if leaf == nil || !leaf.HasKey || leaf.FriendlyName != "GnuTLS Reverse Proxy" || !strings.Contains(leaf.Subject, "webext.contoso.com") {
		t.Fatalf("certtool PFX leaf filed as %+v (added %+v)", leaf, res.Added)
	}
	if _, err := s.Import(read("leaf.p12"), ImportOptions{Password: "wrong"}); err == nil {
		t.Fatal("a wrong password was accepted")
	}

	req, err := csr.Parse(read("leaf.csr"))
	if err != nil {
		t.Fatalf("parse certtool request: %v", err)
	}
	info := csr.Describe(req)
	if !info.SignatureValid || len(info.DNSNames) != 2 || info.KeyBits != 2048 {
		t.Fatalf("certtool request read as %+v", info)
	}

	// Exported again, GnuTLS reads our PFX of its key with the name it gave.
	out, err := s.Export(leaf.Thumbprint, ExportOptions{Format: "pfx", Password: "back again"})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "back.pfx")
	if err := os.WriteFile(f, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if info := run(t, certtool, "--p12-info", "--inder", "--infile", f, "--password", "back again"); !strings.Contains(info, "GnuTLS Reverse Proxy") {
		t.Fatalf("certtool does not show the friendly name in our export:\n%s", info)
	}
}
