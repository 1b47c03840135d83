package certfmt

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestRC2Vectors uses the test vectors of RFC 2268 section 5.
func TestRC2Vectors(t *testing.T) {
	tests := []struct {
		key  string
		bits int
		pt   string
		ct   string
	}{
		{"0000000000000000", 63, "0000000000000000", "ebb773f993278eff"},
		{"ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"},
		{"3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"},
		{"88", 64, "0000000000000000", "61a8a244adacccf0"},
		{"88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"},
		{"88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"},
		{"88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"},
	}
	for _, tt := range tests {
		key, _ := hex.DecodeString(tt.key)
		pt, _ := hex.DecodeString(tt.pt)
		want, _ := hex.DecodeString(tt.ct)
		c, err := newRC2(key, tt.bits)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 8)
		c.Encrypt(got, pt)
		if !bytes.Equal(got, want) {
			t.Errorf("RC2(%s, %d) = %x, want %x", tt.key, tt.bits, got, want)
		}
		c.Decrypt(got, got)
		if !bytes.Equal(got, pt) {
			t.Errorf("RC2 decrypt(%s, %d) = %x, want %x", tt.key, tt.bits, got, pt)
		}
	}
}
