package certfmt

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"flag"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the generated files in testdata/")

// decoders by name, each returning only an error.
var decoders = map[string]func(data []byte, password string) error{
	"pfx":   func(d []byte, pw string) error { _, err := DecodePFX(d, pw); return err },
	"certs": func(d []byte, _ string) error { _, err := ParseCertificates(d); return err },
	"p7b":   func(d []byte, _ string) error { _, err := DecodePKCS7(d); return err },
	"key":   func(d []byte, _ string) error { _, err := ParsePrivateKey(d); return err },
	"open":  func(d []byte, pw string) error { _, err := OpenPrivateKey(d, []byte(pw)); return err },
}

// TestBadInputs runs every decoder on the corpus of bad files in
// testdata/bad: each must fail with a clear error wrapping the right
// sentinel. Regenerate the corpus with -update (needs openssl).
func TestBadInputs(t *testing.T) {
	if *update {
		writeBadCorpus(t)
	}
	tests := []struct {
		file, decoder, password string
		want                    error
		msg                     string
	}{
		{"truncated.pfx", "pfx", "right", ErrMalformed, "PFX"},
		{"valid.pfx", "pfx", "wrong", ErrWrongPassword, "MAC verification failed"},
		{"corrupt.pfx", "pfx", "right", ErrMalformed, "not a PKCS#12 file"},
		{"two-keys.pfx", "pfx", "right", ErrUnsupported, "2 private keys"},
		{"no-key.pfx", "pfx", "right", ErrNoKey, "no key"},
		{"key-mismatch.pfx", "pfx", "right", ErrNoKey, "matches the private key"},
		{"leaf.der", "pfx", "right", ErrMalformed, "the input is a certificate, not a PKCS#12 file"},
		{"garbage.bin", "pfx", "right", ErrMalformed, "PFX"},
		{"empty.bin", "pfx", "right", ErrMalformed, "PFX"},
		{"valid.pfx", "certs", "", ErrMalformed, "the input is a PKCS#12 file (.pfx), not a certificate"},
		{"key.pem", "certs", "", ErrMalformed, `"PRIVATE KEY", not a CERTIFICATE`},
		{"trailing-junk.pem", "certs", "", ErrMalformed, "trailing data after PEM block 2"},
		{"trailing-bytes.der", "certs", "", ErrMalformed, "trailing data"},
		{"truncated.der", "certs", "", ErrMalformed, "DER certificate"},
		{"garbage.bin", "certs", "", ErrMalformed, "DER certificate"},
		{"empty.bin", "certs", "", ErrMalformed, "empty input"},
		{"crl-only.p7b", "p7b", "", ErrMalformed, "no certificate (1 CRL(s) only)"},
		{"crl-only.pem.p7b", "p7b", "", ErrMalformed, "no certificate (1 CRL(s) only)"},
		{"truncated.p7b", "p7b", "", ErrMalformed, "PKCS#7"},
		{"trailing-bytes.p7b", "p7b", "", ErrMalformed, "trailing data"},
		{"request.pem", "p7b", "", ErrMalformed, "the input is a certificate request, not a PKCS#7"},
		{"leaf.der", "p7b", "", ErrMalformed, "the input is a certificate, not a PKCS#7"},
		{"request.pem", "pfx", "", ErrMalformed, "the input is a certificate request, not a PKCS#12"},
		{"crl-only.p7b", "pfx", "", ErrMalformed, "not a PKCS#12"},
		{"garbage.bin", "p7b", "", ErrMalformed, "PKCS#7"},
		{"truncated.key", "key", "", ErrMalformed, "no valid PEM block"},
		{"leaf.der", "key", "", ErrMalformed, "the input is a certificate, not a private key"},
		{"encrypted.key", "key", "", ErrUnsupported, "encrypted"},
		{"sealed.key", "key", "", ErrUnsupported, "encrypted"},
		{"sealed.key", "open", "wrong", ErrWrongPassword, "opening sealed key"},
		{"garbage.bin", "key", "", ErrMalformed, "private key"},
	}
	for _, tt := range tests {
		t.Run(tt.decoder+"/"+tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			err = decoders[tt.decoder](data, tt.password)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q, want one line mentioning %q", err, tt.msg)
			}
		})
	}
}

