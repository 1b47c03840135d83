package ca

import (
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
			_ = checkRequest(tm, req)
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
