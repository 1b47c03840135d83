package csr

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"strings"
	"unicode/utf16"

	"edgecert/internal/certfmt"
)

// TemplateName returns the template requested in req, or "": the Microsoft
// template name extension (1.3.6.1.4.1.311.20.2), else the certreq
// "CertificateTemplate" name-value pair attribute, else the OID of a
// version 2 template extension (1.3.6.1.4.1.311.21.7).
func TemplateName(req *x509.CertificateRequest) string {
	for _, e := range req.Extensions {
		if e.Id.Equal(OIDTemplateName) {
			var v asn1.RawValue
			if _, err := asn1.Unmarshal(e.Value, &v); err == nil {
				if s := decodeString(v); s != "" {
					return s
				}
			}
		}
	}
	if name := templateAttribute(req.RawTBSCertificateRequest); name != "" {
		return name
	}
	for _, e := range req.Extensions {
		if e.Id.Equal(OIDTemplateV2) {
			var v struct {
				ID    asn1.ObjectIdentifier
				Major int `asn1:"optional"`
				Minor int `asn1:"optional"`
			}
			if _, err := asn1.Unmarshal(e.Value, &v); err == nil {
				return v.ID.String()
			}
		}
	}
	return ""
}

// templateAttribute finds the "CertificateTemplate" enrollment name-value
// pair among the request attributes.
func templateAttribute(rawTBS []byte) string {
	var tbs tbsRequest
	if _, err := asn1.Unmarshal(rawTBS, &tbs); err != nil {
		return ""
	}
	for _, raw := range tbs.Attributes {
		var a attribute
		if _, err := asn1.Unmarshal(raw.FullBytes, &a); err != nil || !a.Type.Equal(OIDEnrollmentNameValuePair) {
			continue
		}
		for _, v := range a.Values {
			var pair []asn1.RawValue
			if _, err := asn1.Unmarshal(v.FullBytes, &pair); err != nil || len(pair) != 2 {
				continue
			}
			if strings.EqualFold(decodeString(pair[0]), "CertificateTemplate") {
				return decodeString(pair[1])
			}
		}
	}
	return ""
}

// decodeString decodes a BMPString, UTF8String, PrintableString or
// IA5String; other types give "".
func decodeString(v asn1.RawValue) string {
	if v.Class != asn1.ClassUniversal {
		return ""
	}
	switch v.Tag {
	case 30:
		if len(v.Bytes)%2 != 0 {
			return ""
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return strings.TrimRight(string(utf16.Decode(u)), "\x00")
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String:
		return string(v.Bytes)
	}
	return ""
}

// Describe returns what a request asks for. It works on requests made by
// any tool; extensions it does not know are left out.
func Describe(req *x509.CertificateRequest) Info {
	info := Info{
		Subject:        certfmt.NameString(req.RawSubject),
		DNSNames:       req.DNSNames,
		SignatureAlg:   req.SignatureAlgorithm.String(),
		SignatureValid: req.CheckSignature() == nil,
		Template:       TemplateName(req),
	}
	if info.DNSNames == nil {
		info.DNSNames = []string{}
	}
	for _, ip := range req.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	switch k := req.PublicKey.(type) {
	case *rsa.PublicKey:
		info.KeyAlgorithm, info.KeyBits = "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		info.KeyAlgorithm, info.KeyBits = "ECDSA", k.Curve.Params().BitSize
	default:
		info.KeyAlgorithm = req.PublicKeyAlgorithm.String()
	}
	for _, e := range req.Extensions {
		switch {
		case e.Id.Equal(oidKeyUsage):
			info.KeyUsage, info.KeyUsageCritical = describeKeyUsage(e.Value), e.Critical
		case e.Id.Equal(oidExtKeyUsage):
			info.ExtKeyUsage, info.EKUCritical = describeExtKeyUsage(e.Value), e.Critical
		}
	}
	return info
}

// describeKeyUsage names the bits of a KeyUsage extension value.
func describeKeyUsage(value []byte) []string {
	var bits asn1.BitString
	if _, err := asn1.Unmarshal(value, &bits); err != nil {
		return []string{"(unreadable)"}
	}
	var names []string
	for i, k := range keyUsageNames {
		if bits.At(i) != 0 {
			names = append(names, k.name)
		}
	}
	return names
}

// describeExtKeyUsage names the purposes of an ExtendedKeyUsage value;
// unknown purposes appear as their OID.
func describeExtKeyUsage(value []byte) []string {
	var oids []asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(value, &oids); err != nil {
		return []string{"(unreadable)"}
	}
	var names []string
	for _, oid := range oids {
		name := oid.String()
		for _, e := range extKeyUsages {
			if e.oid.Equal(oid) {
				name = e.name
			}
		}
		names = append(names, name)
	}
	return names
}
