package csr

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// reverseProxyRequest is what the reverse proxy procedure asks for (R56/R57).
func reverseProxyRequest() Request {
	return Request{
		Subject: pkix.Name{
			CommonName: "webext.contoso.com", Organization: []string{"Contoso"},
			OrganizationalUnit: []string{"IT"}, Locality: []string{"Redmond"},
			Province: []string{"WA"}, Country: []string{"US"},
		},
		DNSNames:         []string{"webext.contoso.com", "meet.contoso.com", "dialin.contoso.com"},
		IPAddresses:      []net.IP{net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::1")},
		Template:         "WebServer",
		KeyUsage:         x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		KeyUsageCritical: true,
		ExtKeyUsage:      []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

var (
	keysMu sync.Mutex
	keys   = map[KeySpec]crypto.Signer{}
)

// testKey returns a shared key of each type (RSA 4096 generation is slow).
func testKey(t testing.TB, spec KeySpec) crypto.Signer {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[spec]; ok {
		return k
	}
	k, err := NewKey(rand.Reader, spec)
	if err != nil {
		t.Fatal(err)
	}
	keys[spec] = k
	return k
}

var keySpecs = []struct {
	spec   KeySpec
	alg    string
	bits   int
	sigAlg string
}{
	{RSA2048, "RSA", 2048, "SHA256-RSA"},
	{RSA3072, "RSA", 3072, "SHA256-RSA"},
	{RSA4096, "RSA", 4096, "SHA256-RSA"},
	{P256, "ECDSA", 256, "ECDSA-SHA256"},
	{P384, "ECDSA", 384, "ECDSA-SHA384"},
}

func TestCreateParseDescribe(t *testing.T) {
	for _, tt := range keySpecs {
		t.Run(string(tt.spec), func(t *testing.T) {
			der, err := Create(rand.Reader, testKey(t, tt.spec), reverseProxyRequest())
			if err != nil {
				t.Fatal(err)
			}
			req, err := Parse(EncodePEM(der))
			if err != nil {
				t.Fatal(err)
			}
			got := Describe(req)
			want := Info{
				Subject:          "CN=webext.contoso.com,OU=IT,O=Contoso,L=Redmond,ST=WA,C=US",
				DNSNames:         []string{"webext.contoso.com", "meet.contoso.com", "dialin.contoso.com"},
				IPAddresses:      []string{"192.0.2.10", "2001:db8::1"},
				KeyAlgorithm:     tt.alg,
				KeyBits:          tt.bits,
				SignatureAlg:     tt.sigAlg,
				SignatureValid:   true,
				Template:         "WebServer",
				KeyUsage:         []string{"Digital Signature", "Key Encipherment"},
				KeyUsageCritical: true,
				ExtKeyUsage:      []string{"Server Authentication", "Client Authentication"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Describe:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestTemplateSources(t *testing.T) {
	key := testKey(t, P256)
	r := Request{Subject: pkix.Name{CommonName: "a.contoso.com"}, Template: "LyncEdge"}
	der, err := Create(rand.Reader, key, r)
	if err != nil {
		t.Fatal(err)
	}
	req, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if got := TemplateName(req); got != "LyncEdge" {
		t.Fatalf("TemplateName = %q", got)
	}
	// The attribute alone (as certreq writes with only [RequestAttributes]).
	if got := templateAttribute(req.RawTBSCertificateRequest); got != "LyncEdge" {
		t.Fatalf("attribute template = %q", got)
	}
	der, err = Create(rand.Reader, key, Request{Subject: pkix.Name{CommonName: "a.contoso.com"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ = Parse(der)
	if got := TemplateName(req); got != "" {
		t.Fatalf("no template: got %q", got)
	}
}

func TestParseEncodings(t *testing.T) {
	der, err := Create(rand.Reader, testKey(t, P256), reverseProxyRequest())
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(der)
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 64 {
		wrapped.WriteString(b64[i:min(i+64, len(b64))] + "\r\n")
	}
	newPEM := pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der})
	tests := []struct {
		name string
		in   []byte
	}{
		{"pem", EncodePEM(der)},
		{"certreq pem", bytes.ReplaceAll(newPEM, []byte("\n"), []byte("\r\n"))},
		{"bare base64", []byte(wrapped.String())},
		{"der", der},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(req.Raw, der) {
				t.Fatal("decoded request differs")
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	der, err := Create(rand.Reader, testKey(t, P256), reverseProxyRequest())
	if err != nil {
		t.Fatal(err)
	}
	badSig := bytes.Clone(der)
	badSig[len(badSig)-5] ^= 0xff
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"empty", []byte("  \n"), "empty input"},
		{"garbage", []byte("not a request!"), "neither PEM"},
		{"truncated der", der[:len(der)/2], "malformed"},
		{"bad signature", badSig, "signature does not verify"},
		{"wrong pem type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), `"CERTIFICATE", not`},
		{"trailing junk", append(EncodePEM(der), "junk"...), "trailing data"},
		{"key too long to parse", hugeKeyRequest(t), "more than the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %q, want it to mention %q", err, tt.msg)
			}
		})
	}
}

func TestKeySpecs(t *testing.T) {
	parse := map[string]KeySpec{"": RSA2048, "rsa": RSA2048, "RSA2048": RSA2048, "rsa-3072": RSA3072,
		"rsa:4096": RSA4096, "p256": P256, "P-256": P256, "ecdsa-p384": P384, "prime256v1": P256, "ecdsa": P256, "EC": P256, "ec-p384": P384}
	for in, want := range parse {
		if got, err := ParseKeySpec(in); err != nil || got != want {
			t.Errorf("ParseKeySpec(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"rsa1024", "p521", "dsa"} {
		if _, err := ParseKeySpec(bad); err == nil {
			t.Errorf("ParseKeySpec(%q) accepted", bad)
		}
	}
	for _, tt := range []struct {
		alg  string
		bits int
		want KeySpec
	}{{"RSA", 2048, RSA2048}, {"rsa", 0, RSA2048}, {"RSA", 4096, RSA4096}, {"ECDSA", 256, P256}, {"ECDSA", 384, P384}} {
		if got, err := KeySpecFor(tt.alg, tt.bits); err != nil || got != tt.want {
			t.Errorf("KeySpecFor(%s, %d) = %q, %v", tt.alg, tt.bits, got, err)
		}
	}
	for _, tt := range []struct {
		alg  string
		bits int
	}{{"RSA", 1024}, {"ECDSA", 521}, {"DSA", 2048}} {
		if _, err := KeySpecFor(tt.alg, tt.bits); err == nil {
			t.Errorf("KeySpecFor(%s, %d) accepted", tt.alg, tt.bits)
		}
	}
	if _, err := NewKey(rand.Reader, "rsa1024"); err == nil {
		t.Error("NewKey(rsa1024) accepted")
	}
	for name, r := range map[string]Request{
		"no name":      {},
		"bad country":  {Subject: pkix.Name{CommonName: "a.contoso.com", Country: []string{"USA"}}},
		"bad dns name": {DNSNames: []string{"sip contoso.com"}},
		"empty label":  {DNSNames: []string{"sip..contoso.com"}},
	} {
		if _, err := Create(rand.Reader, testKey(t, P256), r); err == nil {
			t.Errorf("Create accepted a request with %s", name)
		}
	}
	if _, err := Create(rand.Reader, testKey(t, P256), Request{DNSNames: []string{"*.contoso.com"}}); err != nil {
		t.Errorf("wildcard refused: %v", err)
	}
}

// hugeKeyRequest is the shape of a request whose key is longer than
// MaxKeyBytes: refused before the key is parsed (or the signature checked).
func hugeKeyRequest(t *testing.T) []byte {
	seq := func(b []byte) asn1.RawValue { return asn1.RawValue{Tag: 16, IsCompound: true, Bytes: b} }
	info, err := asn1.Marshal(struct {
		V    int
		S, K asn1.RawValue
	}{0, seq(nil), seq(make([]byte, MaxKeyBytes))})
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(seq(info))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestDescribeShowsEverySubjectAttribute: a subject with two CNs is shown
// with both, in order (pkix.Name.String showed the last only).
func TestDescribeShowsEverySubjectAttribute(t *testing.T) {
	cn := asn1.ObjectIdentifier{2, 5, 4, 3}
	raw, _ := asn1.Marshal(pkix.RDNSequence{{{Type: cn, Value: "www.evil.com"}}, {{Type: cn, Value: "intranet"}}})
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{RawSubject: raw}, testKey(t, P256))
	if err != nil {
		t.Fatal(err)
	}
	req, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if got := Describe(req).Subject; got != "CN=intranet,CN=www.evil.com" {
		t.Errorf("subject %q", got)
	}
}
