package csr

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
)

// Parse decodes a request: PEM with "CERTIFICATE REQUEST" or "NEW
// CERTIFICATE REQUEST" headers, bare Base64 (as certreq writes), or DER; and
// checks its signature. Every error wraps ErrMalformed.
func Parse(data []byte) (*x509.CertificateRequest, error) {
	der, err := requestBytes(data)
	if err != nil {
		return nil, err
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("csr: %w: %w", ErrMalformed, err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr: %w: the request's signature does not verify: %w", ErrMalformed, err)
	}
	return req, nil
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
