// Package csr builds, parses and describes PKCS#10 certificate requests,
// including the Microsoft extensions that Windows certreq and the Lync
// certificate wizard write (certificate template name, CertificateTemplate
// attribute) and the key usage / extended key usage extensions with the
// criticality the reverse proxy procedure asks for (R56/R57).
//
// CONTRACT (stubs to be implemented by the package owner).
package csr

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
)

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed certificate request")

// KeySpec names a key type: "rsa2048" (default), "rsa3072", "rsa4096", "p256", "p384".
type KeySpec string

// Key types.
const (
	RSA2048 KeySpec = "rsa2048"
	RSA3072 KeySpec = "rsa3072"
	RSA4096 KeySpec = "rsa4096"
	P256    KeySpec = "p256"
	P384    KeySpec = "p384"
)

// ParseKeySpec parses a key type name; also accepts ("RSA", 2048) style via KeySpecFor.
func ParseKeySpec(s string) (KeySpec, error) { return "", errors.New("csr: not implemented") }

// KeySpecFor maps a plan key (algorithm "RSA"/"ECDSA", bits) to a KeySpec.
func KeySpecFor(algorithm string, bits int) (KeySpec, error) {
	return "", errors.New("csr: not implemented")
}

// NewKey generates a key of the given type.
func NewKey(rand io.Reader, spec KeySpec) (crypto.Signer, error) {
	return nil, errors.New("csr: not implemented")
}

// Request is what goes into a certificate request.
type Request struct {
	Subject     pkix.Name
	DNSNames    []string
	IPAddresses []net.IP
	// Template is the certificate template name (Microsoft template-name
	// extension 1.3.6.1.4.1.311.20.2 and the "CertificateTemplate:NAME"
	// attribute certreq writes). Empty: none.
	Template            string
	KeyUsage            x509.KeyUsage
	KeyUsageCritical    bool
	ExtKeyUsage         []x509.ExtKeyUsage
	ExtKeyUsageCritical bool
}

// Create signs a PKCS#10 request for r with key and returns its DER.
func Create(rand io.Reader, key crypto.Signer, r Request) ([]byte, error) {
	return nil, errors.New("csr: not implemented")
}

// EncodePEM returns the PEM ("CERTIFICATE REQUEST") form of a DER request.
func EncodePEM(der []byte) []byte { return nil }

// Parse decodes a request: PEM with "CERTIFICATE REQUEST" or "NEW
// CERTIFICATE REQUEST" headers, bare Base64 (as certreq writes), or DER; and
// checks its signature.
func Parse(data []byte) (*x509.CertificateRequest, error) {
	return nil, errors.New("csr: not implemented")
}

// TemplateName returns the template requested in req (extension or
// attribute), or "".
func TemplateName(req *x509.CertificateRequest) string { return "" }

// Info is a readable description of a request ("View the CSR").
type Info struct {
	Subject          string   `json:"subject"`
	DNSNames         []string `json:"dns_names"`
	IPAddresses      []string `json:"ip_addresses,omitempty"`
	KeyAlgorithm     string   `json:"key_algorithm"` // RSA | ECDSA
	KeyBits          int      `json:"key_bits"`
	SignatureAlg     string   `json:"signature_algorithm"`
	SignatureValid   bool     `json:"signature_valid"`
	Template         string   `json:"template,omitempty"`
	KeyUsage         []string `json:"key_usage,omitempty"`
	KeyUsageCritical bool     `json:"key_usage_critical"`
	ExtKeyUsage      []string `json:"ext_key_usage,omitempty"`
	EKUCritical      bool     `json:"ext_key_usage_critical"`
}

// Describe returns what a request asks for.
func Describe(req *x509.CertificateRequest) Info { return Info{} }
