package csr

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"edgecert/internal/testtool"
)

// Requests as the field writes them: each made by OpenSSL or, where no
// tool makes the oddity, by hand, and read by OpenSSL in the same test.

// resign rebuilds the ECDSA-signed request der with its attributes
// edited (attrs nil and noAttrs: the [0] field left out) and signs it again
// with key.
func resign(t testing.TB, key crypto.Signer, der []byte, edit func(attrs [][]byte) [][]byte, noAttrs bool) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var outer, tbs, fields, version, subject, spki, attrs cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&version, cbasn1.INTEGER) || !tbs.ReadASN1Element(&subject, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) || !tbs.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		t.Fatal("not a request")
	}
	_ = fields
	var list [][]byte
	for !attrs.Empty() {
		var a cryptobyte.String
		if !attrs.ReadASN1Element(&a, cbasn1.SEQUENCE) {
			t.Fatal("bad attribute")
		}
		list = append(list, a)
	}
	if edit != nil {
		list = edit(list)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(version)
		b.AddBytes(subject)
		b.AddBytes(spki)
		if !noAttrs {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				for _, a := range list {
					b.AddBytes(a)
				}
			})
		}
	})
	newTBS := b.BytesOrPanic()
	h := sha256.Sum256(newTBS)
	sig, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(newTBS)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidECDSAWithSHA256) })
		b.AddASN1BitString(sig)
	})
	return out.BytesOrPanic()
}

