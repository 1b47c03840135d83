package csr

import (
	"crypto/rand"
	"testing"
)

// BenchmarkNewKey measures key generation alone, per key type.
func BenchmarkNewKey(b *testing.B) {
	for _, tt := range keySpecs {
		b.Run(string(tt.spec), func(b *testing.B) {
			for b.Loop() {
				if _, err := NewKey(rand.Reader, tt.spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRequest measures what `request new` does: a new key and a
// signed request, per key type; BenchmarkCreate the request alone.
func BenchmarkRequest(b *testing.B) {
	r := reverseProxyRequest()
	for _, tt := range keySpecs {
		b.Run(string(tt.spec), func(b *testing.B) {
			for b.Loop() {
				key, err := NewKey(rand.Reader, tt.spec)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Create(rand.Reader, key, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCreate(b *testing.B) {
	r := reverseProxyRequest()
	for _, tt := range keySpecs {
		b.Run(string(tt.spec), func(b *testing.B) {
			key := testKey(b, tt.spec)
			for b.Loop() {
				if _, err := Create(rand.Reader, key, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
