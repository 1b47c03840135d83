package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"

	"edgecert/internal/db"
)

// sanStrings lists subject alternative names as shown to an approver.
func sanStrings(dns []string, ips []net.IP, emails []string, uris []*url.URL) []string {
	out := append([]string{}, dns...)
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	out = append(out, emails...)
	for _, u := range uris {
		out = append(out, u.String())
	}
	return out
}

// keyName describes a public key: "RSA 2048", "ECDSA P-256".
func keyName(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// describeCert sets the names and key of res from its certificate.
func describeCert(res *Result, c *x509.Certificate) {
	res.Names = sanStrings(c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs)
	res.Key = keyName(c.PublicKey)
}

// describePending sets the names and key of a pending request's result
// from its stored request; a request that no longer parses shows none.
func describePending(res *Result, r *db.Request) {
	if r.Status != db.StatusPending || len(r.CSR) == 0 {
		return
	}
	req, err := x509.ParseCertificateRequest(r.CSR)
	if err != nil {
		return
	}
	res.Names = sanStrings(req.DNSNames, req.IPAddresses, req.EmailAddresses, req.URIs)
	res.Key = keyName(req.PublicKey)
}
