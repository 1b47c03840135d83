package ca

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
)

// hugeRSACSR is a request whose RSA key has the given number of bits and
// whose signature is junk: building it costs nothing, and verifying it is
// what an attacker wants the CA to spend its CPU on.
func hugeRSACSR(t testing.TB, bits int) []byte {
	t.Helper()
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(1))
	spki, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	info := mustMarshal(t, struct {
		Version int
		Subject asn1.RawValue
		SPKI    asn1.RawValue
		Attrs   asn1.RawValue
	}{0, asn1.RawValue{FullBytes: rawSubject(t, one(atv{oid: oidCN, val: "a.contoso.com"}))}, asn1.RawValue{FullBytes: spki},
		asn1.RawValue{Class: 2, Tag: 0, IsCompound: true}})
	sig := make([]byte, bits/8)
	rand.Read(sig)
	der := mustMarshal(t, struct {
		Info asn1.RawValue
		Alg  struct {
			ID   asn1.ObjectIdentifier
			Null asn1.RawValue
		}
		Sig asn1.BitString
	}{Info: asn1.RawValue{FullBytes: info}, Alg: struct {
		ID   asn1.ObjectIdentifier
		Null asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, asn1.RawValue{Tag: 5}}, Sig: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// TestPermissionBeforeSignature: the caller's permission, the template and
// the key's size are checked before the request's signature is verified,
// and a key too long for any template is refused before it is parsed
// (issue 14, item 7: a 1,000,000-bit key cost 20 s of CPU, from anyone).
func TestPermissionBeforeSignature(t *testing.T) {
	e, _ := newCA(t, "", "p256")
	ctx := context.Background()
	if err := e.AddUser(ctx, UserSpec{Name: "mallory"}); err != nil {
		t.Fatal(err)
	}
	mallory, admin := mustPrincipal(t, e, "mallory"), mustPrincipal(t, e, "admin")
	var verified atomic.Int32
	e.checkSig = func(r *x509.CertificateRequest) error { verified.Add(1); return checkCSRSignature(r) }
	cases := []struct {
		name     string
		p        *Principal
		csr      []byte
		template string
		want     error
		verify   int32 // signature verifications expected
		says     string
	}{
		{"1,000,000-bit key without Enroll", mallory, hugeRSACSR(t, 1_000_000), "WebServer", ErrBadRequest, 0, "more than the limit"},
		{"1,000,000-bit key from an administrator", admin, hugeRSACSR(t, 1_000_000), "WebServer", ErrBadRequest, 0, "more than the limit"},
		{"12000-bit key without Enroll", mallory, hugeRSACSR(t, 12000), "WebServer", ErrForbidden, 0, "no Enroll permission"},
		{"12000-bit key from an administrator", admin, hugeRSACSR(t, 12000), "WebServer", ErrBadRequest, 0, "too large"},
		{"12000-bit key, unknown template", mallory, hugeRSACSR(t, 12000), "NoSuch", ErrNotFound, 0, "no template"},
		{"4096-bit key with a junk signature", admin, hugeRSACSR(t, 4096), "WebServer", ErrBadRequest, 1, "signature does not verify"},
		{"a good request", admin, makeCSR(t, csrSpec{cn: "a.contoso.com"}), "WebServer", nil, 1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			verified.Store(0)
			_, err := e.Submit(ctx, c.p, c.csr, c.template)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if err != nil && !strings.Contains(err.Error(), c.says) {
				t.Errorf("refusal %q does not say %q", err, c.says)
			}
			if got := verified.Load(); got != c.verify {
				t.Errorf("%d signature verifications, want %d", got, c.verify)
			}
		})
	}
}

// TestDefaultRSALimit: a template without max_rsa_bits takes keys of at
// most 8192 bits; none may allow more than 16384.
func TestDefaultRSALimit(t *testing.T) {
	tm := &Template{Name: "T", KeyTypes: []string{"rsa"}, MinRSABits: 2048}
	req := func(bits int) *x509.CertificateRequest {
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		return &x509.CertificateRequest{PublicKey: &rsa.PublicKey{N: n.Add(n, big.NewInt(1)), E: 65537}}
	}
	if err := checkKey(tm, req(8192)); err != nil {
		t.Errorf("8192 bits: %v", err)
	}
	if err := checkKey(tm, req(8200)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("8200 bits under the default limit: %v", err)
	}
	tm.MaxRSABits = 16384
	if err := checkKey(tm, req(16384)); err != nil {
		t.Errorf("16384 bits allowed by the template: %v", err)
	}
	tm.MaxRSABits, tm.Validity, tm.LintSources = 16385, Duration(1), []string{"RFC5280"}
	if err := tm.validate(); !errors.Is(err, ErrBadRequest) {
		t.Errorf("max_rsa_bits 16385 accepted: %v", err)
	}
}
