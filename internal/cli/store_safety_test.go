package cli

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgecert/internal/certfmt"
)

// plantForeign puts files the store did not write, and symbolic links to
// a file outside it, into every folder of the store in dir, and returns a
// function that fails the test unless each is byte-identical.
func plantForeign(t *testing.T, dir string) func(when string) {
	t.Helper()
	outside := filepath.Join(t.TempDir(), "other-server.key")
	if err := os.WriteFile(outside, []byte("another server's private key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, d := range []string{".", "certs", "requests", "keys"} {
		for _, name := range []string{"notes.txt", ".tmp-12345", strings.Repeat("C", 40) + ".cer", strings.Repeat("D", 64) + ".key"} {
			rel := filepath.Join(d, name)
			files[rel] = []byte("foreign " + rel + "\n")
			if err := os.WriteFile(filepath.Join(dir, rel), files[rel], 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(outside, filepath.Join(dir, d, "link.key")); err != nil {
			t.Fatal(err)
		}
	}
	return func(when string) {
		t.Helper()
		for rel, data := range files {
			if got, err := os.ReadFile(filepath.Join(dir, rel)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("after %s: the foreign file %s changed or went away (%v)", when, rel, err)
			}
		}
		for _, d := range []string{".", "certs", "requests", "keys"} {
			if target, err := os.Readlink(filepath.Join(dir, d, "link.key")); err != nil || target != outside {
				t.Fatalf("after %s: the foreign link %s/link.key changed (%v)", when, d, err)
			}
		}
		if got, _ := os.ReadFile(outside); string(got) != "another server's private key\n" {
			t.Fatalf("after %s: the file outside the store changed", when)
		}
	}
}

// TestStoreCommandsLeaveForeignFiles runs every store command against a
// store whose folders hold files and links it did not write: each stays
// byte-identical, and store check reports them (exit 3).
func TestStoreCommandsLeaveForeignFiles(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	ca := newTestCA(t)
	reqPath := filepath.Join(dir, "edge.csr")
	mustRun(t, "request", "new", "--store", st, "--cn", "sip.contoso.com", "--key", "p256", "--exportable", "--out", reqPath)
	same := plantForeign(t, st)

	chain, _ := certfmt.EncodePKCS7([]*x509.Certificate{ca.inter, ca.root})
	leaf := ca.issue(t, reqPath, time.Now().AddDate(1, 0, 0))
	tp := certfmt.ThumbprintSHA1(leaf)
	pw := writeFile(t, dir, "pw.txt", []byte("Secr3t!\n"))
	steps := [][]string{
		{"store", "list", "--store", st},
		{"store", "import", "--store", st, writeFile(t, dir, "chain.p7b", chain)},
		{"store", "import", "--store", st, writeFile(t, dir, "edge.cer", leaf.Raw)},
		{"store", "show", "--store", st, "--thumbprint", tp},
		{"store", "export", "--store", st, "--thumbprint", tp, "--out", filepath.Join(dir, "edge.pfx"), "--password-file", pw},
		{"store", "export", "--store", st, "--thumbprint", tp, "--out", filepath.Join(dir, "edge.cer2"), "--format", "cer"},
		{"store", "export-chain", "--store", st, "--out", filepath.Join(dir, "ca.p7b")},
		{"assign", "--store", st, "--usage", "Internal", "--thumbprint", tp},
		{"assign", "--store", st, "--list"},
		{"request", "new", "--store", st, "--cn", "other.contoso.com", "--key", "p256", "--out", filepath.Join(dir, "other.csr")},
		{"store", "import", "--store", st, "--password-file", pw, filepath.Join(dir, "edge.pfx")},
	}
	for _, args := range steps {
		mustRun(t, args...)
		same(strings.Join(args[:2], " "))
	}
	var pending string
	out := mustRun(t, "store", "list", "--store", st, "--location", "request")
	for _, f := range strings.Fields(out) {
		if len(f) == 40 {
			pending = f
		}
	}
	mustRun(t, "store", "delete", "--store", st, "--thumbprint", pending)
	same("store delete")
	_, errs, code := runStoreCLI(t, "store", "check", "--store", st)
	if code != ExitVerify || !strings.Contains(errs, "notes.txt is not the store's") || !strings.Contains(errs, "keys/link.key is not the store's") {
		t.Fatalf("store check: exit %d\n%s", code, errs)
	}
	same("store check")
}

// TestStoreCommandsRefuseLinkedFolder: every store command refuses a
// store whose folder is a symbolic link, in one line, and leaves the
// folder it points to as it was.
func TestStoreCommandsRefuseLinkedFolder(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	mustRun(t, "request", "new", "--store", st, "--cn", "sip.contoso.com", "--key", "p256", "--out", filepath.Join(dir, "r.csr"))
	other := filepath.Join(dir, "other-server-keys")
	os.Mkdir(other, 0o700)
	writeFile(t, other, "edge.key", []byte("another server's private key"))
	if err := os.Rename(filepath.Join(st, "keys"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(st, "keys")); err != nil {
		t.Fatal(err)
	}
	before := hashTree(t, other)
	ca := newTestCA(t)
	tp := certfmt.ThumbprintSHA1(ca.root)
	for _, args := range [][]string{
		{"store", "list", "--store", st},
		{"store", "import", "--store", st, writeFile(t, dir, "root.cer", ca.root.Raw)},
		{"store", "show", "--store", st, "--thumbprint", tp},
		{"store", "export", "--store", st, "--thumbprint", tp, "--out", filepath.Join(dir, "x.cer")},
		{"store", "export-chain", "--store", st, "--out", filepath.Join(dir, "x.p7b")},
		{"store", "delete", "--store", st, "--thumbprint", tp},
		{"store", "check", "--store", st},
		{"assign", "--store", st, "--list"},
		{"request", "new", "--store", st, "--cn", "b.contoso.com", "--key", "p256", "--out", filepath.Join(dir, "b.csr")},
	} {
		_, errs, code := runStoreCLI(t, args...)
		if code != ExitUsage || !strings.Contains(errs, "is a symbolic link") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errs)
		}
		if after := hashTree(t, other); after != before {
			t.Fatalf("%v changed the linked folder", args)
		}
	}
}
