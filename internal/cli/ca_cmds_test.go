package cli

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"edgecert/internal/certfmt"
	"edgecert/internal/testtool"
)

func runCACLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func caWrite(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func caTestCSR(t *testing.T, dir, cn string) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return caWrite(t, dir, cn+".csr", string(pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der})))
}

// TestCACommandsEndToEnd scripts the CA as the demo and other tests do:
// non-interactive init, users, a token, a grant, issuance, approval,
// revocation, chain and CRL, checked with openssl.
func TestCACommandsEndToEnd(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "ca")
	pass := caWrite(t, tmp, "pass.txt", "ca passphrase\n")
	adminPW := caWrite(t, tmp, "admin.txt", "admin password\n")
	must := func(want int, args ...string) string {
		t.Helper()
		out, errs, code := runCACLI(t, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errs)
		}
		return out + errs
	}
	must(0, "ca", "init", "--dir", dir, "--name", "Contoso", "--key", "p256", "--passphrase-file", pass, "--admin", "admin", "--admin-password-file", adminPW)
	must(2, "ca", "init", "--dir", dir, "--passphrase-file", pass) // already a CA
	must(2, "ca", "init", "--dir", filepath.Join(tmp, "x"), "--key", "dsa", "--passphrase-file", pass)
	if _, err := os.Stat(filepath.Join(tmp, "x")); err == nil {
		t.Fatal("a refused init left a directory")
	}
	must(0, "ca", "user", "add", "--dir", dir, "alice", "--group", "RTCUniversalServerAdmins")
	must(2, "ca", "user", "add", "--dir", dir, "alice")
	tokFile := filepath.Join(tmp, "alice.token")
	must(0, "ca", "user", "token", "--dir", dir, "alice", "--out", tokFile)
	if st, err := os.Stat(tokFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", err, st)
	}
	var users []map[string]any
	json.Unmarshal([]byte(must(0, "ca", "user", "list", "--dir", dir, "-o", "json")), &users)
	if len(users) != 2 {
		t.Fatalf("users: %v", users)
	}
	csr := caTestCSR(t, tmp, "edge.contoso.com")
	out := filepath.Join(tmp, "edge.cer")
	if s := must(1, "ca", "issue", "--dir", dir, "--csr", csr, "--template", "WebServer", "--as", "alice", "--out", out, "--passphrase-file", pass); !strings.Contains(s, "Enroll") {
		t.Fatalf("refusal: %s", s)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("refused issuance wrote a file")
	}
	must(0, "ca", "template", "set", "--dir", dir, "WebServer", "--enroll", "RTCUniversalServerAdmins")
	must(0, "ca", "issue", "--dir", dir, "--csr", csr, "--template", "WebServer", "--as", "alice", "--out", out, "--passphrase-file", pass)
	must(2, "ca", "issue", "--dir", dir, "--csr", csr, "--template", "NoSuch", "--as", "alice", "--passphrase-file", pass)
	must(2, "ca", "template", "set", "--dir", dir, "WebServer", "--validity", "soon")
	if !strings.Contains(must(0, "ca", "template", "show", "--dir", dir, "WebServer"), "RTCUniversalServerAdmins") {
		t.Fatal("template show lacks the grant")
	}
	certs, err := certfmt.ParseCertificates(mustRead(t, out))
	if err != nil {
		t.Fatal(err)
	}
	serial := strings.ToUpper(certs[0].SerialNumber.Text(16))

	// Approval flow.
	must(0, "ca", "template", "set", "--dir", dir, "WebServer", "--approval")
	s := must(0, "ca", "issue", "--dir", dir, "--csr", csr, "--as", "alice", "--template", "WebServer", "--passphrase-file", pass, "-o", "json")
	var pending struct {
		RequestID int64 `json:"request_id"`
	}
	json.Unmarshal([]byte(s[:strings.LastIndex(s, "}")+1]), &pending)
	if pending.RequestID == 0 {
		t.Fatalf("no request id in %s", s)
	}
	list := must(0, "ca", "pending", "list", "--dir", dir)
	id := strings.TrimSpace(strings.Split(strings.Split(list, "\n")[1], " ")[0])
	// The approver sees every name that will be signed, the key, template and requester.
	show := must(0, "ca", "pending", "show", "--dir", dir, id)
	for _, want := range []string{"edge.contoso.com", "ECDSA P-256", "WebServer", "alice"} {
		if !strings.Contains(list, want) || !strings.Contains(show, want) {
			t.Errorf("pending list or show lacks %q:\n%s\n%s", want, list, show)
		}
	}
	if !strings.Contains(show, "pending") {
		t.Errorf("pending show lacks the status:\n%s", show)
	}
	must(2, "ca", "pending", "show", "--dir", dir, "999")
	must(2, "ca", "pending", "approve", "--dir", dir, "999", "--passphrase-file", pass)
	must(1, "ca", "pending", "approve", "--dir", dir, id, "--as", "alice", "--passphrase-file", pass)
	must(0, "ca", "pending", "approve", "--dir", dir, id, "--passphrase-file", pass, "--out", filepath.Join(tmp, "approved.cer"))
	must(2, "ca", "pending", "deny", "--dir", dir, id)

	must(2, "ca", "revoke", "--dir", dir, "--serial", "zz", "--reason", "keyCompromise")
	must(2, "ca", "revoke", "--dir", dir, "--serial", serial, "--reason", "bored")
	must(0, "ca", "revoke", "--dir", dir, "--serial", serial, "--reason", "keyCompromise")
	must(2, "ca", "revoke", "--dir", dir, "--serial", serial, "--reason", "keyCompromise")
	if !strings.Contains(must(0, "ca", "certs", "list", "--dir", dir, "--revoked"), serial) {
		t.Fatal("revoked certificate not listed")
	}
	crl := filepath.Join(tmp, "ca.crl.pem")
	must(0, "ca", "crl", "--dir", dir, "--out", crl, "--passphrase-file", pass)
	must(0, "ca", "crl", "--dir", dir, "--delta", "--out", filepath.Join(tmp, "delta.crl"), "--passphrase-file", pass)
	must(0, "ca", "crl", "--dir", dir, "--root", "--out", filepath.Join(tmp, "root.crl"), "--passphrase-file", pass)
	chain := filepath.Join(tmp, "chain.pem")
	must(0, "ca", "chain", "--dir", dir, "--out", chain)
	must(0, "ca", "chain", "--dir", dir, "--out", filepath.Join(tmp, "chain.p7b"))
	must(2, "ca", "chain", "--dir", dir, "--out", filepath.Join(tmp, "chain.txt"))
	if !strings.Contains(must(0, "ca", "audit", "--dir", dir), "forbidden") {
		t.Fatal("audit log lacks the refusal")
	}

	openssl := testtool.Path(t, "openssl")
	chainCerts, _ := certfmt.ParseCertificates(mustRead(t, chain))
	root := caWrite(t, tmp, "root.pem", string(certfmt.EncodeCertificatePEM(chainCerts[1])))
	inter := caWrite(t, tmp, "inter.pem", string(certfmt.EncodeCertificatePEM(chainCerts[0])))
	o, err := exec.Command(openssl, "verify", "-crl_check", "-CAfile", root, "-untrusted", inter, "-CRLfile", crl, out).CombinedOutput()
	if err == nil || !strings.Contains(string(o), "revoked") {
		t.Fatalf("revoked certificate accepted: %s", o)
	}
	if o, err := exec.Command(openssl, "verify", "-crl_check", "-CAfile", root, "-untrusted", inter, "-CRLfile", crl, filepath.Join(tmp, "approved.cer")).CombinedOutput(); err != nil {
		t.Fatalf("good certificate refused: %s", o)
	}
	if o, err := exec.Command(openssl, "pkcs7", "-inform", "DER", "-in", filepath.Join(tmp, "chain.p7b"), "-print_certs", "-noout").CombinedOutput(); err != nil || strings.Count(string(o), "subject=") != 2 {
		t.Fatalf("p7b: %v %s", err, o)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCACommandsHaveExamples(t *testing.T) {
	root := NewRootCmd(&Env{})
	for _, c := range root.Commands() {
		if c.Name() != "ca" {
			continue
		}
		var check func(cmd *cobraCommand)
		check = func(cmd *cobraCommand) {
			if cmd.Runnable() && cmd.Example == "" {
				t.Errorf("%s has no example", cmd.CommandPath())
			}
			for _, sub := range cmd.Commands() {
				check(sub)
			}
		}
		check(c)
	}
}

type cobraCommand = cobra.Command
