package store

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"testing"

	"edgecert/internal/certfmt"
)

// strangers makes n self-signed CA certificates that have nothing to do
// with any chain of the test (one key signs them all, to keep it fast).
func strangers(t testing.TB, n int) []*x509.Certificate {
	t.Helper()
	key := newKey(t, 0)
	out := make([]*x509.Certificate, n)
	for i := range out {
		out[i] = issue(t, &x509.Certificate{
			Subject:   pkix.Name{CommonName: fmt.Sprintf("Stranger Root %d", i)},
			NotBefore: testNow.AddDate(-1, 0, 0), NotAfter: testNow.AddDate(5, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}, nil, key.Public(), key)
	}
	return out
}

// TestImportKeyFileAddsOnlyItsChain reproduces the attack of a .pfx (or PEM
// with a key) that carries a leaf, its chain and hundreds of unrelated
// self-signed certificates: every one of them used to become a trusted
// root. Only the chain of the key's certificate is imported now; the rest
// is reported, and imported only when asked for.
func TestImportKeyFileAddsOnlyItsChain(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	extra := strangers(t, 300)
	keyPEM, err := certfmt.MarshalPrivateKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	// The strangers come first, around the chain, in both files.
	ca := append(append(append([]*x509.Certificate{}, extra[:150]...), p.root, p.inter), extra[150:]...)
	files := map[string]struct {
		data     []byte
		password string
	}{
		"pfx":          {pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf, CA: ca}, "pw"), "pw"},
		"PEM with key": {append(pemOf(append([]*x509.Certificate{leaf}, ca...)...), keyPEM...), ""},
	}
	for name, f := range files {
		t.Run(name, func(t *testing.T) {
			s := openTest(t, t.TempDir(), "")
			res, err := s.Import(f.data, ImportOptions{Password: f.password})
			if err != nil {
				t.Fatal(err)
			}
			got := locations(res.Added)
			want := map[string]Location{thumb(leaf): My, thumb(p.inter): CA, thumb(p.root): Root}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("added %d entries %v, want only the chain %v", len(got), len(got), want)
			}
			roots := res.RootsAdded()
			if len(roots) != 1 || roots[0].Thumbprint != thumb(p.root) {
				t.Fatalf("roots added: %+v", roots)
			}
			if len(res.Excluded) != len(extra) {
				t.Fatalf("excluded %d, want %d", len(res.Excluded), len(extra))
			}
			for _, e := range res.Excluded {
				if e.Location != Root || e.Subject == "" {
					t.Fatalf("excluded entry %+v", e)
				}
			}
			all, err := s.List(Root)
			if err != nil || len(all) != 1 {
				t.Fatalf("root holds %d entries (err %v), want 1", len(all), err)
			}
			if _, err := s.Chain(leaf); err != nil {
				t.Fatalf("chain: %v", err)
			}
			mustCheck(t, s)

			// Asked for explicitly, every certificate is imported.
			s2 := openTest(t, t.TempDir(), "")
			res, err = s2.Import(f.data, ImportOptions{Password: f.password, AllCertificates: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Added) != 3+len(extra) || len(res.RootsAdded()) != 1+len(extra) || len(res.Excluded) != 0 {
				t.Fatalf("with AllCertificates: added %d, roots %d, excluded %d", len(res.Added), len(res.RootsAdded()), len(res.Excluded))
			}
		})
	}
}

// TestChainInFile: the chain of a file is followed by name and signature,
// a stranger with the issuer's name is not taken for it, and a chain
// without its root adds no root.
func TestChainInFile(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	impostor := newPKI(t, "Contoso", 0) // same names, other keys
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	tests := []struct {
		name        string
		pool        []*x509.Certificate
		chain, rest int
	}{
		{"whole chain", []*x509.Certificate{p.root, p.inter}, 2, 0},
		{"chain without root", []*x509.Certificate{p.inter}, 1, 0},
		{"impostor with the same names", []*x509.Certificate{impostor.inter, impostor.root, p.inter, p.root}, 2, 2},
		{"no chain at all", []*x509.Certificate{impostor.root}, 0, 1},
		{"leaf repeated", []*x509.Certificate{leaf, p.inter}, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chain, rest := chainInFile(leaf, tc.pool)
			if len(chain) != tc.chain || len(rest) != tc.rest {
				t.Fatalf("chain %d rest %d, want %d %d", len(chain), len(rest), tc.chain, tc.rest)
			}
			for _, c := range chain {
				if c.Equal(impostor.inter) || c.Equal(impostor.root) {
					t.Fatal("the impostor was taken into the chain")
				}
			}
		})
	}
}
