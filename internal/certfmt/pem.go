package certfmt

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// PEM block types this package recognises.
const (
	pemCertificate = "CERTIFICATE"
	pemPKCS7       = "PKCS7"
	pemCSR         = "CERTIFICATE REQUEST"
	pemNewCSR      = "NEW CERTIFICATE REQUEST"
	pemPrivateKey  = "PRIVATE KEY"
	pemRSAKey      = "RSA PRIVATE KEY"
	pemECKey       = "EC PRIVATE KEY"
	pemCRL         = "X509 CRL"
)

var pemFormats = map[string]Format{
	pemCertificate:          FormatCertificate,
	"X509 CERTIFICATE":      FormatCertificate,
	"TRUSTED CERTIFICATE":   FormatCertificate,
	pemPKCS7:                FormatPKCS7,
	"PKCS #7 SIGNED DATA":   FormatPKCS7,
	"CMS":                   FormatPKCS7,
	pemCSR:                  FormatCSR,
	pemNewCSR:               FormatCSR,
	pemPrivateKey:           FormatPrivateKey,
	pemRSAKey:               FormatPrivateKey,
	pemECKey:                FormatPrivateKey,
	"EC PARAMETERS":         FormatPrivateKey,
	"ENCRYPTED PRIVATE KEY": FormatPrivateKey,
	sealedPEMType:           FormatPrivateKey,
	pemCRL:                  FormatCRL,
	"PKCS12":                FormatPKCS12,
}

// Detect guesses the format of data from its first PEM block, or, for
// binary data (and bare Base64 as certreq writes it), from its DER
// structure. It never fails: unknown data is FormatUnknown.
func Detect(data []byte) Format {
	if isPEM(data) {
		block, _ := pem.Decode(data)
		if block == nil {
			return FormatUnknown
		}
		return pemFormats[block.Type]
	}
	if der, ok := decodeBareBase64(data); ok {
		return detectDER(der)
	}
	return detectDER(data)
}

// detectDER classifies a binary encoding.
func detectDER(der []byte) Format {
	if _, err := ParseCertificate(der); err == nil {
		return FormatCertificate
	}
	if _, err := x509.ParseCertificateRequest(der); err == nil {
		return FormatCSR
	}
	if _, err := parsePrivateKeyDER(der); err == nil {
		return FormatPrivateKey
	}
	if _, err := x509.ParseRevocationList(der); err == nil {
		return FormatCRL
	}
	norm, err := berToDER(der)
	if err != nil {
		return detectPrefix(der)
	}
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	if _, err := asn1.Unmarshal(norm, &ci); err == nil && ci.Type.Equal(oidSignedData) {
		return FormatPKCS7
	}
	var pfx pfxPDU
	if _, err := asn1.Unmarshal(norm, &pfx); err == nil && pfx.Version == 3 {
		return FormatPKCS12
	}
	return detectPrefix(der)
}

// Openings of damaged (typically truncated) files, recognised so that the
// right decoder reports what is wrong with them.
var (
	prefixPKCS12 = []byte{0x02, 0x01, 0x03, 0x30}                                           // version 3, authSafe
	prefixPKCS7  = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02} // signedData
	prefixCert   = []byte{0xa0, 0x03, 0x02, 0x01}                                           // [0] version
)

// detectPrefix classifies a binary file that failed to parse by its opening
// bytes: a SEQUENCE holding a PFX version, a signedData OID or a
// certificate's TBS.
func detectPrefix(der []byte) Format {
	body, ok := skipHeader(der, 0x30)
	if !ok {
		return FormatUnknown
	}
	switch {
	case bytes.HasPrefix(body, prefixPKCS12):
		return FormatPKCS12
	case bytes.HasPrefix(body, prefixPKCS7):
		return FormatPKCS7
	}
	if tbs, ok := skipHeader(body, 0x30); ok && bytes.HasPrefix(tbs, prefixCert) {
		return FormatCertificate
	}
	return FormatUnknown
}

// skipHeader returns what follows the tag and length octets of a value
// with the given tag, without checking the length against the data.
func skipHeader(b []byte, tag byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, false
	}
	n := 2
	if b[1] > 0x80 {
		n += int(b[1] & 0x7f)
	}
	if b[1] > 0x84 || len(b) < n {
		return nil, false
	}
	return b[n:], true
}

// isPEM reports whether data contains a PEM boundary.
func isPEM(data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "))
}

