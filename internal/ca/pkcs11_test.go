//go:build pkcs11

package ca

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"edgecert/internal/testtool"
)

// softToken initialises a fresh SoftHSM2 token in a temporary SOFTHSM2_CONF.
func softToken(t testing.TB, label, pin string) string {
	t.Helper()
	module := testtool.SoftHSMModule(t)
	util := testtool.Path(t, "softhsm2-util")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "so-"+pin).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util: %v\n%s", err, out)
	}
	return module
}

// TestPKCS11CA keeps the CA keys in a SoftHSM2 token: init, issue, CRL and
// OCSP all sign in the token, and no key file is written.
func TestPKCS11CA(t *testing.T) {
	for _, key := range []string{"rsa2048", "p256"} {
		t.Run(key, func(t *testing.T) {
			pin := "4321"
			module := softToken(t, "edgecert-"+key, pin)
			dir := filepath.Join(t.TempDir(), "ca")
			ctx := context.Background()
			err := Init(ctx, dir, InitOptions{Name: "HSM", Key: key, Passphrase: []byte(pin), AdminName: "admin", AdminPassword: []byte("pw"),
				PKCS11: &PKCS11Config{Module: module, TokenLabel: "edgecert-" + key}})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{rootKeyFile, issuingKeyFile} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Fatalf("%s written although the keys are in the token", f)
				}
			}
			if _, err := Open(ctx, dir, OpenOptions{Passphrase: []byte("wrong")}); err == nil {
				t.Fatal("opened with a wrong PIN")
			}
			e, err := Open(ctx, dir, OpenOptions{Passphrase: []byte(pin)})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if e.softKey {
				t.Fatal("the issuing key is a software key")
			}
			if e.work.n != workerCount(false) || workerCount(false) <= workerCount(true) {
				t.Fatalf("a token key has %d workers, want %d (more than a Go key's %d)", e.work.n, workerCount(false), workerCount(true))
			}
			admin := mustPrincipal(t, e, "admin")
			res, err := e.Submit(ctx, admin, makeCSR(t, csrSpec{cn: "edge.contoso.com"}), "WebServer")
			if err != nil {
				t.Fatal(err)
			}
			checkIssued(t, e, "WebServer", res.Certificate)
			if err := e.Revoke(ctx, admin, res.Certificate.SerialNumber, "keyCompromise"); err != nil {
				t.Fatal(err)
			}
			der, err := e.CRL(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			checkCRL(t, e, der, false)
			if err := e.Ready(ctx); err != nil { // the token's key signs a test digest
				t.Fatalf("a CA with its key in a token is not ready: %v", err)
			}
			// The web server's key is sealed with the token PIN in the CA directory.
			if _, _, issued, err := e.ServerCertificate(ctx, []string{"localhost"}, nil); err != nil || !issued {
				t.Fatalf("server certificate: issued %v, %v", issued, err)
			}
			if _, _, issued, err := e.ServerCertificate(ctx, []string{"localhost"}, nil); err != nil || issued {
				t.Fatalf("server certificate again: issued %v, %v", issued, err)
			}
		})
	}
}

// BenchmarkIssuePKCS11 is BenchmarkIssue with the CA key in SoftHSM2, whose
// RSA (OpenSSL's) signs faster than Go's.
func BenchmarkIssuePKCS11(b *testing.B) {
	for _, key := range []string{"rsa2048", "p256"} {
		b.Run(key, func(b *testing.B) {
			pin := "4321"
			module := softToken(b, "bench-"+key, pin)
			dir := filepath.Join(b.TempDir(), "ca")
			ctx := context.Background()
			if err := Init(ctx, dir, InitOptions{Name: "HSM", Key: key, Passphrase: []byte(pin), AdminName: "admin", AdminPassword: []byte("pw"),
				PKCS11: &PKCS11Config{Module: module, TokenLabel: "bench-" + key}}); err != nil {
				b.Fatal(err)
			}
			e, err := Open(ctx, dir, OpenOptions{Passphrase: []byte(pin)})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			benchIssue(b, e)
		})
	}
}
