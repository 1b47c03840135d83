package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Microsoft template identifiers in requests.
var (
	oidTemplateName    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2}    // szOID_ENROLL_CERTTYPE_EXTENSION
	oidEnrollNameValue = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 13, 2, 1} // szOID_ENROLLMENT_NAME_VALUE_PAIR
	oidExtKeyUsage     = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// parseCSR decodes a PKCS#10 request: PEM ("CERTIFICATE REQUEST" or "NEW
// CERTIFICATE REQUEST"), bare Base64 as certreq writes it, or DER, and checks
// its signature. Errors wrap ErrBadRequest.
func parseCSR(data []byte) (*x509.CertificateRequest, error) {
	der := data
	trimmed := bytes.TrimSpace(data)
	if blk, _ := pem.Decode(trimmed); blk != nil {
		if blk.Type != "CERTIFICATE REQUEST" && blk.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("PEM block %q is not a certificate request: %w", blk.Type, ErrBadRequest)
		}
		der = blk.Bytes
	} else if len(trimmed) > 0 && trimmed[0] != 0x30 {
		clean := strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, string(trimmed))
		b, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			return nil, fmt.Errorf("the request is neither PEM, Base64 nor DER: %w", ErrBadRequest)
		}
		der = b
	}
	req, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("malformed certificate request: %v: %w", err, ErrBadRequest)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the request's signature does not verify: %v: %w", err, ErrBadRequest)
	}
	return req, nil
}

// templateName returns the template a request names: the Microsoft
// template-name extension, or a "CertificateTemplate:NAME" attribute.
func templateName(req *x509.CertificateRequest) string {
	for _, ext := range req.Extensions {
		if ext.Id.Equal(oidTemplateName) {
			if s := decodeMSString(ext.Value); s != "" {
				return s
			}
		}
	}
	for _, attr := range req.Attributes {
		if !attr.Type.Equal(oidEnrollNameValue) {
			continue
		}
		for _, set := range attr.Value {
			for _, av := range set {
				if s, ok := av.Value.(string); ok {
					if v, ok := strings.CutPrefix(s, "CertificateTemplate:"); ok {
						return strings.TrimSpace(v)
					}
				}
			}
		}
	}
	// Name/value pairs as certreq writes them: SEQUENCE { BMPString name, BMPString value }.
	for _, v := range rawAttributes(req.RawTBSCertificateRequest, oidEnrollNameValue) {
		var pair struct{ Name, Value asn1.RawValue }
		if _, err := asn1.Unmarshal(v, &pair); err == nil {
			if strings.EqualFold(decodeMSRaw(pair.Name), "CertificateTemplate") {
				return decodeMSRaw(pair.Value)
			}
		}
	}
	return ""
}

// rawAttributes returns the values of the request attributes of type oid.
func rawAttributes(tbs []byte, oid asn1.ObjectIdentifier) [][]byte {
	var info struct {
		Version    int
		Subject    asn1.RawValue
		PublicKey  asn1.RawValue
		Attributes []struct {
			Type   asn1.ObjectIdentifier
			Values []asn1.RawValue `asn1:"set"`
		} `asn1:"tag:0"`
	}
	if _, err := asn1.Unmarshal(tbs, &info); err != nil {
		return nil
	}
	var out [][]byte
	for _, a := range info.Attributes {
		if a.Type.Equal(oid) {
			for _, v := range a.Values {
				out = append(out, v.FullBytes)
			}
		}
	}
	return out
}

// decodeMSString decodes a DER string value (BMPString, UTF8String, ...).
func decodeMSString(der []byte) string {
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(der, &rv); err != nil {
		return ""
	}
	return decodeMSRaw(rv)
}

func decodeMSRaw(rv asn1.RawValue) string {
	if rv.Tag == 30 { // BMPString: UTF-16BE
		if len(rv.Bytes)%2 != 0 {
			return ""
		}
		u := make([]uint16, len(rv.Bytes)/2)
		for i := range u {
			u[i] = uint16(rv.Bytes[2*i])<<8 | uint16(rv.Bytes[2*i+1])
		}
		return string(utf16.Decode(u))
	}
	return string(rv.Bytes)
}

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
