package ca

import (
	"bytes"
	"io"
	"testing"
)

// TestSerialsAreNeverNegative: the importers read certificates with
// negative serial numbers (issued by Windows and older CAs); this CA never
// issues one, whatever its randomness gives: the first octet's sign bit is
// cleared and it is never zero (16 octets, positive). Issued certificates
// are also parsed back with crypto/x509, which refuses a negative serial.
func TestSerialsAreNeverNegative(t *testing.T) {
	tests := []struct {
		name string
		rand io.Reader
	}{
		{"all ones", bytes.NewReader(bytes.Repeat([]byte{0xff}, 16))},
		{"zero first octet, then ones", bytes.NewReader(append(append([]byte{0x80}, make([]byte, 15)...), bytes.Repeat([]byte{0xff}, 16)...))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := randomSerial(tc.rand)
			if err != nil {
				t.Fatal(err)
			}
			if n.Sign() <= 0 || n.BitLen() > 127 || n.BitLen() <= 120 {
				t.Fatalf("serial %x (%d bits)", n, n.BitLen())
			}
		})
	}
}
