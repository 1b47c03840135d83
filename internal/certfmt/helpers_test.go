package certfmt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testChain is a root, an intermediate and a leaf with its key.
type testChain struct {
	Root, Inter, Leaf *x509.Certificate
	RootKey, InterKey crypto.Signer
	LeafKey           crypto.Signer
}

var (
	chainOnce sync.Once
	chainRSA  *testChain
	chainEC   *testChain
)

// chains returns shared test chains with an RSA and an ECDSA leaf.
func chains(t testing.TB) (*testChain, *testChain) {
	t.Helper()
	chainOnce.Do(func() {
		rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		root := mkCert(t, "Test Root CA", nil, rk, rk, true)
		inter := mkCert(t, "Test Issuing CA", root, ik, rk, true)
		lrsa, _ := rsa.GenerateKey(rand.Reader, 2048)
		lec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		chainRSA = &testChain{root, inter, mkCert(t, "sip.contoso.com", inter, lrsa, ik, false), rk, ik, lrsa}
		chainEC = &testChain{root, inter, mkCert(t, "edge.contoso.com", inter, lec, ik, false), rk, ik, lec}
	})
	return chainRSA, chainEC
}

var serial int64 = 100

// mkCert issues a certificate for key's public key signed by signer.
func mkCert(t testing.TB, cn string, parent *x509.Certificate, key, signer crypto.Signer, ca bool) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Contoso"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{cn}
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeFile writes data into the test's temp dir and returns the path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs a program and returns its combined output, failing t on error.
func run(t testing.TB, prog string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(prog, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(prog), args, err, out)
	}
	return out
}
