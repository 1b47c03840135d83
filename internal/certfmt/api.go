// Package certfmt reads and writes the certificate file formats that
// Windows, OpenSSL and GnuTLS exchange: PEM and DER certificates, PKCS#7
// certificates-only chains (.p7b), PKCS#12 (.pfx) with friendly names and
// Windows bag attributes, PKCS#8 private keys (optionally sealed with a
// passphrase) and CRLs. It works on bytes only: no file or network I/O.
//
// The functions are split by format: pem.go (certificates, detection),
// cert.go (one certificate, negative serials included, and serials as
// Windows shows them), name.go (names as Windows shows them), issuer.go
// (self-signed and issued-by checks for filing), keyalg.go (naming the key
// algorithms this program does not support), pkcs7.go, key.go (private
// keys, thumbprints), seal.go (passphrase-sealed keys) and the pkcs12*.go
// files (PFX reading and writing, see pkcs12.go).
// Every decoding error wraps ErrMalformed, ErrWrongPassword or ErrUnsupported.
package certfmt

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Sentinel errors; every decoding error wraps one of them.
var (
	// ErrMalformed: the input is not valid in any supported encoding.
	ErrMalformed = errors.New("malformed input")
	// ErrWrongPassword: the PFX MAC or decryption failed with the given password.
	ErrWrongPassword = errors.New("wrong password")
	// ErrUnsupported: a valid structure this package does not handle.
	ErrUnsupported = errors.New("unsupported")
	// ErrNoKey: a PFX without a private key, or whose key matches none of
	// its certificates. It wraps ErrMalformed.
	ErrNoKey = fmt.Errorf("%w: no private key with a matching certificate", ErrMalformed)
	// ErrEmptyPassword: EncodePFX was asked for an empty password without
	// allowEmpty (M9: a PFX holding a key is always password-protected).
	ErrEmptyPassword = errors.New("refusing to write a PFX with an empty password")
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

// PFX is the content of a PKCS#12 file.
type PFX struct {
	Key          crypto.Signer       // the private key (RSA or ECDSA)
	Leaf         *x509.Certificate   // the certificate whose public key matches Key
	CA           []*x509.Certificate // the other certificates (chain)
	FriendlyName string              // friendlyName of the leaf's bag (or of a key bag that names no container)
	// KeyContainer is the key bag's friendlyName when it names the key's
	// Windows container (CNG "te-…-<GUID>"): not a friendly name.
	KeyContainer string
	// LocalKeyID links the key and leaf bags. EncodePFX uses the SHA-1 of
	// the leaf (as OpenSSL does) when it is empty.
	LocalKeyID []byte
	// KeyAttributes are the other attributes of the key bag, such as the
	// Windows CSP name and machine key set marker (`openssl pkcs12 -CSP
	// -LMK`). DecodePFX keeps them and EncodePFX writes them back.
	KeyAttributes []BagAttribute
}

// PFXContents is everything a PKCS#12 file holds: each private key with
// its certificate, and the other certificates.
type PFXContents struct {
	Pairs []*PFX              // one per key, CA left empty
	Certs []*x509.Certificate // the certificates that are no key's
}

// BagAttribute is a PKCS#12 bag attribute other than friendlyName and
// localKeyId.
type BagAttribute struct {
	Type asn1.ObjectIdentifier
	// Values is the DER content of the attribute's SET OF values (the
	// encoded values one after the other, without the SET header).
	Values []byte
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
