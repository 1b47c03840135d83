package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgecert/internal/certfmt"
	"edgecert/internal/store"
)

// TestStoreImportPFXWithStrangers: `store import` of a .pfx that carries
// unrelated self-signed certificates next to the leaf's chain adds only
// the chain's root, names it in a warning, lists the strangers as not
// imported, and imports them only with --all-certificates.
func TestStoreImportPFXWithStrangers(t *testing.T) {
	ca := newTestCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := ca.leafFor(t, key.Public())
	var strangers []*x509.Certificate
	for i := range 5 {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: fmt.Sprintf("Stranger %d", i)},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		strangers = append(strangers, c)
	}
	data, err := certfmt.EncodePFX(rand.Reader, &certfmt.PFX{Key: key, Leaf: leaf, CA: append([]*x509.Certificate{ca.root, ca.inter}, strangers...)}, "Secr3t!", certfmt.PFXModern, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pfx := writeFile(t, dir, "edge.pfx", data)
	pw := writeFile(t, dir, "pw.txt", []byte("Secr3t!\n"))

	st := filepath.Join(dir, "store")
	out, errs, code := runStoreCLI(t, "store", "import", "--store", st, "--password-file", pw, pfx)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(errs, "warning: added a trusted root: CN=CLI Test Root") || strings.Count(errs, "trusted root") != 1 {
		t.Fatalf("stderr does not name exactly the one root added:\n%s", errs)
	}
	if !strings.Contains(errs, "5 certificate(s)") || strings.Count(out, "not imported") != 5 {
		t.Fatalf("the strangers are not reported:\n%s\n%s", out, errs)
	}
	roots := mustRun(t, "store", "list", "--store", st, "--location", "root")
	if strings.Contains(roots, "Stranger") || !strings.Contains(roots, "CLI Test Root") {
		t.Fatalf("root:\n%s", roots)
	}

	st2 := filepath.Join(dir, "store2")
	var res store.ImportResult
	if err := json.Unmarshal([]byte(mustRun(t, "store", "import", "--store", st2, "--password-file", pw, "--all-certificates", "-o", "json", pfx)), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.RootsAdded()) != 6 || len(res.Excluded) != 0 {
		t.Fatalf("--all-certificates: %d roots added, %d excluded", len(res.RootsAdded()), len(res.Excluded))
	}
}
