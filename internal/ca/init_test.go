package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgecert/internal/certfmt"
)

func TestInitRefusesBadOptionsAndLeavesNothing(t *testing.T) {
	base := InitOptions{Name: "Contoso", Key: "p256", Passphrase: testPassphrase}
	cases := []struct {
		name string
		edit func(*InitOptions)
	}{
		{"unknown key", func(o *InitOptions) { o.Key = "rsa1024" }},
		{"no passphrase", func(o *InitOptions) { o.Passphrase = nil }},
		{"passphrase of 11 characters", func(o *InitOptions) { o.Passphrase = []byte("eleven char") }},
		{"bad CRL URL", func(o *InitOptions) { o.CRLURL = "ftp://x/" }},
		{"CRL URL not a base", func(o *InitOptions) { o.CRLURL = "http://x/crl" }},
		{"negative path length", func(o *InitOptions) { o.PathLen = -1 }},
		{"issuing outlives root", func(o *InitOptions) { o.RootValidity, o.IssuingValidity = time.Hour, 2*time.Hour }},
		{"admin without password", func(o *InitOptions) { o.AdminName = "admin" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			o := base
			c.edit(&o)
			if err := Init(context.Background(), dir, o); !errors.Is(err, ErrBadRequest) {
				t.Fatalf("got %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s left behind", dir)
			}
		})
	}
	_, dir := newCA(t, "", "p256")
	if err := Init(context.Background(), dir, base); !errors.Is(err, ErrConflict) {
		t.Fatalf("second init: %v", err)
	}
}

func TestOpenWrongPassphrase(t *testing.T) {
	_, dir := newCA(t, "", "p256")
	if _, err := Open(context.Background(), dir, OpenOptions{Passphrase: []byte("nope")}); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("got %v", err)
	}
	if _, err := Open(context.Background(), filepath.Join(dir, "missing"), OpenOptions{Passphrase: testPassphrase}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestRootOnlyCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ctx := context.Background()
	if err := Init(ctx, dir, InitOptions{Key: "p384", RootOnly: true, Passphrase: testPassphrase, AdminName: "admin", AdminPassword: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, dir, OpenOptions{Passphrase: testPassphrase})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if len(e.Chain()) != 1 || e.FileName() != e.RootFileName() {
		t.Fatalf("chain %d, names %s %s", len(e.Chain()), e.FileName(), e.RootFileName())
	}
	res, err := e.Submit(ctx, mustPrincipal(t, e, "admin"), makeCSR(t, csrSpec{cn: "a.contoso.com"}), "WebServer")
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Certificate.CheckSignatureFrom(e.Chain()[0]); err != nil {
		t.Fatal(err)
	}
	der, err := e.CRL(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	checkCRL(t, e, der, false)
}

// TestIssuingCAForExistingRoot: write the issuing CA's request, have an
// external root sign it, import, and issue.
func TestIssuingCAForExistingRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ctx := context.Background()
	if err := Init(ctx, dir, InitOptions{Name: "Fabrikam", Key: "p256", IssuingRequest: true, Passphrase: testPassphrase, AdminName: "admin", AdminPassword: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir, OpenOptions{Passphrase: testPassphrase}); !errors.Is(err, ErrConflict) {
		t.Fatalf("open before import: %v", err)
	}
	csrPEM, err := os.ReadFile(filepath.Join(dir, issuingCSRFile))
	if err != nil {
		t.Fatal(err)
	}
	req, err := parseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "External Root"}, NotBefore: now, NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, _ := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	root, _ := x509.ParseCertificate(rootDER)
	issTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: req.Subject, NotBefore: now, NotAfter: now.Add(5 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	issDER, _ := x509.CreateCertificate(rand.Reader, issTmpl, root, req.PublicKey, rootKey)
	iss, _ := x509.ParseCertificate(issDER)

	// A certificate for another key, or not from this root, is refused.
	other, _ := x509.CreateCertificate(rand.Reader, issTmpl, root, rootKey.Public(), rootKey)
	if err := ImportIssuing(dir, other, rootDER); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("other key: %v", err)
	}
	if err := ImportIssuing(dir, issDER, issDER); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("wrong root: %v", err)
	}
	if err := ImportIssuing(dir, certfmt.EncodeCertificatePEM(iss), certfmt.EncodeCertificatePEM(root)); err != nil {
		t.Fatal(err)
	}
	e, err := Open(ctx, dir, OpenOptions{Passphrase: testPassphrase})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res, err := e.Submit(ctx, mustPrincipal(t, e, "admin"), makeCSR(t, csrSpec{cn: "a.fabrikam.com"}), "WebServer")
	if err != nil {
		t.Fatal(err)
	}
	checkIssued(t, e, "WebServer", res.Certificate)
	if !strings.Contains(res.Certificate.CRLDistributionPoints[0], "Fabrikam-Issuing-CA.crl") {
		t.Fatalf("CDP %v", res.Certificate.CRLDistributionPoints)
	}
}

