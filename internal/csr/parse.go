package csr

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MaxKeyBytes bounds the subject public key info of a request, checked
// before the key is parsed: room for a 16384-bit RSA key, the largest a
// template may allow. Verifying a signature with a larger key costs
// seconds of CPU.
const MaxKeyBytes = 2300

// Parse decodes a request: PEM with "CERTIFICATE REQUEST" or "NEW
// CERTIFICATE REQUEST" headers, bare Base64 (as certreq writes), or DER; and
// checks its signature. Every error wraps ErrMalformed.
func Parse(data []byte) (*x509.CertificateRequest, error) {
	req, err := ParseUnverified(data)
	if err != nil {
		return nil, err
	}
	if err := CheckSignature(req); err != nil {
		return nil, err
	}
	return req, nil
}

// ParseUnverified decodes a request as Parse does but leaves its signature
// unchecked, so that a caller can decide cheaply (permission, key size)
// before paying for the verification with CheckSignature. A key longer
// than MaxKeyBytes is refused before it is parsed.
func ParseUnverified(data []byte) (*x509.CertificateRequest, error) {
	der, err := requestBytes(data)
	if err != nil {
		return nil, err
	}
	if n, ok := keyBytes(der); ok && n > MaxKeyBytes {
		return nil, fmt.Errorf("csr: %w: the public key is %d bytes, more than the limit of %d (a 16384-bit RSA key)", ErrMalformed, n, MaxKeyBytes)
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("csr: %w: %w", ErrMalformed, err)
	}
	return req, nil
}

// CheckSignature verifies a request's signature with its own key.
func CheckSignature(req *x509.CertificateRequest) error {
	if err := req.CheckSignature(); err != nil {
		return fmt.Errorf("csr: %w: the request's signature does not verify: %w", ErrMalformed, err)
	}
	return nil
}

// keyBytes is the length of the SubjectPublicKeyInfo of a DER request
// (ok false: not the shape of a request, which the parser then reports).
func keyBytes(der []byte) (int, bool) {
	in := cryptobyte.String(der)
	var req, info, spki cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1(&info, cbasn1.SEQUENCE) ||
		!info.SkipASN1(cbasn1.INTEGER) || !info.SkipASN1(cbasn1.SEQUENCE) ||
		!info.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return 0, false
	}
	return len(spki), true
}

// requestBytes returns the DER of a PEM, bare Base64 or DER request.
func requestBytes(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("csr: %w: empty input", ErrMalformed)
	}
	if bytes.Contains(trimmed, []byte("-----BEGIN ")) {
		block, rest := pem.Decode(trimmed)
		if block == nil {
			return nil, fmt.Errorf("csr: %w: damaged PEM block", ErrMalformed)
		}
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("csr: %w: PEM block is %q, not a CERTIFICATE REQUEST", ErrMalformed, block.Type)
		}
		if junk := bytes.TrimSpace(rest); len(junk) > 0 {
			return nil, fmt.Errorf("csr: %w: %d bytes of trailing data after the PEM block", ErrMalformed, len(junk))
		}
		return block.Bytes, nil
	}
	if trimmed[0] == 0x30 {
		return data, nil
	}
	der, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(trimmed), nil)))
	if err != nil {
		return nil, fmt.Errorf("csr: %w: neither PEM, Base64 nor DER", ErrMalformed)
	}
	return der, nil
}
