package csr

import (
	"crypto/rand"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"edgecert/internal/testtool"
)

// runTool runs a program and returns its combined output, failing t on error.
func runTool(t *testing.T, prog string, args ...string) string {
	t.Helper()
	out, err := exec.Command(prog, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestOpenSSLReadsOurRequests checks that openssl verifies our requests and
// shows the criticality and the template extension we asked for.
func TestOpenSSLReadsOurRequests(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	for _, tt := range keySpecs {
		t.Run(string(tt.spec), func(t *testing.T) {
			der, err := Create(rand.Reader, testKey(t, tt.spec), reverseProxyRequest())
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			pemFile := filepath.Join(dir, "req.pem")
			derFile := filepath.Join(dir, "req.der")
			os.WriteFile(pemFile, EncodePEM(der), 0o600)
			os.WriteFile(derFile, der, 0o600)
			out := runTool(t, openssl, "req", "-verify", "-noout", "-in", pemFile)
			if !strings.Contains(out, "verify OK") {
				t.Fatalf("openssl req -verify: %s", out)
			}
			text := runTool(t, openssl, "req", "-text", "-noout", "-inform", "DER", "-in", derFile)
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment`),
				regexp.MustCompile(`X509v3 Extended Key Usage: \s*\n\s+TLS Web Server Authentication, TLS Web Client Authentication`),
				regexp.MustCompile(`DNS:webext.contoso.com, DNS:meet.contoso.com, DNS:dialin.contoso.com, IP Address:192.0.2.10, IP Address:2001:DB8:0:0:0:0:0:1`),
				regexp.MustCompile(`1\.3\.6\.1\.4\.1\.311\.20\.2:\s*\n\s+\.\.\.W\.e\.b\.S\.e\.r\.v\.e\.r`),
				regexp.MustCompile(`1\.3\.6\.1\.4\.1\.311\.13\.2\.1\s+:`),
				regexp.MustCompile(`Subject: C = US, ST = WA, L = Redmond, O = Contoso, OU = IT, CN = webext.contoso.com`),
			} {
				if !want.MatchString(text) {
					t.Errorf("openssl req -text lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

// TestCerttoolReadsOurRequests checks GnuTLS reads and verifies our requests.
func TestCerttoolReadsOurRequests(t *testing.T) {
	certtool := testtool.Path(t, "certtool")
	for _, spec := range []KeySpec{RSA2048, P384} {
		t.Run(string(spec), func(t *testing.T) {
			der, err := Create(rand.Reader, testKey(t, spec), reverseProxyRequest())
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "req.pem")
			os.WriteFile(f, EncodePEM(der), 0o600)
			out := runTool(t, certtool, "--crq-info", "--infile", f)
			for _, want := range []string{
				"Key Usage (critical):", "Digital signature.", "Key encipherment.",
				"Key Purpose (not critical):", "TLS WWW Server.", "TLS WWW Client.",
				"DNSname: meet.contoso.com", "IPAddress: 192.0.2.10",
				"1.3.6.1.4.1.311.20.2", "Self signature: verified",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("certtool --crq-info lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestParseOpenSSLRequests parses requests openssl made, including one with
// the template name extension and the certreq attribute written by hand.
func TestParseOpenSSLRequests(t *testing.T) {
	openssl := testtool.Path(t, "openssl")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "req.cnf")
	os.WriteFile(cfg, []byte(`[req]
distinguished_name = dn
attributes = attrs
req_extensions = ext
prompt = no
[dn]
CN = sip.contoso.com
O = Contoso
[attrs]
[ext]
subjectAltName = DNS:sip.contoso.com, DNS:access.contoso.com
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
1.3.6.1.4.1.311.20.2 = ASN1:BMPSTRING:WebServer
`), 0o600)
	tests := []struct {
		name    string
		keyArgs []string
		alg     string
		bits    int
	}{
		{"rsa", []string{"-newkey", "rsa:3072"}, "RSA", 3072},
		{"ecdsa", []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"}, "ECDSA", 384},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, tt.name+".csr")
			args := append([]string{"req", "-new", "-config", cfg, "-nodes", "-keyout", filepath.Join(dir, tt.name+".key"), "-out", out}, tt.keyArgs...)
			runTool(t, openssl, args...)
			data, _ := os.ReadFile(out)
			req, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			info := Describe(req)
			if info.KeyAlgorithm != tt.alg || info.KeyBits != tt.bits || !info.SignatureValid ||
				info.Template != "WebServer" || !info.KeyUsageCritical || info.EKUCritical ||
				len(info.DNSNames) != 2 || info.ExtKeyUsage[0] != "Server Authentication" {
				t.Fatalf("Describe = %+v", info)
			}
			if req.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
				t.Fatal("unknown signature algorithm")
			}
		})
	}
}