// renameAttribute turns every attribute of type from into one of type to.
func renameAttribute(t testing.TB, from, to asn1.ObjectIdentifier) func([][]byte) [][]byte {
	return func(attrs [][]byte) [][]byte {
		var out [][]byte
		for _, raw := range attrs {
			var a struct {
				Type   asn1.ObjectIdentifier
				Values asn1.RawValue
			}
			if _, err := asn1.Unmarshal(raw, &a); err != nil {
				t.Fatal(err)
			}
			if a.Type.Equal(from) {
				a.Type = to
			}
			b, err := asn1.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
}

// opensslVerifies proves a DER request valid with OpenSSL.
func opensslVerifies(t *testing.T, openssl string, der []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "r.der")
	if err := os.WriteFile(p, der, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runTool(t, openssl, "req", "-inform", "DER", "-in", p, "-noout", "-text", "-verify")
	if !strings.Contains(out, "verify OK") {
		t.Fatalf("openssl does not verify the request:\n%s", out)
	}
	return out
}

// TestFieldRequests: one case per class of request the field writes.
func TestFieldRequests(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	key := testKey(t, P256)
	base, err := Create(rand.Reader, key, Request{
		Subject:     pkix.Name{CommonName: "edge.contoso.com"},
		DNSNames:    []string{"edge.contoso.com", "sip.contoso.com"},
		Template:    "WebServer",
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		t.Fatal(err)
	}
	ms := resign(t, key, base, renameAttribute(t, oidExtensionRequest, oidMSExtensionRequest), false)
	both := resign(t, key, base, func(a [][]byte) [][]byte {
		return append(a, renameAttribute(t, oidExtensionRequest, oidMSExtensionRequest)(a)...)
	}, false)
	noAttrs := resign(t, key, base, nil, true)
	pemText := string(EncodePEM(base))
	utf16le := func(s string) []byte {
		out := []byte{0xff, 0xfe}
		for _, u := range utf16.Encode([]rune(strings.ReplaceAll(s, "\n", "\r\n"))) {
			out = append(out, byte(u), byte(u>>8))
		}
		return out
	}
	tests := []struct {
		name     string
		data     []byte
		der      []byte // what OpenSSL must verify
		dns      []string
		eku      []string
		msg      string // refused with this
		noExtReq bool
	}{
		{"UTF-8 with BOM (Notepad)", append([]byte{0xef, 0xbb, 0xbf}, pemText...), base, []string{"edge.contoso.com", "sip.contoso.com"}, []string{"Server Authentication", "Client Authentication"}, "", false},
		{"UTF-16LE with BOM (PowerShell 5.1 Out-File)", utf16le(pemText), base, []string{"edge.contoso.com", "sip.contoso.com"}, []string{"Server Authentication", "Client Authentication"}, "", false},
		{"extensions in the Microsoft attribute (IIS, certreq)", ms, ms, []string{"edge.contoso.com", "sip.contoso.com"}, []string{"Server Authentication", "Client Authentication"}, "", false},
		{"without the attributes field", noAttrs, noAttrs, []string{}, nil, "", true},
		{"an extension in both attributes", both, both, nil, nil, "duplicate requested extensions", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := opensslVerifies(t, openssl, tc.der)
			req, err := Parse(tc.data)
			if tc.msg != "" {
				if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(req.Raw, tc.der) || req.CheckSignature() != nil {
				t.Fatal("the request is not kept as signed")
			}
			info := Describe(req)
			if !slices.Equal(info.DNSNames, tc.dns) || !slices.Equal(info.ExtKeyUsage, tc.eku) || !info.SignatureValid {
				t.Fatalf("described %+v", info)
			}
			if !tc.noExtReq && (info.Template != "WebServer" || len(info.KeyUsage) != 2) {
				t.Fatalf("template %q, key usage %v", info.Template, info.KeyUsage)
			}
			if !tc.noExtReq && !strings.Contains(text, "Server Authentication") {
				t.Fatalf("OpenSSL does not see the requested extensions:\n%s", text)
			}
		})
	}
}

// TestUnsupportedRequestKeys: requests whose key this program cannot use
// are refused as "not supported" with the reason, not as malformed.
func TestUnsupportedRequestKeys(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	dir := t.TempDir()
	tests := []struct {
		name    string
		genpkey []string
		want    string
	}{
		{"RSA-PSS key", []string{"-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"}, "RSA-PSS keys (1.2.840.113549.1.1.10) are not supported"},
		{"RSA exponent 2^64+1", []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-pkeyopt", "rsa_keygen_pubexp:18446744073709551617"}, "an RSA public exponent of 65 bits is not supported"},
		{"RSA exponent 2^32+1", []string{"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-pkeyopt", "rsa_keygen_pubexp:4294967297"}, "an RSA public exponent of 33 bits is not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := filepath.Join(dir, "k.pem")
			csrPath := filepath.Join(dir, "r.csr")
			runTool(t, openssl, append([]string{"genpkey", "-out", key}, tc.genpkey...)...)
			runTool(t, openssl, "req", "-new", "-key", key, "-subj", "/CN=edge.contoso.com", "-out", csrPath)
			if out := runTool(t, openssl, "req", "-in", csrPath, "-noout", "-verify"); !strings.Contains(out, "verify OK") {
				t.Fatal(out)
			}
			data, err := os.ReadFile(csrPath)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrUnsupported saying %q", err, tc.want)
			}
		})
	}
}

// TestRequestNamesShown: a request's subject with domain components and an
// e-mail address is shown as Windows and OpenSSL show it.
func TestRequestNamesShown(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	dir := t.TempDir()
	p := filepath.Join(dir, "r.csr")
	runTool(t, openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", filepath.Join(dir, "k.pem"),
		"-subj", "/DC=local/DC=corp/OU=Servers/CN=edge.corp.local/emailAddress=pki@corp.local", "-out", p)
	want := strings.TrimSpace(strings.TrimPrefix(runTool(t, openssl, "req", "-in", p, "-noout", "-subject", "-nameopt", "RFC2253"), "subject="))
	want = strings.ReplaceAll(want, "emailAddress=", "E=")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	req, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := Describe(req).Subject; got != want || got != "E=pki@corp.local,CN=edge.corp.local,OU=Servers,DC=corp,DC=local" {
		t.Fatalf("subject shown %q, OpenSSL (with E=) %q", got, want)
	}
}
