package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"unicode/utf16"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
)

// badInputs is the corpus of files that must be refused with a clear error
// and leave the store byte-identical.
func badInputs(t *testing.T) map[string]struct {
	data     []byte
	password string
	want     string // part of the message
} {
	p := newPKI(t, "Contoso", 0)
	key := newKey(t, 0)
	leaf := p.leaf(t, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	pfx := pfxOf(t, &certfmt.PFX{Key: key, Leaf: leaf, CA: []*x509.Certificate{p.inter, p.root}, FriendlyName: "Edge"}, "pw")
	p7b := p7bOf(t, p.inter, p.root)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: testNow, NextUpdate: testNow.AddDate(0, 0, 7)}, p.inter, p.interKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, _ := certfmt.MarshalPrivateKeyPEM(key)
	reqDER, err := csr.Create(rand.Reader, key, csr.Request{DNSNames: []string{"edge.contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	key2 := newKey(t, 0)
	leaf2 := p.leaf(t, key2.Public(), "edge2.contoso.com", testNow.AddDate(1, 0, 0))
	garbage := make([]byte, 512)
	rand.Read(garbage)
	type in = struct {
		data     []byte
		password string
		want     string
	}
	return map[string]in{
		"empty":                            {nil, "", "not a certificate"},
		"garbage":                          {garbage, "", ""},
		"text":                             {[]byte("this is not a certificate\n"), "", "not a certificate"},
		"truncated certificate":            {leaf.Raw[:len(leaf.Raw)/2], "", ""},
		"truncated PEM":                    {pemOf(p.root)[:200], "", ""},
		"PEM with trailing junk":           {append(pemOf(p.root), []byte("trailing junk\n")...), "", ""},
		"truncated p7b":                    {p7b[:len(p7b)-40], "", ""},
		"p7b with a CRL only":              {crlOnlyP7B(t, crl), "", ""},
		"truncated pfx":                    {pfx[:len(pfx)-100], "pw", ""},
		"pfx wrong password":               {pfx, "wrong", "wrong password"},
		"pfx no password":                  {pfx, "", "password"},
		"pfx, a key without certificate":   {twoKeyPFX(t, "pw", key, leaf, key2, p.root), "pw", "private key 2 of 2 (ECDSA P-256) has no certificate"},
		"certificate without key":          {leaf.Raw, "", "no pending request"},
		"request instead of cert":          {reqDER, "", "certificate request"},
		"private key":                      {keyPEM, "", "private key"},
		"CRL":                              {crl, "", "CRL"},
		"chain with a foreign leaf":        {append(pemOf(p.inter), pemOf(leaf2)...), "", "no pending request"},
		"PEM key with another certificate": {append(pemOf(leaf2, p.inter), keyPEM...), "", "matches its private key"},
		"PEM with two keys":                {append(append(pemOf(leaf), keyPEM...), keyPEM...), "", "2 private keys"},
		"PEM with an encrypted key":        {append(pemOf(leaf), []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n")...), "", "encrypted"},
		"PEM key and certificate, junk":    {append(append(pemOf(leaf), keyPEM...), []byte("junk")...), "", "after its last block"},
	}
}

func TestBadInputLeavesStoreUnchanged(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, "")
	// A store with content: a chain, a request and a certificate with its key.
	p := newPKI(t, "Fabrikam", 0)
	if _, err := s.Import(p7bOf(t, p.inter, p.root), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	pend := newRequest(t, s, "rp.fabrikam.com", "RP", true)
	newRequest(t, s, "other.fabrikam.com", "Other", false)
	if _, err := s.Import(issueFor(t, p, pend, testNow.AddDate(1, 0, 0)).Raw, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	before := treeHash(t, dir)
	for name, tc := range badInputs(t) {
		t.Run(name, func(t *testing.T) {
			_, err := s.Import(tc.data, ImportOptions{Password: tc.password, Exportable: true})
			if err == nil {
				t.Fatal("import succeeded")
			}
			if !errors.Is(err, ErrInvalidInput) && !errors.Is(err, ErrNoKey) {
				t.Errorf("error does not wrap ErrInvalidInput or ErrNoKey: %v", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || len(msg) > 400 {
				t.Errorf("message is not one clear line: %q", msg)
			}
			if tc.want != "" && !strings.Contains(msg, tc.want) {
				t.Errorf("message %q does not say %q", msg, tc.want)
			}
			t.Logf("%s: %v", name, err)
			if after := treeHash(t, dir); after != before {
				t.Fatalf("the store changed:\n%s\n---\n%s", before, after)
			}
		})
	}
	// Re-opening (with garbage collection) changes nothing either.
	openTest(t, dir, "")
	if after := treeHash(t, dir); after != before {
		t.Fatal("re-opening changed the store")
	}
	mustCheck(t, s)
}

var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidKeyBag     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidCertBag    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509Cert   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidSHA1       = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
)

func mustASN1(t *testing.T, v any, params ...string) []byte {
	t.Helper()
	var b []byte
	var err error
	if len(params) > 0 {
		b, err = asn1.MarshalWithParams(v, params[0])
	} else {
		b, err = asn1.Marshal(v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crlOnlyP7B is a degenerate SignedData that holds a CRL and no certificate.
func crlOnlyP7B(t *testing.T, crlDER []byte) []byte {
	type signedData struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      struct{ ContentType asn1.ObjectIdentifier }
		CRLs             asn1.RawValue `asn1:"tag:1"`
		SignerInfos      asn1.RawValue
	}
	emptySet := asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true}
	sd := signedData{Version: 1, DigestAlgorithms: emptySet, SignerInfos: emptySet,
		CRLs: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: crlDER}}
	sd.ContentInfo.ContentType = oidData
	return mustASN1(t, struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{oidSignedData, explicit0(mustASN1(t, sd))})
}

type safeBag struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue // [0] EXPLICIT
}

// explicit0 wraps DER in an explicit [0] tag (encoding/asn1 ignores tags
// on a RawValue given as FullBytes).
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

// twoKeyPFX writes a PFX (unencrypted bags, SHA-1 MAC) holding two keys
// and their certificates, as Java and .NET write them.
func twoKeyPFX(t *testing.T, password string, k1 any, c1 *x509.Certificate, k2 any, c2 *x509.Certificate) []byte {
	var bags []safeBag
	for _, pair := range []struct {
		k any
		c *x509.Certificate
	}{{k1, c1}, {k2, c2}} {
		p8, err := x509.MarshalPKCS8PrivateKey(pair.k)
		if err != nil {
			t.Fatal(err)
		}
		bags = append(bags, safeBag{ID: oidKeyBag, Value: explicit0(p8)})
		certBag := mustASN1(t, struct {
			ID    asn1.ObjectIdentifier
			Value []byte `asn1:"explicit,tag:0"`
		}{oidX509Cert, pair.c.Raw})
		bags = append(bags, safeBag{ID: oidCertBag, Value: explicit0(certBag)})
	}
	safeContents := mustASN1(t, bags)
	type contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue // [0] EXPLICIT
	}
	octets := func(b []byte) asn1.RawValue { return explicit0(mustASN1(t, b)) }
	authSafe := mustASN1(t, []contentInfo{{oidData, octets(safeContents)}})
	salt := make([]byte, 8)
	rand.Read(salt)
	const iter = 2048
	macKey := pkcs12KDF(bmp(password), salt, iter, 3, 20)
	h := hmac.New(sha1.New, macKey)
	h.Write(authSafe)
	type digestInfo struct {
		Algorithm struct {
			Algorithm  asn1.ObjectIdentifier
			Parameters asn1.RawValue `asn1:"optional"`
		}
		Digest []byte
	}
	var di digestInfo
	di.Algorithm.Algorithm = oidSHA1
	di.Algorithm.Parameters = asn1.NullRawValue
	di.Digest = h.Sum(nil)
	return mustASN1(t, struct {
		Version  int
		AuthSafe contentInfo
		MacData  struct {
			Mac        digestInfo
			MacSalt    []byte
			Iterations int
		}
	}{3, contentInfo{oidData, octets(authSafe)}, struct {
		Mac        digestInfo
		MacSalt    []byte
		Iterations int
	}{di, salt, iter}})
}

// bmp is a PKCS#12 password: BMPString with a terminating zero.
func bmp(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		out = append(out, byte(c>>8), byte(c))
	}
	return append(out, 0, 0)
}

// pkcs12KDF is the key derivation of RFC 7292 appendix B with SHA-1.
func pkcs12KDF(pass, salt []byte, iter int, id byte, size int) []byte {
	const u, v = 20, 64
	D := make([]byte, v)
	for i := range D {
		D[i] = id
	}
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		n := v * ((len(b) + v - 1) / v)
		out := make([]byte, n)
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	I := append(fill(salt), fill(pass)...)
	var out []byte
	for len(out) < size {
		h := sha1.New()
		h.Write(D)
		h.Write(I)
		A := h.Sum(nil)
		for j := 1; j < iter; j++ {
			s := sha1.Sum(A)
			A = s[:]
		}
		out = append(out, A...)
		B := fill(A)[:v]
		Bn := new(big.Int).SetBytes(B)
		one := big.NewInt(1)
		for j := 0; j < len(I); j += v {
			Ij := new(big.Int).SetBytes(I[j : j+v])
			Ij.Add(Ij, Bn)
			Ij.Add(Ij, one)
			b := Ij.Bytes()
			if len(b) > v {
				b = b[len(b)-v:]
			}
			copy(I[j:j+v], make([]byte, v))
			copy(I[j+v-len(b):j+v], b)
		}
	}
	return out[:size]
}

// FuzzImport (certificates and PKCS#7; PFX decoding, whose key derivation
// makes each run slow, is fuzzed in certfmt): whatever the input, Import either files it or refuses it
// with an error that wraps ErrInvalidInput or ErrNoKey, and a refused
// input leaves the store unchanged.
func FuzzImport(f *testing.F) {
	p := newPKI(f, "Fuzz", 0)
	key := newKey(f, 0)
	leaf := p.leaf(f, key.Public(), "edge.contoso.com", testNow.AddDate(1, 0, 0))
	for _, seed := range [][]byte{
		p.root.Raw, pemOf(p.inter, p.root), p7bOf(f, p.inter, p.root), leaf.Raw,
		[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), {0x30, 0x80, 0, 0},
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	s := openTest(f, dir, "")
	f.Fuzz(func(t *testing.T, data []byte) {
		before := treeHash(t, dir)
		_, err := s.Import(data, ImportOptions{Password: "pw"})
		if err == nil {
			return
		}
		if !errors.Is(err, ErrInvalidInput) && !errors.Is(err, ErrNoKey) && !errors.Is(err, ErrDuplicateName) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if treeHash(t, dir) != before {
			t.Fatal("a refused import changed the store")
		}
	})
}