// writeBadCorpus regenerates testdata/bad.
func writeBadCorpus(t *testing.T) {
	rsaC, ecC := chains(t)
	dir := filepath.Join("testdata", "bad")
	put := func(name string, data []byte) { writeFile(t, dir, name, data) }
	valid, err := EncodePFX(rand.Reader, &PFX{Key: ecC.LeafKey, Leaf: ecC.Leaf, CA: []*x509.Certificate{ecC.Inter}}, "right", PFXModern, false)
	if err != nil {
		t.Fatal(err)
	}
	put("valid.pfx", valid)
	put("truncated.pfx", valid[:len(valid)/2])
	corrupt := append([]byte{}, valid...)
	corrupt[4] = 0x05 // the version INTEGER becomes a NULL
	put("corrupt.pfx", corrupt)
	put("two-keys.pfx", buildPFX(t, "right", []safeBag{
		testKeyBag(t, rsaC.LeafKey, "right", nil), testCertBag(t, rsaC.Leaf, nil),
		testKeyBag(t, ecC.LeafKey, "right", nil), testCertBag(t, ecC.Leaf, nil)}))
	put("no-key.pfx", buildPFX(t, "right", []safeBag{testCertBag(t, ecC.Leaf, nil), testCertBag(t, ecC.Inter, nil)}))
	put("key-mismatch.pfx", buildPFX(t, "right", []safeBag{testKeyBag(t, rsaC.LeafKey, "right", nil), testCertBag(t, ecC.Leaf, nil)}))
	put("leaf.der", ecC.Leaf.Raw)
	put("truncated.der", ecC.Leaf.Raw[:len(ecC.Leaf.Raw)-10])
	put("trailing-bytes.der", append(append([]byte{}, ecC.Leaf.Raw...), 0x00, 0x00))
	put("trailing-junk.pem", append(EncodeCertificatePEM(ecC.Leaf, ecC.Inter), "this line is not PEM\n"...))
	junk := make([]byte, 512)
	rand.Read(junk)
	junk[0] = 0x30
	put("garbage.bin", junk)
	put("empty.bin", nil)
	key, _ := MarshalPrivateKeyPEM(ecC.LeafKey)
	put("key.pem", key)
	put("truncated.key", key[:len(key)/2])
	sealed, _ := SealPrivateKey(rand.Reader, ecC.LeafKey, []byte("right"))
	put("sealed.key", sealed)
	p7, _ := EncodePKCS7([]*x509.Certificate{ecC.Leaf, ecC.Inter})
	put("truncated.p7b", p7[:len(p7)-20])
	put("trailing-bytes.p7b", append(append([]byte{}, p7...), 0x05, 0x00))
	writeOpenSSLBadFiles(t, dir, ecC)
}

// writeOpenSSLBadFiles makes the bad files that need openssl: a p7b with a
// CRL only, an encrypted PKCS#8 key and a certificate request.
func writeOpenSSLBadFiles(t *testing.T, dir string, c *testChain) {
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour),
	}, c.Inter, c.InterKey)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	crlFile := writeFile(t, tmp, "crl.der", crl)
	keyPEM, _ := MarshalPrivateKeyPEM(c.LeafKey)
	keyFile := writeFile(t, tmp, "key.pem", keyPEM)
	for _, args := range [][]string{
		{"crl2pkcs7", "-inform", "DER", "-in", crlFile, "-outform", "DER", "-out", filepath.Join(dir, "crl-only.p7b")},
		{"crl2pkcs7", "-inform", "DER", "-in", crlFile, "-out", filepath.Join(dir, "crl-only.pem.p7b")},
		{"pkcs8", "-topk8", "-in", keyFile, "-passout", "pass:right", "-out", filepath.Join(dir, "encrypted.key")},
		{"req", "-new", "-key", keyFile, "-subj", "/CN=edge.contoso.com", "-out", filepath.Join(dir, "request.pem")},
	} {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
}
