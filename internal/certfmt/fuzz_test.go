package certfmt

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// Fuzz targets for every decoder of outside input. Seeds are in
// testdata/fuzz/<target>/ (regenerate with: go test -run TestWriteFuzzSeeds -update).
// Each target checks that the decoder does not panic, that every error
// wraps a sentinel, and that what it accepts is consistent.

// checkSentinel fails when err wraps none of the package's sentinels.
func checkSentinel(t *testing.T, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrWrongPassword) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error wraps no sentinel: %v", err)
	}
}

func FuzzParseCertificates(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		checkSentinel(t, err)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}

func FuzzDecodePKCS7(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := DecodePKCS7(data)
		checkSentinel(t, err)
		if err == nil && len(certs) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}

func FuzzDecodePFX(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		p, err := DecodePFX(data, password)
		checkSentinel(t, err)
		if err != nil {
			return
		}
		if p.Key == nil || p.Leaf == nil || !PublicKeysEqual(p.Key.Public(), p.Leaf.PublicKey) {
			t.Fatal("accepted a PFX whose key does not match its leaf")
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKey(data)
		checkSentinel(t, err)
		if err == nil && key == nil {
			t.Fatal("no error and no key")
		}
	})
}

func FuzzBERToDER(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		der, err := berToDER(data)
		if err != nil {
			return
		}
		again, err := berToDER(der)
		if err != nil || !bytes.Equal(again, der) {
			t.Fatalf("berToDER is not idempotent: %v", err)
		}
		_ = Detect(data)
	})
}

// TestWriteFuzzSeeds writes the seed corpora with -update.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz")
	}
	rsaC, ecC := chains(t)
	pfx, _ := EncodePFX(rand.Reader, &PFX{Key: ecC.LeafKey, Leaf: ecC.Leaf, CA: []*x509.Certificate{ecC.Inter}, FriendlyName: "f"}, "pw", PFXModern, false)
	legacy, _ := EncodePFX(rand.Reader, &PFX{Key: ecC.LeafKey, Leaf: ecC.Leaf}, "pw", PFXLegacy, false)
	p7, _ := EncodePKCS7([]*x509.Certificate{ecC.Leaf, ecC.Inter})
	key, _ := MarshalPrivateKeyPEM(ecC.LeafKey)
	rsaKey, _ := MarshalPrivateKeyPEM(rsaC.LeafKey)
	bad := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "bad", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seeds := map[string][][]any{
		"FuzzParseCertificates": {{ecC.Leaf.Raw}, {EncodeCertificatePEM(ecC.Leaf, ecC.Inter)}, {bad("trailing-junk.pem")}},
		"FuzzDecodePKCS7":       {{p7}, {toIndefinite(t, p7)}, {bad("crl-only.pem.p7b")}},
		"FuzzDecodePFX":         {{pfx, "pw"}, {legacy, "pw"}, {pfxToBER(t, pfx, "pw"), "pw"}, {bad("two-keys.pfx"), "right"}},
		"FuzzParsePrivateKey":   {{key}, {rsaKey}, {bad("encrypted.key")}},
		"FuzzBERToDER":          {{toIndefinite(t, p7)}, {[]byte{0x24, 0x80, 0x04, 0x01, 0x41, 0x00, 0x00}}},
	}
	for target, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, args := range list {
			var buf bytes.Buffer
			buf.WriteString("go test fuzz v1\n")
			for _, a := range args {
				switch v := a.(type) {
				case []byte:
					fmt.Fprintf(&buf, "[]byte(%s)\n", strconv.Quote(string(v)))
				case string:
					fmt.Fprintf(&buf, "string(%s)\n", strconv.Quote(v))
				}
			}
			writeFile(t, dir, fmt.Sprintf("seed-%d", i+1), buf.Bytes())
		}
	}
}

// negativeSerialSeed is a certificate whose serial is negative (its
// signature no longer verifies: a seed for the parser only).
func negativeSerialSeed(t testing.TB) []byte {
	_, ec := chains(t)
	der := append([]byte(nil), ec.Leaf.Raw...)
	s := ec.Leaf.SerialNumber.Bytes()
	i := bytes.Index(der, append([]byte{0x02, byte(len(s))}, s...))
	if i < 0 || s[0] >= 0x80 {
		t.Fatal("seed: serial not found")
	}
	der[i+2] |= 0x80
	return der
}

func FuzzParseCertificate(f *testing.F) {
	_, ec := chains(f)
	f.Add(ec.Leaf.Raw)
	f.Add(ec.Root.Raw)
	f.Add(negativeSerialSeed(f))
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := ParseCertificate(der)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Raw, der) || !bytes.Contains(der, c.RawTBSCertificate) {
			t.Fatal("the parsed certificate is not the input")
		}
		if std, err := x509.ParseCertificate(der); err == nil && std.SerialNumber.Cmp(c.SerialNumber) != 0 {
			t.Fatal("serial differs from crypto/x509's")
		}
		if SerialHex(c.SerialNumber) == "" || NameString(c.RawSubject) == "" && len(c.RawSubject) > 2 {
			t.Fatal("serial or subject not shown")
		}
		_ = IsSelfSigned(c)
		_ = SPKIUnsupported(c.RawSubjectPublicKeyInfo)
	})
}

func FuzzNameString(f *testing.F) {
	_, ec := chains(f)
	f.Add(ec.Leaf.RawSubject)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if a, b := NameString(raw), NameString(raw); a != b {
			t.Fatal("not deterministic")
		}
	})
}

func FuzzDecodePFXAll(f *testing.F) {
	rsaC, ec := chains(f)
	one, err := EncodePFX(rand.Reader, &PFX{Key: ec.LeafKey, Leaf: ec.Leaf, CA: []*x509.Certificate{ec.Inter}}, "pw", PFXModern, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(one, "pw")
	f.Add(append(append([]byte(nil), one...), 0, 0, 0, 0), "pw")
	f.Add(buildPFX(f, "pw", []safeBag{testCertBag(f, ec.Leaf, nil), testKeyBag(f, ec.LeafKey, "pw", nil),
		testCertBag(f, rsaC.Leaf, nil), testKeyBag(f, rsaC.LeafKey, "pw", nil)}), "pw")
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		all, err := DecodePFXAll(data, password)
		checkSentinel(t, err)
		if err != nil {
			return
		}
		for _, p := range all.Pairs {
			if !PublicKeysEqual(p.Key.Public(), p.Leaf.PublicKey) {
				t.Fatal("a key with another key's certificate")
			}
			for _, c := range all.Certs {
				if c.Equal(p.Leaf) {
					t.Fatal("a leaf also among the other certificates")
				}
			}
		}
	})
}
