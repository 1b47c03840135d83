package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sort"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// TestLintSetMatchesZlint: the pooled, pre-configured lint set finds exactly
// the error- and fatal-level results zlint's own LintCertificateEx finds,
// on a clean leaf and on leaves that break RFC 5280 and the BRs.
func TestLintSetMatchesZlint(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Truncate(time.Second)
	mk := func(tmpl *x509.Certificate) *zx509.Certificate {
		tmpl.SerialNumber = big.NewInt(0x1234567890abcdef)
		tmpl.NotBefore, tmpl.NotAfter = now, now.Add(90*24*time.Hour-time.Second)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		zc, err := zx509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return zc
	}
	cases := []struct {
		name    string
		cert    *zx509.Certificate
		sources []string
		wantBad bool
	}{
		{"clean leaf", mk(&x509.Certificate{Subject: pkix.Name{CommonName: "a.contoso.com"}, DNSNames: []string{"a.contoso.com"},
			SubjectKeyId: []byte{1, 2, 3}, AuthorityKeyId: []byte{4, 5, 6}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}), []string{"RFC5280"}, false},
		{"empty subject without SAN", mk(&x509.Certificate{SubjectKeyId: []byte{1}, BasicConstraintsValid: true}), []string{"RFC5280"}, true},
		{"BR: server certificate valid too long", mk(&x509.Certificate{Subject: pkix.Name{CommonName: "b.contoso.com"}, DNSNames: []string{"b.contoso.com"},
			SubjectKeyId: []byte{1}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true,
			NotAfter: now.Add(800 * 24 * time.Hour)}), []string{"RFC5280", "CABF_BR"}, true},
	}
	var c lintCache
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set, err := c.set(tc.sources)
			if err != nil {
				t.Fatal(err)
			}
			got, err := set.run(tc.cert)
			if err != nil {
				t.Fatal(err)
			}
			var list lint.SourceList
			for _, s := range tc.sources {
				list = append(list, lint.LintSource(s))
			}
			reg, _ := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: list})
			var want []string
			for name, r := range zlint.LintCertificateEx(tc.cert, reg).Results {
				if r.Status == lint.Error || r.Status == lint.Fatal {
					if r.Details != "" {
						name += " (" + r.Details + ")"
					}
					want = append(want, name)
				}
			}
			sort.Strings(got)
			sort.Strings(want)
			if len(got) != len(want) || (len(want) > 0) != tc.wantBad {
				t.Fatalf("lint set: %v\nzlint:    %v", got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("lint set: %v\nzlint:    %v", got, want)
				}
			}
		})
	}
}
