package store

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

var serial atomic.Int64

// pki is a root CA, an intermediate CA and helpers to issue leaves.
type pki struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
}

func newKey(t testing.TB, rsaBits int) crypto.Signer {
	t.Helper()
	if rsaBits > 0 {
		k, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl *x509.Certificate, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(1000 + serial.Add(1))
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newPKI makes a root and an intermediate CA (RSA when rsaBits > 0, else P-256).
func newPKI(t testing.TB, name string, rsaBits int) *pki {
	t.Helper()
	p := &pki{rootKey: newKey(t, rsaBits), interKey: newKey(t, rsaBits)}
	p.root = issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: name + " Root CA", Organization: []string{"Contoso"}},
		NotBefore: testNow.AddDate(-1, 0, 0), NotAfter: testNow.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, p.rootKey.Public(), p.rootKey)
	p.inter = issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: name + " Issuing CA", Organization: []string{"Contoso"}},
		NotBefore: testNow.AddDate(-1, 0, 0), NotAfter: testNow.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, p.root, p.interKey.Public(), p.rootKey)
	return p
}

// leaf issues a server certificate for pub from the intermediate.
func (p *pki) leaf(t testing.TB, pub crypto.PublicKey, cn string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	return issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: cn, Organization: []string{"Contoso"}},
		DNSNames:  []string{cn, "sip." + cn},
		NotBefore: testNow.AddDate(0, -1, 0), NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, p.inter, pub, p.interKey)
}

func openTest(t testing.TB, dir string, passphrase string) *Store {
	t.Helper()
	opts := Options{Now: func() time.Time { return testNow }, LockTimeout: 5 * time.Second}
	if passphrase != "" {
		opts.Passphrase = []byte(passphrase)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCheck(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Check(); err != nil {
		t.Fatalf("store check: %v", err)
	}
}

// treeHash describes every file under dir: path, mode and SHA-256.
func treeHash(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		line := rel + " " + fi.Mode().String()
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			line += " " + hex.EncodeToString(h[:]) + " " + fi.ModTime().String()
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func thumb(c *x509.Certificate) string { return sha1Hex(c.Raw) }
