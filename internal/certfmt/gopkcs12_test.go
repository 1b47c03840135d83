package certfmt

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"testing"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// TestGoPKCS12CrossCheck checks our writer against an independent reader
// (go-pkcs12) and our reader against its writer, including its Modern2026
// profile, which uses a PBMAC1 MAC (RFC 9579).
func TestGoPKCS12CrossCheck(t *testing.T) {
	rsaC, ecC := chains(t)
	for _, pr := range profiles {
		for _, c := range []*testChain{rsaC, ecC} {
			data, err := EncodePFX(rand.Reader, &PFX{Key: c.LeafKey, Leaf: c.Leaf, CA: []*x509.Certificate{c.Inter, c.Root}}, "pw", pr.profile, false)
			if err != nil {
				t.Fatal(err)
			}
			key, leaf, ca, err := gopkcs12.DecodeChain(data, "pw")
			if err != nil {
				t.Fatalf("%s: go-pkcs12 cannot read our file: %v", pr.name, err)
			}
			if !leaf.Equal(c.Leaf) || len(ca) != 2 || !PublicKeysEqual(key.(crypto.Signer).Public(), c.Leaf.PublicKey) {
				t.Fatalf("%s: go-pkcs12 read something else", pr.name)
			}
		}
	}
	encoders := map[string]*gopkcs12.Encoder{
		"Modern2023": gopkcs12.Modern2023, "Modern2026 (PBMAC1)": gopkcs12.Modern2026,
		"LegacyRC2": gopkcs12.LegacyRC2, "LegacyDES": gopkcs12.LegacyDES,
	}
	for name, enc := range encoders {
		t.Run(name, func(t *testing.T) {
			data, err := enc.Encode(ecC.LeafKey, ecC.Leaf, []*x509.Certificate{ecC.Inter, ecC.Root}, "pw")
			if err != nil {
				t.Fatal(err)
			}
			p, err := DecodePFX(data, "pw")
			if err != nil {
				t.Fatal(err)
			}
			if !p.Leaf.Equal(ecC.Leaf) || len(p.CA) != 2 {
				t.Fatal("wrong leaf or chain")
			}
			if _, err := DecodePFX(data, "wrong"); err == nil {
				t.Fatal("wrong password accepted")
			}
		})
	}
}
