package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"strings"
	"testing"

	"edgecert/internal/plan"
)

func TestRequestAgainstPlan(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c := &plan.Certificate{Subject: plan.Subject{CommonName: "sip.contoso.com"}, SANs: []string{"sip.contoso.com", "webcon.contoso.com"},
		Key: plan.Key{Algorithm: "RSA", Bits: 2048}}
	make := func(t *testing.T, tmpl x509.CertificateRequest, key any) *x509.CertificateRequest {
		der, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
		if err != nil {
			t.Fatal(err)
		}
		req, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	tests := []struct {
		name string
		tmpl x509.CertificateRequest
		key  any
		bend func(r *x509.CertificateRequest)
		want []string
	}{
		{name: "as planned, names in another order and case", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "SIP.contoso.com"}, DNSNames: []string{"webcon.contoso.com", "sip.contoso.com"}}, key: rsaKey},
		{name: "a name missing and one extra", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "sip.contoso.com"}, DNSNames: []string{"sip.contoso.com", "evil.contoso.com"}}, key: rsaKey,
			want: []string{"lacks: webcon.contoso.com", "does not: evil.contoso.com"}},
		{name: "another subject", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "webcon.contoso.com"}, DNSNames: []string{"sip.contoso.com", "webcon.contoso.com"}}, key: rsaKey,
			want: []string{`subject name is "webcon.contoso.com"`}},
		{name: "another key", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "sip.contoso.com"}, DNSNames: []string{"sip.contoso.com", "webcon.contoso.com"}}, key: ecKey,
			want: []string{"key is ECDSA 256, the plan says RSA 2048"}},
		{name: "an IP address", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "sip.contoso.com"}, DNSNames: []string{"sip.contoso.com", "webcon.contoso.com"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}, key: rsaKey,
			want: []string{"IP, e-mail or URI"}},
		{name: "a broken signature", tmpl: x509.CertificateRequest{Subject: pkix.Name{CommonName: "sip.contoso.com"}, DNSNames: []string{"sip.contoso.com", "webcon.contoso.com"}}, key: rsaKey,
			bend: func(r *x509.CertificateRequest) { r.Signature[0] ^= 0xFF }, want: []string{"signature does not verify"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := make(t, tc.tmpl, tc.key)
			if tc.bend != nil {
				tc.bend(req)
			}
			got := Request(c, req)
			if len(got) != len(tc.want) {
				t.Fatalf("got %q, want %d differences like %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("difference %d is %q, want one with %q", i, got[i], w)
				}
			}
		})
	}
}
