package store

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
)

func csrRequest(cn string) csr.Request {
	return csr.Request{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}}
}

// foreignFiles puts files the store did not write into every folder of
// the store in dir (names like the store's own, old temporary names, a
// symbolic link to a file outside) and returns a function that fails the
// test unless each is still there, byte for byte.
func foreignFiles(t *testing.T, dir string) func(when string) {
	t.Helper()
	outside := filepath.Join(t.TempDir(), "other-server.key")
	if err := os.WriteFile(outside, []byte("another server's private key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"README.txt":            []byte("notes of the administrator\n"),
		".tmp-index":            []byte("an earlier version's temporary name\n"),
		tmpPrefix + "notdigits": []byte("not one of the store's temporary names\n"),
		"certs/ABCD.cer":        []byte("x"),
		"certs/" + strings.Repeat("A", 40) + ".cer": []byte("looks like a certificate file"),
		"requests/old.csr":                          []byte("a request kept by hand\n"),
		"keys/XYZ.key":                              []byte("a key kept by hand\n"),
		"keys/.tmp-123":                             []byte("y"),
		"keys/" + strings.Repeat("B", 64) + ".key":  []byte("looks like a key file"),
	}
	for rel, data := range files {
		if err := os.WriteFile(filepath.Join(dir, rel), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	links := []string{"keys/link.key", "certs/link.cer"}
	for _, l := range links {
		if err := os.Symlink(outside, filepath.Join(dir, l)); err != nil {
			t.Fatal(err)
		}
	}
	return func(when string) {
		t.Helper()
		for rel, data := range files {
			got, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: the foreign file %s changed or went away (%v)", when, rel, err)
			}
		}
		for _, l := range links {
			if target, err := os.Readlink(filepath.Join(dir, l)); err != nil || target != outside {
				t.Fatalf("%s: the foreign link %s changed or went away (%v)", when, l, err)
			}
		}
		if got, err := os.ReadFile(outside); err != nil || string(got) != "another server's private key\n" {
			t.Fatalf("%s: the file outside the store changed (%v)", when, err)
		}
	}
}

// TestForeignFilesSurvive: no store operation, reading or changing,
// removes or changes a file the store did not write; check reports each.
func TestForeignFilesSurvive(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	pfx := pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf, CA: []*x509.Certificate{p.inter, p.root}}, "pw")
	dir := t.TempDir()
	openTest(t, dir, "")
	same := foreignFiles(t, dir)
	s := openTest(t, dir, "")
	same("open")
	steps := []struct {
		name string
		run  func() error
	}{
		{"list", func() error { _, err := s.List(""); return err }},
		{"import", func() error { _, err := s.Import(pfx, ImportOptions{Password: "pw", Exportable: true}); return err }},
		{"show", func() error { _, _, err := s.Certificate(thumb(leaf)); return err }},
		{"export", func() error {
			_, err := s.Export(thumb(leaf), ExportOptions{Format: "pfx", Password: "x"})
			return err
		}},
		{"export-chain", func() error { _, err := s.ExportChain(); return err }},
		{"assign", func() error { return s.Assign("Internal", thumb(leaf)) }},
		{"request", func() error {
			_, err := s.NewRequest(RequestSpec{Request: csrRequest("req.contoso.com"), Key: csr.P256})
			return err
		}},
		{"delete", func() error {
			ps, err := s.Pending()
			if err != nil || len(ps) != 1 {
				return errors.Join(err, errors.New("no pending request"))
			}
			return s.Delete(ps[0].Thumbprint)
		}},
		{"delete-key", func() error { return s.DeleteKey(thumb(leaf)) }},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		same(st.name)
		if again := openTest(t, dir, ""); again == nil {
			t.Fatal("reopen")
		}
		same(st.name + " and a new open")
	}
	err := s.Check()
	if err == nil {
		t.Fatal("check found no foreign file")
	}
	for _, rel := range []string{"README.txt", ".tmp-index", "certs/ABCD.cer", "keys/XYZ.key", "keys/.tmp-123", "keys/link.key", "requests/old.csr"} {
		if !strings.Contains(err.Error(), rel+" is not the store's") {
			t.Errorf("check does not report %s:\n%v", rel, err)
		}
	}
	same("check")
}

