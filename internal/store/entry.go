package store

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"

	"edgecert/internal/certfmt"
)

// crashPoint is a test hook called at the stages of a commit.
var crashPoint = func(stage string) {}

// hexUpper returns the upper-case hex of b.
func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

func sha1Hex(der []byte) string {
	h := sha1.Sum(der)
	return hexUpper(h[:])
}

func sha256Hex(der []byte) string {
	h := sha256.Sum256(der)
	return hexUpper(h[:])
}

// keyHashOf is the SHA-256 of the PKIX encoding of pub: the identity of a
// key pair in the store, independent of how a file encoded it.
func keyHashOf(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("unsupported public key: %w", ErrInvalidInput)
	}
	return sha256Hex(der), nil
}

// keyInfo returns the algorithm name and size of a public key as Windows shows them.
func keyInfo(pub crypto.PublicKey) (string, int) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ECDSA", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "Ed25519", 256
	}
	return "unknown", 0
}

// isSelfSigned reports whether c is issued by itself (same name, own
// signature, with any hash: where a root is filed does not depend on
// whether its self-signature uses SHA-1 or MD5; see certfmt.IsSelfSigned).
func isSelfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	if c.SignatureAlgorithm == x509.MD2WithRSA {
		return certfmt.IsSelfSigned(c)
	}
	return issuedBy(c, c)
}

// isCA reports whether c is a CA certificate: basic constraints CA, or a
// self-signed version 1 certificate (old roots have no extensions).
func isCA(c *x509.Certificate) bool {
	if c.BasicConstraintsValid {
		return c.IsCA
	}
	return c.Version < 3 && isSelfSigned(c)
}

// caLocation is where a CA certificate belongs: root when self-signed, else ca.
func caLocation(c *x509.Certificate) Location {
	if isSelfSigned(c) {
		return Root
	}
	return CA
}

// recordForCert describes cert for the index.
func recordForCert(c *x509.Certificate, loc Location) (record, error) {
	kh, err := keyHashOf(c.PublicKey)
	if err != nil {
		if reason := certfmt.SPKIUnsupported(c.RawSubjectPublicKeyInfo); reason != "" {
			return record{}, fmt.Errorf("certificate %q: %s: %w", certfmt.NameString(c.RawSubject), reason, ErrInvalidInput)
		}
		return record{}, err
	}
	alg, bits := keyInfo(c.PublicKey)
	e := Entry{
		Location:     loc,
		Thumbprint:   sha1Hex(c.Raw),
		SHA256:       sha256Hex(c.Raw),
		Subject:      certfmt.NameString(c.RawSubject),
		Issuer:       certfmt.NameString(c.RawIssuer),
		Serial:       certfmt.SerialHex(c.SerialNumber),
		NotBefore:    c.NotBefore.UTC(),
		NotAfter:     c.NotAfter.UTC(),
		DNSNames:     append([]string(nil), c.DNSNames...),
		EKU:          ekuNames(c.ExtKeyUsage, c.UnknownExtKeyUsage),
		KeyUsage:     keyUsageNames(c.KeyUsage),
		KeyAlgorithm: alg,
		KeyBits:      bits,
		Template:     certTemplateName(c),
	}
	for _, ip := range c.IPAddresses {
		e.DNSNames = append(e.DNSNames, ip.String())
	}
	return record{Entry: e, KeyHash: kh}, nil
}

// recordForRequest describes a pending request for the index.
func recordForRequest(der []byte, req *x509.CertificateRequest) (record, error) {
	kh, err := keyHashOf(req.PublicKey)
	if err != nil {
		return record{}, err
	}
	ku, eku, template := requestExtensions(req)
	alg, bits := keyInfo(req.PublicKey)
	e := Entry{
		Location:     Request,
		Thumbprint:   sha1Hex(der),
		SHA256:       sha256Hex(der),
		Subject:      certfmt.NameString(req.RawSubject),
		DNSNames:     append([]string(nil), req.DNSNames...),
		EKU:          eku,
		KeyUsage:     ku,
		KeyAlgorithm: alg,
		KeyBits:      bits,
		Template:     template,
		HasKey:       true,
	}
	for _, ip := range req.IPAddresses {
		e.DNSNames = append(e.DNSNames, ip.String())
	}
	return record{Entry: e, KeyHash: kh}, nil
}

