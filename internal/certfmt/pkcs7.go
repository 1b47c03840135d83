package certfmt

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/smallstep/pkcs7"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

// DecodePKCS7 returns the certificates of a certificates-only PKCS#7 file
// (.p7b/.p7c): PEM ("PKCS7", "PKCS #7 SIGNED DATA" or "CMS" blocks) or
// binary, DER or BER (indefinite lengths, as Windows writes). Trailing data
// after the structure is refused, and so is a file with no certificate (a
// CRL only): both wrap ErrMalformed.
func DecodePKCS7(data []byte) ([]*x509.Certificate, error) {
	certs, err := decodePKCS7(data)
	return certs, wrongFormat(err, data, FormatPKCS7)
}

func decodePKCS7(data []byte) ([]*x509.Certificate, error) {
	der, err := pkcs7Binary(data)
	if err != nil {
		return nil, err
	}
	norm, err := berToDER(der)
	if err != nil {
		return nil, fmt.Errorf("certfmt: PKCS#7: %w: %w", ErrMalformed, err)
	}
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	if _, err := asn1.Unmarshal(norm, &ci); err != nil {
		return nil, fmt.Errorf("certfmt: PKCS#7: %w: %s", ErrMalformed, asn1Reason(err))
	}
	if !ci.Type.Equal(oidSignedData) {
		return nil, fmt.Errorf("certfmt: PKCS#7 content type %v is not signedData: %w", ci.Type, ErrUnsupported)
	}
	p7, err := pkcs7.Parse(norm)
	if err != nil && strings.Contains(err.Error(), errNegativeSerial) {
		// The library parses with crypto/x509, which refuses negative
		// serials: read the certificates set here.
		return signedDataCertificates(ci.Content.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("certfmt: PKCS#7: %w: %w", ErrMalformed, err)
	}
	if len(p7.Certificates) == 0 {
		what := "nothing"
		if len(p7.CRLs) > 0 {
			what = fmt.Sprintf("%d CRL(s) only", len(p7.CRLs))
		}
		return nil, fmt.Errorf("certfmt: PKCS#7 holds no certificate (%s): %w", what, ErrMalformed)
	}
	return p7.Certificates, nil
}

// signedDataCertificates reads the certificates of a DER SignedData
// (version, digestAlgorithms, encapContentInfo, [0] certificates …) with
// ParseCertificate.
func signedDataCertificates(sd []byte) ([]*x509.Certificate, error) {
	in := cryptobyte.String(sd)
	var body, set cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.INTEGER) || !body.SkipASN1(cbasn1.SET) ||
		!body.SkipASN1(cbasn1.SEQUENCE) || !body.ReadASN1(&set, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("certfmt: PKCS#7: %w: no certificates in the signed data", ErrMalformed)
	}
	var certs []*x509.Certificate
	for n := 1; !set.Empty(); n++ {
		var raw cryptobyte.String
		if !set.ReadASN1Element(&raw, cbasn1.SEQUENCE) {
			return nil, fmt.Errorf("certfmt: PKCS#7: %w: certificate %d is not a certificate", ErrMalformed, n)
		}
		c, err := ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("certfmt: PKCS#7: certificate %d: %w: %w", n, ErrMalformed, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// pkcs7Binary returns the binary form of a PEM or binary PKCS#7 file.
func pkcs7Binary(data []byte) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("certfmt: PKCS#7: %w: empty input", ErrMalformed)
	}
	if !isPEM(data) {
		if der, ok := decodeBareBase64(data); ok {
			return der, nil
		}
		return data, nil
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("certfmt: PKCS#7 PEM: %w", err)
	}
	if len(blocks) != 1 || pemFormats[blocks[0].Type] != FormatPKCS7 {
		return nil, fmt.Errorf("certfmt: PEM holds %d block(s), first %q; want one PKCS7 block: %w",
			len(blocks), blocks[0].Type, ErrMalformed)
	}
	return blocks[0].Bytes, nil
}

// EncodePKCS7 writes a DER certificates-only PKCS#7 (degenerate SignedData)
// holding certs in the given order.
func EncodePKCS7(certs []*x509.Certificate) ([]byte, error) {
	if len(certs) == 0 {
		return nil, fmt.Errorf("certfmt: PKCS#7 needs at least one certificate")
	}
	var raw []byte
	for _, c := range certs {
		raw = append(raw, c.Raw...)
	}
	der, err := pkcs7.DegenerateCertificate(raw)
	if err != nil {
		return nil, fmt.Errorf("certfmt: encoding PKCS#7: %w", err)
	}
	return der, nil
}
