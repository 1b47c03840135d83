package ca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
	"edgecert/internal/db"
)

// Files of the CA's own web server certificate in the CA directory.
const (
	serverCertFile = "server.crt" // PEM: the leaf, then the issuing CA
	serverKeyFile  = "server.key" // sealed with the CA passphrase, like the CA keys
)

// ServerRenewBefore is how long before its expiry the web server's kept
// certificate is replaced.
const ServerRenewBefore = 30 * 24 * time.Hour

// ServerCertificate returns the TLS certificate (PEM, with the issuing CA)
// and key (PKCS#8 PEM) of the CA's own web server. It reuses the pair kept
// in the CA directory while that certificate is this CA's, covers every
// name and address asked for, is not revoked and is more than
// ServerRenewBefore from its expiry; reusing writes nothing, so a CA on a
// full disk still starts. Otherwise it issues a new one, keeps it (the key
// sealed with the CA passphrase, 0600), and revokes the one it replaces
// with reason superseded. issued says which happened.
func (e *Engine) ServerCertificate(ctx context.Context, dnsNames []string, ips []string) (certPEM, keyPEM []byte, issued bool, err error) {
	if e.signer == nil {
		return nil, nil, false, fmt.Errorf("the CA was opened without its key: %w", ErrBadRequest)
	}
	old, key, why := e.keptServerCert(ctx, dnsNames, ips)
	if why == "" {
		keyPEM, err = certfmt.MarshalPrivateKeyPEM(key)
		if err != nil {
			return nil, nil, false, err
		}
		return e.serverChainPEM(old), keyPEM, false, nil
	}
	certPEM, keyPEM, err = e.IssueServerCertificate(ctx, dnsNames, ips)
	if err != nil {
		return nil, nil, false, err
	}
	k, err := certfmt.ParsePrivateKey(keyPEM)
	if err != nil {
		return nil, nil, false, err
	}
	sealed, err := certfmt.SealPrivateKey(e.rand, k, e.pass)
	if err != nil {
		return nil, nil, false, err
	}
	// The key first: a certificate without its key is never left behind
	// (a key without its certificate is replaced at the next start).
	if err := atomicfile.Write(filepath.Join(e.dir, serverKeyFile), sealed, 0o600); err != nil {
		return nil, nil, false, fmt.Errorf("keep the web server's key: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(e.dir, serverCertFile), certPEM, 0o644); err != nil {
		return nil, nil, false, fmt.Errorf("keep the web server's certificate: %w", err)
	}
	if old != nil {
		err := e.Revoke(ctx, &Principal{Name: serverRequester, Admin: true}, old.SerialNumber, "superseded")
		if err != nil && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
			return nil, nil, false, fmt.Errorf("revoke the replaced web server certificate %s: %w", serialHex(old.SerialNumber), err)
		}
	}
	return certPEM, keyPEM, true, nil
}

// serverRequester is the requester and revoker recorded for the web
// server's own certificates.
const serverRequester = "ca-server"

// keptServerCert reads the kept pair and says why it cannot be reused ("" when it can).
// cert is returned whenever it parses and is this CA's, so that it can be revoked.
func (e *Engine) keptServerCert(ctx context.Context, dnsNames, ips []string) (cert *x509.Certificate, key *ecdsa.PrivateKey, why string) {
	b, err := os.ReadFile(filepath.Join(e.dir, serverCertFile))
	if err != nil {
		return nil, nil, "no kept certificate"
	}
	certs, err := certfmt.ParseCertificates(b)
	if err != nil || len(certs) == 0 {
		return nil, nil, "unreadable certificate"
	}
	c := certs[0]
	if !bytes.Equal(c.RawIssuer, e.issuer.RawSubject) || c.CheckSignatureFrom(e.issuer) != nil {
		return nil, nil, "issued by another CA"
	}
	if e.now().Add(ServerRenewBefore).After(c.NotAfter) {
		return c, nil, "near expiry"
	}
	for _, n := range dnsNames {
		if !slices.Contains(c.DNSNames, n) {
			return c, nil, "name " + n + " missing"
		}
	}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil || !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return c, nil, "address " + s + " missing"
		}
	}
	kb, err := os.ReadFile(filepath.Join(e.dir, serverKeyFile))
	if err != nil || !certfmt.IsSealed(kb) {
		return c, nil, "no sealed key"
	}
	k, err := certfmt.OpenPrivateKey(kb, e.pass)
	if err != nil {
		return c, nil, "key does not open"
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() || !certfmt.PublicKeysEqual(ek.Public(), c.PublicKey) {
		return c, nil, "key does not match"
	}
	// A database that does not answer leaves the certificate in use; one
	// that says it is revoked or unknown does not.
	rec, err := e.db.Certificate(ctx, serialHex(c.SerialNumber))
	switch {
	case errors.Is(err, db.ErrNotFound):
		return nil, nil, "not in this CA's database"
	case err == nil && rec.Revoked:
		return nil, nil, "revoked"
	}
	return c, ek, ""
}

// serverChainPEM is the kept leaf with the issuing CA (none for a root-only CA).
func (e *Engine) serverChainPEM(c *x509.Certificate) []byte {
	chain := []*x509.Certificate{c}
	if !e.cfg.RootOnly {
		chain = append(chain, e.issuer)
	}
	return certfmt.EncodeCertificatePEM(chain...)
}
