package certfmt

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
)

// MarshalPrivateKeyPEM returns key as an unencrypted PKCS#8 PEM block
// ("PRIVATE KEY").
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("certfmt: marshalling private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der}), nil
}

// ParsePrivateKey decodes a PKCS#1, PKCS#8 or SEC1 key, PEM or DER. An "EC
// PARAMETERS" block before an EC key (as `openssl ecparam -genkey` writes)
// is skipped. Encrypted keys are refused with ErrUnsupported.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("certfmt: private key: %w: empty input", ErrMalformed)
	}
	if !isPEM(data) {
		key, err := parsePrivateKeyDER(data)
		if err != nil {
			return nil, wrongFormat(fmt.Errorf("certfmt: DER private key: %w", err), data, FormatPrivateKey)
		}
		return key, nil
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("certfmt: PEM private key: %w", err)
	}
	if blocks[0].Type == "EC PARAMETERS" && len(blocks) > 1 {
		blocks = blocks[1:]
	}
	if len(blocks) != 1 {
		return nil, fmt.Errorf("certfmt: PEM holds %d blocks, want one private key: %w", len(blocks), ErrMalformed)
	}
	b := blocks[0]
	switch {
	case b.Type == sealedPEMType || b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "":
		return nil, fmt.Errorf("certfmt: private key is encrypted (%s): %w", b.Type, ErrUnsupported)
	case !strings.HasSuffix(b.Type, "PRIVATE KEY"):
		return nil, fmt.Errorf("certfmt: PEM block is %q, not a private key: %w", b.Type, ErrMalformed)
	}
	key, err := parsePrivateKeyDER(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certfmt: PEM %s: %w", b.Type, err)
	}
	return key, nil
}

// parsePrivateKeyDER tries PKCS#8, PKCS#1 and SEC1 in turn.
func parsePrivateKeyDER(der []byte) (crypto.Signer, error) {
	if reason := pkcs8Unsupported(der); reason != "" {
		return nil, unsupportedError{reason}
	}
	var key any
	var err error
	if key, err = x509.ParsePKCS8PrivateKey(der); err != nil {
		if k, err1 := x509.ParsePKCS1PrivateKey(der); err1 == nil {
			key, err = k, nil
		} else if k, err2 := x509.ParseECPrivateKey(der); err2 == nil {
			key, err = k, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKCS#8, PKCS#1 or SEC1 key (%s)", ErrMalformed, asn1Reason(err))
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key type %T: %w", key, ErrUnsupported)
	}
	return signer, nil
}

// ThumbprintSHA1 is the Windows certificate identifier: upper-case hex SHA-1 of the DER.
func ThumbprintSHA1(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// FingerprintSHA256 is the upper-case hex SHA-256 of the DER.
func FingerprintSHA256(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// PublicKeysEqual reports whether two public keys are the same key. Keys of
// unknown types (or nil) are never equal.
func PublicKeysEqual(a, b crypto.PublicKey) bool {
	if a == nil || b == nil {
		return false
	}
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
