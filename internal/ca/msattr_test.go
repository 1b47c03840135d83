package ca

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"slices"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// msExtensionRequestCSR makes a request whose requested extensions are in
// the Microsoft attribute 1.3.6.1.4.1.311.2.1.14 (as IIS and older certreq
// write them) instead of PKCS#9 extensionRequest, signed with key.
func msExtensionRequestCSR(t *testing.T, key crypto.Signer, cn string, dns []string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}, key)
	if err != nil {
		t.Fatal(err)
	}
	in := cryptobyte.String(der)
	var outer, tbs, version, subject, spki, attrs cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&version, cbasn1.INTEGER) || !tbs.ReadASN1Element(&subject, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) || !tbs.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		t.Fatal("not a request")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(version)
		b.AddBytes(subject)
		b.AddBytes(spki)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			for !attrs.Empty() {
				var attr, values cryptobyte.String
				var oid asn1.ObjectIdentifier
				if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1Element(&values, cbasn1.SET) {
					t.Fatal("bad attribute")
				}
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 14})
					b.AddBytes(values)
				})
			}
		})
	})
	newTBS := b.BytesOrPanic()
	h := sha256.Sum256(newTBS)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(newTBS)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2})
		})
		b.AddASN1BitString(sig)
	})
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: out.BytesOrPanic()})
}

// TestMicrosoftExtensionAttributeIsPolicyChecked: SANs requested in the
// Microsoft attribute are read (the CA used to ignore them) and pass the
// same policy as SANs in extensionRequest: a name outside the template's
// allowed names is refused, not slipped past it; an allowed one is issued
// with exactly the names requested.
func TestMicrosoftExtensionAttributeIsPolicyChecked(t *testing.T) {
	e, dir := newCA(t, "", "p256")
	ctx := context.Background()
	admin := mustPrincipal(t, e, "admin")
	restricted := []string{"contoso.com", "*.contoso.com"}
	if _, err := SetTemplate(dir, "Restricted", TemplateChange{CopyFrom: "WebServer", AllowedDNS: &restricted}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dns  []string
		want error
	}{
		{"allowed names", []string{"a.contoso.com", "sip.contoso.com"}, nil},
		{"a name outside the allowed ones", []string{"a.contoso.com", "evil.example"}, ErrBadRequest},
		{"an invalid name", []string{"a.contoso.com", "bad_name.contoso.com"}, ErrBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.Submit(ctx, admin, msExtensionRequestCSR(t, p256Key, "a.contoso.com", tc.dns), "Restricted")
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !slices.Equal(res.Certificate.DNSNames, tc.dns) {
				t.Fatalf("issued for %v, requested %v", res.Certificate.DNSNames, tc.dns)
			}
		})
	}
}
