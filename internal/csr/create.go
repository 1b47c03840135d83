package csr

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf16"
)

// The request is assembled here rather than by x509.CreateCertificateRequest
// because the certreq "CertificateTemplate:NAME" attribute is an
// EnrollmentNameValuePair (SEQUENCE of two BMPStrings), which the standard
// library cannot express.

// tbsRequest is CertificationRequestInfo (RFC 2986).
type tbsRequest struct {
	Version    int
	Subject    asn1.RawValue
	PublicKey  asn1.RawValue
	Attributes []asn1.RawValue `asn1:"tag:0,set"`
}

// signedRequest is CertificationRequest.
type signedRequest struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

// attribute is a PKCS#10 Attribute with its SET OF values.
type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

// Create signs a PKCS#10 request for r with key and returns its DER. RSA
// keys sign with SHA-256, P-256 with ECDSA-SHA256, P-384 with ECDSA-SHA384.
func Create(rand io.Reader, key crypto.Signer, r Request) ([]byte, error) {
	if err := validate(r); err != nil {
		return nil, err
	}
	subject, err := asn1.Marshal(r.Subject.ToRDNSequence())
	if err != nil {
		return nil, fmt.Errorf("csr: encoding subject: %w", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("csr: encoding public key: %w", err)
	}
	attrs, err := requestAttributes(r)
	if err != nil {
		return nil, err
	}
	tbs, err := asn1.Marshal(tbsRequest{
		Subject:    asn1.RawValue{FullBytes: subject},
		PublicKey:  asn1.RawValue{FullBytes: spki},
		Attributes: attrs,
	})
	if err != nil {
		return nil, fmt.Errorf("csr: encoding request: %w", err)
	}
	alg, hash, err := signatureAlgorithm(key.Public())
	if err != nil {
		return nil, err
	}
	h := hash.New()
	h.Write(tbs)
	sig, err := key.Sign(rand, h.Sum(nil), hash)
	if err != nil {
		return nil, fmt.Errorf("csr: signing request: %w", err)
	}
	der, err := asn1.Marshal(signedRequest{
		TBS:       asn1.RawValue{FullBytes: tbs},
		Algorithm: alg,
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		return nil, fmt.Errorf("csr: encoding request: %w", err)
	}
	return der, nil
}

// validate refuses requests a CA would reject or misread: no name at all,
// a country that is not two letters, DNS names that are not host names.
func validate(r Request) error {
	if r.Subject.CommonName == "" && len(r.DNSNames) == 0 && len(r.IPAddresses) == 0 {
		return errors.New("csr: a request needs a subject common name or a subject alternative name")
	}
	for _, c := range r.Subject.Country {
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return fmt.Errorf("csr: country %q is not a two-letter code such as US", c)
		}
	}
	for _, d := range r.DNSNames {
		if !validDNSName(d) {
			return fmt.Errorf("csr: %q is not a valid DNS name", d)
		}
	}
	return nil
}

// validDNSName accepts host names (letters, digits, hyphens, dots, an
// optional leading "*." wildcard label), at most 253 characters.
func validDNSName(d string) bool {
	d = strings.TrimPrefix(d, "*.")
	if d == "" || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// requestAttributes returns the extensionRequest attribute and, with a
// template, the certreq enrollment name-value pair, in DER SET order.
func requestAttributes(r Request) ([]asn1.RawValue, error) {
	exts, err := requestExtensions(r)
	if err != nil {
		return nil, err
	}
	var attrs []attribute
	if len(exts) > 0 {
		v, err := asn1.Marshal(exts)
		if err != nil {
			return nil, fmt.Errorf("csr: encoding extensions: %w", err)
		}
		attrs = append(attrs, attribute{oidExtensionRequest, []asn1.RawValue{{FullBytes: v}}})
	}
	if r.Template != "" {
		pair, err := asn1.Marshal([]asn1.RawValue{bmpString("CertificateTemplate"), bmpString(r.Template)})
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, attribute{OIDEnrollmentNameValuePair, []asn1.RawValue{{FullBytes: pair}}})
	}
	raw := make([]asn1.RawValue, 0, len(attrs))
	for _, a := range attrs {
		b, err := asn1.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("csr: encoding attribute %v: %w", a.Type, err)
		}
		raw = append(raw, asn1.RawValue{FullBytes: b})
	}
	slices.SortFunc(raw, func(a, b asn1.RawValue) int { return bytes.Compare(a.FullBytes, b.FullBytes) })
	return raw, nil
}

