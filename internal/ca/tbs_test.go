package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"testing"
	"time"
)

// TestEncodeTBSMatchesReflect: the hand-written TBS encoder produces the
// same bytes as the encoding/asn1 reference for every shape of certificate
// the engine issues.
func TestEncodeTBSMatchesReflect(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Issuing CA", Organization: []string{"Contoso"}},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, SubjectKeyId: []byte{9, 8, 7, 6}}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	issuer, _ := x509.ParseCertificate(der)
	e := &Engine{issuer: issuer}
	spki, _ := x509.MarshalPKIXPublicKey(key.Public())
	rawSubject, _ := asn1.Marshal(pkix.Name{CommonName: "web.contoso.com", Country: []string{"US"}}.ToRDNSequence())
	serial, _ := new(big.Int).SetString("80f1e2d3c4b5a69788796a5b4c3d2e1f", 16)
	nb := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	base := func() *x509.Certificate {
		return &x509.Certificate{SerialNumber: serial, NotBefore: nb, NotAfter: nb.Add(90 * 24 * time.Hour), SubjectKeyId: []byte{1, 2, 3, 4},
			RawSubject: rawSubject, DNSNames: []string{"web.contoso.com", "www.contoso.com"},
			CRLDistributionPoints: []string{"http://pki.contoso.com/crl/Issuing.crl"}, IssuingCertificateURL: []string{"http://pki.contoso.com/aia/Issuing.crt"}}
	}
	ku, _ := keyUsageExtension(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, true)
	cases := map[string]func(c *x509.Certificate){
		"leaf":                func(c *x509.Certificate) {},
		"small serial":        func(c *x509.Certificate) { c.SerialNumber = big.NewInt(127) },
		"empty subject":       func(c *x509.Certificate) { c.RawSubject = []byte{0x30, 0} },
		"subject from fields": func(c *x509.Certificate) { c.RawSubject, c.Subject = nil, pkix.Name{CommonName: "x.contoso.com"} },
		"IP SANs": func(c *x509.Certificate) {
			c.IPAddresses = []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("2001:db8::1")}
		},
		"no SAN":           func(c *x509.Certificate) { c.DNSNames = nil },
		"OCSP":             func(c *x509.Certificate) { c.OCSPServer = []string{"http://ocsp.contoso.com"} },
		"no CDP or AIA":    func(c *x509.Certificate) { c.CRLDistributionPoints, c.IssuingCertificateURL = nil, nil },
		"CA path length 0": func(c *x509.Certificate) { c.IsCA, c.MaxPathLen, c.MaxPathLenZero = true, 0, true },
		"CA path length 2": func(c *x509.Certificate) { c.IsCA, c.MaxPathLen = true, 2 },
		"CA unlimited":     func(c *x509.Certificate) { c.IsCA, c.MaxPathLen = true, -1 },
		"extra extensions": func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{ku, {Id: oidOCSPNoCheck, Value: []byte{5, 0}}}
		},
		"GeneralizedTime 2050": func(c *x509.Certificate) { c.NotAfter = time.Date(2051, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			c := base()
			mod(c)
			for _, alg := range [][]byte{algRSASHA256, algECDSASHA256} {
				got, err := e.encodeTBS(c, spki, alg)
				if err != nil {
					t.Fatal(err)
				}
				want, err := e.encodeTBSReflect(c, spki, alg)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("encodings differ\n got %x\nwant %x", got, want)
				}
			}
		})
	}
}
