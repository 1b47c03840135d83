package certfmt

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"edgecert/internal/testtool"
)

// Files from the field: what Windows, Java, NSS and older CAs write and
// OpenSSL reads. Each file is made by a real tool (or by hand where no tool
// makes the oddity) and read by OpenSSL (and GnuTLS where it reads the
// format) in the same test, to prove it valid.

// fieldTools returns the tools and a temp dir.
func fieldTools(t *testing.T) (openssl, certtool, dir string) {
	t.Helper()
	return testtool.Path(t, "openssl"), testtool.Path(t, "certtool"), t.TempDir()
}

// pemToDER returns the first PEM block of a file.
func pemToDER(t *testing.T, path string) []byte {
	t.Helper()
	b, _ := pem.Decode(readFile(t, path))
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	return b.Bytes
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNegativeSerial: a certificate with a negative serial (as Windows and
// older CAs issued) is read from DER, PEM, .p7b and .pfx, keeps its own
// bytes and signature, and shows its serial as Windows does.
func TestNegativeSerial(t *testing.T) {
	openssl, certtool, dir := fieldTools(t)
	key := filepath.Join(dir, "k.pem")
	cert := filepath.Join(dir, "neg.pem")
	run(t, openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
		"-subj", "/CN=Negative Serial Root", "-days", "30", "-set_serial", "-0x1234", "-out", cert)
	if out := string(run(t, openssl, "x509", "-in", cert, "-noout", "-serial")); !strings.Contains(out, "serial=-1234") {
		t.Fatalf("openssl: %s", out)
	}
	if out := string(run(t, certtool, "-i", "--infile", cert)); !strings.Contains(out, "Serial Number (hex): edcc") {
		t.Fatalf("certtool: %s", out)
	}
	der := pemToDER(t, cert)
	p7b := filepath.Join(dir, "neg.p7b")
	run(t, openssl, "crl2pkcs7", "-nocrl", "-certfile", cert, "-outform", "DER", "-out", p7b)
	pfx := filepath.Join(dir, "neg.pfx")
	run(t, openssl, "pkcs12", "-export", "-inkey", key, "-in", cert, "-passout", "pass:pw", "-out", pfx)
	run(t, openssl, "pkcs12", "-in", pfx, "-passin", "pass:pw", "-noout")

	read := map[string]func() (*x509.Certificate, error){
		"DER": func() (*x509.Certificate, error) { return first(ParseCertificates(der)) },
		"PEM": func() (*x509.Certificate, error) { return first(ParseCertificates(readFile(t, cert))) },
		"p7b": func() (*x509.Certificate, error) { return first(DecodePKCS7(readFile(t, p7b))) },
		"pfx": func() (*x509.Certificate, error) {
			p, err := DecodePFX(readFile(t, pfx), "pw")
			if err != nil {
				return nil, err
			}
			return p.Leaf, nil
		},
	}
	for name, f := range read {
		t.Run(name, func(t *testing.T) {
			c, err := f()
			if err != nil {
				t.Fatal(err)
			}
			if c.SerialNumber.Cmp(big.NewInt(-0x1234)) != 0 || SerialHex(c.SerialNumber) != "EDCC" {
				t.Fatalf("serial %v shown %s, want -0x1234 shown EDCC", c.SerialNumber, SerialHex(c.SerialNumber))
			}
			if !bytes.Equal(c.Raw, der) || !bytes.Contains(der, c.RawTBSCertificate) || !IsSelfSigned(c) {
				t.Fatal("the certificate does not keep its own encoding and signature")
			}
		})
	}
	if _, err := x509.ParseCertificate(der); err == nil {
		t.Fatal("crypto/x509 now reads negative serials: the fallback is not tested")
	}
}

func first(certs []*x509.Certificate, err error) (*x509.Certificate, error) {
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// TestSerialHex: serials as Windows shows them, the octets of their
// encoding (two's complement for negative ones).
func TestSerialHex(t *testing.T) {
	tests := []struct {
		name string
		n    *big.Int
		want string
	}{
		{"positive", big.NewInt(0x1234), "1234"},
		{"positive with high bit", big.NewInt(0x80), "80"},
		{"minus one", big.NewInt(-1), "FF"},
		{"minus 128", big.NewInt(-128), "80"},
		{"minus 129", big.NewInt(-129), "FF7F"},
		{"minus 0x1234", big.NewInt(-0x1234), "EDCC"},
		{"minus 0x8000", big.NewInt(-0x8000), "8000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SerialHex(tc.n); got != tc.want {
				t.Fatalf("SerialHex(%v) = %s, want %s", tc.n, got, tc.want)
			}
			if tc.n.Sign() < 0 {
				der, _ := asn1.Marshal(tc.n)
				if got := strings.ToUpper(string(hexOf(der[2:]))); got != tc.want {
					t.Fatalf("DER octets %s, SerialHex %s", got, tc.want)
				}
			}
		})
	}
}

func hexOf(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

// TestPFXTrailingBytes: zero padding after the PFX (as Windows tooling has
// written) is ignored; any other trailing data is still refused.
func TestPFXTrailingBytes(t *testing.T) {
	openssl, _, dir := fieldTools(t)
	rsaC, _ := chains(t)
	key, leaf, _ := writeChainFiles(t, dir, rsaC)
	pfx := filepath.Join(dir, "x.pfx")
	run(t, openssl, "pkcs12", "-export", "-inkey", key, "-in", leaf, "-passout", "pass:pw", "-out", pfx)
	good := readFile(t, pfx)
	tests := []struct {
		name  string
		tail  []byte
		ok    bool
		msg   string
		isBER bool
	}{
		{"no padding", nil, true, "", false},
		{"eight zero bytes", make([]byte, 8), true, "", false},
		{"one zero byte", []byte{0}, true, "", false},
		{"BER file with zero padding", make([]byte, 16), true, "", true},
		{"garbage", []byte("garbage!"), false, "8 bytes of trailing data", false},
		{"zeros then garbage", []byte{0, 0, 0, 1}, false, "4 bytes of trailing data", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := good
			if tc.isBER {
				data = pfxToBER(t, good, "pw")
			}
			data = append(append([]byte(nil), data...), tc.tail...)
			path := writeFile(t, dir, "t.pfx", data)
			// OpenSSL reads the file up to its end, whatever follows.
			run(t, openssl, "pkcs12", "-in", path, "-passin", "pass:pw", "-noout")
			if Detect(data) != FormatPKCS12 {
				t.Fatalf("detected as %v", Detect(data))
			}
			p, err := DecodePFX(data, "pw")
			if tc.ok {
				if err != nil || !p.Leaf.Equal(rsaC.Leaf) {
					t.Fatalf("err %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}

// writeChainFiles writes a chain's leaf key, leaf and CA certificates as PEM.
func writeChainFiles(t *testing.T, dir string, c *testChain) (key, leaf, chain string) {
	t.Helper()
	k, err := MarshalPrivateKeyPEM(c.LeafKey)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, "leaf.key", k), writeFile(t, dir, "leaf.pem", EncodeCertificatePEM(c.Leaf)),
		writeFile(t, dir, "chain.pem", EncodeCertificatePEM(c.Inter, c.Root))
}
