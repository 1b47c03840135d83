package certfmt

import (
	"errors"
	"strings"
	"testing"
)

func TestPassphraseVerifier(t *testing.T) {
	v, err := NewPassphraseVerifier(rand0{}, []byte("right horse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPassphrase(v, []byte("right horse")); err != nil {
		t.Fatal(err)
	}
	if err := CheckPassphrase(v, []byte("wrong horse")); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	for _, bad := range []string{"", "scrypt", v + " x", strings.Replace(v, "N=32768", "N=1073741824", 1)} {
		if err := CheckPassphrase(bad, []byte("right horse")); err == nil || errors.Is(err, ErrWrongPassword) {
			t.Fatalf("verifier %q: %v", bad, err)
		}
	}
}

// rand0 is a deterministic randomness source.
type rand0 struct{}

func (rand0) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(i)
	}
	return len(b), nil
}
