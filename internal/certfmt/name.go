package certfmt

import (
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// attributeNames are the short names Windows and OpenSSL show for the
// attributes of a distinguished name: crypto/x509's own, plus the domain
// component and e-mail address of Active Directory names, which it shows
// as "0.9.2342.19200300.100.1.25=#1304…".
var attributeNames = map[string]string{
	"2.5.4.6":                    "C",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.3":                    "CN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.17":                   "POSTALCODE",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "E",
	"0.9.2342.19200300.100.1.1":  "UID",
	"2.5.4.4":                    "SN",
	"2.5.4.42":                   "G",
	"2.5.4.43":                   "I",
	"2.5.4.12":                   "T",
}

// NameString is the distinguished name of a DER Name (a certificate's
// RawSubject or RawIssuer) as Windows and OpenSSL show it, most specific
// first ("CN=edge, OU=Servers, DC=corp, DC=contoso" without the spaces),
// read from the certificate's own encoding: every attribute in the order
// it was written, multi-valued RDNs joined with "+", values escaped as
// RFC 4514 says, and an attribute without a short name as OID=#hex.
func NameString(raw []byte) string {
	rdns, ok := parseRDNs(raw)
	if !ok {
		return "#" + hex.EncodeToString(raw)
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i < len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			name, known := attributeNames[atv.oid.String()]
			value, isString := decodeDirectoryString(atv.value)
			if !known || !isString {
				b.WriteString(atv.oid.String() + "=#" + hex.EncodeToString(atv.value))
				continue
			}
			b.WriteString(name + "=" + escapeDNValue(value))
		}
	}
	return b.String()
}

// atv is one attribute of a name: its type and the DER of its value.
type atv struct {
	oid   asn1.ObjectIdentifier
	value []byte
}

// parseRDNs reads a Name (SEQUENCE OF SET OF AttributeTypeAndValue),
// keeping each value's own encoding.
func parseRDNs(raw []byte) ([][]atv, bool) {
	in := cryptobyte.String(raw)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, false
	}
	var rdns [][]atv
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return nil, false
		}
		var rdn []atv
		for !set.Empty() {
			var pair cryptobyte.String
			var a atv
			var v cryptobyte.String
			if !set.ReadASN1(&pair, cbasn1.SEQUENCE) || !pair.ReadASN1ObjectIdentifier(&a.oid) ||
				!pair.ReadAnyASN1Element(&v, nil) || !pair.Empty() {
				return nil, false
			}
			a.value = v
			rdn = append(rdn, a)
		}
		rdns = append(rdns, rdn)
	}
	return rdns, true
}

// decodeDirectoryString decodes the string types names are written in.
func decodeDirectoryString(der []byte) (string, bool) {
	var v asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &v); err != nil || len(rest) > 0 || v.Class != asn1.ClassUniversal || v.IsCompound {
		return "", false
	}
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString:
		if !utf8.Valid(v.Bytes) {
			return "", false
		}
		return string(v.Bytes), true
	case asn1.TagT61String: // read as Latin-1, as crypto/x509 does
		r := make([]rune, len(v.Bytes))
		for i, c := range v.Bytes {
			r[i] = rune(c)
		}
		return string(r), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return string(utf16.Decode(u)), true
	}
	return "", false
}

// escapeDNValue escapes an attribute value as crypto/x509 does (RFC 4514).
func escapeDNValue(s string) string {
	r := []rune(s)
	var b strings.Builder
	for k, c := range r {
		escape := false
		switch c {
		case ',', '+', '"', '\\', '<', '>', ';':
			escape = true
		case ' ':
			escape = k == 0 || k == len(r)-1
		case '#':
			escape = k == 0
		}
		if escape {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
