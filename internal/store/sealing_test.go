package store

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
)

// TestSealingRecorded: a store that seals its keys refuses, before it
// writes anything, a change that would add a key without the passphrase
// or under another one; a store that keeps keys unsealed refuses a
// passphrase. Requests and .pfx imports alike.
func TestSealingRecorded(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	pfx := pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf, CA: []*x509.Certificate{p.inter, p.root}}, "pw")
	writes := map[string]func(s *Store) error{
		"request new": func(s *Store) error {
			_, err := s.NewRequest(RequestSpec{Request: csrRequest("b.contoso.com"), Key: csr.P256})
			return err
		},
		"import pfx": func(s *Store) error { _, err := s.Import(pfx, ImportOptions{Password: "pw"}); return err },
	}
	cases := []struct {
		name, made, given, want string
	}{
		{"sealed, no passphrase", "right horse", "", "seals its private keys: give the store passphrase"},
		{"sealed, another passphrase", "right horse", "wrong horse", "wrong store passphrase"},
		{"unsealed, a passphrase", "", "right horse", "keeps its private keys unsealed"},
	}
	for _, tc := range cases {
		for what, write := range writes {
			t.Run(tc.name+"/"+what, func(t *testing.T) {
				dir := t.TempDir()
				first := openTest(t, dir, tc.made)
				if _, err := first.NewRequest(RequestSpec{Request: csrRequest("a.contoso.com"), Key: csr.P256}); err != nil {
					t.Fatal(err)
				}
				before := treeHash(t, dir)
				err := write(openTest(t, dir, tc.given))
				if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				if after := treeHash(t, dir); after != before {
					t.Fatalf("the refused change wrote:\n%s\n---\n%s", before, after)
				}
				if err := write(openTest(t, dir, tc.made)); err != nil {
					t.Fatalf("with the store's own passphrase: %v", err)
				}
				mustCheck(t, openTest(t, dir, tc.made))
			})
		}
	}
}

// TestSealingOfOlderStores: a store whose index records no sealing (made
// by version 1) is judged by its first key, and records it.
func TestSealingOfOlderStores(t *testing.T) {
	for _, made := range []string{"", "right horse"} {
		t.Run("passphrase="+made, func(t *testing.T) {
			dir := t.TempDir()
			s := openTest(t, dir, made)
			if _, err := s.NewRequest(RequestSpec{Request: csrRequest("a.contoso.com"), Key: csr.P256}); err != nil {
				t.Fatal(err)
			}
			// Rewrite the index as version 1 wrote it.
			idx, _ := s.snapshot()
			old := idx.clone()
			old.Version, old.Sealing = 1, ""
			if err := os.WriteFile(filepath.Join(dir, indexName), encodeIndex(old), 0o600); err != nil {
				t.Fatal(err)
			}
			before := treeHash(t, dir)
			for _, given := range []string{"", "wrong horse", "right horse"} {
				if given == made {
					continue
				}
				_, err := openTest(t, dir, given).NewRequest(RequestSpec{Request: csrRequest("b.contoso.com"), Key: csr.P256})
				if !errors.Is(err, ErrInvalidInput) {
					t.Fatalf("passphrase %q on a store made with %q: %v", given, made, err)
				}
				if treeHash(t, dir) != before {
					t.Fatalf("passphrase %q: the refused change wrote", given)
				}
			}
			r := openTest(t, dir, made)
			if _, err := r.NewRequest(RequestSpec{Request: csrRequest("b.contoso.com"), Key: csr.P256}); err != nil {
				t.Fatal(err)
			}
			idx, _ = r.snapshot()
			if idx.Version != indexVersion || idx.Sealing == "" || (made == "") != (idx.Sealing == sealingPlain) {
				t.Fatalf("recorded version %d, sealing %q", idx.Version, idx.Sealing)
			}
			mustCheck(t, r)
		})
	}
}

// TestCheckReportsKeySealedOtherwise: a key file put in a sealing store
// unsealed (or the reverse) is reported by check.
func TestCheckReportsKeySealedOtherwise(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, "right horse")
	p, err := s.NewRequest(RequestSpec{Request: csrRequest("a.contoso.com"), Key: csr.P256})
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := s.snapshot()
	r, _ := idx.find(p.Thumbprint)
	s.mu.Lock()
	key, err := s.loadKeyLocked(r)
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := certfmt.MarshalPrivateKeyPEM(key)
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(r.keyFile())), plain, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err == nil || !strings.Contains(err.Error(), "is not sealed, but the store seals its keys") {
		t.Fatalf("check: %v", err)
	}
}
