package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The names of a certificate are decided here, once, from the request and
// the template: every name that will be signed (each subject attribute,
// each DNS and IP SAN) has passed the template's policy, and what is
// recorded and shown is the text of exactly the subject that is signed.
// Nothing of the request's subject is passed through: it is parsed
// strictly, checked, and encoded again.

// certNames are the names of a certificate to be signed.
type certNames struct {
	subject []byte   // the DER RDNSequence to sign
	text    string   // RFC 4514 text of subject: what is recorded and shown
	cn      string   // the one common name, or ""
	dns     []string // DNS SANs, the common name among them (non-CA templates)
	ips     []net.IP
}

// Bounds of a request's subject.
const (
	maxSubjectBytes = 2048
	maxRDNs         = 16
	maxCNLength     = 64  // ub-common-name (RFC 5280)
	maxAttrLength   = 128 // the longest other upper bound of RFC 5280 we accept
)

// subjectAttrs are the attributes a subject may carry, with the names
// RFC 4514 text uses for them. Others (emailAddress, DC, UID, ...) are
// names some clients match, which the template's policy does not cover.
var subjectAttrs = map[string]string{
	"2.5.4.3": "CN", "2.5.4.5": "SERIALNUMBER", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
	"2.5.4.9": "STREET", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.17": "POSTALCODE",
}

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// namesFor applies template t's name policy to a parsed request and returns
// the names to sign, or a refusal wrapping ErrBadRequest.
func namesFor(t *Template, req *x509.CertificateRequest) (*certNames, error) {
	if len(req.EmailAddresses) > 0 || len(req.URIs) > 0 {
		return nil, refuse(t, "e-mail and URI SANs are not allowed")
	}
	if !t.SANsFromRequest && (len(req.DNSNames) > 0 || len(req.IPAddresses) > 0) {
		return nil, refuse(t, "this template does not take subject alternative names from the request")
	}
	if err := checkSANTypes(t, req); err != nil {
		return nil, err
	}
	n := &certNames{}
	for _, d := range req.DNSNames {
		if err := checkDNSName(t, d, true); err != nil {
			return nil, err
		}
		if !containsFold(n.dns, d) {
			n.dns = append(n.dns, d)
		}
	}
	for _, ip := range req.IPAddresses {
		if err := checkIP(t, ip); err != nil {
			return nil, err
		}
		n.ips = append(n.ips, ip)
	}
	var rdns pkix.RDNSequence
	if t.SubjectFromRequest {
		var err error
		if rdns, n.cn, err = parseSubject(t, req.RawSubject); err != nil {
			return nil, err
		}
	} else if len(n.dns) > 0 {
		n.cn = n.dns[0]
		rdns = pkix.RDNSequence{{{Type: oidCommonName, Value: n.cn}}}
	}
	if n.cn != "" && !t.CA {
		// One policy for every name: the common name is a host name that
		// passes the same checks as a SAN, and it is a SAN as well
		// (RFC 6125 clients read only the SANs).
		if strings.Contains(n.cn, "*") {
			return nil, refuse(t, "the subject name %q is a wildcard; wildcards are allowed only as SAN entries", n.cn)
		}
		if err := checkDNSName(t, n.cn, false); err != nil {
			return nil, err
		}
		if !containsFold(n.dns, n.cn) {
			n.dns = append([]string{n.cn}, n.dns...)
		}
	}
	if n.cn == "" && len(n.dns) == 0 && len(n.ips) == 0 {
		return nil, refuse(t, "the request has neither a subject name nor a SAN")
	}
	if !t.CA && n.cn == "" && len(rdns) > 0 {
		return nil, refuse(t, "the request's subject has no common name")
	}
	der, err := asn1.Marshal(rdns)
	if err != nil {
		return nil, refuse(t, "the subject cannot be encoded: %v", err)
	}
	n.subject, n.text = der, rdns.String()
	return n, nil
}

