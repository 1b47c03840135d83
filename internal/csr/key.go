package csr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"io"
	"strings"
)

// ParseKeySpec parses a key type name: "rsa2048", "rsa3072", "rsa4096",
// "p256", "p384", case-insensitive, also spelled "rsa-2048", "rsa:2048",
// "ecdsa-p256", "P-256". An empty name is the default, RSA2048; "ecdsa"
// alone is P256.
func ParseKeySpec(s string) (KeySpec, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	n = strings.NewReplacer("-", "", ":", "", "_", "", " ", "").Replace(n)
	if ec := strings.TrimPrefix(strings.TrimPrefix(n, "ecdsa"), "ec"); ec != n {
		if ec == "" {
			return P256, nil // "ecdsa" alone: the default curve
		}
		n = ec
	}
	switch KeySpec(n) {
	case "":
		return RSA2048, nil
	case "rsa", RSA2048:
		return RSA2048, nil
	case RSA3072, RSA4096, P256, P384:
		return KeySpec(n), nil
	case "secp256r1", "prime256v1":
		return P256, nil
	case "secp384r1":
		return P384, nil
	}
	return "", fmt.Errorf("csr: unknown key type %q (want rsa2048, rsa3072, rsa4096, p256 or p384)", s)
}

// KeySpecFor maps a plan key (algorithm "RSA"/"ECDSA", bits) to a KeySpec.
// Bits 0 means the default size: 2048 for RSA, 256 for ECDSA.
func KeySpecFor(algorithm string, bits int) (KeySpec, error) {
	switch strings.ToUpper(strings.TrimSpace(algorithm)) {
	case "RSA", "":
		switch bits {
		case 0, 2048:
			return RSA2048, nil
		case 3072:
			return RSA3072, nil
		case 4096:
			return RSA4096, nil
		}
	case "ECDSA", "EC":
		switch bits {
		case 0, 256:
			return P256, nil
		case 384:
			return P384, nil
		}
	default:
		return "", fmt.Errorf("csr: unknown key algorithm %q (want RSA or ECDSA)", algorithm)
	}
	return "", fmt.Errorf("csr: unsupported %s key size %d", algorithm, bits)
}

// NewKey generates a key of the given type.
func NewKey(rand io.Reader, spec KeySpec) (crypto.Signer, error) {
	var key crypto.Signer
	var err error
	switch spec {
	case RSA2048, "":
		key, err = rsa.GenerateKey(rand, 2048)
	case RSA3072:
		key, err = rsa.GenerateKey(rand, 3072)
	case RSA4096:
		key, err = rsa.GenerateKey(rand, 4096)
	case P256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand)
	case P384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand)
	default:
		return nil, fmt.Errorf("csr: unknown key type %q", spec)
	}
	if err != nil {
		return nil, fmt.Errorf("csr: generating %s key: %w", spec, err)
	}
	return key, nil
}
