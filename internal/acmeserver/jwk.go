package acmeserver

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
)

// RSA account keys are accepted from 2,048 to 8,192 bits.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// jwk is the members of a JSON Web Key (RFC 7517) that an account key
// uses.
type jwk struct {
	Kty, Crv, N, E, X, Y string
}

func readJWK(data []byte) (jwk, error) {
	var k jwk
	m, err := object("jwk", data)
	if err != nil {
		return k, err
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := m[private]; ok {
			return k, NewProblem(Malformed, "jwk: holds private or symmetric key material (%q)", private)
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"kty", &k.Kty}, {"crv", &k.Crv}, {"n", &k.N}, {"e", &k.E}, {"x", &k.X}, {"y", &k.Y}} {
		if *f.dst, _, err = str("jwk", m, f.name); err != nil {
			return k, err
		}
	}
	return k, nil
}

var b64 = base64.RawURLEncoding.Strict()

// decodeB64 decodes a base64url member without padding, strictly.
func decodeB64(what, s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, NewProblem(Malformed, "%s: not base64url without padding", what)
	}
	return b, nil
}

// ParseJWK reads a public account key: RSA (2,048 to 8,192 bits), EC P-256
// or P-384, or OKP Ed25519. A key with private members is refused.
func ParseJWK(data []byte) (crypto.PublicKey, error) {
	k, err := readJWK(data)
	if err != nil {
		return nil, err
	}
	switch k.Kty {
	case "RSA":
		n, err := decodeB64("jwk n", k.N)
		if err != nil {
			return nil, err
		}
		e, err := decodeB64("jwk e", k.E)
		if err != nil {
			return nil, err
		}
		if len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 || len(e) > 4 {
			return nil, NewProblem(BadPublicKey, "jwk: RSA modulus or exponent not in minimal form")
		}
		var ev int
		for _, c := range e {
			ev = ev<<8 | int(c)
		}
		bits := new(big.Int).SetBytes(n).BitLen()
		if bits < minRSABits || bits > maxRSABits {
			return nil, NewProblem(BadPublicKey, "jwk: RSA key of %d bits (accepted: %d to %d)", bits, minRSABits, maxRSABits)
		}
		if ev < 3 || ev&1 == 0 || ev > 1<<31-1 {
			return nil, NewProblem(BadPublicKey, "jwk: RSA public exponent %d", ev)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}, nil
	case "EC":
		var c elliptic.Curve
		switch k.Crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		default:
			return nil, NewProblem(BadPublicKey, "jwk: EC curve %q (accepted: P-256, P-384)", k.Crv)
		}
		size := (c.Params().BitSize + 7) / 8
		x, err := decodeB64("jwk x", k.X)
		if err != nil {
			return nil, err
		}
		y, err := decodeB64("jwk y", k.Y)
		if err != nil {
			return nil, err
		}
		if len(x) != size || len(y) != size {
			return nil, NewProblem(BadPublicKey, "jwk: %s coordinates must be %d bytes", k.Crv, size)
		}
		// ecdsa.ParseUncompressedPublicKey checks that the point is on the curve.
		pub, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, NewProblem(BadPublicKey, "jwk: the point is not on %s", k.Crv)
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, NewProblem(BadPublicKey, "jwk: OKP curve %q (accepted: Ed25519)", k.Crv)
		}
		x, err := decodeB64("jwk x", k.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, NewProblem(BadPublicKey, "jwk: Ed25519 key must be 32 bytes")
		}
		return ed25519.PublicKey(x), nil
	default:
		return nil, NewProblem(BadPublicKey, "jwk: key type %q (accepted: RSA, EC, OKP)", k.Kty)
	}
}

// thumbprintInput is the RFC 7638 canonical JSON of a public key: the
// required members only, in lexicographic order, no white space.
func thumbprintInput(pub crypto.PublicKey) ([]byte, error) {
	enc := base64.RawURLEncoding.EncodeToString
	var buf bytes.Buffer
	switch k := pub.(type) {
	case *rsa.PublicKey:
		e := big.NewInt(int64(k.E)).Bytes()
		fmt.Fprintf(&buf, `{"e":"%s","kty":"RSA","n":"%s"}`, enc(e), enc(k.N.Bytes()))
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			return nil, err
		}
		size := (len(raw) - 1) / 2
		crv := map[int]string{32: "P-256", 48: "P-384", 66: "P-521"}[size]
		fmt.Fprintf(&buf, `{"crv":"%s","kty":"EC","x":"%s","y":"%s"}`, crv, enc(raw[1:1+size]), enc(raw[1+size:]))
	case ed25519.PublicKey:
		fmt.Fprintf(&buf, `{"crv":"Ed25519","kty":"OKP","x":"%s"}`, enc(k))
	default:
		return nil, fmt.Errorf("jwk thumbprint: key type %T", pub)
	}
	return buf.Bytes(), nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a public key,
// base64url: what key authorizations (RFC 8555 §8.1) are made of.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	in, err := thumbprintInput(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(in)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// sameKey reports whether two public keys are equal.
func sameKey(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}
