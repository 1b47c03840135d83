package csr

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"edgecert/internal/textenc"
)

// MaxKeyBytes bounds the subject public key info of a request, checked
// before the key is parsed: room for a 16384-bit RSA key, the largest a
// template may allow. Verifying a signature with a larger key costs
// seconds of CPU.
const MaxKeyBytes = 2300

// Parse decodes a request: PEM with "CERTIFICATE REQUEST" or "NEW
// CERTIFICATE REQUEST" headers, bare Base64 (as certreq writes), or DER,
// in a text file with or without a UTF-8 byte order mark or as UTF-16 with
// one (Notepad, Windows PowerShell 5.1's Out-File); and checks its
// signature. It reads what Windows writes and crypto/x509 does not (see
// Decode). A key this program cannot use wraps ErrUnsupported; every other
// error wraps ErrMalformed.
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
	return Decode(der)
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

// Decode parses a DER request without checking its signature (Parse
// checks it; callers use Decode for requests this program made and keeps).
// Beyond crypto/x509 it reads:
//   - a request without the [0] attributes field, which some encoders omit
//     when it is empty (DER requires it; OpenSSL reads it);
//   - the requested extensions in the Microsoft attribute
//     1.3.6.1.4.1.311.2.1.14, as IIS and older certreq write them, exactly
//     as if they were in the PKCS#9 extensionRequest: req.Extensions and
//     the SAN fields then hold them, so every check and every display sees
//     the same names. An extension requested in both attributes is refused.
//
// Raw and RawTBSCertificateRequest are always the request's own bytes, so
// its signature is checked over what was signed.
func Decode(der []byte) (*x509.CertificateRequest, error) {
	if reason := unsupportedKey(der); reason != "" {
		return nil, fmt.Errorf("csr: %w", unsupportedError(reason))
	}
	norm, tbs, changed := normalise(der)
	if !changed {
		norm = der
	}
	req, err := x509.ParseCertificateRequest(norm)
	if err != nil {
		return nil, fmt.Errorf("csr: %w: %w", ErrMalformed, err)
	}
	if changed {
		req.Raw, req.RawTBSCertificateRequest = der, tbs
	}
	return req, nil
}

// unsupportedError is a reason a request's key cannot be used; it wraps
// ErrUnsupported and says only the reason.
type unsupportedError string

func (e unsupportedError) Error() string { return string(e) }
func (e unsupportedError) Unwrap() error { return ErrUnsupported }

// oidMSExtensionRequest is the Microsoft attribute holding requested
// extensions (szOID_CERT_EXTENSIONS), with the syntax of extensionRequest.
var oidMSExtensionRequest = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 14}

// normalise rewrites a request into the form crypto/x509 reads: an empty
// [0] attributes field where it is missing, and Microsoft extension
// attributes renamed extensionRequest. changed is false when der needs
// neither (or is not a request at all: the parser then says why). tbs is
// the original TBSCertificateRequest.
func normalise(der []byte) (norm, tbs []byte, changed bool) {
	in := cryptobyte.String(der)
	var outer, rawTBS, sigAlg, sig cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !in.Empty() ||
		!outer.ReadASN1Element(&rawTBS, cbasn1.SEQUENCE) || !outer.ReadASN1Element(&sigAlg, cbasn1.SEQUENCE) ||
		!outer.ReadASN1Element(&sig, cbasn1.BIT_STRING) || !outer.Empty() {
		return nil, nil, false
	}
	body := rawTBS
	var fields, version, subject, spki cryptobyte.String
	if !body.ReadASN1(&fields, cbasn1.SEQUENCE) || !fields.ReadASN1Element(&version, cbasn1.INTEGER) ||
		!fields.ReadASN1Element(&subject, cbasn1.SEQUENCE) || !fields.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, nil, false
	}
	attrsTag := cbasn1.Tag(0).Constructed().ContextSpecific()
	var attrs cryptobyte.String
	switch {
	case fields.Empty():
		changed = true // no [0] attributes
	case !fields.ReadASN1(&attrs, attrsTag) || !fields.Empty():
		return nil, nil, false
	}
	var newAttrs [][]byte
	for !attrs.Empty() {
		var attr, raw cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1Element(&raw, cbasn1.SEQUENCE) {
			return nil, nil, false
		}
		attr = raw
		var inner cryptobyte.String
		if !attr.ReadASN1(&inner, cbasn1.SEQUENCE) || !inner.ReadASN1ObjectIdentifier(&oid) {
			return nil, nil, false
		}
		if !oid.Equal(oidMSExtensionRequest) {
			newAttrs = append(newAttrs, raw)
			continue
		}
		changed = true
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidExtensionRequest)
			b.AddBytes(inner) // the SET of values
		})
		newAttrs = append(newAttrs, b.BytesOrPanic())
	}
	if !changed {
		return nil, nil, false
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(version)
			b.AddBytes(subject)
			b.AddBytes(spki)
			b.AddASN1(attrsTag, func(b *cryptobyte.Builder) {
				for _, a := range newAttrs {
					b.AddBytes(a)
				}
			})
		})
		b.AddBytes(sigAlg)
		b.AddBytes(sig)
	})
	norm, err := b.Bytes()
	if err != nil {
		return nil, nil, false
	}
	return norm, rawTBS, true
}

// maxRSAExponent is the largest RSA public exponent accepted: what
// crypto/rsa verifies (2^31-1); requests use 65537.
var maxRSAExponent = big.NewInt(1<<31 - 1)

// unsupportedKey says why the public key of a DER request cannot be used,
// or "" (a usable key, or not a request: the parser then says why).
func unsupportedKey(der []byte) string {
	in := cryptobyte.String(der)
	var outer, tbs, spki, alg cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipASN1(cbasn1.INTEGER) || !tbs.SkipASN1(cbasn1.SEQUENCE) || !tbs.ReadASN1(&spki, cbasn1.SEQUENCE) ||
		!spki.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return ""
	}
	switch oid.String() {
	case "1.2.840.113549.1.1.10":
		return "RSA-PSS keys (1.2.840.113549.1.1.10) are not supported: request an RSA key (rsaEncryption, as Windows and Lync make them) or an ECDSA key"
	case "1.2.840.113549.1.1.1":
		var bits asn1.BitString
		var key cryptobyte.String
		n, e := new(big.Int), new(big.Int)
		if !spki.ReadASN1BitString(&bits) || bits.BitLength%8 != 0 {
			return ""
		}
		key = bits.Bytes
		var seq cryptobyte.String
		if !key.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1Integer(n) || !seq.ReadASN1Integer(e) {
			return ""
		}
		if e.Cmp(maxRSAExponent) > 0 {
			return fmt.Sprintf("an RSA public exponent of %d bits is not supported: at most 2^31-1 (keys use 65537)", e.BitLen())
		}
	}
	return ""
}

// requestBytes returns the DER of a PEM, bare Base64 or DER request.
func requestBytes(data []byte) ([]byte, error) {
	data, err := textBytes(data)
	if err != nil {
		return nil, err
	}
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

// textBytes returns a text file without its byte order mark, UTF-16
// (with a BOM) converted to UTF-8. Other input is returned as it is (a DER
// request starts with 0x30, never with a BOM).
func textBytes(data []byte) ([]byte, error) {
	out, err := textenc.ToUTF8(data)
	if err != nil {
		return nil, fmt.Errorf("csr: %w: %w", ErrMalformed, err)
	}
	return out, nil
}
