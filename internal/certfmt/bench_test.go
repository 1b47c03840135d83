package certfmt

import (
	"crypto/rand"
	"crypto/x509"
	"testing"
)

var profiles = []struct {
	name    string
	profile PFXProfile
}{{"modern", PFXModern}, {"legacy", PFXLegacy}}

// BenchmarkEncodePFX writes an RSA 2048 leaf with its key and a two-CA chain.
func BenchmarkEncodePFX(b *testing.B) {
	c, _ := chains(b)
	p := &PFX{Key: c.LeafKey, Leaf: c.Leaf, CA: []*x509.Certificate{c.Inter, c.Root}, FriendlyName: "bench"}
	for _, pr := range profiles {
		b.Run(pr.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := EncodePFX(rand.Reader, p, "password", pr.profile, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodePFX reads what BenchmarkEncodePFX writes.
func BenchmarkDecodePFX(b *testing.B) {
	c, _ := chains(b)
	p := &PFX{Key: c.LeafKey, Leaf: c.Leaf, CA: []*x509.Certificate{c.Inter, c.Root}, FriendlyName: "bench"}
	for _, pr := range profiles {
		data, err := EncodePFX(rand.Reader, p, "password", pr.profile, false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(pr.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := DecodePFX(data, "password"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealedKey measures sealing and opening a key (scrypt N=2^15).
func BenchmarkSealedKey(b *testing.B) {
	c, _ := chains(b)
	sealed, err := SealPrivateKey(rand.Reader, c.LeafKey, []byte("passphrase"))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			if _, err := SealPrivateKey(rand.Reader, c.LeafKey, []byte("passphrase")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, err := OpenPrivateKey(sealed, []byte("passphrase")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParseCertificates parses a PEM chain of three.
func BenchmarkParseCertificates(b *testing.B) {
	c, _ := chains(b)
	data := EncodeCertificatePEM(c.Leaf, c.Inter, c.Root)
	for b.Loop() {
		if _, err := ParseCertificates(data); err != nil {
			b.Fatal(err)
		}
	}
}