// askedSubject is the text of a request's subject as asked, every
// attribute in order, for the audit entry of a refusal.
func askedSubject(req *x509.CertificateRequest) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(req.RawSubject, &seq); err == nil && len(rest) == 0 {
		return seq.String()
	}
	return req.Subject.String()
}

// parseSubject reads a DER Name strictly: one attribute per RDN, only the
// attributes of subjectAttrs, string values of a well-defined encoding
// without control characters, at most one common name. It returns the
// RDNs with Go string values (encoded again when signed) and the CN.
func parseSubject(t *Template, raw []byte) (pkix.RDNSequence, string, error) {
	if len(raw) > maxSubjectBytes {
		return nil, "", refuse(t, "the subject is longer than %d bytes", maxSubjectBytes)
	}
	in := cryptobyte.String(raw)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, "", refuse(t, "the subject is not a DER name")
	}
	var rdns pkix.RDNSequence
	var cn string
	cns := 0
	for !seq.Empty() {
		var set cryptobyte.String
		if !seq.ReadASN1(&set, cbasn1.SET) {
			return nil, "", refuse(t, "the subject is not a DER name")
		}
		var rdn []pkix.AttributeTypeAndValue
		for !set.Empty() {
			var atv cryptobyte.String
			var oid asn1.ObjectIdentifier
			var tag cbasn1.Tag
			var val cryptobyte.String
			if !set.ReadASN1(&atv, cbasn1.SEQUENCE) || !atv.ReadASN1ObjectIdentifier(&oid) ||
				!atv.ReadAnyASN1(&val, &tag) || !atv.Empty() {
				return nil, "", refuse(t, "the subject is not a DER name")
			}
			name, ok := subjectAttrs[oid.String()]
			if !ok {
				return nil, "", refuse(t, "the subject attribute %s is not allowed (allowed: CN, O, OU, L, ST, C, STREET, POSTALCODE, SERIALNUMBER)", oid)
			}
			s, err := decodeString(tag, val)
			if err != nil {
				return nil, "", refuse(t, "the subject attribute %s: %v", name, err)
			}
			if err := checkText(s); err != nil {
				return nil, "", refuse(t, "the subject attribute %s %q: %v", name, s, err)
			}
			limit := maxAttrLength
			if name == "CN" {
				limit = maxCNLength
				cn = s
				cns++
			}
			if s == "" || utf8.RuneCountInString(s) > limit {
				return nil, "", refuse(t, "the subject attribute %s is empty or longer than %d characters", name, limit)
			}
			rdn = append(rdn, pkix.AttributeTypeAndValue{Type: oid, Value: s})
		}
		if len(rdn) != 1 {
			return nil, "", refuse(t, "the subject has a multi-valued or empty RDN (%s); one attribute per RDN", pkix.RDNSequence{rdn})
		}
		rdns = append(rdns, rdn)
		if len(rdns) > maxRDNs {
			return nil, "", refuse(t, "the subject has more than %d attributes", maxRDNs)
		}
	}
	if cns > 1 {
		return nil, "", refuse(t, "the subject has %d common names (%s); a certificate has at most one", cns, rdns)
	}
	return rdns, cn, nil
}

// decodeString decodes a directory string of one of the encodings every
// client reads alike: PrintableString, UTF8String, IA5String, BMPString.
// TeletexString and UniversalString are refused: clients decode them
// differently.
func decodeString(tag cbasn1.Tag, v []byte) (string, error) {
	switch tag {
	case cbasn1.PrintableString:
		for _, c := range v {
			if !isPrintable(c) {
				return "", fmt.Errorf("PrintableString with character %q", c)
			}
		}
		return string(v), nil
	case cbasn1.UTF8String:
		if !utf8.Valid(v) {
			return "", fmt.Errorf("invalid UTF-8")
		}
		return string(v), nil
	case cbasn1.IA5String:
		for _, c := range v {
			if c >= utf8.RuneSelf {
				return "", fmt.Errorf("IA5String with a non-ASCII byte")
			}
		}
		return string(v), nil
	case cbasn1.Tag(30): // BMPString, UCS-2 big-endian
		if len(v)%2 != 0 {
			return "", fmt.Errorf("BMPString of odd length")
		}
		u := make([]uint16, len(v)/2)
		for i := range u {
			u[i] = uint16(v[2*i])<<8 | uint16(v[2*i+1])
			if utf16.IsSurrogate(rune(u[i])) {
				return "", fmt.Errorf("BMPString with a surrogate")
			}
		}
		return string(utf16.Decode(u)), nil
	}
	return "", fmt.Errorf("unsupported string type (tag %d); use UTF8String or PrintableString", tag&0x1f)
}

