package ca

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
)

// FuzzParseCSR feeds arbitrary bytes to the request parser and the template
// name extraction: they must never panic, and every failure is a bad request.
func FuzzParseCSR(f *testing.F) {
	f.Add(makeCSR(f, csrSpec{cn: "a.contoso.com", template: "WebServer"}))
	f.Add([]byte("-----BEGIN NEW CERTIFICATE REQUEST-----\nMIIB\n-----END NEW CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseCSR(data)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error without kind: %v", err)
			}
			return
		}
		_ = templateName(req)
		_, _ = requestedEKUs(req)
		for _, tm := range builtinTemplates() {
			_, _ = checkRequest(tm, req)
		}
	})
}

// FuzzCRLEntry checks the hand-written DER entry encoder against the
// standard library's parser for arbitrary serials, times and reasons.
func FuzzCRLEntry(f *testing.F) {
	f.Add("1", int64(0), 1)
	f.Add("80", int64(2524608000), 0)
	f.Add("7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", int64(-631152000), 4)
	f.Fuzz(func(t *testing.T, serial string, at int64, reason int) {
		n, err := ParseSerial(serial)
		if err != nil || n.BitLen() > 159 || at < -2208988800 || at > 253402300799 || reason < 0 || reason > 10 {
			return
		}
		der, err := crlEntry(serialHex(n), timeUnix(at), reason)
		if err != nil {
			t.Fatal(err)
		}
		var e pkix.RevokedCertificate
		rest, err := asn1.Unmarshal(der, &e)
		if err != nil || len(rest) != 0 {
			t.Fatalf("entry %x does not parse: %v", der, err)
		}
		if e.SerialNumber.Cmp(n) != 0 || e.RevocationTime.Unix() != at {
			t.Fatalf("entry %x: serial %v time %v", der, e.SerialNumber, e.RevocationTime)
		}
		if (reason != 0) != (len(e.Extensions) == 1) {
			t.Fatalf("reason %d: extensions %v", reason, e.Extensions)
		}
	})
}

// FuzzSubjectPolicy builds requests from random RDN sequences (attribute
// types, multi-valued RDNs, string encodings, names inside and outside the
// allowed ones, control characters) and SANs, and checks the invariant of
// the name policy: every name in an issued certificate passes the
// template's policy, and the recorded subject is the signed one.
func FuzzSubjectPolicy(f *testing.F) {
	e, dir := restrictedCA(f)
	restricted, err := GetTemplate(dir, "Restricted")
	if err != nil {
		f.Fatal(err)
	}
	templates := []*Template{restricted}
	for _, tm := range builtinTemplates() {
		if tm.Name == "WebServer" || tm.Name == "SubCA" {
			templates = append(templates, tm)
		}
	}
	f.Add([]byte{0, 0, 1, 0, 0, 0, 2, 0}, "www.evil.com")
	f.Add([]byte{1, 0, 2, 1, 0, 1, 4, 0}, "intranet")
	f.Add([]byte{0, 2, 1, 0, 3, 0, 3, 9}, "a.contoso.com\x1b]0;x\a")
	f.Add([]byte{2, 5, 4, 2, 6, 1, 0, 0, 7, 7}, "evil.com x")
	f.Fuzz(func(t *testing.T, prog []byte, free string) {
		types := []asn1.ObjectIdentifier{oidCN, oidO, oidOU, oidC, oidEmail, oidDC, {2, 5, 4, 5}, {2, 5, 4, 42}}
		tags := []int{0, 12, 19, 22, 30, 20, 28, 4}
		values := []string{"a.contoso.com", "www.evil.com", "contoso.com", "*.contoso.com", "intranet", "localhost",
			"evil.com x", "evil.com/", "10.0.0.1", "Contoso", "US", free}
		next := func() int {
			if len(prog) == 0 {
				return 0
			}
			b := int(prog[0])
			prog = prog[1:]
			return b
		}
		tm := templates[next()%len(templates)]
		var rdns [][]atv
		for n := next() % 6; n > 0; n-- {
			a := atv{oid: types[next()%len(types)], tag: tags[next()%len(tags)], val: values[next()%len(values)]}
			if len(rdns) > 0 && next()%4 == 0 {
				rdns[len(rdns)-1] = append(rdns[len(rdns)-1], a) // multi-valued
			} else {
				rdns = append(rdns, []atv{a})
			}
		}
		var dns []string
		for n := next() % 3; n > 0; n-- {
			dns = append(dns, values[next()%len(values)])
		}
		var seq pkix.RDNSequence
		for _, r := range rdns {
			var set []pkix.AttributeTypeAndValue
			for _, a := range r {
				set = append(set, pkix.AttributeTypeAndValue{Type: a.oid, Value: rawString(a.tag, a.val)})
			}
			seq = append(seq, set)
		}
		raw, err := asn1.Marshal(seq)
		if err != nil {
			return
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{RawSubject: raw, DNSNames: dns}, p256Key)
		if err != nil {
			return
		}
		req, err := x509.ParseCertificateRequest(der)
		if err != nil {
			return
		}
		names, err := checkRequest(tm, req)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("refusal without kind: %v", err)
			}
			return
		}
		cert, err := e.issueCert(tm, names, req.PublicKey)
		if err != nil {
			return // lint refusals
		}
		if got := subjectText(t, cert.RawSubject); got != names.text {
			t.Fatalf("recorded subject %q, signed %q", names.text, got)
		}
		var signed pkix.RDNSequence
		asn1.Unmarshal(cert.RawSubject, &signed)
		cns := 0
		for _, rdn := range signed {
			if len(rdn) != 1 {
				t.Fatalf("multi-valued RDN signed: %s", signed)
			}
			s, ok := rdn[0].Value.(string)
			if !ok || checkText(s) != nil {
				t.Fatalf("attribute %v signed", rdn[0])
			}
			if rdn[0].Type.Equal(oidCN) {
				cns++
			}
			if rdn[0].Type.Equal(oidCN) && !tm.CA {
				if err := checkDNSName(tm, s, false); err != nil || !containsFold(cert.DNSNames, s) {
					t.Fatalf("CN %q signed (SANs %v): %v", s, cert.DNSNames, err)
				}
			}
			if _, ok := subjectAttrs[rdn[0].Type.String()]; !ok {
				t.Fatalf("attribute %v signed", rdn[0].Type)
			}
		}
		if cns > 1 {
			t.Fatalf("subject %q", names.text)
		}
		for _, d := range cert.DNSNames {
			if err := checkDNSName(tm, d, true); err != nil {
				t.Fatalf("SAN %q signed: %v", d, err)
			}
		}
		for _, ip := range cert.IPAddresses {
			if err := checkIP(tm, ip); err != nil {
				t.Fatalf("IP SAN %s signed: %v", ip, err)
			}
		}
	})
}

// FuzzParseOCSPRequest feeds arbitrary bytes to the OCSP request parser:
// it must never panic, and it returns between 1 and maxOCSPRequests
// certificates with a serial and a known hash, or an error.
func FuzzParseOCSPRequest(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ids, err := parseOCSPRequest(data)
		if err != nil {
			return
		}
		if len(ids) == 0 || len(ids) > maxOCSPRequests {
			t.Fatalf("%d certificates", len(ids))
		}
		for _, id := range ids {
			if id.SerialNumber == nil || ocspHashes[id.HashAlgorithm.Algorithm.String()] == 0 {
				t.Fatalf("certificate %+v", id)
			}
		}
	})
}
