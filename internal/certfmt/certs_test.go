package certfmt

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

func TestParseCertificates(t *testing.T) {
	c, _ := chains(t)
	pemChain := EncodeCertificatePEM(c.Leaf, c.Inter, c.Root)
	tests := []struct {
		name    string
		in      []byte
		want    int
		wantErr error
	}{
		{"pem one", EncodeCertificatePEM(c.Leaf), 1, nil},
		{"pem three", pemChain, 3, nil},
		{"pem with text before", append([]byte("subject=CN = x\nissuer=CN = y\n"), pemChain...), 3, nil},
		{"pem crlf", bytes.ReplaceAll(pemChain, []byte("\n"), []byte("\r\n")), 3, nil},
		{"der", c.Leaf.Raw, 1, nil},
		{"pem trailing junk", append(append([]byte{}, pemChain...), "junk"...), 0, ErrMalformed},
		{"der trailing bytes", append(append([]byte{}, c.Leaf.Raw...), 0, 0), 0, ErrMalformed},
		{"der truncated", c.Leaf.Raw[:100], 0, ErrMalformed},
		{"empty", nil, 0, ErrMalformed},
		{"garbage", []byte("hello world"), 0, ErrMalformed},
		{"wrong pem type", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := ParseCertificates(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tt.want {
				t.Fatalf("got %d certs, want %d", len(certs), tt.want)
			}
			if !certs[0].Equal(c.Leaf) {
				t.Fatal("first certificate is not the leaf")
			}
		})
	}
}

func TestPKCS7RoundTrip(t *testing.T) {
	c, _ := chains(t)
	der, err := EncodePKCS7([]*x509.Certificate{c.Leaf, c.Inter, c.Root})
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodePKCS7(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got[0].Equal(c.Leaf) || !got[2].Equal(c.Root) {
		t.Fatalf("round trip lost certificates or order: %d", len(got))
	}
	if Detect(der) != FormatPKCS7 {
		t.Fatalf("Detect = %v", Detect(der))
	}
	if _, err := DecodePKCS7(append(der, 1, 2, 3)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("trailing data: err = %v", err)
	}
	ber := toIndefinite(t, der)
	if !bytes.Contains(ber, []byte{0x30, 0x80}) {
		t.Fatal("test BER conversion made no indefinite length")
	}
	got, err = DecodePKCS7(ber)
	if err != nil || len(got) != 3 {
		t.Fatalf("BER: %d certs, %v", len(got), err)
	}
}

func TestKeys(t *testing.T) {
	rsaC, ecC := chains(t)
	for _, c := range []*testChain{rsaC, ecC} {
		p, err := MarshalPrivateKeyPEM(c.LeafKey)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(p), "-----BEGIN PRIVATE KEY-----") {
			t.Fatalf("not PKCS#8 PEM: %s", p[:30])
		}
		k, err := ParsePrivateKey(p)
		if err != nil {
			t.Fatal(err)
		}
		if !PublicKeysEqual(k.Public(), c.Leaf.PublicKey) {
			t.Fatal("parsed key differs")
		}
		if Detect(p) != FormatPrivateKey {
			t.Fatal("Detect")
		}
		sealed, err := SealPrivateKey(rand.Reader, c.LeafKey, []byte("s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		if !IsSealed(sealed) || IsSealed(p) {
			t.Fatal("IsSealed")
		}
		k, err = OpenPrivateKey(sealed, []byte("s3cret"))
		if err != nil || !PublicKeysEqual(k.Public(), c.Leaf.PublicKey) {
			t.Fatalf("open: %v", err)
		}
		if _, err := OpenPrivateKey(sealed, []byte("wrong")); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("wrong passphrase: %v", err)
		}
		tampered := bytes.Replace(sealed, []byte("N=32768"), []byte("N=16384"), 1)
		if _, err := OpenPrivateKey(tampered, []byte("s3cret")); !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("tampered parameters: %v", err)
		}
		if _, err := ParsePrivateKey(sealed); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("parse sealed: %v", err)
		}
	}
	if PublicKeysEqual(rsaC.LeafKey.Public(), ecC.LeafKey.Public()) || PublicKeysEqual(nil, nil) {
		t.Fatal("PublicKeysEqual")
	}
}

func TestThumbprints(t *testing.T) {
	c, _ := chains(t)
	if tp := ThumbprintSHA1(c.Leaf); len(tp) != 40 || strings.ToUpper(tp) != tp {
		t.Fatalf("thumbprint %q", tp)
	}
	if fp := FingerprintSHA256(c.Leaf); len(fp) != 64 {
		t.Fatalf("fingerprint %q", fp)
	}
}

// TestDetect covers every format, damaged files included: a truncated file
// must still reach the decoder that can say what is wrong with it.
func TestDetect(t *testing.T) {
	c, _ := chains(t)
	p7, _ := EncodePKCS7([]*x509.Certificate{c.Leaf})
	pfx, _ := EncodePFX(rand.Reader, &PFX{Key: c.LeafKey, Leaf: c.Leaf}, "pw", PFXModern, false)
	key, _ := MarshalPrivateKeyPEM(c.LeafKey)
	tests := []struct {
		name string
		in   []byte
		want Format
	}{
		{"pem certificate", EncodeCertificatePEM(c.Leaf), FormatCertificate},
		{"der certificate", c.Leaf.Raw, FormatCertificate},
		{"truncated der certificate", c.Leaf.Raw[:200], FormatCertificate},
		{"p7b", p7, FormatPKCS7},
		{"truncated p7b", p7[:100], FormatPKCS7},
		{"ber p7b", toIndefinite(t, p7), FormatPKCS7},
		{"pfx", pfx, FormatPKCS12},
		{"truncated pfx", pfx[:300], FormatPKCS12},
		{"key", key, FormatPrivateKey},
		{"garbage", []byte("hello, world"), FormatUnknown},
		{"empty", nil, FormatUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect(tt.in); got != tt.want {
				t.Fatalf("Detect = %v, want %v", got, tt.want)
			}
		})
	}
}
