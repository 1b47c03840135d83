package ca

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"strings"
	"testing"
	"unicode/utf16"
)

// Attribute types of test subjects.
var (
	oidCN    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU    = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidC     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidDC    = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
)

// atv is one attribute of a test subject; tag 0 is Go's own choice of
// string type.
type atv struct {
	oid asn1.ObjectIdentifier
	tag int
	val string
}

// rawString encodes s with string type tag (BMPString as UCS-2).
func rawString(tag int, s string) any {
	switch tag {
	case 0:
		return s
	case 30:
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u>>8), byte(u))
		}
		return asn1.RawValue{Tag: 30, Bytes: b}
	}
	return asn1.RawValue{Tag: tag, Bytes: []byte(s)}
}

// rawSubject encodes RDNs; an RDN of several attributes is multi-valued.
func rawSubject(t testing.TB, rdns ...[]atv) []byte {
	t.Helper()
	var seq pkix.RDNSequence
	for _, r := range rdns {
		var set []pkix.AttributeTypeAndValue
		for _, a := range r {
			set = append(set, pkix.AttributeTypeAndValue{Type: a.oid, Value: rawString(a.tag, a.val)})
		}
		seq = append(seq, set)
	}
	b, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func one(a ...atv) []atv { return a }

// rawCSR is a request with subject raw, DNS SANs and, when given, a SAN
// extension of its own (sanExt replaces the DNS SANs).
func rawCSR(t testing.TB, raw []byte, dns []string, ips []net.IP, sanExt []byte) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{RawSubject: raw, DNSNames: dns, IPAddresses: ips}
	if sanExt != nil {
		tmpl.DNSNames, tmpl.IPAddresses = nil, nil
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidSubjectAltName, Value: sanExt}}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, p256Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// subjectText is the RFC 4514 text of a DER subject, every attribute in order.
func subjectText(t testing.TB, raw []byte) string {
	t.Helper()
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		t.Fatalf("subject %x: %v", raw, err)
	}
	return seq.String()
}

// restrictedCA is a CA with template Restricted (contoso.com and names
// under it) next to the shipped ones.
func restrictedCA(t testing.TB) (*Engine, string) {
	e, dir := newCA(t, "", "p256")
	restricted := []string{"contoso.com", "*.contoso.com"}
	if _, err := SetTemplate(dir, "Restricted", TemplateChange{CopyFrom: "WebServer", AllowedDNS: &restricted}); err != nil {
		t.Fatal(err)
	}
	return e, dir
}

