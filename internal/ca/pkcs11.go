//go:build pkcs11

package ca

import (
	"crypto"
	"crypto/elliptic"
	"fmt"
	"io"

	"github.com/ThalesGroup/crypto11"
)

// PKCS11Available reports whether this build can use PKCS#11 tokens.
const PKCS11Available = true

// tokenKeys keeps the CA keys in a PKCS#11 token; they never leave it.
type tokenKeys struct {
	ctx *crypto11.Context
}

func openPKCS11(c *PKCS11Config, pin []byte) (keyStore, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{Path: c.Module, TokenLabel: c.TokenLabel, Pin: string(pin)})
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 token %q in %s: %w", c.TokenLabel, c.Module, err)
	}
	return &tokenKeys{ctx: ctx}, nil
}

func (t *tokenKeys) generate(rand io.Reader, spec, label string) (crypto.Signer, error) {
	id := make([]byte, 16)
	if _, err := io.ReadFull(rand, id); err != nil {
		return nil, err
	}
	switch spec {
	case "rsa2048", "rsa3072", "rsa4096":
		bits := map[string]int{"rsa2048": 2048, "rsa3072": 3072, "rsa4096": 4096}[spec]
		return t.ctx.GenerateRSAKeyPairWithLabel(id, []byte(label), bits)
	case "p256":
		return t.ctx.GenerateECDSAKeyPairWithLabel(id, []byte(label), elliptic.P256())
	case "p384":
		return t.ctx.GenerateECDSAKeyPairWithLabel(id, []byte(label), elliptic.P384())
	}
	return nil, checkKeySpec(spec)
}

func (t *tokenKeys) open(label string) (crypto.Signer, error) {
	k, err := t.ctx.FindKeyPair(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("PKCS#11 key %q: %w", label, err)
	}
	if k == nil {
		return nil, fmt.Errorf("PKCS#11 key %q not found in the token: %w", label, ErrNotFound)
	}
	return k, nil
}

func (t *tokenKeys) close() error { return t.ctx.Close() }
