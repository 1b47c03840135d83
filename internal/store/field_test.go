package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/testtool"
)

// Files from the field imported into a store: each made by a real tool and
// read back by OpenSSL (and GnuTLS where it reads the format).

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestImportFieldFiles imports one file per class and checks where each
// certificate lands and what the store shows of it.
func TestImportFieldFiles(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	certtool := testtool.Path(t, "certtool")
	keytool := testtool.Path(t, "keytool")
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }

	rootKey := f("root.key")
	run(t, openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", rootKey)
	run(t, openssl, "req", "-new", "-key", rootKey, "-subj", "/DC=local/DC=corp/CN=Old Root", "-out", f("root.csr"))
	leafKey := f("leaf.key")
	run(t, openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", leafKey)
	run(t, openssl, "req", "-new", "-key", leafKey, "-subj", "/DC=local/DC=corp/CN=edge.corp.local/emailAddress=pki@corp.local", "-out", f("leaf.csr"))
	for _, md := range []string{"sha1", "md5"} {
		// A version 1 root self-signed with a hash crypto/x509 refuses, and
		// a leaf it signed: with SHA-256 under the SHA-1 root, with MD5
		// under the MD5 root.
		leafMD := map[string]string{"sha1": "sha256", "md5": "md5"}[md]
		run(t, openssl, "x509", "-req", "-in", f("root.csr"), "-signkey", rootKey, "-"+md, "-days", "30", "-out", f("root-"+md+".pem"))
		run(t, openssl, "x509", "-req", "-in", f("leaf.csr"), "-CA", f("root-"+md+".pem"), "-CAkey", rootKey, "-set_serial", "-0x0102", "-"+leafMD, "-days", "30", "-out", f("leaf-"+md+".pem"))
		run(t, openssl, "pkcs12", "-export", "-inkey", leafKey, "-in", f("leaf-"+md+".pem"), "-certfile", f("root-"+md+".pem"), "-passout", "pass:pw", "-out", f("leaf-"+md+".pfx"))
		run(t, certtool, "-i", "--infile", f("leaf-"+md+".pem"))
	}
	run(t, openssl, "pkcs12", "-in", f("leaf-sha1.pfx"), "-passin", "pass:pw", "-noout")
	for _, k := range []struct{ alias, dn string }{{"web", "CN=web.corp.local"}, {"edge", "CN=edge2.corp.local"}} {
		run(t, keytool, "-genkeypair", "-keystore", f("two.p12"), "-storetype", "PKCS12", "-storepass", "changeit", "-alias", k.alias,
			"-keyalg", "EC", "-groupname", "secp256r1", "-dname", k.dn, "-validity", "30")
	}
	run(t, openssl, "pkcs12", "-in", f("two.p12"), "-passin", "pass:changeit", "-noout")
	run(t, openssl, "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "pbits:2048", "-out", f("dsa.param"))
	run(t, openssl, "genpkey", "-paramfile", f("dsa.param"), "-out", f("dsa.key"))
	run(t, openssl, "req", "-x509", "-key", f("dsa.key"), "-subj", "/CN=DSA Root", "-days", "30", "-outform", "DER", "-out", f("dsa.cer"))
	run(t, certtool, "-i", "--inder", "--infile", f("dsa.cer"))

	t.Run("v1 roots self-signed with SHA-1 and MD5 go to root", func(t *testing.T) {
		for _, md := range []string{"sha1", "md5"} {
			s := openTest(t, t.TempDir(), "")
			res, err := s.Import(readAll(t, f("root-"+md+".pem")), ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Added) != 1 || res.Added[0].Location != Root {
				t.Fatalf("%s: %+v", md, res.Added)
			}
		}
	})
	t.Run("pfx with a negative serial and a SHA-1 root", func(t *testing.T) {
		s := openTest(t, t.TempDir(), "")
		res, err := s.Import(readAll(t, f("leaf-sha1.pfx")), ImportOptions{Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Added) != 2 || res.Added[0].Location != My || res.Added[1].Location != Root || len(res.RootsAdded()) != 1 {
			t.Fatalf("added %+v", res.Added)
		}
		e := res.Added[0]
		if e.Serial != "FEFE" {
			t.Fatalf("serial shown %q, want FEFE (the octets of -0x0102)", e.Serial)
		}
		if e.Subject != "E=pki@corp.local,CN=edge.corp.local,DC=corp,DC=local" || res.Added[1].Subject != "CN=Old Root,DC=corp,DC=local" || e.Issuer != res.Added[1].Subject {
			t.Fatalf("names shown %q / %q / %q", e.Subject, e.Issuer, res.Added[1].Subject)
		}
		s2 := openTest(t, s.Dir(), "") // read back from its files
		_, cert, err := s2.Certificate(e.Thumbprint)
		if err != nil {
			t.Fatal(err)
		}
		if chain, err := s2.Chain(cert); err != nil || len(chain) != 2 {
			t.Fatalf("chain %d, %v", len(chain), err)
		}
		der, err := s2.Export(e.Thumbprint, ExportOptions{Format: "cer"})
		if err != nil || !bytes.Equal(der, cert.Raw) {
			t.Fatalf("export: %v", err)
		}
		if !strings.Contains(run(t, openssl, "x509", "-inform", "DER", "-in", writeTemp(t, der), "-noout", "-serial"), "serial=-0102") {
			t.Fatal("the exported certificate is not the original")
		}
		mustCheck(t, s2)
	})
	t.Run("a leaf signed with MD5 is filed but not trusted", func(t *testing.T) {
		s := openTest(t, t.TempDir(), "")
		res, err := s.Import(readAll(t, f("leaf-md5.pfx")), ImportOptions{Password: "pw"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.RootsAdded()) != 1 {
			t.Fatalf("the MD5 root was not filed in root: %+v", res.Added)
		}
		_, cert, _ := s.Certificate(res.Added[0].Thumbprint)
		if _, err := s.Chain(cert); !errors.Is(err, ErrChain) {
			t.Fatalf("chain of an MD5-signed leaf: %v", err)
		}
	})
	t.Run("two keys with their certificates", func(t *testing.T) {
		s := openTest(t, t.TempDir(), "")
		data := readAll(t, f("two.p12"))
		if _, err := s.Import(data, ImportOptions{Password: "changeit", FriendlyName: "x"}); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "2 private keys") {
			t.Fatalf("one friendly name for two keys: %v", err)
		}
		res, err := s.Import(data, ImportOptions{Password: "changeit"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range res.Added {
			if e.Location != My || !e.HasKey {
				t.Fatalf("entry %+v", e)
			}
			got[e.FriendlyName] = e.Subject
		}
		if len(got) != 2 || got["web"] != "CN=web.corp.local" || got["edge"] != "CN=edge2.corp.local" {
			t.Fatalf("imported %v", got)
		}
		mustCheck(t, s)
	})
	t.Run("a DSA certificate is named, not called corrupt", func(t *testing.T) {
		s := openTest(t, t.TempDir(), "")
		_, err := s.Import(readAll(t, f("dsa.cer")), ImportOptions{})
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), `certificate "CN=DSA Root": unsupported key algorithm DSA (1.2.840.10040.4.1)`) {
			t.Fatalf("err = %v", err)
		}
	})
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
