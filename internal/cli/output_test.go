package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrintable: what a terminal would act on is escaped, the rest kept.
func TestPrintable(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "CN=a.contoso.com,O=Contoso\\, Ltd", "CN=a.contoso.com,O=Contoso\\, Ltd"},
		{"unicode kept", "O=Contosö 日本", "O=Contosö 日本"},
		{"ESC clears the screen", "x\x1b[2J", `x\x1b[2J`},
		{"BEL", "x\a", `x\x07`},
		{"newline forges a row", "x\n42\tadmin", `x\n42\tadmin`},
		{"carriage return", "x\ry", `x\ry`},
		{"DEL", "x\x7f", `x\x7f`},
		{"C1 CSI", "x\u009b2J", `x\x9b2J`},
		{"bidi override", "x\u202egro.live", `x\u202egro.live`},
		{"zero-width space", "a\u200bb", `a\u200bb`},
		{"invalid UTF-8", "x\xffy", `x\xffy`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := printable(c.in); got != c.want {
				t.Errorf("printable(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	var b bytes.Buffer
	tableRow(&b, "a\tb", 7, "c\nd")
	if b.String() != "a\\tb\t7\tc\\nd\n" {
		t.Errorf("tableRow: %q", b.String())
	}
}

// TestHumanOutputEscapesControlCharacters: a subject with control
// characters, refused by the CA and recorded in its audit log, reaches
// the terminal escaped in `ca audit` and `request show`, and exact in
// JSON (issue 14, item 11: it could forge rows and rewrite the screen).
func TestHumanOutputEscapesControlCharacters(t *testing.T) {
	dir, must := newTemplateTestCA(t)
	tmp := t.TempDir()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	evil := "x\n1999-01-01T00:00:00Z\tadmin\trevoke\x1b[2J"
	raw, _ := asn1.Marshal(pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: evil}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "a.contoso.com"}},
	})
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{RawSubject: raw}, k)
	if err != nil {
		t.Fatal(err)
	}
	csr := caWrite(t, tmp, "evil.csr", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})))
	pass := filepath.Join(filepath.Dir(dir), "pass.txt")
	must(2, "ca", "issue", "--dir", dir, "--csr", csr, "--template", "WebServer", "--as", "admin", "--passphrase-file", pass)
	for _, args := range [][]string{
		{"ca", "audit", "--dir", dir},
		{"request", "show", csr},
	} {
		out := must(0, args...)
		if strings.ContainsAny(out, "\x1b\a") || strings.Contains(out, "\n1999-01-01") {
			t.Errorf("%v: raw control characters reach the terminal:\n%s", args, out)
		}
		if !strings.Contains(out, `\n1999-01-01T00:00:00Z\tadmin\trevoke\x1b[2J`) {
			t.Errorf("%v: the subject is not shown escaped:\n%s", args, out)
		}
	}
	var log []map[string]any
	if err := json.Unmarshal([]byte(must(0, "ca", "audit", "--dir", dir, "-o", "json")), &log); err != nil {
		t.Fatal(err)
	}
	if len(log) == 0 || !strings.Contains(log[0]["subject"].(string), evil) {
		t.Errorf("JSON is not exact: %v", log)
	}
	if out := must(2, "store", "import", "--store", filepath.Join(tmp, "st"), "--friendly-name", "a\x1bb", csr); !strings.Contains(out, `a\x1bb`) {
		t.Errorf("friendly name refusal: %s", out)
	}
}
