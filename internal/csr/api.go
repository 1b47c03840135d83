// Package csr builds, parses and describes PKCS#10 certificate requests,
// including the Microsoft extensions that Windows certreq and the Lync
// certificate wizard write (certificate template name, CertificateTemplate
// attribute) and the key usage / extended key usage extensions with the
// criticality the reverse proxy procedure asks for (R56/R57).
//
// Files: key.go (key types), create.go (building and signing a request),
// parse.go (decoding and checking one), describe.go (what a request asks
// for, including the Microsoft template name), oids.go (identifiers).
package csr

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
)

// ErrMalformed is wrapped by every parse error but ErrUnsupported.
var ErrMalformed = errors.New("malformed certificate request")

// ErrUnsupported is wrapped by the parse error of a valid request whose
// key this program cannot use (RSA-PSS, an RSA exponent above 2^31-1).
var ErrUnsupported = errors.New("unsupported certificate request")

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