// TestOwnTempFilesGoAtAChangeOnly: the store's own temporary files and
// the files a killed change added stay while the store is only read, and
// the next change removes them.
func TestOwnTempFilesGoAtAChangeOnly(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	dir := t.TempDir()
	s := openTest(t, dir, "")
	if _, err := s.Import(p.root.Raw, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// A change killed before its commit: its spare names the new file.
	s.mu.Lock()
	idx, _ := s.loadLocked()
	next := idx.clone()
	rec, _ := recordForCert(p.inter, CA)
	next.Entries = append(next.Entries, rec)
	next.Generation++
	if err := s.writeSpareLocked(encodeIndex(next)); err != nil {
		t.Fatal(err)
	}
	s.mu.Unlock()
	added := filepath.Join(dir, filepath.FromSlash(rec.certFile()))
	temps := []string{filepath.Join(dir, tmpPrefix+"123456"), filepath.Join(dir, keyDir, tmpPrefix+"987")}
	for _, f := range append(temps, added) {
		if err := os.WriteFile(f, []byte("left by a killed change"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r := openTest(t, dir, "")
	if _, err := r.List(""); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, r) // the store's own: not a problem
	for _, f := range append(temps, added) {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("a read removed %s", f)
		}
	}
	if err := r.Assign("Internal", strings.Repeat("0", 40)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("assign of a missing certificate: %v", err)
	}
	for _, f := range append(temps, added) {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a change left %s behind (%v)", f, err)
		}
	}
	mustCheck(t, r)
}

// TestSymlinkedFolderRefused: a store whose directory or folder is a
// symbolic link is refused with one line, and the folder it points to is
// untouched; so is a folder owned by another user.
func TestSymlinkedFolderRefused(t *testing.T) {
	for _, folder := range []string{".", certDir, reqDir, keyDir} {
		t.Run(folder, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "store")
			openTest(t, dir, "")
			target := filepath.Join(base, "elsewhere")
			if err := os.Mkdir(target, 0o700); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(target, "other.key"), []byte("another server's key"), 0o600)
			link := filepath.Join(dir, folder)
			if folder == "." {
				link = filepath.Join(base, "linked-store")
				// The whole store through a link: the target is a real store.
				target = dir
			} else if err := os.RemoveAll(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			before := treeHash(t, target)
			open := dir
			if folder == "." {
				open = link
			}
			_, err := Open(open, Options{})
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "symbolic link") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("open through a link: %v", err)
			}
			if after := treeHash(t, target); after != before {
				t.Fatalf("the linked folder changed:\n%s\n%s", before, after)
			}
		})
	}
	t.Run("linked after open", func(t *testing.T) {
		base := t.TempDir()
		dir := filepath.Join(base, "store")
		s := openTest(t, dir, "")
		target := filepath.Join(base, "elsewhere")
		os.Mkdir(target, 0o700)
		os.WriteFile(filepath.Join(target, "other.key"), []byte("another server's key"), 0o600)
		os.RemoveAll(filepath.Join(dir, keyDir))
		os.Symlink(target, filepath.Join(dir, keyDir))
		before := treeHash(t, target)
		_, err := s.NewRequest(RequestSpec{Request: csrRequest("a.contoso.com"), Key: csr.P256})
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("a change through a link: %v", err)
		}
		if after := treeHash(t, target); after != before {
			t.Fatal("the linked folder changed")
		}
	})
	t.Run("other owner", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("changing a folder's owner needs root") // the test environment runs as root
		}
		dir := filepath.Join(t.TempDir(), "store")
		openTest(t, dir, "")
		if err := os.Chown(filepath.Join(dir, certDir), 4242, 4242); err != nil {
			t.Fatal(err)
		}
		_, err := Open(dir, Options{})
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "owned by uid 4242") {
			t.Fatalf("open with a folder of another user: %v", err)
		}
	})
}

// TestEndlessStoreFileRefused: a store file replaced by one that never
// ends (a link to /dev/zero) is refused with "file too large", not read
// until memory runs out.
func TestEndlessStoreFileRefused(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	dir := t.TempDir()
	s := openTest(t, dir, "")
	if _, err := s.Import(p.root.Raw, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, certDir, thumb(p.root)+".cer")
	os.Remove(f)
	if err := os.Symlink("/dev/zero", f); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, dir, "")
	if _, _, err := r.Certificate(thumb(p.root)); err == nil || !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("show of an endless certificate file: %v", err)
	}
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("check: %v", err)
	}
}
