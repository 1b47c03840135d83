package store

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
)

func pemOf(certs ...*x509.Certificate) []byte { return certfmt.EncodeCertificatePEM(certs...) }

func p7bOf(t testing.TB, certs ...*x509.Certificate) []byte {
	t.Helper()
	b, err := certfmt.EncodePKCS7(certs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pfxOf(t testing.TB, p *certfmt.PFX, password string) []byte {
	t.Helper()
	b, err := certfmt.EncodePFX(rand.Reader, p, password, certfmt.PFXModern, false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newRequest makes a pending request for cn in s.
func newRequest(t testing.TB, s *Store, cn, name string, exportable bool) *Pending {
	t.Helper()
	p, err := s.NewRequest(RequestSpec{
		Request: csr.Request{
			Subject:          pkix.Name{CommonName: cn, Organization: []string{"Contoso"}},
			DNSNames:         []string{cn},
			Template:         "WebServer",
			KeyUsage:         x509.KeyUsageDigitalSignature,
			KeyUsageCritical: true,
			ExtKeyUsage:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		Key: csr.P256, Exportable: exportable, FriendlyName: name,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// issueFor issues a leaf from p for the public key of a pending request.
func issueFor(t testing.TB, p *pki, pend *Pending, notAfter time.Time) *x509.Certificate {
	t.Helper()
	req, err := x509.ParseCertificateRequest(pend.DER)
	if err != nil {
		t.Fatal(err)
	}
	return p.leaf(t, req.PublicKey, req.Subject.CommonName, notAfter)
}

func locations(es []Entry) map[string]Location {
	m := map[string]Location{}
	for _, e := range es {
		m[e.Thumbprint] = e.Location
	}
	return m
}

func TestImport(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	stranger := p.leaf(t, newKey(t, 0).Public(), "stranger.contoso.com", testNow.AddDate(1, 0, 0))
	cases := []struct {
		name    string
		data    func(s *Store) []byte
		want    map[string]Location // thumbprint → location added
		wantErr error
	}{
		{"root DER", func(*Store) []byte { return p.root.Raw }, map[string]Location{thumb(p.root): Root}, nil},
		{"intermediate PEM", func(*Store) []byte { return pemOf(p.inter) }, map[string]Location{thumb(p.inter): CA}, nil},
		{"p7b chain", func(*Store) []byte { return p7bOf(t, p.inter, p.root) }, map[string]Location{thumb(p.inter): CA, thumb(p.root): Root}, nil},
		{"PEM bundle", func(*Store) []byte { return pemOf(p.root, p.inter) }, map[string]Location{thumb(p.inter): CA, thumb(p.root): Root}, nil},
		{"p7b in PEM armour", func(*Store) []byte {
			return pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7bOf(t, p.inter, p.root)})
		}, map[string]Location{thumb(p.inter): CA, thumb(p.root): Root}, nil},
		{"leaf without key", func(*Store) []byte { return stranger.Raw }, nil, ErrNoKey},
		{"leaf without key in a chain", func(*Store) []byte { return pemOf(p.root, stranger) }, nil, ErrNoKey},
		{"issued certificate joins its request", func(s *Store) []byte {
			pend := newRequest(t, s, "edge.contoso.com", "Edge", true)
			leaf := issueFor(t, p, pend, testNow.AddDate(1, 0, 0))
			return pemOf(leaf, p.inter, p.root)
		}, map[string]Location{thumb(p.inter): CA, thumb(p.root): Root}, nil},
		{"csr is refused", func(s *Store) []byte { return newRequest(t, s, "x.contoso.com", "", false).DER }, nil, ErrInvalidInput},
		{"garbage", func(*Store) []byte { return []byte("hello") }, nil, ErrInvalidInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, t.TempDir(), "")
			data := tc.data(s)
			before := treeHash(t, s.Dir())
			res, err := s.Import(data, ImportOptions{})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if after := treeHash(t, s.Dir()); after != before {
					t.Fatalf("a failed import changed the store:\n%s\n---\n%s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := locations(res.Added)
			for tp, loc := range tc.want {
				if got[tp] != loc {
					t.Errorf("%s: location %q, want %q (added %v)", tp, got[tp], loc, got)
				}
			}
			mustCheck(t, s)
			// A second import adds nothing.
			res2, err := s.Import(data, ImportOptions{})
			if err != nil || len(res2.Added) != 0 || len(res2.Skipped) != len(res.Added) {
				t.Fatalf("re-import: %+v, %v", res2, err)
			}
		})
	}
}

func TestRequestJoin(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	s := openTest(t, t.TempDir(), "")
	pend := newRequest(t, s, "edge.contoso.com", "Edge External", true)
	if pend.Location != Request || !pend.HasKey || !pend.Exportable || pend.Template != "WebServer" || pend.FriendlyName != "Edge External" {
		t.Fatalf("pending entry: %+v", pend.Entry)
	}
	if got, _ := s.List(Request); len(got) != 1 || got[0].Thumbprint != pend.Thumbprint {
		t.Fatalf("list request: %+v", got)
	}
	if _, err := s.Import(pemOf(p.root, p.inter), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	leaf := issueFor(t, p, pend, testNow.AddDate(1, 0, 0))
	res, err := s.Import(leaf.Raw, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 1 {
		t.Fatalf("added: %+v", res.Added)
	}
	e := res.Added[0]
	if e.Location != My || !e.HasKey || !e.Exportable || e.FriendlyName != "Edge External" || e.Thumbprint != thumb(leaf) {
		t.Fatalf("joined entry: %+v", e)
	}
	if pending, _ := s.Pending(); len(pending) != 0 {
		t.Fatalf("request still pending: %+v", pending)
	}
	key, err := s.PrivateKey(thumb(leaf))
	if err != nil || !certfmt.PublicKeysEqual(key.Public(), leaf.PublicKey) {
		t.Fatalf("private key: %v", err)
	}
	chain, err := s.Chain(leaf)
	if err != nil || len(chain) != 3 || thumb(chain[2]) != thumb(p.root) {
		t.Fatalf("chain: %d certificates, %v", len(chain), err)
	}
	mustCheck(t, s)
}

func TestFriendlyNameUnique(t *testing.T) {
	s := openTest(t, t.TempDir(), "")
	newRequest(t, s, "a.contoso.com", "Edge", false)
	_, err := s.NewRequest(RequestSpec{Request: csr.Request{Subject: pkix.Name{CommonName: "b"}}, Key: csr.P256, FriendlyName: "edge"})
	if !errors.Is(err, ErrDuplicateName) {
		t.Fatalf("err = %v, want ErrDuplicateName", err)
	}
}

func TestExport(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	s := openTest(t, t.TempDir(), "")
	if _, err := s.Import(p7bOf(t, p.root, p.inter), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	exp := newRequest(t, s, "edge.contoso.com", "Exportable", true)
	expLeaf := issueFor(t, p, exp, testNow.AddDate(1, 0, 0))
	fixed := newRequest(t, s, "fe.contoso.com", "Fixed", false)
	fixedLeaf := issueFor(t, p, fixed, testNow.AddDate(1, 0, 0))
	for _, c := range []*x509.Certificate{expLeaf, fixedLeaf} {
		if _, err := s.Import(c.Raw, ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		tp      string
		opts    ExportOptions
		wantErr error
		check   func(t *testing.T, b []byte)
	}{
		{"cer", thumb(expLeaf), ExportOptions{Format: "cer"}, nil, func(t *testing.T, b []byte) {
			if string(b) != string(expLeaf.Raw) {
				t.Fatal("not the DER")
			}
		}},
		{"pem", thumb(expLeaf), ExportOptions{Format: "pem"}, nil, func(t *testing.T, b []byte) {
			if !strings.HasPrefix(string(b), "-----BEGIN CERTIFICATE-----") {
				t.Fatalf("not PEM: %q", b)
			}
		}},
		{"p7b has the whole chain", thumb(expLeaf), ExportOptions{Format: "p7b"}, nil, func(t *testing.T, b []byte) {
			certs, err := certfmt.DecodePKCS7(b)
			if err != nil || len(certs) != 3 {
				t.Fatalf("p7b: %d certificates, %v", len(certs), err)
			}
		}},
		{"pfx", thumb(expLeaf), ExportOptions{Format: "pfx", Password: "s3cret!"}, nil, func(t *testing.T, b []byte) {
			pfx, err := certfmt.DecodePFX(b, "s3cret!")
			if err != nil {
				t.Fatal(err)
			}
			if thumb(pfx.Leaf) != thumb(expLeaf) || len(pfx.CA) != 2 || pfx.FriendlyName != "Exportable" {
				t.Fatalf("pfx: leaf %s, %d CA, name %q", thumb(pfx.Leaf), len(pfx.CA), pfx.FriendlyName)
			}
		}},
		{"pfx of a non-exportable key", thumb(fixedLeaf), ExportOptions{Format: "pfx", Password: "x"}, ErrNotExportable, func(t *testing.T, b []byte) {}},
		{"pfx without password", thumb(expLeaf), ExportOptions{Format: "pfx"}, ErrInvalidInput, nil},
		{"pfx of a CA", thumb(p.root), ExportOptions{Format: "pfx", Password: "x"}, ErrNoKey, nil},
		{"unknown thumbprint", strings.Repeat("AB", 20), ExportOptions{Format: "cer"}, ErrNotFound, nil},
		{"bad thumbprint", "xyz", ExportOptions{Format: "cer"}, ErrInvalidInput, nil},
		{"unknown format", thumb(expLeaf), ExportOptions{Format: "jks"}, ErrInvalidInput, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := s.Export(tc.tp, tc.opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if errors.Is(err, ErrNotExportable) && !strings.Contains(err.Error(), "request the certificate again with an exportable key") {
					t.Fatalf("message does not say what to do: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, b)
		})
	}
	t.Run("to another store without a file", func(t *testing.T) {
		// ExportDecoded checks what a pfx export checks.
		for _, c := range []struct {
			tp   string
			want error
		}{{thumb(fixedLeaf), ErrNotExportable}, {thumb(p.root), ErrNoKey}, {strings.Repeat("AB", 20), ErrNotFound}} {
			if _, err := s.ExportDecoded(c.tp); !errors.Is(err, c.want) {
				t.Errorf("%s: err = %v, want %v", c.tp, err, c.want)
			}
		}
		d, err := s.ExportDecoded(thumb(expLeaf))
		if err != nil {
			t.Fatal(err)
		}
		other := openTest(t, t.TempDir(), "")
		if _, err := other.ImportDecoded(d, ImportOptions{Exportable: true}); err != nil {
			t.Fatal(err)
		}
		e, _, err := other.Certificate(thumb(expLeaf))
		if err != nil || !e.HasKey || e.FriendlyName != "Exportable" {
			t.Fatalf("copied entry %+v, %v", e, err)
		}
		if chain, err := other.Chain(expLeaf); err != nil || len(chain) != 3 {
			t.Fatalf("copied chain: %d certificates, %v", len(chain), err)
		}
		mustCheck(t, other)
	})
	t.Run("delete key after export", func(t *testing.T) {
		if _, err := s.Export(thumb(expLeaf), ExportOptions{Format: "pfx", Password: "pw", DeleteKey: true}); err != nil {
			t.Fatal(err)
		}
		e, _, err := s.Certificate(thumb(expLeaf))
		if err != nil || e.HasKey {
			t.Fatalf("key still there: %+v %v", e, err)
		}
		if _, err := s.PrivateKey(thumb(expLeaf)); !errors.Is(err, ErrNoKey) {
			t.Fatalf("PrivateKey: %v", err)
		}
		mustCheck(t, s)
	})
	t.Run("pending request as csr", func(t *testing.T) {
		pend := newRequest(t, s, "pending.contoso.com", "", false)
		b, err := s.Export(pend.Thumbprint, ExportOptions{Format: "csr"})
		if err != nil || !strings.HasPrefix(string(b), "-----BEGIN CERTIFICATE REQUEST-----") {
			t.Fatalf("%q %v", b, err)
		}
		if _, err := s.Export(pend.Thumbprint, ExportOptions{Format: "pfx", Password: "x"}); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("pfx of a request: %v", err)
		}
	})
	t.Run("export chain", func(t *testing.T) {
		b, err := s.ExportChain()
		if err != nil {
			t.Fatal(err)
		}
		certs, err := certfmt.DecodePKCS7(b)
		if err != nil || len(certs) != 2 {
			t.Fatalf("%d certificates, %v", len(certs), err)
		}
	})
}

func TestImportPFX(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	data := pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf, CA: []*x509.Certificate{p.inter, p.root}, FriendlyName: "Edge Pool"}, "pw")
	for _, exportable := range []bool{false, true} {
		s := openTest(t, t.TempDir(), "")
		res, err := s.Import(data, ImportOptions{Password: "pw", Exportable: exportable})
		if err != nil {
			t.Fatal(err)
		}
		got := locations(res.Added)
		if got[thumb(leaf)] != My || got[thumb(p.inter)] != CA || got[thumb(p.root)] != Root {
			t.Fatalf("locations: %v", got)
		}
		e, _, _ := s.Certificate(thumb(leaf))
		if !e.HasKey || e.Exportable != exportable || e.FriendlyName != "Edge Pool" {
			t.Fatalf("entry: %+v", e)
		}
		_, err = s.Export(thumb(leaf), ExportOptions{Format: "pfx", Password: "x"})
		if exportable != (err == nil) {
			t.Fatalf("exportable=%v: export err %v", exportable, err)
		}
		mustCheck(t, s)
	}
	t.Run("wrong password", func(t *testing.T) {
		s := openTest(t, t.TempDir(), "")
		if _, err := s.Import(data, ImportOptions{Password: "nope"}); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "wrong password") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("friendly name taken", func(t *testing.T) {
		s := openTest(t, t.TempDir(), "")
		newRequest(t, s, "x.contoso.com", "Edge Pool", false)
		if _, err := s.Import(data, ImportOptions{Password: "pw"}); !errors.Is(err, ErrDuplicateName) {
			t.Fatalf("err = %v", err)
		}
		if _, err := s.Import(data, ImportOptions{Password: "pw", FriendlyName: "Edge Pool 2"}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestImportPEMWithKey: a PEM file with the certificate, its key and the
// chain (as OpenSSL and nginx keep them) imports like a PFX.
func TestImportPEMWithKey(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "webext.contoso.com", testNow.AddDate(1, 0, 0))
	keyPEM, _ := certfmt.MarshalPrivateKeyPEM(key)
	for name, data := range map[string][]byte{
		"key last":  append(pemOf(leaf, p.inter, p.root), keyPEM...),
		"key first": append(append([]byte(nil), keyPEM...), pemOf(p.root, leaf, p.inter)...),
	} {
		t.Run(name, func(t *testing.T) {
			s := openTest(t, t.TempDir(), "")
			res, err := s.Import(data, ImportOptions{Exportable: true, FriendlyName: "RP"})
			if err != nil {
				t.Fatal(err)
			}
			got := locations(res.Added)
			if got[thumb(leaf)] != My || got[thumb(p.inter)] != CA || got[thumb(p.root)] != Root {
				t.Fatalf("locations %v", got)
			}
			e, _, _ := s.Certificate(thumb(leaf))
			if !e.HasKey || !e.Exportable || e.FriendlyName != "RP" {
				t.Fatalf("entry %+v", e)
			}
			mustCheck(t, s)
		})
	}
}

func TestSealedKeys(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, "store passphrase")
	pend := newRequest(t, s, "edge.contoso.com", "", true)
	kf := filepath.Join(dir, keyDir)
	ents, _ := os.ReadDir(kf)
	if len(ents) != 1 {
		t.Fatalf("%d key files", len(ents))
	}
	data, _ := os.ReadFile(filepath.Join(kf, ents[0].Name()))
	if !certfmt.IsSealed(data) {
		t.Fatal("key file is not sealed")
	}
	fi, _ := os.Stat(filepath.Join(kf, ents[0].Name()))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode())
	}
	p := newPKI(t, "Contoso", 0)
	leaf := issueFor(t, p, pend, testNow.AddDate(1, 0, 0))
	if _, err := s.Import(leaf.Raw, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PrivateKey(thumb(leaf)); err != nil {
		t.Fatal(err)
	}
	for _, pass := range []string{"", "wrong"} {
		s2 := openTest(t, dir, pass)
		if _, err := s2.PrivateKey(thumb(leaf)); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("passphrase %q: err = %v", pass, err)
		}
	}
}

func TestAssign(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	other := newPKI(t, "Fabrikam", 0)
	dir := t.TempDir()
	s := openTest(t, dir, "")
	if _, err := s.Import(pemOf(p.root, p.inter), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	addPFX := func(pk *pki, cn string, notAfter time.Time) *x509.Certificate {
		key := newKey(t, 0)
		leaf := pk.leaf(t, key.Public(), cn, notAfter)
		if _, err := s.Import(pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf}, "pw"), ImportOptions{Password: "pw"}); err != nil {
			t.Fatal(err)
		}
		return leaf
	}
	good := addPFX(p, "edge.contoso.com", testNow.AddDate(1, 0, 0))
	good2 := addPFX(p, "edge2.contoso.com", testNow.AddDate(2, 0, 0))
	expired := addPFX(p, "old.contoso.com", testNow.AddDate(0, 0, -1))
	untrusted := addPFX(other, "x.fabrikam.com", testNow.AddDate(1, 0, 0))
	cases := []struct {
		name, usage, tp string
		wantErr         error
	}{
		{"ok", "Internal", thumb(good), nil},
		{"case-insensitive usage", "accessedgeexternal", thumb(good), nil},
		{"unknown usage", "Nope", thumb(good), ErrInvalidInput},
		{"CA certificate", "Internal", thumb(p.root), ErrNoKey},
		{"expired", "Internal", thumb(expired), ErrExpired},
		{"untrusted chain", "Internal", thumb(untrusted), ErrChain},
		{"unknown", "Internal", strings.Repeat("0", 40), ErrNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Assign(tc.usage, tc.tp)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	t.Run("stage A/V", func(t *testing.T) {
		if err := s.Assign("AudioVideoAuthentication", thumb(good)); err != nil {
			t.Fatal(err)
		}
		eff := testNow.Add(48 * time.Hour)
		if err := s.Stage("AudioVideoAuthentication", thumb(good2), eff); err != nil {
			t.Fatal(err)
		}
		if err := s.Stage("Internal", thumb(good2), eff); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("staging Internal: %v", err)
		}
		as, _ := s.Assignments()
		av := find(as, "AudioVideoAuthentication")
		if av.Thumbprint != thumb(good) || av.Staged != thumb(good2) {
			t.Fatalf("before the date: %+v", av)
		}
		later := openTest(t, dir, "")
		later.opts.Now = func() time.Time { return eff.Add(time.Minute) }
		as, _ = later.Assignments()
		av = find(as, "AudioVideoAuthentication")
		if av.Thumbprint != thumb(good2) || av.Previous != thumb(good) || av.Staged != "" {
			t.Fatalf("after the date: %+v", av)
		}
	})
	t.Run("bind several usages in one commit", func(t *testing.T) {
		before, _ := s.snapshot()
		err := s.Bind(thumb(good2), Binding{Usage: "AccessEdgeExternal"}, Binding{Usage: "DataEdgeExternal"}, Binding{Usage: "Nope"})
		if !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("a bad usage among several: err = %v", err)
		}
		if err := s.Bind(thumb(good2), Binding{Usage: "DataEdgeExternal"}, Binding{Usage: "Internal", Effective: testNow.Add(time.Hour)}); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("staging Internal among several: err = %v", err)
		}
		if after, _ := s.snapshot(); after.Generation != before.Generation {
			t.Fatalf("a refused Bind committed: generation %d → %d", before.Generation, after.Generation)
		}
		if err := s.Bind(thumb(good2), Binding{Usage: "AccessEdgeExternal"}, Binding{Usage: "DataEdgeExternal"}); err != nil {
			t.Fatal(err)
		}
		after, _ := s.snapshot()
		if after.Generation != before.Generation+1 {
			t.Fatalf("two usages took %d commits, want 1", after.Generation-before.Generation)
		}
		as, _ := s.Assignments()
		for _, u := range []string{"AccessEdgeExternal", "DataEdgeExternal"} {
			if a := find(as, u); a.Thumbprint != thumb(good2) {
				t.Fatalf("%s: %+v", u, a)
			}
		}
	})
	t.Run("delete assigned is refused", func(t *testing.T) {
		if err := s.Delete(thumb(good)); !errors.Is(err, ErrInvalidInput) {
			t.Fatalf("err = %v", err)
		}
		if err := s.Delete(thumb(untrusted)); err != nil {
			t.Fatal(err)
		}
		mustCheck(t, s)
	})
}

func find(as []Assignment, usage string) Assignment {
	for _, a := range as {
		if a.Usage == usage {
			return a
		}
	}
	return Assignment{}
}

func TestOpenRefusesLostIndex(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, "")
	p := newPKI(t, "Contoso", 0)
	if _, err := s.Import(p.root.Raw, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, indexName))
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("err = %v", err)
	}
}

func TestIndexCodec(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	r1, _ := recordForCert(p.root, Root)
	r2, _ := recordForCert(p.inter, CA)
	r2.FriendlyName, r2.HasKey, r2.Exportable = "Ünïcødé name", true, true
	in := &index{Version: indexVersion, Generation: 42, Entries: []record{r1, r2}, Sealing: sealingPlain,
		Assignments: []Assignment{{Usage: "Internal", Thumbprint: r1.Thumbprint, Staged: r2.Thumbprint, Effective: testNow}}}
	data := encodeIndex(in)
	out, err := decodeIndex(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v", in, out)
	}
	for i := 0; i < len(data); i += 7 {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x40
		if _, err := decodeIndex(bad); err == nil {
			t.Fatalf("a flipped byte at %d was not detected", i)
		}
	}
	if _, err := decodeIndex(data[:len(data)-1]); err == nil {
		t.Fatal("a truncated index was not detected")
	}
}

func FuzzDecodeIndex(f *testing.F) {
	f.Add(encodeIndex(&index{Version: indexVersion}))
	f.Add(encodeIndex(&index{Version: indexVersion, Entries: []record{{Entry: Entry{Location: My, Thumbprint: "AB", DNSNames: []string{"a", "b"}}}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := decodeIndex(data)
		if err != nil {
			return
		}
		if y, err := decodeIndex(encodeIndex(x)); err != nil || len(y.Entries) != len(x.Entries) {
			t.Fatalf("re-encoding a decoded index fails: %v", err)
		}
	})
}

// TestConcurrentGoroutines: goroutines sharing one Store, and two Store
// values on one directory, lose no change.
func TestConcurrentGoroutines(t *testing.T) {
	dir := t.TempDir()
	stores := []*Store{openTest(t, dir, ""), openTest(t, dir, "")}
	p := newPKI(t, "Contoso", 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			s := stores[g%2]
			for i := 0; i < 5; i++ {
				k := newKey(t, 0)
				leaf := p.leaf(t, k.Public(), fmt.Sprintf("g%d-%d.contoso.com", g, i), testNow.AddDate(1, 0, 0))
				data, err := certfmt.EncodePFX(rand.Reader, &certfmt.PFX{Key: k, Leaf: leaf}, "pw", certfmt.PFXModern, false)
				if err == nil {
					_, err = s.Import(data, ImportOptions{Password: "pw"})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mine, _ := openTest(t, dir, "").List(My)
	if len(mine) != 40 {
		t.Fatalf("%d certificates in my, want 40", len(mine))
	}
	mustCheck(t, stores[0])
}

// TestIndexSwap checks the commit by exchange: after the first commits the
// index alternates between two files (no file is created per commit), and
// another Store on the same directory sees every commit even when the
// inode, size and time of index.bin repeat.
func TestIndexSwap(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	dir := t.TempDir()
	a := openTest(t, dir, "")
	b := openTest(t, dir, "")
	if _, err := a.Import(pemOf(p.root, p.inter), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	if _, err := a.Import(pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf}, "pw"), ImportOptions{Password: "pw"}); err != nil {
		t.Fatal(err)
	}
	inodes := map[uint64]bool{}
	for i := 0; i < 6; i++ {
		// Two usages that alternate keep the index the same size.
		u := []string{"AccessEdgeExternal", "DataEdgeExternal"}[i%2]
		if err := a.Assign(u, thumb(leaf)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dir, indexName))
		if err != nil {
			t.Fatal(err)
		}
		inodes[tagOf(fi).ino] = true
		// A coarse clock gives both files the same time; b looks every
		// other commit, when the inode is the one it saw last time.
		fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := os.Chtimes(filepath.Join(dir, indexName), fixed, fixed); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			continue
		}
		as, err := b.Assignments()
		if err != nil {
			t.Fatal(err)
		}
		if got := find(as, u); got.Thumbprint != thumb(leaf) {
			t.Fatalf("commit %d: the other Store does not see %s: %+v", i, u, as)
		}
		ia, _ := a.snapshot()
		ib, _ := b.snapshot()
		if ia.Generation != ib.Generation {
			t.Fatalf("commit %d: generations %d and %d", i, ia.Generation, ib.Generation)
		}
	}
	if len(inodes) != 2 {
		t.Fatalf("index.bin used %d inodes over 6 commits, want 2 (swap with index.spare)", len(inodes))
	}
	if _, err := os.Stat(filepath.Join(dir, spareName)); err != nil {
		t.Fatalf("no spare: %v", err)
	}
	mustCheck(t, a)
}

// TestIndexWithoutSwap plays file systems that refuse RENAME_EXCHANGE
// (EINVAL, ENOSYS, EOPNOTSUPP): every commit then goes through a new
// temporary file renamed over index.bin, and the store, another Store on
// the same directory and a reopened one see each commit. Another error
// fails the commit and leaves the index as it was.
func TestIndexWithoutSwap(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	pfx := pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf, CA: []*x509.Certificate{p.inter, p.root}}, "pw")
	for _, refusal := range []syscall.Errno{syscall.EINVAL, syscall.ENOSYS, syscall.EOPNOTSUPP} {
		t.Run(refusal.Error(), func(t *testing.T) {
			swaps := 0
			old := exchangeNames
			exchangeNames = func(a, b string) error { swaps++; return refusal }
			t.Cleanup(func() { exchangeNames = old })
			dir := t.TempDir()
			a, b := openTest(t, dir, ""), openTest(t, dir, "")
			if _, err := a.Import(pfx, ImportOptions{Password: "pw"}); err != nil {
				t.Fatal(err)
			}
			if swaps != 1 {
				t.Fatalf("the first commit tried the swap %d times, want 1", swaps)
			}
			for i, u := range []string{"AccessEdgeExternal", "DataEdgeExternal", "AccessEdgeExternal"} {
				if err := a.Assign(u, thumb(leaf)); err != nil {
					t.Fatalf("commit %d: %v", i, err)
				}
				if swaps != 1 {
					t.Fatalf("commit %d tried the swap again after the file system refused it", i)
				}
				if _, err := os.Stat(filepath.Join(dir, spareName)); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("commit %d left %s behind: %v", i, spareName, err)
				}
				as, err := b.Assignments()
				if err != nil {
					t.Fatal(err)
				}
				if got := find(as, u); got.Thumbprint != thumb(leaf) {
					t.Fatalf("commit %d: the other Store does not see %s: %+v", i, u, as)
				}
			}
			names, _ := os.ReadDir(dir)
			for _, n := range names {
				if strings.HasPrefix(n.Name(), tmpPrefix) {
					t.Fatalf("temporary file %s left behind", n.Name())
				}
			}
			mustCheck(t, a)
			c := openTest(t, dir, "")
			as, err := c.Assignments()
			if err != nil || find(as, "DataEdgeExternal").Thumbprint != thumb(leaf) {
				t.Fatalf("reopened: %+v %v", as, err)
			}
		})
	}
	t.Run("other error", func(t *testing.T) {
		dir := t.TempDir()
		a := openTest(t, dir, "")
		if _, err := a.Import(pfx, ImportOptions{Password: "pw"}); err != nil {
			t.Fatal(err)
		}
		before, err := os.ReadFile(filepath.Join(dir, indexName))
		if err != nil {
			t.Fatal(err)
		}
		old := exchangeNames
		exchangeNames = func(a, b string) error { return syscall.EIO }
		t.Cleanup(func() { exchangeNames = old })
		if err := a.Assign("AccessEdgeExternal", thumb(leaf)); !errors.Is(err, syscall.EIO) {
			t.Fatalf("commit with a failing swap: %v, want EIO", err)
		}
		after, err := os.ReadFile(filepath.Join(dir, indexName))
		if err != nil || !bytes.Equal(before, after) {
			t.Fatalf("the index changed after a failed commit (%v)", err)
		}
	})
}

// TestSharedFilesAreLinked checks that a file another store of this
// process has committed is hard-linked instead of written again, that the
// stores stay independent, and that a changed or missing source is not
// linked.
func TestSharedFilesAreLinked(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	pfx := pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf, CA: []*x509.Certificate{p.inter, p.root}}, "pw")
	dirA, dirB, dirC := t.TempDir(), t.TempDir(), t.TempDir()
	a, b := openTest(t, dirA, ""), openTest(t, dirB, "")
	for _, s := range []*Store{a, b} {
		if _, err := s.Import(pfx, ImportOptions{Password: "pw"}); err != nil {
			t.Fatal(err)
		}
	}
	ino := func(path string) uint64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return tagOf(fi).ino
	}
	idx, _ := a.snapshot()
	files := idx.files()
	if len(files) != 4 { // leaf, key, intermediate, root
		t.Fatalf("store holds %d files, want 4: %v", len(files), files)
	}
	for rel := range files {
		if ino(filepath.Join(dirA, rel)) != ino(filepath.Join(dirB, rel)) {
			t.Errorf("%s was written again, not linked", rel)
		}
	}
	mustCheck(t, a)
	mustCheck(t, b)
	// Deleting from one store leaves the other whole.
	if err := a.Delete(thumb(leaf)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.PrivateKey(thumb(leaf)); err != nil {
		t.Fatalf("the other store lost the key: %v", err)
	}
	mustCheck(t, b)
	// A source changed on disk is not linked: the next store gets its own file.
	rootRel := "certs/" + thumb(p.root) + ".cer"
	src := filepath.Join(dirB, rootRel)
	if err := os.Chmod(src, 0o600); err != nil { // a different mode: not the content wanted
		t.Fatal(err)
	}
	c := openTest(t, dirC, "")
	if _, err := c.Import(pemOf(p.root), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if ino(filepath.Join(dirC, rootRel)) == ino(src) {
		t.Fatal("linked a file whose mode had changed")
	}
	mustCheck(t, c)
}

// TestLockWithEarlierStores checks the store lock: a new store has no lock
// file (the directory is locked), and in a store an earlier version made,
// whose processes lock store.lock, a holder of that file still keeps
// writers out.
func TestLockWithEarlierStores(t *testing.T) {
	p := newPKI(t, "Contoso", 0)
	dir := t.TempDir()
	s := openTest(t, dir, "")
	if _, err := os.Stat(filepath.Join(dir, lockName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a new store made %s (err %v)", lockName, err)
	}
	// An earlier version's store: the lock file exists and another process
	// (here, another open file description) holds it.
	old := t.TempDir()
	openTest(t, old, "")
	f, err := os.OpenFile(filepath.Join(old, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := Open(old, Options{Now: func() time.Time { return testNow }, LockTimeout: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Import(pemOf(p.root), ImportOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("import while an earlier version holds store.lock: err = %v, want ErrLocked", err)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if _, err := st.Import(pemOf(p.root), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	// And the directory lock keeps another Store of a new store out.
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	s.opts.LockTimeout = 30 * time.Millisecond
	if _, err := s.Import(pemOf(p.root), ImportOptions{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("import while a reader holds the directory: err = %v, want ErrLocked", err)
	}
}
