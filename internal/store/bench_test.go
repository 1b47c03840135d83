package store

import (
	crand "crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
)

// bigStore writes a store of n certificates in my directly (index and
// files, as n imports would leave it) and returns its directory.
func bigStore(b testing.TB, n int) string {
	b.Helper()
	dir := b.TempDir()
	openTest(b, dir, "")
	p := newPKI(b, "Bench", 0)
	key := newKey(b, 0)
	keyPEM, _ := certfmt.MarshalPrivateKeyPEM(key)
	idx := &index{Version: indexVersion}
	for _, c := range []*x509.Certificate{p.root, p.inter} {
		r, _ := recordForCert(c, caLocation(c))
		idx.Entries = append(idx.Entries, r)
		os.WriteFile(filepath.Join(dir, r.certFile()), c.Raw, 0o644)
	}
	for i := 0; i < n; i++ {
		leaf := p.leaf(b, key.Public(), fmt.Sprintf("server%05d.contoso.com", i), testNow.AddDate(1, 0, 0))
		r, _ := recordForCert(leaf, My)
		r.HasKey, r.Exportable, r.FriendlyName = true, true, fmt.Sprintf("Server %05d", i)
		idx.Entries = append(idx.Entries, r)
		os.WriteFile(filepath.Join(dir, r.certFile()), leaf.Raw, 0o644)
	}
	r := idx.Entries[len(idx.Entries)-1]
	os.WriteFile(filepath.Join(dir, r.keyFile()), keyPEM, 0o600)
	sortRecords(idx.Entries)
	if err := os.WriteFile(filepath.Join(dir, indexName), encodeIndex(idx), 0o600); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkList10k: List on an open store of 10,000 certificates.
func BenchmarkList10k(b *testing.B) {
	dir := bigStore(b, 10000)
	s := openTest(b, dir, "")
	b.ResetTimer()
	for b.Loop() {
		es, err := s.List("")
		if err != nil || len(es) != 10002 {
			b.Fatalf("%d entries, %v", len(es), err)
		}
	}
}

// BenchmarkOpenList10k: a cold Open (lock, index parse, garbage
// collection scan) then List, as one CLI `store list` does.
func BenchmarkOpenList10k(b *testing.B) {
	dir := bigStore(b, 10000)
	b.ResetTimer()
	for b.Loop() {
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		es, err := s.List(My)
		if err != nil || len(es) != 10000 {
			b.Fatalf("%d entries, %v", len(es), err)
		}
	}
}

func pfxFixture(b *testing.B) ([]byte, *x509.Certificate) {
	p := newPKI(b, "Bench", 2048)
	key := newKey(b, 2048)
	leaf := p.leaf(b, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	return pfxOf(b, &certfmt.PFX{Key: key, Leaf: leaf, CA: []*x509.Certificate{p.inter, p.root}, FriendlyName: "Edge"}, "pw"), leaf
}

// BenchmarkImportPFX: import of an RSA-2048 PFX with its chain into an
// empty store, then delete (both commits are durable: fsync + rename).
func BenchmarkImportPFX(b *testing.B) {
	data, leaf := pfxFixture(b)
	s := openTest(b, b.TempDir(), "")
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Import(data, ImportOptions{Password: "pw", Exportable: true}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(thumb(leaf)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkExportPFX: export of that certificate with key and chain
// (AES-256-CBC, PBKDF2-SHA256).
func BenchmarkExportPFX(b *testing.B) {
	data, leaf := pfxFixture(b)
	s := openTest(b, b.TempDir(), "")
	if _, err := s.Import(data, ImportOptions{Password: "pw", Exportable: true}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Export(thumb(leaf), ExportOptions{Format: "pfx", Password: "pw"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewRequest: key generation, PKCS#10 signing and the durable
// commit in the request location, per key type; compare with
// BenchmarkKeyGeneration for the key alone.
func BenchmarkNewRequest(b *testing.B) {
	for _, k := range []csr.KeySpec{csr.RSA2048, csr.RSA3072, csr.P256, csr.P384} {
		b.Run(string(k), func(b *testing.B) {
			s := openTest(b, b.TempDir(), "")
			for b.Loop() {
				if _, err := s.NewRequest(RequestSpec{Request: csr.Request{Subject: pkix.Name{CommonName: "edge.contoso.com"}, DNSNames: []string{"edge.contoso.com"}}, Key: k}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkKeyGeneration(b *testing.B) {
	for _, k := range []csr.KeySpec{csr.RSA2048, csr.RSA3072, csr.P256, csr.P384} {
		b.Run(string(k), func(b *testing.B) {
			for b.Loop() {
				if _, err := csr.NewKey(crand.Reader, k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMakeBigStore writes a store of 10,000 certificates into the directory
// named by EDGECERT_STORE_BIG_DIR, to time the command line against it:
//
//	EDGECERT_STORE_BIG_DIR=/tmp/big go test ./internal/store -run TestMakeBigStore
//	time edgecert store list --store /tmp/big/store -o json > /dev/null
func TestMakeBigStore(t *testing.T) {
	out := os.Getenv("EDGECERT_STORE_BIG_DIR")
	if out == "" {
		t.Skip("set EDGECERT_STORE_BIG_DIR to write a store of 10,000 certificates")
	}
	dir := bigStore(t, 10000)
	dst := filepath.Join(out, "store")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dst)
	if err := exec.Command("cp", "-a", dir, dst).Run(); err != nil {
		t.Fatal(err)
	}
}
