package certfmt

import (
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Key algorithms this program cannot use are named, with their OID, so that
// a valid file holding one is not reported as corrupt or as a wrong
// password: RSA, ECDSA on P-256/P-384/P-521 and Ed25519 are supported.

// unsupportedError is a key this program cannot use: its message is the
// reason alone, and it wraps ErrUnsupported.
type unsupportedError struct{ reason string }

func (e unsupportedError) Error() string { return e.reason }
func (e unsupportedError) Unwrap() error { return ErrUnsupported }

// keyAlgorithmNames names the public key algorithms of the field.
var keyAlgorithmNames = map[string]string{
	"1.2.840.113549.1.1.1":    "RSA",
	"1.2.840.113549.1.1.7":    "RSAES-OAEP",
	"1.2.840.113549.1.1.10":   "RSA-PSS",
	"1.2.840.10040.4.1":       "DSA",
	"1.2.840.10046.2.1":       "Diffie-Hellman (X9.42)",
	"1.2.840.113549.1.3.1":    "Diffie-Hellman (PKCS#3)",
	"1.2.840.10045.2.1":       "EC",
	"1.3.101.110":             "X25519",
	"1.3.101.111":             "X448",
	"1.3.101.112":             "Ed25519",
	"1.3.101.113":             "Ed448",
	"1.2.156.10197.1.301":     "SM2",
	"1.2.643.7.1.1.1.1":       "GOST R 34.10-2012 (256 bit)",
	"1.2.643.7.1.1.1.2":       "GOST R 34.10-2012 (512 bit)",
	"2.16.840.1.101.3.4.4.1":  "ML-KEM-512",
	"2.16.840.1.101.3.4.4.2":  "ML-KEM-768",
	"2.16.840.1.101.3.4.4.3":  "ML-KEM-1024",
	"2.16.840.1.101.3.4.3.17": "ML-DSA-44",
	"2.16.840.1.101.3.4.3.18": "ML-DSA-65",
	"2.16.840.1.101.3.4.3.19": "ML-DSA-87",
}

// curveNames names the named curves of the field.
var curveNames = map[string]string{
	"1.2.840.10045.3.1.7":   "P-256",
	"1.3.132.0.34":          "P-384",
	"1.3.132.0.35":          "P-521",
	"1.2.840.10045.3.1.1":   "P-192",
	"1.3.132.0.33":          "P-224",
	"1.3.132.0.10":          "secp256k1",
	"1.3.36.3.3.2.8.1.1.1":  "brainpoolP160r1",
	"1.3.36.3.3.2.8.1.1.3":  "brainpoolP192r1",
	"1.3.36.3.3.2.8.1.1.5":  "brainpoolP224r1",
	"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
	"1.3.36.3.3.2.8.1.1.9":  "brainpoolP320r1",
	"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
	"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
	"1.2.156.10197.1.301":   "SM2",
}

var supportedCurves = map[string]bool{"1.2.840.10045.3.1.7": true, "1.3.132.0.34": true, "1.3.132.0.35": true}

// supportedKeyAlgorithms are the algorithms (by OID) whose keys this
// program signs with; EC only on supportedCurves.
var supportedKeyAlgorithms = map[string]bool{"1.2.840.113549.1.1.1": true, "1.2.840.10045.2.1": true, "1.3.101.112": true}

// algorithmName names an OID: "DSA (1.2.840.10040.4.1)".
func algorithmName(oid asn1.ObjectIdentifier) string {
	if n, ok := keyAlgorithmNames[oid.String()]; ok {
		return fmt.Sprintf("%s (%s)", n, oid)
	}
	return oid.String()
}

// unsupportedAlgorithm explains why the key with this AlgorithmIdentifier
// (algorithm OID and parameters) cannot be used, or returns "" when it can
// (or when it cannot be told).
func unsupportedAlgorithm(alg asn1.ObjectIdentifier, params cryptobyte.String) string {
	s := alg.String()
	if !supportedKeyAlgorithms[s] {
		return "unsupported key algorithm " + algorithmName(alg)
	}
	if s != "1.2.840.10045.2.1" {
		return ""
	}
	var curve asn1.ObjectIdentifier
	switch {
	case params.PeekASN1Tag(cbasn1.SEQUENCE):
		return "unsupported EC key with explicit curve parameters (only named curves P-256, P-384 and P-521 are supported)"
	case params.ReadASN1ObjectIdentifier(&curve):
		if supportedCurves[curve.String()] {
			return ""
		}
		name := curve.String()
		if n, ok := curveNames[name]; ok {
			name = fmt.Sprintf("%s (%s)", n, curve)
		}
		return "unsupported EC curve " + name + " (only P-256, P-384 and P-521 are supported)"
	}
	return ""
}

// readAlgorithmIdentifier reads an AlgorithmIdentifier SEQUENCE.
func readAlgorithmIdentifier(in *cryptobyte.String) (asn1.ObjectIdentifier, cryptobyte.String, bool) {
	var algSeq cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&algSeq, cbasn1.SEQUENCE) || !algSeq.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, false
	}
	return oid, algSeq, true
}

// pkcs8Unsupported returns why a well-formed PKCS#8 PrivateKeyInfo holds a
// key this program cannot use, or "" (not PKCS#8, or a supported key).
func pkcs8Unsupported(der []byte) string {
	in := cryptobyte.String(der)
	var body cryptobyte.String
	var version int
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !body.ReadASN1Integer(&version) {
		return ""
	}
	oid, params, ok := readAlgorithmIdentifier(&body)
	if !ok || !body.PeekASN1Tag(cbasn1.OCTET_STRING) {
		return ""
	}
	return unsupportedAlgorithm(oid, params)
}

// SPKIUnsupported returns why the public key of a SubjectPublicKeyInfo
// (a certificate's or a request's) is one this program cannot use, or "".
func SPKIUnsupported(spki []byte) string {
	in := cryptobyte.String(spki)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) {
		return ""
	}
	oid, params, ok := readAlgorithmIdentifier(&body)
	if !ok {
		return ""
	}
	return unsupportedAlgorithm(oid, params)
}

// certificateSPKI returns the SubjectPublicKeyInfo of a DER certificate
// that crypto/x509 may have refused to parse.
func certificateSPKI(der []byte) []byte {
	in := cryptobyte.String(der)
	var cert, tbs cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil
	}
	v0 := cbasn1.Tag(0).Constructed().ContextSpecific()
	if tbs.PeekASN1Tag(v0) && !tbs.SkipASN1(v0) {
		return nil
	}
	// serial, signature, issuer, validity, subject
	for _, tag := range []cbasn1.Tag{cbasn1.INTEGER, cbasn1.SEQUENCE, cbasn1.SEQUENCE, cbasn1.SEQUENCE, cbasn1.SEQUENCE} {
		if !tbs.SkipASN1(tag) {
			return nil
		}
	}
	var spki cryptobyte.String
	if !tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil
	}
	return spki
}

// certificateError explains why a certificate could not be parsed: its
// key's algorithm (ErrUnsupported) when that is the reason, else the
// parser's error (ErrMalformed).
func certificateError(der []byte, err error) error {
	if reason := SPKIUnsupported(certificateSPKI(der)); reason != "" {
		return fmt.Errorf("certificate: %w", unsupportedError{reason})
	}
	return fmt.Errorf("certificate: %w: %w", ErrMalformed, err)
}
