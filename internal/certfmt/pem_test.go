package certfmt

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"
)

// EncodeCertificatePEM writes what encoding/pem writes, for every length
// around the 48-byte line boundary and for several certificates at once.
func TestEncodeCertificatePEMMatchesEncodingPEM(t *testing.T) {
	raw := make([]byte, 1500)
	for i := range raw {
		raw[i] = byte(i*7 + 3)
	}
	var lengths []int
	for n := 0; n <= 200; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 1023, 1024, 1025, 1500)
	for _, n := range lengths {
		c := &x509.Certificate{Raw: raw[:n]}
		want := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		if got := EncodeCertificatePEM(c); !bytes.Equal(got, want) {
			t.Fatalf("length %d: got\n%s\nwant\n%s", n, got, want)
		}
	}
	a, b := &x509.Certificate{Raw: raw[:700]}, &x509.Certificate{Raw: raw[100:1100]}
	want := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Raw}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Raw})...)
	got := EncodeCertificatePEM(a, b)
	if !bytes.Equal(got, want) {
		t.Fatalf("two certificates: got\n%s\nwant\n%s", got, want)
	}
	if cap(got) != len(got) {
		t.Fatalf("buffer sized %d for %d bytes", cap(got), len(got))
	}
}
