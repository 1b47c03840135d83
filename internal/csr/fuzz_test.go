package csr

import (
	"bytes"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated files in testdata/")

// FuzzParse checks that Parse never panics, that every error wraps
// ErrMalformed, and that an accepted request can be described.
// Seeds: testdata/fuzz/FuzzParse (go test -run TestWriteCorpus -update),
// and the field's forms made here (byte order marks, UTF-16, the Microsoft
// extension attribute, no attributes field).
func FuzzParse(f *testing.F) {
	for _, der := range fieldSeeds(f) {
		f.Add(der)
		f.Add(append([]byte{0xef, 0xbb, 0xbf}, EncodePEM(der)...))
		u := []byte{0xff, 0xfe}
		for _, c := range string(EncodePEM(der)) {
			u = append(u, byte(c), 0)
		}
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither ErrMalformed nor ErrUnsupported: %v", err)
			}
			return
		}
		if info := Describe(req); !info.SignatureValid {
			t.Fatal("Parse accepted a request whose signature Describe says is invalid")
		}
	})
}

// fieldSeeds are requests in the forms the field writes: ours, with the
// Microsoft extension attribute, and without the attributes field.
func fieldSeeds(t testing.TB) [][]byte {
	key := testKey(t, P256)
	base, err := Create(rand.Reader, key, Request{Subject: pkix.Name{CommonName: "edge.contoso.com"}, DNSNames: []string{"edge.contoso.com"}, Template: "WebServer"})
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{base, resign(t, key, base, renameAttribute(t, oidExtensionRequest, oidMSExtensionRequest), false), resign(t, key, base, nil, true)}
}

// FuzzDecode: Decode never panics, wraps a sentinel, and an accepted
// request keeps the input as its own bytes, with a signed part inside it.
func FuzzDecode(f *testing.F) {
	for _, der := range fieldSeeds(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := Decode(der)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither ErrMalformed nor ErrUnsupported: %v", err)
			}
			return
		}
		if !bytes.Equal(req.Raw, der) || !bytes.Contains(der, req.RawTBSCertificateRequest) {
			t.Fatal("the decoded request is not the input")
		}
		_ = Describe(req)
	})
}

// TestBadRequests runs Parse on the corpus of bad requests in testdata/bad.
func TestBadRequests(t *testing.T) {
	tests := []struct{ file, msg string }{
		{"truncated.csr", "malformed"},
		{"bad-signature.csr", "signature does not verify"},
		{"certificate.pem", `"CERTIFICATE", not a CERTIFICATE REQUEST`},
		{"trailing-junk.csr", "trailing data"},
		{"garbage.bin", "neither PEM, Base64 nor DER"},
		{"empty.bin", "empty input"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "bad", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want ErrMalformed mentioning %q", err, tt.msg)
			}
		})
	}
}

// TestWriteCorpus regenerates testdata/bad and the fuzz seeds with -update.
func TestWriteCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/bad and testdata/fuzz")
	}
	key := testKey(t, P256)
	good, err := Create(rand.Reader, key, reverseProxyRequest())
	if err != nil {
		t.Fatal(err)
	}
	small, err := Create(rand.Reader, key, Request{Subject: pkix.Name{CommonName: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	badSig := bytes.Clone(small)
	badSig[len(badSig)-3] ^= 0x55
	put := func(dir, name string, data []byte) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bad := filepath.Join("testdata", "bad")
	put(bad, "truncated.csr", small[:len(small)/2])
	put(bad, "bad-signature.csr", badSig)
	put(bad, "certificate.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: small}))
	put(bad, "trailing-junk.csr", append(EncodePEM(small), "junk\n"...))
	put(bad, "garbage.bin", []byte("\x01\x02 not a request at all \xff"))
	put(bad, "empty.bin", nil)
	seeds := filepath.Join("testdata", "fuzz", "FuzzParse")
	for i, s := range [][]byte{good, EncodePEM(small), pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: small}), badSig} {
		put(seeds, fmt.Sprintf("seed-%d", i+1), []byte("go test fuzz v1\n[]byte("+strconv.Quote(string(s))+")\n"))
	}
}