// TestNamePolicyEveryName: every name in the subject passes the
// template's policy, not only the last CN (issue 14, items 1, 3 and 11).
// Each case was issued by the code that checked only the last CN.
func TestNamePolicyEveryName(t *testing.T) {
	e, _ := restrictedCA(t)
	ctx := context.Background()
	admin := mustPrincipal(t, e, "admin")
	cn := func(s string) atv { return atv{oid: oidCN, val: s} }
	// otherName [0] { type-id UPN, [0] EXPLICIT UTF8String }, after a DNS name
	upnValue := mustMarshal(t, asn1.RawValue{Class: 2, Tag: 0, IsCompound: true, Bytes: mustMarshal(t, asn1.RawValue{Tag: 12, Bytes: []byte("admin@contoso.com")})})
	upnOID := mustMarshal(t, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3})
	upn := mustMarshal(t, []asn1.RawValue{
		{Class: 2, Tag: 2, Bytes: []byte("a.contoso.com")},
		{Class: 2, Tag: 0, IsCompound: true, Bytes: append(upnOID, upnValue...)},
	})
	cases := []struct {
		name     string
		template string
		csr      []byte
	}{
		{"two CNs, the first outside the allowed names", "Restricted", rawCSR(t, rawSubject(t, one(cn("www.evil.com")), one(cn("a.contoso.com"))), nil, nil, nil)},
		{"two CNs, both allowed", "Restricted", rawCSR(t, rawSubject(t, one(cn("b.contoso.com")), one(cn("a.contoso.com"))), nil, nil, nil)},
		{"multi-valued RDN with two CNs", "Restricted", rawCSR(t, rawSubject(t, one(cn("www.evil.com"), cn("a.contoso.com"))), nil, nil, nil)},
		{"multi-valued RDN CN+O", "Restricted", rawCSR(t, rawSubject(t, one(cn("a.contoso.com"), atv{oid: oidO, val: "Contoso"})), nil, nil, nil)},
		{"CN without a dot", "Restricted", rawCSR(t, rawSubject(t, one(cn("intranet"))), []string{"a.contoso.com"}, nil, nil)},
		{"CN localhost on an unrestricted template", "WebServer", rawCSR(t, rawSubject(t, one(cn("localhost"))), []string{"a.contoso.com"}, nil, nil)},
		{"CN with a space", "Restricted", rawCSR(t, rawSubject(t, one(cn("evil.com x"))), []string{"a.contoso.com"}, nil, nil)},
		{"CN with a slash", "Restricted", rawCSR(t, rawSubject(t, one(cn("evil.com/"))), []string{"a.contoso.com"}, nil, nil)},
		{"CN an IP address", "WebServer", rawCSR(t, rawSubject(t, one(cn("10.0.0.1"))), nil, nil, nil)},
		{"CN with ESC", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com\x1b[2J"))), nil, nil, nil)},
		{"O with a newline forging a row", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com")), one(atv{oid: oidO, val: "x\n42\tadmin"})), nil, nil, nil)},
		{"OU with BEL", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com")), one(atv{oid: oidOU, val: "x\a"})), nil, nil, nil)},
		{"O with DEL", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com")), one(atv{oid: oidO, val: "x\x7f"})), nil, nil, nil)},
		{"O with a C1 control", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com")), one(atv{oid: oidO, val: "x\u009b2J"})), nil, nil, nil)},
		{"O with a bidi override", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com")), one(atv{oid: oidO, val: "x\u202egro"})), nil, nil, nil)},
		{"emailAddress in the subject", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com")), one(atv{oid: oidEmail, tag: 22, val: "x@evil.com"})), nil, nil, nil)},
		{"DC in the subject", "Restricted", rawCSR(t, rawSubject(t, one(atv{oid: oidDC, tag: 22, val: "evil"}), one(cn("a.contoso.com"))), nil, nil, nil)},
		{"CN as TeletexString", "WebServer", rawCSR(t, rawSubject(t, one(atv{oid: oidCN, tag: 20, val: "a.contoso.com"})), nil, nil, nil)},
		{"empty O", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com")), one(atv{oid: oidO, val: ""})), nil, nil, nil)},
		{"CN longer than 64", "WebServer", rawCSR(t, rawSubject(t, one(cn(strings.Repeat("a", 60)+".contoso.com"))), nil, nil, nil)},
		{"SAN with a newline", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com"))), []string{"b.contoso.com\nc"}, nil, nil)},
		{"UPN otherName SAN", "WebServer", rawCSR(t, rawSubject(t, one(cn("a.contoso.com"))), nil, nil, upn)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := e.Certificates(ctx, false, 0)
			res, err := e.Submit(ctx, admin, c.csr, c.template)
			if !errors.Is(err, ErrBadRequest) {
				if res != nil && res.Certificate != nil {
					t.Fatalf("issued %q, SANs %v (err %v)", subjectText(t, res.Certificate.RawSubject), res.Certificate.DNSNames, err)
				}
				t.Fatalf("got %v, want a refusal", err)
			}
			if strings.ContainsAny(err.Error(), "\x1b\a\n\x7f") {
				t.Errorf("the refusal repeats a control character: %q", err)
			}
			after, _ := e.Certificates(ctx, false, 0)
			if len(after) != len(before) {
				t.Fatal("a refused request left a certificate")
			}
		})
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordedSubjectIsSigned: the subject in the answer, the certificate
// list, the audit log and the pending list is the text of the subject
// the certificate carries, every attribute in order; the CN is a SAN.
func TestRecordedSubjectIsSigned(t *testing.T) {
	e, dir := restrictedCA(t)
	ctx := context.Background()
	admin := mustPrincipal(t, e, "admin")
	yes := true
	if _, err := SetTemplate(dir, "Approved", TemplateChange{CopyFrom: "Restricted", Approval: &yes}); err != nil {
		t.Fatal(err)
	}
	cn := func(s string) atv { return atv{oid: oidCN, val: s} }
	cases := []struct {
		name, template string
		csr            []byte
		want           string
		sans           []string
	}{
		{"CN only, not among the SANs", "Restricted", rawCSR(t, rawSubject(t, one(cn("a.contoso.com"))), []string{"b.contoso.com"}, nil, nil),
			"CN=a.contoso.com", []string{"a.contoso.com", "b.contoso.com"}},
		{"attributes in an unusual order", "Restricted", rawCSR(t, rawSubject(t, one(cn("a.contoso.com")), one(atv{oid: oidO, val: "Contoso"}), one(atv{oid: oidC, val: "US"})), nil, nil, nil),
			"C=US,O=Contoso,CN=a.contoso.com", []string{"a.contoso.com"}},
		{"CN as BMPString", "Restricted", rawCSR(t, rawSubject(t, one(atv{oid: oidO, tag: 30, val: "Contoso, Ltd"}), one(atv{oid: oidCN, tag: 30, val: "a.contoso.com"})), nil, nil, nil),
			`CN=a.contoso.com,O=Contoso\, Ltd`, []string{"a.contoso.com"}},
		{"approval", "Approved", rawCSR(t, rawSubject(t, one(atv{oid: oidOU, val: "Edge"}), one(cn("c.contoso.com"))), nil, nil, nil),
			"CN=c.contoso.com,OU=Edge", []string{"c.contoso.com"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := e.Submit(ctx, admin, c.csr, c.template)
			if err != nil {
				t.Fatal(err)
			}
			if res.Subject != c.want {
				t.Errorf("answer subject %q, want %q", res.Subject, c.want)
			}
			if res.Status == StatusPending {
				pend, _, err := e.Requests(ctx, admin, StatusPending, Page{})
				if err != nil || len(pend) == 0 || pend[0].Subject != c.want {
					t.Fatalf("pending list %+v %v", pend, err)
				}
				if res, err = e.Approve(ctx, admin, res.RequestID); err != nil {
					t.Fatal(err)
				}
			}
			got := subjectText(t, res.Certificate.RawSubject)
			if got != c.want || res.Subject != got {
				t.Errorf("signed subject %q, answer %q, want %q", got, res.Subject, c.want)
			}
			if strings.Join(res.Certificate.DNSNames, ",") != strings.Join(c.sans, ",") {
				t.Errorf("SANs %v, want %v", res.Certificate.DNSNames, c.sans)
			}
			certs, _ := e.Certificates(ctx, false, 1)
			if len(certs) != 1 || certs[0].Subject != got {
				t.Errorf("certificate list %+v", certs)
			}
			log, _ := e.AuditLog(ctx, 1)
			if len(log) != 1 || log[0].Subject != got {
				t.Errorf("audit %+v", log)
			}
		})
	}
}

// TestApprovalSignsWhatWasShown: when the template changed between
// submission and approval so that another subject would be signed, the
// approval is refused.
func TestApprovalSignsWhatWasShown(t *testing.T) {
	e, dir := restrictedCA(t)
	ctx := context.Background()
	admin := mustPrincipal(t, e, "admin")
	yes := true
	if _, err := SetTemplate(dir, "Approved", TemplateChange{CopyFrom: "WebServer", Approval: &yes}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Submit(ctx, admin, rawCSR(t, rawSubject(t, one(atv{oid: oidO, val: "Contoso"}), one(atv{oid: oidCN, val: "a.contoso.com"})), []string{"b.contoso.com"}, nil, nil), "Approved")
	if err != nil {
		t.Fatal(err)
	}
	tm, _ := GetTemplate(dir, "Approved")
	tm.SubjectFromRequest = false
	tm.EnrollGroups = nil
	if err := saveTemplate(dir, tm); err != nil {
		t.Fatal(err)
	}
	e.loadTemplates(true)
	if _, err := e.Approve(ctx, admin, res.RequestID); !errors.Is(err, ErrConflict) {
		t.Fatalf("approve after the subject changed: %v", err)
	}
}

// TestIPSANPolicy: IP SANs are off in the shipped templates; once a
// template restricts names, an IP SAN must be inside a listed network
// (issue 14, item 4: they ignored every restriction).
func TestIPSANPolicy(t *testing.T) {
	e, dir := restrictedCA(t)
	ctx := context.Background()
	admin := mustPrincipal(t, e, "admin")
	yes := true
	nets := []string{"10.0.0.0/24", "2001:db8::1"}
	for name, ch := range map[string]TemplateChange{
		"RestrictedIP":   {CopyFrom: "Restricted", AllowIP: &yes},
		"RestrictedNets": {CopyFrom: "Restricted", AllowedIPs: &nets},
		"AnyIP":          {CopyFrom: "WebServer", AllowIP: &yes},
	} {
		if _, err := SetTemplate(dir, name, ch); err != nil {
			t.Fatal(err)
		}
	}
	ip := func(s ...string) []net.IP {
		var out []net.IP
		for _, x := range s {
			out = append(out, net.ParseIP(x))
		}
		return out
	}
	cases := []struct {
		name, template string
		ips            []net.IP
		ok             bool
	}{
		{"shipped template", "WebServer", ip("10.0.0.5"), false},
		{"restricted names, IP SANs on, no networks", "RestrictedIP", ip("10.0.0.5"), false},
		{"restricted names, inside a network", "RestrictedNets", ip("10.0.0.5"), true},
		{"restricted names, an allowed address", "RestrictedNets", ip("2001:db8::1"), true},
		{"restricted names, outside the networks", "RestrictedNets", ip("10.0.1.5"), false},
		{"restricted names, one of two outside", "RestrictedNets", ip("10.0.0.5", "192.168.1.1"), false},
		{"unrestricted template with IP SANs on", "AnyIP", ip("192.168.1.1"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := e.Submit(ctx, admin, makeCSR(t, csrSpec{cn: "a.contoso.com", ips: c.ips}), c.template)
			if c.ok != (err == nil) {
				t.Fatalf("ok %v: %v", c.ok, err)
			}
			if err == nil && len(res.Certificate.IPAddresses) != len(c.ips) {
				t.Fatalf("IP SANs %v", res.Certificate.IPAddresses)
			}
			if err != nil && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("kind: %v", err)
			}
		})
	}
	for _, bad := range [][]string{{"10.0.0.1/24"}, {"ten"}, {""}} {
		if _, err := SetTemplate(dir, "RestrictedNets", TemplateChange{AllowedIPs: &bad}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("allowed IPs %q: %v", bad, err)
		}
	}
	no := false
	if _, err := SetTemplate(dir, "RestrictedNets", TemplateChange{AllowIP: &no}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("networks listed with IP SANs off: %v", err)
	}
}