var ekuByValue = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "any",
	x509.ExtKeyUsageServerAuth:      "serverAuth",
	x509.ExtKeyUsageClientAuth:      "clientAuth",
	x509.ExtKeyUsageCodeSigning:     "codeSigning",
	x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping:    "timeStamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
}

func ekuNames(ekus []x509.ExtKeyUsage, unknown []asn1OID) []string {
	var out []string
	for _, u := range ekus {
		if n, ok := ekuByValue[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("eku(%d)", int(u)))
		}
	}
	for _, o := range unknown {
		out = append(out, o.String())
	}
	return out
}

var keyUsageBits = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"},
	{x509.KeyUsageContentCommitment, "nonRepudiation"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "keyCertSign"},
	{x509.KeyUsageCRLSign, "cRLSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

func keyUsageNames(ku x509.KeyUsage) []string {
	var out []string
	for _, b := range keyUsageBits {
		if ku&b.bit != 0 {
			out = append(out, b.name)
		}
	}
	return out
}

type asn1OID = asn1.ObjectIdentifier

// oidTemplateName is the Microsoft certificate template name extension
// (szOID_ENROLL_CERTTYPE_EXTENSION), a BMPString.
var oidTemplateName = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2}

var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// requestExtensions reads the key usage, extended key usage and template
// name a request asks for (for the index; csr.Describe gives the full view).
func requestExtensions(req *x509.CertificateRequest) (ku, eku []string, template string) {
	fake := &x509.Certificate{Extensions: req.Extensions}
	for _, ext := range req.Extensions {
		switch {
		case ext.Id.Equal(oidKeyUsage):
			var bits asn1.BitString
			if _, err := asn1.Unmarshal(ext.Value, &bits); err == nil {
				var v x509.KeyUsage
				for i := 0; i < 9; i++ {
					if bits.At(i) != 0 {
						v |= 1 << uint(i)
					}
				}
				ku = keyUsageNames(v)
			}
		case ext.Id.Equal(oidExtKeyUsage):
			var oids []asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(ext.Value, &oids); err == nil {
				for _, o := range oids {
					eku = append(eku, ekuName(o))
				}
			}
		}
	}
	return ku, eku, certTemplateName(fake)
}

var ekuOIDNames = map[string]string{
	"2.5.29.37.0":       "any",
	"1.3.6.1.5.5.7.3.1": "serverAuth",
	"1.3.6.1.5.5.7.3.2": "clientAuth",
	"1.3.6.1.5.5.7.3.3": "codeSigning",
	"1.3.6.1.5.5.7.3.4": "emailProtection",
	"1.3.6.1.5.5.7.3.8": "timeStamping",
	"1.3.6.1.5.5.7.3.9": "OCSPSigning",
}

func ekuName(o asn1.ObjectIdentifier) string {
	if n, ok := ekuOIDNames[o.String()]; ok {
		return n
	}
	return o.String()
}

// certTemplateName returns the template name a certificate carries, or "".
func certTemplateName(c *x509.Certificate) string {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidTemplateName) {
			continue
		}
		var raw asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &raw); err != nil {
			return ""
		}
		switch raw.Tag {
		case 30: // BMPString
			if len(raw.Bytes)%2 != 0 {
				return ""
			}
			u := make([]uint16, len(raw.Bytes)/2)
			for i := range u {
				u[i] = uint16(raw.Bytes[2*i])<<8 | uint16(raw.Bytes[2*i+1])
			}
			return string(utf16.Decode(u))
		case 12, 19, 22: // UTF8String, PrintableString, IA5String
			return string(raw.Bytes)
		}
	}
	return ""
}