// decodeBareBase64 decodes Base64 without PEM boundaries (certreq and some
// Windows exports). Whitespace is ignored; anything else makes it fail.
func decodeBareBase64(data []byte) ([]byte, bool) {
	clean := make([]byte, 0, len(data))
	for _, c := range data {
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
			clean = append(clean, c)
		default:
			return nil, false
		}
	}
	if len(clean) < 16 {
		return nil, false
	}
	der, err := base64.StdEncoding.DecodeString(string(clean))
	if err != nil || len(der) == 0 || der[0] != 0x30 {
		return nil, false
	}
	return der, true
}

// pemBlocks decodes every PEM block of data. Text before a block is
// tolerated (OpenSSL prints "Bag Attributes" or "subject=" lines there), but
// anything other than whitespace after the last block is refused: it is
// either junk or a block too damaged to decode.
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := data
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		blocks = append(blocks, block)
		rest = r
	}
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%w: no valid PEM block", ErrMalformed)
	}
	if junk := bytes.TrimSpace(rest); len(junk) > 0 {
		return nil, fmt.Errorf("%w: %d bytes of trailing data after PEM block %d (%q…)",
			ErrMalformed, len(junk), len(blocks), preview(junk))
	}
	return blocks, nil
}

// preview returns the first bytes of b for an error message.
func preview(b []byte) string {
	if len(b) > 24 {
		b = b[:24]
	}
	return string(b)
}

// ParseCertificates decodes one or more certificates: PEM (any number of
// CERTIFICATE blocks, any other block type or trailing junk refused) or a
// single DER certificate (trailing bytes refused).
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("certfmt: certificate: %w: empty input", ErrMalformed)
	}
	if !isPEM(data) {
		if der, ok := decodeBareBase64(data); ok {
			data = der
		}
		cert, err := ParseCertificate(data)
		if err != nil {
			return nil, wrongFormat(fmt.Errorf("certfmt: DER %w", certificateError(data, err)), data, FormatCertificate)
		}
		return []*x509.Certificate{cert}, nil
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("certfmt: PEM certificate: %w", err)
	}
	certs := make([]*x509.Certificate, 0, len(blocks))
	for i, b := range blocks {
		if pemFormats[b.Type] != FormatCertificate || b.Type == "TRUSTED CERTIFICATE" {
			return nil, fmt.Errorf("certfmt: PEM block %d is %q, not a CERTIFICATE: %w", i+1, b.Type, ErrMalformed)
		}
		cert, err := ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certfmt: PEM block %d: %w", i+1, certificateError(b.Bytes, err))
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

// EncodeCertificatePEM returns the PEM form of certs (concatenated), as
// encoding/pem writes it, in one allocation: the API answers every
// issuance with it.
func EncodeCertificatePEM(certs ...*x509.Certificate) []byte {
	const begin, end = "-----BEGIN " + pemCertificate + "-----\n", "-----END " + pemCertificate + "-----\n"
	n := 0
	for _, c := range certs {
		b64 := base64.StdEncoding.EncodedLen(len(c.Raw))
		n += len(begin) + b64 + (b64+63)/64 + len(end)
	}
	out := make([]byte, 0, n)
	for _, c := range certs {
		out = append(out, begin...)
		for raw := c.Raw; len(raw) > 0; {
			line := raw[:min(len(raw), 48)] // 48 bytes are one 64-character line
			raw = raw[len(line):]
			out = base64.StdEncoding.AppendEncode(out, line)
			out = append(out, '\n')
		}
		out = append(out, end...)
	}
	return out
}

// formatNames describe formats in error messages.
var formatNames = map[Format]string{
	FormatCertificate: "a certificate",
	FormatPKCS7:       "a PKCS#7 chain (.p7b)",
	FormatPKCS12:      "a PKCS#12 file (.pfx)",
	FormatCSR:         "a certificate request",
	FormatPrivateKey:  "a private key",
	FormatCRL:         "a CRL",
}

// wrongFormat explains a decoding failure when data is recognisably
// another format; it returns err unchanged otherwise.
func wrongFormat(err error, data []byte, want Format) error {
	if err == nil || !errors.Is(err, ErrMalformed) {
		return err
	}
	if got := Detect(data); got != FormatUnknown && got != want {
		return fmt.Errorf("certfmt: the input is %s, not %s: %w", formatNames[got], formatNames[want], ErrMalformed)
	}
	return err
}

// asn1Reason shortens an encoding/asn1 error (which may dump the Go struct
// tag parameters) to its first clause.
func asn1Reason(err error) string {
	s := err.Error()
	if i := strings.Index(s, " {"); i > 0 {
		s = s[:i]
	}
	return s
}
