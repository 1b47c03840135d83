package windows

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

func testCert(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "edge01.contoso.net"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"edge01.contoso.net"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func utf16LE(s string) []byte {
	out := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

// ps51 is a snapshot as Windows PowerShell 5.1's ConvertTo-Json lays it
// out (two spaces after each colon, a lone object where a list has one
// member, dates as \/Date(ms)\/), with Raw as the one-liner of the
// documentation names it.
const ps51 = `{
    "version":  1,
    "computer":  "EDGE01.contoso.net",
    "Root":  {
                 "Thumbprint":  "%T%",
                 "RawData":  "%RAW%"
             },
    "CA":  [

           ],
    "My":  [
               {
                   "Thumbprint":  "%T%",
                   "FriendlyName":  "Edge Internal",
                   "HasPrivateKey":  true,
                   "Raw":  "%RAW%"
               }
           ],
    "CsCertificate":  {
                          "Issuer":  "CN=edge01.contoso.net",
                          "NotAfter":  "\/Date(1893456000000)\/",
                          "Thumbprint":  "%T%",
                          "EffectiveDate":  "\/Date(1893456000000)\/",
                          "PreviousThumbprint":  "%T%",
                          "Use":  "Internal"
                      }
}`

func fill(s string, der []byte) string {
	return strings.NewReplacer("%T%", thumbprint(der), "%RAW%", base64.StdEncoding.EncodeToString(der)).Replace(s)
}

func TestParse(t *testing.T) {
	der := testCert(t)
	doc := fill(ps51, der)
	tests := []struct {
		name  string
		data  []byte
		check func(t *testing.T, s *Snapshot)
		err   string
	}{
		{name: "Windows PowerShell 5.1 layout, UTF-16LE with BOM", data: utf16LE(doc), check: func(t *testing.T, s *Snapshot) {
			if s.Computer != "edge01.contoso.net" || len(s.Root) != 1 || len(s.CA) != 0 || len(s.My) != 1 || len(s.Assignments) != 1 || !s.HasAssignments {
				t.Fatalf("%+v", s)
			}
			m := s.My[0]
			if !m.HasPrivateKey || m.Exportable != nil || m.FriendlyName != "Edge Internal" || m.Cert == nil {
				t.Fatalf("My: %+v", m)
			}
			a := s.Assignments[0]
			if a.Use != "Internal" || !a.EffectiveDate.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("assignment: %+v", a)
			}
		}},
		{name: "UTF-8 with BOM", data: append([]byte("\xEF\xBB\xBF"), doc...), check: func(t *testing.T, s *Snapshot) {
			if len(s.My) != 1 {
				t.Fatalf("%+v", s)
			}
		}},
		{name: "no CsCertificate (a reverse proxy)", data: []byte(`{"computer":"rp01.contoso.com","My":[]}`), check: func(t *testing.T, s *Snapshot) {
			if s.HasAssignments {
				t.Fatal("HasAssignments")
			}
		}},
		{name: "RawData as a byte list, strings for booleans, ISO dates", data: []byte(`{"computer":"e","My":[{"RawData":` + byteList(der) +
			`,"HasPrivateKey":"True","PrivateKeyExportable":false}],"CsCertificate":[{"Use":"Internal","Thumbprint":"x","EffectiveDate":"2030-01-01T00:00:00.0000000Z"}]}`),
			check: func(t *testing.T, s *Snapshot) {
				m := s.My[0]
				if !m.HasPrivateKey || m.Exportable == nil || *m.Exportable || m.Thumbprint != thumbprint(der) {
					t.Fatalf("%+v", m)
				}
				if s.Assignments[0].Thumbprint != "X" || s.Assignments[0].EffectiveDate.Year() != 2030 {
					t.Fatalf("%+v", s.Assignments[0])
				}
			}},
		{name: "DateTime with note properties", data: []byte(`{"computer":"e","CsCertificate":[{"Use":"Internal","EffectiveDate":{"value":"\/Date(1893456000000)\/","DisplayHint":2}}]}`),
			check: func(t *testing.T, s *Snapshot) {
				if s.Assignments[0].EffectiveDate.Year() != 2030 {
					t.Fatalf("%+v", s.Assignments[0])
				}
			}},
		{name: "no computer", data: []byte(`{"My":[]}`), err: `no "computer"`},
		{name: "newer version", data: []byte(`{"version":2,"computer":"e"}`), err: "version 2 is newer"},
		{name: "thumbprint does not match", data: []byte(`{"computer":"e","My":[{"Thumbprint":"00","RawData":"` + base64.StdEncoding.EncodeToString(der) + `"}]}`), err: "does not match the SHA-1"},
		{name: "Use as a number", data: []byte(`{"computer":"e","CsCertificate":[{"Use":3,"Thumbprint":"x"}]}`), err: "Use is the number 3"},
		{name: "RawData not Base64", data: []byte(`{"computer":"e","My":[{"RawData":"***"}]}`), err: "not Base64"},
		{name: "no RawData", data: []byte(`{"computer":"e","Root":[{"Thumbprint":"AA"}]}`), err: `Root[0]: no "RawData"`},
		{name: "byte out of range", data: []byte(`{"computer":"e","My":[{"RawData":[1,300]}]}`), err: "byte 1 is 300"},
		{name: "not JSON", data: []byte("Thumbprint  Subject\n----------  -------\n"), err: "not a snapshot JSON object"},
		{name: "a list where an object is meant", data: []byte(`[{"computer":"e"}]`), err: "not a snapshot JSON object"},
		{name: "trailing data", data: []byte(`{"computer":"e"} {"computer":"f"}`), err: "not a snapshot JSON object"},
		{name: "odd UTF-16", data: []byte{0xFF, 0xFE, '{'}, err: "odd number of bytes"},
		{name: "a certificate Go cannot parse is kept", data: []byte(`{"computer":"e","My":[{"RawData":"MAA="}]}`), check: func(t *testing.T, s *Snapshot) {
			if s.My[0].Cert != nil || s.My[0].ParseErr == nil {
				t.Fatalf("%+v", s.My[0])
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.data, "edge01.snapshot.json")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "edge01.snapshot.json: ") {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func byteList(b []byte) string {
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = big.NewInt(int64(v)).String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse(make([]byte, MaxSnapshotBytes+1), "big.json")
	if err == nil || !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("error %v", err)
	}
}

func TestAssignmentCurrent(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a    Assignment
		want string
	}{
		{"no roll", Assignment{Thumbprint: "NEW"}, "NEW"},
		{"roll not yet effective", Assignment{Thumbprint: "NEW", PreviousThumbprint: "OLD", EffectiveDate: now.Add(time.Hour)}, "OLD"},
		{"roll effective", Assignment{Thumbprint: "NEW", PreviousThumbprint: "OLD", EffectiveDate: now.Add(-time.Hour)}, "NEW"},
		{"roll without previous", Assignment{Thumbprint: "NEW", EffectiveDate: now.Add(time.Hour)}, "NEW"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Current(now); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	der := testCert(f)
	f.Add([]byte(fill(ps51, der)))
	f.Add(utf16LE(fill(ps51, der)))
	f.Add([]byte(`{"computer":"e","My":{"RawData":[48,0]},"CsCertificate":{"Use":"Internal","EffectiveDate":{"value":"/Date(1-0100)/"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		if s.Computer == "" {
			t.Fatal("a snapshot without a computer was accepted")
		}
		for _, c := range append(append(append([]Cert(nil), s.Root...), s.CA...), s.My...) {
			if c.Thumbprint != thumbprint(c.Raw) {
				t.Fatalf("thumbprint %s is not the SHA-1 of the certificate", c.Thumbprint)
			}
		}
	})
}
