package acmeserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
)

// FuzzParseCertID: RFC 9773 certificate identifiers come from outside (the
// renewal-info path, a new order's replaces): never a panic, a malformed
// problem or a serial that is the positive number the identifier encodes.
func FuzzParseCertID(f *testing.F) {
	for _, s := range []string{"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "a.b", ".", "", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.gIdlQyE", "x.AA", strings.Repeat("A", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseCertID(s)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.Type != Malformed {
				t.Fatalf("error %v is not a malformed problem", err)
			}
			return
		}
		n, ok := new(big.Int).SetString(id.serial, 16)
		if !ok || n.Sign() <= 0 || len(id.aki) == 0 || strings.ToUpper(id.serial) != id.serial {
			t.Fatalf("accepted %q as %+v", s, id)
		}
	})
}

// FuzzCSRMatches: a finalize's CSR comes from outside: never a panic, a
// badCSR problem, or a CSR whose names are exactly the order's.
func FuzzCSRMatches(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"a.contoso.test"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}, k)
	f.Add(der, "dns:a.contoso.test\nip:10.0.0.1")
	f.Add(der, "dns:a.contoso.test")
	f.Add([]byte{0x30, 0x00}, "dns:x")
	f.Fuzz(func(t *testing.T, der []byte, ids string) {
		want := strings.Split(ids, "\n")
		err := csrMatches(der, want)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.Type != BadCSR {
				t.Fatalf("error %v is not a badCSR problem", err)
			}
			return
		}
		csr, perr := x509.ParseCertificateRequest(der)
		if perr != nil || csr.CheckSignature() != nil {
			t.Fatal("accepted a CSR that does not parse or verify")
		}
		if len(csr.DNSNames)+len(csr.IPAddresses) == 0 && csr.Subject.CommonName == "" {
			t.Fatal("accepted a CSR without names")
		}
	})
}

// FuzzNormalize: new orders' identifiers come from outside.
func FuzzNormalize(f *testing.F) {
	f.Add("dns", "A.Contoso.Test.")
	f.Add("ip", "::ffff:10.0.0.1")
	f.Add("email", "a@b")
	f.Fuzz(func(t *testing.T, typ, value string) {
		out, err := normalize([]Identifier{{Type: typ, Value: value}})
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) {
				t.Fatalf("error %v is not a problem", err)
			}
			return
		}
		if len(out) != 1 || (out[0].Type != "dns" && out[0].Type != "ip") || out[0].Type == "ip" && net.ParseIP(out[0].Value).String() != out[0].Value {
			t.Fatalf("accepted %q %q as %+v", typ, value, out)
		}
	})
}
