// Package certfmt reads and writes the certificate file formats that
// Windows, OpenSSL and GnuTLS exchange: PEM and DER certificates, PKCS#7
// certificates-only chains (.p7b), PKCS#12 (.pfx) with friendly names and
// Windows bag attributes, PKCS#8 private keys (optionally sealed with a
// passphrase) and CRLs. It works on bytes only: no file or network I/O.
//
// CONTRACT (stubs to be implemented by the package owner; signatures are
// used by store, csr, ca and apply).
package certfmt

import (
	"crypto"
	"crypto/x509"
	"errors"
)

// Sentinel errors; every decoding error wraps one of them.
var (
	// ErrMalformed: the input is not valid in any supported encoding.
	ErrMalformed = errors.New("malformed input")
	// ErrWrongPassword: the PFX MAC or decryption failed with the given password.
	ErrWrongPassword = errors.New("wrong password")
	// ErrUnsupported: a valid structure this package does not handle.
	ErrUnsupported = errors.New("unsupported")
)

// Format is a detected file format.
type Format int

// Formats returned by Detect.
const (
	FormatUnknown     Format = iota
	FormatCertificate        // one or more X.509 certificates, PEM or DER (.cer/.crt/.pem)
	FormatPKCS7              // PKCS#7 / CMS SignedData, certificates only (.p7b/.p7c), PEM or DER, BER tolerated
	FormatPKCS12             // PFX (.pfx/.p12)
	FormatCSR                // PKCS#10 request
	FormatPrivateKey         // PKCS#1/PKCS#8/SEC1 key
	FormatCRL                // X.509 CRL
)

func (f Format) String() string {
	return [...]string{"unknown", "certificate", "pkcs7", "pkcs12", "csr", "private-key", "crl"}[f]
}

// Detect guesses the format of data (PEM header or DER structure).
func Detect(data []byte) Format { return FormatUnknown }

// ParseCertificates decodes one or more certificates, PEM (any number of
// CERTIFICATE blocks, trailing junk refused) or DER.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	return nil, errors.New("certfmt: not implemented")
}

// EncodeCertificatePEM returns the PEM form of certs (concatenated).
func EncodeCertificatePEM(certs ...*x509.Certificate) []byte { return nil }

// DecodePKCS7 returns the certificates of a certificates-only PKCS#7 file,
// PEM ("PKCS7" or "CERTIFICATE"-less) or DER, BER tolerated. A file with no
// certificate (a CRL only) is an error wrapping ErrMalformed.
func DecodePKCS7(data []byte) ([]*x509.Certificate, error) {
	return nil, errors.New("certfmt: not implemented")
}

// EncodePKCS7 writes a DER certificates-only PKCS#7 (degenerate SignedData)
// holding certs in the given order.
func EncodePKCS7(certs []*x509.Certificate) ([]byte, error) {
	return nil, errors.New("certfmt: not implemented")
}

// PFX is the content of a PKCS#12 file.
type PFX struct {
	Key          crypto.Signer       // the private key (RSA or ECDSA)
	Leaf         *x509.Certificate   // the certificate whose public key matches Key
	CA           []*x509.Certificate // the other certificates (chain)
	FriendlyName string              // friendlyName of the leaf/key bags, if any
	// LocalKeyID links the key and leaf bags.
	LocalKeyID []byte
}

// PFXProfile names the encryption profile of a written PFX.
type PFXProfile int

// Profiles: Modern is AES-256-CBC + PBKDF2-HMAC-SHA256 with an HMAC-SHA256
// MAC (OpenSSL 3 default, Windows Server 2019+); Legacy is 3DES with a SHA-1
// MAC (Windows Server 2016 and older).
const (
	PFXModern PFXProfile = iota
	PFXLegacy
)

// DecodePFX decodes a PKCS#12 file made by OpenSSL 3, OpenSSL -legacy or
// Windows: BER accepted, unknown bag attributes tolerated, the leaf matched
// to the key by public key. A wrong password wraps ErrWrongPassword; two keys
// in one file wrap ErrUnsupported.
func DecodePFX(data []byte, password string) (*PFX, error) {
	return nil, errors.New("certfmt: not implemented")
}

// EncodePFX writes p as a PKCS#12 file readable by OpenSSL 3.0 and Windows
// Server 2016+, with friendlyName and localKeyId attributes on the key and
// leaf bags. An empty password is refused (M9) unless allowEmpty is set.
func EncodePFX(rand interface{ Read([]byte) (int, error) }, p *PFX, password string, profile PFXProfile, allowEmpty bool) ([]byte, error) {
	return nil, errors.New("certfmt: not implemented")
}

// MarshalPrivateKeyPEM returns key as an unencrypted PKCS#8 PEM block.
func MarshalPrivateKeyPEM(key crypto.Signer) ([]byte, error) {
	return nil, errors.New("certfmt: not implemented")
}

// ParsePrivateKey decodes a PKCS#1, PKCS#8 or SEC1 key, PEM or DER.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	return nil, errors.New("certfmt: not implemented")
}

// SealPrivateKey encrypts a PKCS#8 key with a passphrase (memory-hard KDF,
// authenticated encryption) and returns a PEM block.
func SealPrivateKey(rand interface{ Read([]byte) (int, error) }, key crypto.Signer, passphrase []byte) ([]byte, error) {
	return nil, errors.New("certfmt: not implemented")
}

// OpenPrivateKey decodes a key written by SealPrivateKey (or, when the PEM
// is not sealed, by MarshalPrivateKeyPEM). A wrong passphrase wraps ErrWrongPassword.
func OpenPrivateKey(data []byte, passphrase []byte) (crypto.Signer, error) {
	return nil, errors.New("certfmt: not implemented")
}

// IsSealed reports whether data is a sealed private key.
func IsSealed(data []byte) bool { return false }

// ThumbprintSHA1 is the Windows certificate identifier: upper-case hex SHA-1 of the DER.
func ThumbprintSHA1(cert *x509.Certificate) string { return "" }

// FingerprintSHA256 is the upper-case hex SHA-256 of the DER.
func FingerprintSHA256(cert *x509.Certificate) string { return "" }

// PublicKeysEqual reports whether two public keys are the same key.
func PublicKeysEqual(a, b crypto.PublicKey) bool { return false }