func TestPKCS11NeedsItsBuild(t *testing.T) {
	if PKCS11Available {
		t.Skip("this is the pkcs11 build")
	}
	dir := filepath.Join(t.TempDir(), "ca")
	err := Init(context.Background(), dir, InitOptions{Key: "p256", Passphrase: []byte("1234"), PKCS11: &PKCS11Config{Module: "/x.so", TokenLabel: "t"}})
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "-tags pkcs11") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("directory left behind")
	}
}

func TestServerCertificate(t *testing.T) {
	e, _ := newCA(t, "", "rsa2048")
	certPEM, keyPEM, err := e.IssueServerCertificate(context.Background(), []string{"ca.contoso.com"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := certfmt.ParseCertificates(certPEM)
	if err != nil || len(certs) != 2 {
		t.Fatalf("%v %d", err, len(certs))
	}
	key, err := certfmt.ParsePrivateKey(keyPEM)
	if err != nil || !certfmt.PublicKeysEqual(key.Public(), certs[0].PublicKey) {
		t.Fatalf("key: %v", err)
	}
	checkIssued(t, e, "server", certs[0])
	if _, err := e.db.Certificate(context.Background(), serialHex(certs[0].SerialNumber)); err != nil {
		t.Fatalf("not recorded: %v", err)
	}
}

func TestRenewRootCRL(t *testing.T) {
	e, _ := newCA(t, "", "p256")
	first, err := e.RootCRL()
	if err != nil {
		t.Fatal(err)
	}
	der, err := e.RenewRootCRL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := x509.ParseRevocationList(first)
	b, err := x509.ParseRevocationList(der)
	if err != nil || b.CheckSignatureFrom(e.root) != nil || b.Number.Cmp(a.Number) <= 0 {
		t.Fatalf("renewed root CRL: %v, number %v after %v", err, b.Number, a.Number)
	}
	if stored, _ := e.RootCRL(); string(stored) != string(der) {
		t.Fatal("renewed root CRL not stored")
	}
}

// TestInitFolderAndModes: init refuses a folder that holds anything and
// leaves it byte-identical; into a new or empty folder it makes the folder
// 0700 and every file 0600, the database and its journal files included.
func TestInitFolderAndModes(t *testing.T) {
	ctx := context.Background()
	base := InitOptions{Name: "Contoso", Key: "p256", Passphrase: testPassphrase, AdminName: "admin", AdminPassword: []byte("admin-password")}

	t.Run("non-empty folder", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Init(ctx, dir, base); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("init into a non-empty folder: %v", err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 2 {
			t.Fatalf("the folder holds %d entries after a refused init", len(ents))
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != "mine" {
			t.Fatalf("notes.txt changed: %q", b)
		}
		if st, _ := os.Stat(dir); st.Mode().Perm() != 0o755 {
			t.Fatalf("the refused folder's mode changed to %v", st.Mode().Perm())
		}
	})
	t.Run("a file, not a folder", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		os.WriteFile(f, []byte("x"), 0o600)
		if err := Init(ctx, f, base); !errors.Is(err, ErrBadRequest) {
			t.Fatalf("init into a file: %v", err)
		}
	})
	for _, c := range []struct {
		name   string
		create bool
	}{{"new folder", false}, {"empty folder", true}} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			if c.create {
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := Init(ctx, dir, base); err != nil {
				t.Fatal(err)
			}
			// Use the CA so that the database's journal files exist.
			e, err := Open(ctx, dir, OpenOptions{Passphrase: testPassphrase})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.AddUser(ctx, UserSpec{Name: "someone", Password: []byte("pw")}); err != nil {
				t.Fatal(err)
			}
			checkModes(t, dir)
			e.Close()
			checkModes(t, dir)
		})
	}
}

// checkModes asserts that dir and every folder under it are 0700 and every
// file 0600, and that ca.db is among them.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	sawDB := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Lstat(p)
		if err != nil {
			return nil // a journal file that went away
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), want)
		}
		sawDB = sawDB || d.Name() == defaultDBFile
		return nil
	})
	if !sawDB {
		t.Errorf("no %s in %s", defaultDBFile, dir)
	}
}
