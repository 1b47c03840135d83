package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"edgecert/internal/db"
)

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
	return "unknown key type"
}

// describeCert sets the key of res from its certificate (its names are
// in res.SANs).
func describeCert(res *Result, c *x509.Certificate) {
	res.Key = keyName(c.PublicKey)
}

// describePending sets the key of a pending request's result from its
// stored request (its names, as they would be signed, are in res.SANs); a
// request that no longer parses shows none.
func describePending(res *Result, r *db.Request) {
	if r.Status != db.StatusPending || len(r.CSR) == 0 {
		return
	}
	req, err := parseCSRUnverified(r.CSR)
	if err != nil {
		return
	}
	res.Key = keyName(req.PublicKey)
}