// requestExtensions builds the requested extensions: subject alternative
// names, key usage, extended key usage (each with the criticality asked)
// and the Microsoft template name.
func requestExtensions(r Request) ([]pkix.Extension, error) {
	var exts []pkix.Extension
	if len(r.DNSNames) > 0 || len(r.IPAddresses) > 0 {
		v, err := marshalSAN(r)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: oidSubjectAltName, Value: v})
	}
	if r.KeyUsage != 0 {
		v, err := marshalKeyUsage(r.KeyUsage)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: oidKeyUsage, Critical: r.KeyUsageCritical, Value: v})
	}
	if len(r.ExtKeyUsage) > 0 {
		var oids []asn1.ObjectIdentifier
		for _, u := range r.ExtKeyUsage {
			oid, ok := extKeyUsageOID(u)
			if !ok {
				return nil, fmt.Errorf("csr: unsupported extended key usage %d", u)
			}
			oids = append(oids, oid)
		}
		v, err := asn1.Marshal(oids)
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: oidExtKeyUsage, Critical: r.ExtKeyUsageCritical, Value: v})
	}
	if r.Template != "" {
		v, err := asn1.Marshal(bmpString(r.Template))
		if err != nil {
			return nil, err
		}
		exts = append(exts, pkix.Extension{Id: OIDTemplateName, Value: v})
	}
	return exts, nil
}

// marshalSAN encodes GeneralNames with dNSName [2] and iPAddress [7] entries.
func marshalSAN(r Request) ([]byte, error) {
	var names []asn1.RawValue
	for _, d := range r.DNSNames {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)})
	}
	for _, ip := range r.IPAddresses {
		b := ip.To4()
		if b == nil {
			b = ip.To16()
		}
		if b == nil {
			return nil, fmt.Errorf("csr: invalid IP address %v", ip)
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: b})
	}
	return asn1.Marshal(names)
}

// marshalKeyUsage encodes the KeyUsage BIT STRING with its minimal length.
func marshalKeyUsage(ku x509.KeyUsage) ([]byte, error) {
	var b [2]byte
	bits := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<i) != 0 {
			b[i/8] |= 0x80 >> (i % 8)
			bits = i + 1
		}
	}
	n := (bits + 7) / 8
	return asn1.Marshal(asn1.BitString{Bytes: b[:n], BitLength: bits})
}

// extKeyUsageOID returns the OID of an extended key usage.
func extKeyUsageOID(u x509.ExtKeyUsage) (asn1.ObjectIdentifier, bool) {
	for _, e := range extKeyUsages {
		if e.usage == u {
			return e.oid, true
		}
	}
	return nil, false
}

// bmpString returns s as an ASN.1 BMPString (UTF-16 big-endian).
func bmpString(s string) asn1.RawValue {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: 30, Bytes: b}
}

// signatureAlgorithm picks the signature algorithm for a public key.
func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, crypto.Hash, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}, crypto.SHA256, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384}, crypto.SHA384, nil
		}
		if k.Curve == elliptic.P256() {
			return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, crypto.SHA256, nil
		}
		return pkix.AlgorithmIdentifier{}, 0, fmt.Errorf("csr: unsupported curve %s", k.Curve.Params().Name)
	}
	return pkix.AlgorithmIdentifier{}, 0, fmt.Errorf("csr: unsupported key type %T (want RSA or ECDSA)", pub)
}

// EncodePEM returns the PEM ("CERTIFICATE REQUEST") form of a DER request.
func EncodePEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}
