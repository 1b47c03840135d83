package ca

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"edgecert/internal/csr"
)

// Microsoft template identifiers in requests.
var (
	oidTemplateName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2} // szOID_ENROLL_CERTTYPE_EXTENSION
	oidExtKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// parseCSR decodes a PKCS#10 request (PEM with either header, bare Base64
// or DER) and checks its signature, through the csr package; errors wrap
// ErrBadRequest.
func parseCSR(data []byte) (*x509.CertificateRequest, error) {
	req, err := csr.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrBadRequest)
	}
	return req, nil
}

// parseCSRUnverified decodes a request without checking its signature
// (the key's size is bounded before it is parsed); errors wrap
// ErrBadRequest. Submissions verify the signature with checkCSRSignature
// once the caller's permission and the key's size are known to be right.
func parseCSRUnverified(data []byte) (*x509.CertificateRequest, error) {
	req, err := csr.ParseUnverified(data)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", err, ErrBadRequest)
	}
	return req, nil
}

// checkCSRSignature verifies a request's signature; errors wrap ErrBadRequest.
func checkCSRSignature(req *x509.CertificateRequest) error {
	if err := csr.CheckSignature(req); err != nil {
		return fmt.Errorf("%v: %w", err, ErrBadRequest)
	}
	return nil
}

// templateName returns the template a request names (Microsoft
// template-name extension or CertificateTemplate attribute), or "".
func templateName(req *x509.CertificateRequest) string { return csr.TemplateName(req) }

// requestedEKUs returns the extended key usages a request asks for.
func requestedEKUs(req *x509.CertificateRequest) ([]asn1.ObjectIdentifier, error) {
	for _, ext := range req.Extensions {
		if ext.Id.Equal(oidExtKeyUsage) {
			var oids []asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(ext.Value, &oids); err != nil {
				return nil, fmt.Errorf("malformed extended key usage in the request: %w", ErrBadRequest)
			}
			return oids, nil
		}
	}
	return nil, nil
}
