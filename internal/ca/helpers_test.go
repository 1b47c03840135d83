package ca

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/db"

	"edgecert/internal/testtool"
)

// backend is one database the suite runs against.
type backend struct {
	name string
	dsn  func(t testing.TB) string // "" = SQLite in the CA directory
}

func backends() []backend {
	return []backend{
		{"sqlite", func(testing.TB) string { return "" }},
		{"postgres", testtool.PostgresSchema},
	}
}

var testPassphrase = []byte("correct horse battery staple")

// newCA creates a CA with an administrator "admin" and opens it.
func newCA(t testing.TB, dsn, key string) (*Engine, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	ctx := context.Background()
	err := Init(ctx, dir, InitOptions{Name: "Contoso", Key: key, Passphrase: testPassphrase, DSN: dsn,
		AdminName: "admin", AdminPassword: []byte("admin-password"),
		CRLURL: "http://127.0.0.1:8080/crl/", AIAURL: "http://127.0.0.1:8080/aia/", OCSPURL: "http://127.0.0.1:8080/ocsp"})
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	e, err := Open(ctx, dir, OpenOptions{Passphrase: testPassphrase})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e, dir
}

func mustPrincipal(t testing.TB, e *Engine, name string) *Principal {
	t.Helper()
	p, err := e.PrincipalFor(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// csrSpec describes a test request.
type csrSpec struct {
	key      crypto.Signer
	cn       string
	dns      []string
	ips      []net.IP
	template string // Microsoft template-name extension
	ekus     []x509.ExtKeyUsage
	org      string
}

var (
	p256Key = mustKey(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	rsaKey  = mustKey(rsa.GenerateKey(rand.Reader, 2048))
)

func mustKey[K crypto.Signer](k K, err error) crypto.Signer {
	if err != nil {
		panic(err)
	}
	return k
}

func makeCSR(t testing.TB, s csrSpec) []byte {
	t.Helper()
	if s.key == nil {
		s.key = p256Key
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: s.cn}, DNSNames: s.dns, IPAddresses: s.ips}
	if s.org != "" {
		tmpl.Subject.Organization = []string{s.org}
	}
	if s.template != "" {
		v, _ := asn1.MarshalWithParams(s.template, "utf8")
		// BMPString as Windows writes it
		u := []byte{}
		for _, r := range s.template {
			u = append(u, byte(r>>8), byte(r))
		}
		v, _ = asn1.Marshal(asn1.RawValue{Tag: 30, Bytes: u})
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidTemplateName, Value: v})
	}
	if len(s.ekus) > 0 {
		var oids []asn1.ObjectIdentifier
		for _, e := range s.ekus {
			oids = append(oids, ekuOIDs[e])
		}
		v, _ := asn1.Marshal(oids)
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidExtKeyUsage, Value: v})
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, s.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pemCerts(certs ...*x509.Certificate) []byte {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return []byte(b.String())
}

func rsaGenerate(bits int) (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, bits) }

func ecdsaP521() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P521(), rand.Reader) }

// tamper flips a byte of a PEM request's signature.
func tamper(p []byte) []byte {
	blk, _ := pem.Decode(p)
	blk.Bytes[len(blk.Bytes)-3] ^= 0xff
	return pem.EncodeToMemory(blk)
}

type revocationSpec struct {
	serial string
	reason int
}

func serialHexOf(i int) string {
	return strings.ToUpper(new(big.Int).Add(new(big.Int).Lsh(big.NewInt(int64(i)+1), 100), big.NewInt(int64(i))).Text(16))
}

func bulkRevoke(t testing.TB, e *Engine, rs []revocationSpec) {
	t.Helper()
	var list []db.Revocation
	now := e.now()
	for _, r := range rs {
		entry, err := crlEntry(r.serial, now, r.reason)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, db.Revocation{Serial: r.serial, RevokedAt: now, Reason: r.reason, Entry: entry})
	}
	if err := e.db.BulkRevoked(context.Background(), list); err != nil {
		t.Fatal(err)
	}
}
