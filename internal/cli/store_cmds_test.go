package cli

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
	"edgecert/internal/store"
)

// runStoreCLI runs edgecert in-process (no terminal) and returns stdout,
// stderr and the exit code.
func runStoreCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// mustRun runs edgecert and fails the test unless it exits 0.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := runStoreCLI(t, args...)
	if code != ExitOK {
		t.Fatalf("edgecert %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// testCA is a root and an issuing CA for CLI tests.
type testCA struct {
	root, inter *x509.Certificate
	interKey    crypto.Signer
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	mk := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
		tmpl.SerialNumber, _ = rand.Int(rand.Reader, big.NewInt(1<<62))
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	ca := &testCA{interKey: ik}
	ca.root = mk(&x509.Certificate{Subject: pkix.Name{CommonName: "CLI Test Root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, rk.Public(), rk)
	ca.inter = mk(&x509.Certificate{Subject: pkix.Name{CommonName: "CLI Test Issuing CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(4, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, ca.root, ik.Public(), rk)
	return ca
}

// issue signs the request in file csrPath and returns the certificate.
func (ca *testCA) issue(t *testing.T, csrPath string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(csrPath)
	if err != nil {
		t.Fatal(err)
	}
	req, err := csr.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: req.Subject, DNSNames: req.DNSNames,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, req.PublicKey, ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// leafFor issues a server certificate for pub.
func (ca *testCA) leafFor(t *testing.T, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "stranger.contoso.com"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().AddDate(1, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.inter, pub, ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func hashTree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		h := sha256.Sum256(b)
		fi, _ := d.Info()
		lines = append(lines, p+" "+hex.EncodeToString(h[:])+" "+fi.Mode().String())
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestStoreWorkflow walks the wizard's steps through the CLI: request,
// view, import of the chain and the issued certificate, list, show,
// export as .pfx and .p7b, assign, delete.
func TestStoreWorkflow(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	ca := newTestCA(t)
	reqPath := filepath.Join(dir, "edge.csr")
	mustRun(t, "request", "new", "--store", st, "--cn", "sip.contoso.com", "--san", "webcon.contoso.com,sip.fabrikam.com",
		"--key", "p256", "--exportable", "--friendly-name", "Edge External", "--template", "WebServer",
		"--org", "Contoso", "--country", "us", "--out", reqPath)

	var info csr.Info
	if err := json.Unmarshal([]byte(mustRun(t, "request", "show", reqPath, "-o", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if info.Template != "WebServer" || strings.Join(info.DNSNames, ",") != "sip.contoso.com,webcon.contoso.com,sip.fabrikam.com" ||
		!info.KeyUsageCritical || info.EKUCritical || !strings.Contains(info.Subject, "C=US") {
		t.Fatalf("request show: %+v", info)
	}

	chain, _ := certfmt.EncodePKCS7([]*x509.Certificate{ca.inter, ca.root})
	mustRun(t, "store", "import", "--store", st, writeFile(t, dir, "chain.p7b", chain))
	leaf := ca.issue(t, reqPath, time.Now().AddDate(1, 0, 0))
	out := mustRun(t, "store", "import", "--store", st, writeFile(t, dir, "edge.cer", leaf.Raw))
	if !strings.Contains(out, "my") || !strings.Contains(out, "exportable") {
		t.Fatalf("import output:\n%s", out)
	}

	var entries []store.Entry
	if err := json.Unmarshal([]byte(mustRun(t, "store", "list", "--store", st, "-o", "json")), &entries); err != nil {
		t.Fatal(err)
	}
	tp := certfmt.ThumbprintSHA1(leaf)
	var mine *store.Entry
	for i := range entries {
		if entries[i].Thumbprint == tp {
			mine = &entries[i]
		}
	}
	if len(entries) != 3 || mine == nil || mine.Location != store.My || !mine.HasKey || mine.FriendlyName != "Edge External" {
		t.Fatalf("list: %+v", entries)
	}

	// Thumbprints as Windows shows them: lower case with spaces.
	spaced := strings.ToLower(tp[:8] + " " + tp[8:])
	if out := mustRun(t, "store", "show", "--store", st, "--thumbprint", spaced); !strings.Contains(out, "CN=CLI Test Root") {
		t.Fatalf("show has no certification path:\n%s", out)
	}

	pw := writeFile(t, dir, "pw.txt", []byte("Secr3t!\n"))
	pfxPath := filepath.Join(dir, "edge.pfx")
	if _, errs, code := runStoreCLI(t, "store", "export", "--store", st, "--thumbprint", tp, "--out", pfxPath); code != ExitUsage || !strings.Contains(errs, "--password-file") {
		t.Fatalf("pfx export without a password and no terminal: exit %d, %s", code, errs)
	}
	mustRun(t, "store", "export", "--store", st, "--thumbprint", tp, "--out", pfxPath, "--password-file", pw)
	if fi, _ := os.Stat(pfxPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("pfx mode %v", fi.Mode())
	}
	data, _ := os.ReadFile(pfxPath)
	pfx, err := certfmt.DecodePFX(data, "Secr3t!")
	if err != nil || pfx.FriendlyName != "Edge External" || len(pfx.CA) != 2 {
		t.Fatalf("exported pfx: %+v %v", pfx, err)
	}
	emptyPath := filepath.Join(dir, "empty.pfx")
	mustRun(t, "store", "export", "--store", st, "--thumbprint", tp, "--out", emptyPath, "--insecure-empty-password")
	if data, _ := os.ReadFile(emptyPath); data == nil {
		t.Fatal("no file")
	} else if _, err := certfmt.DecodePFX(data, ""); err != nil {
		t.Fatalf("--insecure-empty-password: %v", err)
	}
	p7bPath := filepath.Join(dir, "edge.p7b")
	mustRun(t, "store", "export", "--store", st, "--thumbprint", tp, "--out", p7bPath)
	if b, _ := os.ReadFile(p7bPath); len(mustCerts(t, b)) != 3 {
		t.Fatal("p7b without the whole chain")
	}
	mustRun(t, "store", "export-chain", "--store", st, "--out", filepath.Join(dir, "ca.p7b"))

	// A second server imports the PFX.
	st2 := filepath.Join(dir, "store2")
	mustRun(t, "store", "import", "--store", st2, "--password-file", pw, pfxPath)
	mustRun(t, "assign", "--store", st2, "--usage", "AccessEdgeExternal", "--thumbprint", tp)

	mustRun(t, "assign", "--store", st, "--usage", "Internal", "--thumbprint", tp)
	var as []store.Assignment
	if err := json.Unmarshal([]byte(mustRun(t, "assign", "--store", st, "--list", "-o", "json")), &as); err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].Usage != "Internal" || as[0].Thumbprint != tp {
		t.Fatalf("assignments: %+v", as)
	}
	if _, errs, code := runStoreCLI(t, "store", "delete", "--store", st, "--thumbprint", tp); code != ExitUsage || !strings.Contains(errs, "assigned to Internal") {
		t.Fatalf("delete of an assigned certificate: exit %d, %s", code, errs)
	}
	mustRun(t, "store", "export", "--store", st, "--thumbprint", tp, "--out", filepath.Join(dir, "again.pfx"), "--password-file", pw, "--legacy", "--delete-key")
	if _, errs, code := runStoreCLI(t, "store", "export", "--store", st, "--thumbprint", tp, "--out", filepath.Join(dir, "x.pfx"), "--password-file", pw); code != ExitUsage || !strings.Contains(errs, "no private key") {
		t.Fatalf("export after --delete-key: exit %d, %s", code, errs)
	}
	mustRun(t, "store", "check", "--store", st)
}

func mustCerts(t *testing.T, p7b []byte) []*x509.Certificate {
	t.Helper()
	certs, err := certfmt.DecodePKCS7(p7b)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

// TestStoreUsageErrors: bad input exits 2 with one clear line and leaves
// the store unchanged.
func TestStoreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	ca := newTestCA(t)
	reqPath := filepath.Join(dir, "fe.csr")
	mustRun(t, "request", "new", "--store", st, "--cn", "fe.contoso.net", "--key", "p256", "--out", reqPath)
	leaf := ca.issue(t, reqPath, time.Now().AddDate(1, 0, 0))
	mustRun(t, "store", "import", "--store", st, writeFile(t, dir, "fe.cer", leaf.Raw))
	expired := ca.issue(t, reqPath, time.Now().Add(-time.Hour))
	// A certificate for the same key joins that key (renewal with the same key).
	mustRun(t, "store", "import", "--store", st, writeFile(t, dir, "expired.cer", expired.Raw))
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	foreign := ca.leafFor(t, stranger.Public())
	tp := certfmt.ThumbprintSHA1(leaf)
	pw := writeFile(t, dir, "pw", []byte("pw"))
	garbage := writeFile(t, dir, "garbage.pfx", []byte("not a pfx at all"))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"garbage import", []string{"store", "import", "--store", st, garbage}, "not a certificate"},
		{"missing file", []string{"store", "import", "--store", st, filepath.Join(dir, "nope.cer")}, "no such file"},
		{"empty file", []string{"store", "import", "--store", st, writeFile(t, dir, "empty.cer", nil)}, "not a certificate"},
		{"certificate without key", []string{"store", "import", "--store", st, writeFile(t, dir, "foreign.pem", certfmt.EncodeCertificatePEM(ca.root, foreign))}, "no pending request"},
		{"expired", []string{"assign", "--store", st, "--usage", "Internal", "--thumbprint", certfmt.ThumbprintSHA1(expired)}, "expired on"},
		{"non-exportable key", []string{"store", "export", "--store", st, "--thumbprint", tp, "--out", filepath.Join(dir, "fe.pfx"), "--password-file", pw}, "request the certificate again with an exportable key"},
		{"non-exportable key, no password", []string{"store", "export", "--store", st, "--thumbprint", tp, "--out", filepath.Join(dir, "fe.pfx")}, "not exportable"},
		{"unknown extension", []string{"store", "export", "--store", st, "--thumbprint", tp, "--out", filepath.Join(dir, "fe.jks")}, "cannot tell the format"},
		{"unknown thumbprint", []string{"store", "show", "--store", st, "--thumbprint", strings.Repeat("A", 40)}, "no certificate or request"},
		{"short thumbprint", []string{"store", "show", "--store", st, "--thumbprint", "ABC"}, "40 hexadecimal"},
		{"unknown usage", []string{"assign", "--store", st, "--usage", "Edge", "--thumbprint", tp}, "unknown usage"},
		{"chain not in root", []string{"assign", "--store", st, "--usage", "Internal", "--thumbprint", tp}, "chain"},
		{"assign needs both", []string{"assign", "--store", st, "--usage", "Internal"}, "required"},
		{"bad location", []string{"store", "list", "--store", st, "--location", "personal"}, "unknown store location"},
		{"bad output", []string{"store", "list", "--store", st, "-o", "xml"}, "unknown output format"},
		{"request without name", []string{"request", "new", "--store", st}, "--cn"},
		{"bad key", []string{"request", "new", "--store", st, "--cn", "x", "--key", "rsa1024"}, "--key"},
		{"bad eku", []string{"request", "new", "--store", st, "--cn", "x", "--eku", "codeSigning"}, "unknown extended key usage"},
		{"duplicate friendly name", []string{"request", "new", "--store", st, "--cn", "x", "--key", "p256", "--friendly-name", "A", "--out", filepath.Join(dir, "a.csr")}, ""},
		{"request show garbage", []string{"request", "show", garbage}, "garbage.pfx"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hashTree(t, st)
			_, errs, code := runStoreCLI(t, tc.args...)
			if tc.want == "" { // a setup step that must succeed
				if code != ExitOK {
					t.Fatalf("exit %d: %s", code, errs)
				}
				_, errs, code = runStoreCLI(t, tc.args...)
			}
			if code != ExitUsage {
				t.Fatalf("exit %d, want 2; stderr:\n%s", code, errs)
			}
			if strings.Count(strings.TrimSpace(errs), "\n") != 0 || !strings.HasPrefix(errs, "edgecert: error: ") {
				t.Fatalf("not one clear line:\n%s", errs)
			}
			if tc.want != "" && !strings.Contains(errs, tc.want) {
				t.Fatalf("stderr %q does not say %q", errs, tc.want)
			}
			if tc.want != "" && hashTree(t, st) != before {
				t.Fatal("the store changed")
			}
		})
	}
}

// TestStoreFromEnvironment: without --store the store comes from
// EDGECERT_STORE, and the passphrase file from EDGECERT_STORE_PASSPHRASE_FILE.
func TestStoreFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "envstore")
	t.Setenv(envStore, st)
	t.Setenv(envStorePassphrase, writeFile(t, dir, "pass", []byte("store secret\n")))
	mustRun(t, "request", "new", "--cn", "env.contoso.com", "--key", "p256", "--out", filepath.Join(dir, "r.csr"))
	keys, _ := filepath.Glob(filepath.Join(st, "keys", "*.key"))
	if len(keys) != 1 {
		t.Fatalf("key files in $EDGECERT_STORE: %v", keys)
	}
	b, _ := os.ReadFile(keys[0])
	if !certfmt.IsSealed(b) {
		t.Fatal("the key is not sealed with the passphrase from the environment")
	}
	out := mustRun(t, "store", "list", "--location", "request")
	if !strings.Contains(out, "CN=env.contoso.com") {
		t.Fatalf("list:\n%s", out)
	}
}

// TestStoreHelpHasExamples: every command of the group documents an example.
func TestStoreHelpHasExamples(t *testing.T) {
	for _, args := range [][]string{
		{"store", "import"}, {"store", "list"}, {"store", "show"}, {"store", "export"}, {"store", "export-chain"},
		{"store", "delete"}, {"store", "check"}, {"assign"},
		{"request", "new"}, {"request", "show"}, {"request", "submit"}, {"request", "retrieve"},
	} {
		out := mustRun(t, append(args, "--help")...)
		if !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help has no example", strings.Join(args, " "))
		}
	}
}

// TestStoreMustExist: reading commands do not create a store where a
// mistyped --store points, nor does an import of a bad file.
func TestStoreMustExist(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo")
	for _, args := range [][]string{
		{"store", "list", "--store", missing},
		{"store", "import", "--store", missing, writeFile(t, t.TempDir(), "bad.cer", []byte("garbage"))},
		{"store", "show", "--store", missing, "--thumbprint", strings.Repeat("A", 40)},
		{"assign", "--store", missing, "--list"},
	} {
		_, errs, code := runStoreCLI(t, args...)
		want := "does not exist"
		if args[1] == "import" {
			want = "not a certificate"
		}
		if code != ExitUsage || !strings.Contains(errs, want) {
			t.Fatalf("%v: exit %d, %s", args, code, errs)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Fatalf("%v created the store", args)
		}
	}
}

// TestAssignStage: A/V staging with an effective date through the CLI.
func TestAssignStage(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "store")
	ca := newTestCA(t)
	chain, _ := certfmt.EncodePKCS7([]*x509.Certificate{ca.inter, ca.root})
	var tps []string
	for _, cn := range []string{"av1.contoso.com", "av2.contoso.com"} {
		req := filepath.Join(dir, cn+".csr")
		mustRun(t, "request", "new", "--store", st, "--cn", cn, "--key", "p256", "--exportable", "--out", req)
		leaf := ca.issue(t, req, time.Now().AddDate(1, 0, 0))
		mustRun(t, "store", "import", "--store", st, writeFile(t, dir, cn+".cer", leaf.Raw))
		tps = append(tps, certfmt.ThumbprintSHA1(leaf))
	}
	mustRun(t, "store", "import", "--store", st, writeFile(t, dir, "chain.p7b", chain))
	mustRun(t, "assign", "--store", st, "--usage", "AudioVideoAuthentication", "--thumbprint", tps[0])
	eff := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	mustRun(t, "assign", "--store", st, "--usage", "AudioVideoAuthentication", "--thumbprint", tps[1], "--effective", eff)
	var as []store.Assignment
	json.Unmarshal([]byte(mustRun(t, "assign", "--store", st, "--list", "-o", "json")), &as)
	if len(as) != 1 || as[0].Thumbprint != tps[0] || as[0].Staged != tps[1] {
		t.Fatalf("assignments: %+v", as)
	}
	if _, errs, code := runStoreCLI(t, "assign", "--store", st, "--usage", "Internal", "--thumbprint", tps[1], "--effective", eff); code != ExitUsage || !strings.Contains(errs, "R80") {
		t.Fatalf("staging Internal: exit %d, %s", code, errs)
	}
	if out := mustRun(t, "assign", "--store", st, "--list", "-o", "yaml"); !strings.Contains(out, "staged: "+tps[1]) {
		t.Fatalf("yaml:\n%s", out)
	}
}

func TestKeyWord(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    store.Entry
		want string
	}{
		{"no key", store.Entry{}, "-"},
		{"exportable key", store.Entry{HasKey: true, Exportable: true}, "exportable"},
		{"key not exportable", store.Entry{HasKey: true}, "non-exportable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := keyWord(tc.e); got != tc.want || strings.Contains(got, " ") {
				t.Fatalf("keyWord = %q, want %q", got, tc.want)
			}
		})
	}
}