func isPrintable(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte(" '()+,-./:=?*&", c) >= 0 // '*' and '&' as Go and OpenSSL accept them
}

// checkText refuses characters that can change how a name reads on a
// terminal or a page: C0 and C1 controls, DEL, line and paragraph
// separators, bidirectional overrides and invisible format characters.
func checkText(s string) error {
	for _, r := range s {
		if isControlOrFormat(r) {
			return fmt.Errorf("control or format character %U is not allowed", r)
		}
	}
	return nil
}

// isControlOrFormat reports C0, DEL, C1, U+2028/2029, the bidirectional
// controls and the zero-width characters.
func isControlOrFormat(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x200b && r <= 0x200f, r >= 0x2028 && r <= 0x202e, r >= 0x2060 && r <= 0x2069, r == 0xfeff:
		return true
	}
	return false
}

// checkSANTypes refuses a SAN extension with names the CA would not copy
// (otherName such as a UPN, directoryName, registeredID, X.400, EDI): a
// requester must not believe they were issued.
func checkSANTypes(t *Template, req *x509.CertificateRequest) error {
	for _, ext := range req.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		in := cryptobyte.String(ext.Value)
		var seq cryptobyte.String
		if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
			return refuse(t, "malformed subject alternative names")
		}
		for !seq.Empty() {
			var tag cbasn1.Tag
			var v cryptobyte.String
			if !seq.ReadAnyASN1(&v, &tag) {
				return refuse(t, "malformed subject alternative names")
			}
			if tag != tagDNSName && tag != tagIPAddress {
				return refuse(t, "subject alternative names other than DNS names and IP addresses are not allowed")
			}
		}
	}
	return nil
}

// checkIP applies the template's IP SAN policy: none unless the template
// allows them; once it lists addresses or networks, or restricts DNS
// names, only an address inside one of its listed networks.
func checkIP(t *Template, ip net.IP) error {
	if !t.AllowIP {
		return refuse(t, "IP address SANs are not allowed")
	}
	if len(t.AllowedIPs) == 0 && len(t.AllowedDNS) == 0 {
		return nil
	}
	for _, p := range t.AllowedIPs {
		if _, n, err := parseIPPattern(p); err == nil && n.Contains(ip) {
			return nil
		}
	}
	if len(t.AllowedIPs) == 0 {
		return refuse(t, "IP address SAN %s is not allowed: the template restricts names and lists no allowed addresses", ip)
	}
	return refuse(t, "IP address SAN %s is outside the allowed addresses (%s)", ip, strings.Join(t.AllowedIPs, ", "))
}

// parseIPPattern reads an address ("10.0.0.5") or a network ("10.0.0.0/24").
func parseIPPattern(p string) (net.IP, *net.IPNet, error) {
	if ip := net.ParseIP(p); ip != nil {
		bits := 8 * net.IPv6len
		if ip4 := ip.To4(); ip4 != nil {
			ip, bits = ip4, 8*net.IPv4len
		}
		return ip, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	ip, n, err := net.ParseCIDR(p)
	if err != nil {
		return nil, nil, fmt.Errorf("%q is neither an IP address nor a network such as 10.0.0.0/24", p)
	}
	if !ip.Equal(n.IP) {
		return nil, nil, fmt.Errorf("network %q has host bits set (the network is %s)", p, n)
	}
	return ip, n, nil
}
