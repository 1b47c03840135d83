// Package standinca is a minimal local certification authority that stands
// in for a public CA in the demo and in tests: it signs the requests apply
// leaves in its outbox the way a commercial CA does (the requested subject,
// names, key usage and extended key usage, a CRL distribution point) and
// answers with a PKCS#7 chain, as a public CA's "PKCS7" response format
// (R31). It is not the product's internal CA (package ca).
package standinca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"edgecert/internal/certfmt"
	"edgecert/internal/csr"
)

// CA is a one-level CA: a self-signed root that signs leaves directly.
type CA struct {
	Cert    *x509.Certificate
	key     crypto.Signer
	crlURL  string
	ocspURL string
	now     func() time.Time
	rand    io.Reader

	mu      sync.Mutex
	revoked []x509.RevocationListEntry
}

// Options configure Open.
type Options struct {
	Name   string // root common name
	CRLURL string // put in every issued certificate's CRL distribution point ("" = none)
	// OCSPURL is put in every issued certificate's AIA OCSP field ("" = none).
	OCSPURL string
	Now     func() time.Time
	Rand    io.Reader
}

// Open loads the CA in dir (ca.crt, ca.key), creating it when missing.
func Open(dir string, o Options) (*CA, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Name == "" {
		o.Name = "Stand-in Public Root CA"
	}
	c := &CA{crlURL: o.CRLURL, ocspURL: o.OCSPURL, now: o.Now, rand: o.Rand}
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if b, err := os.ReadFile(certPath); err == nil {
		certs, err := certfmt.ParseCertificates(b)
		if err != nil || len(certs) != 1 {
			return nil, fmt.Errorf("standinca: %s: %v", certPath, err)
		}
		kb, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, fmt.Errorf("standinca: %w", err)
		}
		if c.key, err = certfmt.ParsePrivateKey(kb); err != nil {
			return nil, fmt.Errorf("standinca: %s: %w", keyPath, err)
		}
		c.Cert = certs[0]
		return c, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), o.Rand)
	if err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	now := o.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(o.Rand), Subject: pkix.Name{CommonName: o.Name, Organization: []string{"Stand-in Public CA"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId: skid(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(o.Rand, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	keyPEM, err := certfmt.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	c.Cert, _ = x509.ParseCertificate(der)
	c.key = key
	return c, nil
}

func serial(r io.Reader) *big.Int {
	n, err := rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n.Add(n, big.NewInt(1))
}

func skid(pub crypto.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha1.Sum(der)
	return sum[:]
}

var (
	oidKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// SignOptions vary an issuance (tests use them to make bad certificates).
type SignOptions struct {
	Validity  time.Duration // default one year
	NotBefore time.Time     // default now - 1 h
	DNSNames  []string      // replaces the requested names when set
	EKU       []x509.ExtKeyUsage
}

// Sign issues a certificate for a PKCS#10 request (PEM or DER), copying the
// requested subject, names, key usage and extended key usage with their
// criticality.
func (c *CA) Sign(req []byte, o SignOptions) (*x509.Certificate, error) {
	r, err := csr.Parse(req)
	if err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	now := c.now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.Validity == 0 {
		o.Validity = 365 * 24 * time.Hour
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(c.rand), Subject: r.Subject, DNSNames: r.DNSNames,
		NotBefore: o.NotBefore, NotAfter: o.NotBefore.Add(o.Validity),
		SubjectKeyId: skid(r.PublicKey), AuthorityKeyId: c.Cert.SubjectKeyId, BasicConstraintsValid: true,
	}
	if len(o.DNSNames) > 0 {
		tmpl.DNSNames = o.DNSNames
	}
	if c.crlURL != "" {
		tmpl.CRLDistributionPoints = []string{c.crlURL}
	}
	if c.ocspURL != "" {
		tmpl.OCSPServer = []string{c.ocspURL}
	}
	hasEKU := false
	for _, e := range r.Extensions {
		switch {
		case e.Id.Equal(oidKeyUsage):
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
		case e.Id.Equal(oidExtKeyUsage) && o.EKU == nil:
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, e)
			hasEKU = true
		}
	}
	if o.EKU != nil {
		tmpl.ExtKeyUsage = o.EKU
	} else if !hasEKU {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(c.rand, tmpl, c.Cert, r.PublicKey, c.key)
	if err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	return x509.ParseCertificate(der)
}

// Response returns the PKCS#7 answer for leaf: the leaf and the root.
func (c *CA) Response(leaf *x509.Certificate) ([]byte, error) {
	return certfmt.EncodePKCS7([]*x509.Certificate{leaf, c.Cert})
}

// Revoke adds a certificate to the CRL.
func (c *CA) Revoke(cert *x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revoked = append(c.revoked, x509.RevocationListEntry{SerialNumber: cert.SerialNumber, RevocationTime: c.now()})
}

// OCSP answers a DER OCSP request (RFC 6960) for a certificate of this CA,
// signed by the CA itself.
func (c *CA) OCSP(reqDER []byte) ([]byte, error) {
	req, err := ocsp.ParseRequest(reqDER)
	if err != nil {
		return nil, fmt.Errorf("standinca: %w", err)
	}
	now := c.now()
	tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: req.SerialNumber, ThisUpdate: now.Add(-time.Minute).Truncate(time.Minute),
		NextUpdate: now.Add(time.Hour)}
	c.mu.Lock()
	for _, r := range c.revoked {
		if r.SerialNumber.Cmp(req.SerialNumber) == 0 {
			tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, r.RevocationTime, ocsp.Unspecified
		}
	}
	c.mu.Unlock()
	return ocsp.CreateResponse(c.Cert, c.Cert, tmpl, c.key)
}

// CRL returns a fresh DER CRL.
func (c *CA) CRL() ([]byte, error) {
	c.mu.Lock()
	entries := append([]x509.RevocationListEntry(nil), c.revoked...)
	c.mu.Unlock()
	now := c.now()
	if c.key == nil {
		return nil, errors.New("standinca: no key")
	}
	return x509.CreateRevocationList(c.rand, &x509.RevocationList{
		Number: big.NewInt(now.Unix()), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, c.Cert, c.key)
}
