package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"

	"edgecert/internal/db"
)

var oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// OCSP answers a DER OCSP request (RFC 6960) from the database, signed by
// the issuing CA itself. A request for another issuer gets an
// "unauthorized" response; an unknown serial is "unknown". The request's
// nonce is echoed.
func (e *Engine) OCSP(ctx context.Context, raw []byte) ([]byte, error) {
	if e.signer == nil {
		return nil, fmt.Errorf("the CA was opened without its key: %w", ErrBadRequest)
	}
	req, err := ocsp.ParseRequest(raw)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, fmt.Errorf("malformed OCSP request: %v: %w", err, ErrBadRequest)
	}
	if !e.ocspIssuerMatches(req) {
		return ocsp.UnauthorizedErrorResponse, nil
	}
	// ocsp.CreateResponse sets producedAt to the wall clock truncated to the
	// minute; thisUpdate must not be later (zlint e_this_update_not_after_produced_at).
	this := e.now().UTC().Truncate(time.Minute)
	if wall := time.Now().UTC().Truncate(time.Minute); this.After(wall) {
		this = wall
	}
	tmpl := ocsp.Response{SerialNumber: req.SerialNumber, ThisUpdate: this, NextUpdate: this.Add(4 * time.Hour),
		IssuerHash: req.HashAlgorithm, Status: ocsp.Good}
	c, err := e.db.Certificate(ctx, serialHex(req.SerialNumber))
	switch {
	case errors.Is(err, db.ErrNotFound):
		tmpl.Status = ocsp.Unknown
	case err != nil:
		return ocsp.TryLaterErrorResponse, wrapDB(err)
	case c.Revoked:
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, c.RevokedAt.UTC(), c.Reason
	}
	if nonce := ocspNonce(raw); nonce != nil {
		tmpl.ExtraExtensions = []pkix.Extension{*nonce}
	}
	return ocsp.CreateResponse(e.issuer, e.issuer, tmpl, e.signer)
}

// ocspIssuerMatches checks the request's issuer name and key hashes.
func (e *Engine) ocspIssuerMatches(req *ocsp.Request) bool {
	h := req.HashAlgorithm
	if h == 0 || !h.Available() {
		h = crypto.SHA1
	}
	nh := h.New()
	nh.Write(e.issuer.RawSubject)
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(e.issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return false
	}
	kh := h.New()
	kh.Write(spki.Key.Bytes)
	return bytes.Equal(nh.Sum(nil), req.IssuerNameHash) && bytes.Equal(kh.Sum(nil), req.IssuerKeyHash)
}

var _ = sha1.Size

// ocspNonce extracts the nonce extension of a DER OCSP request.
func ocspNonce(raw []byte) *pkix.Extension {
	var r struct {
		TBS struct {
			Version   int           `asn1:"explicit,tag:0,default:0,optional"`
			Requestor asn1.RawValue `asn1:"explicit,tag:1,optional"`
			List      asn1.RawValue
			Exts      []pkix.Extension `asn1:"explicit,tag:2,optional"`
		}
		Sig asn1.RawValue `asn1:"explicit,tag:0,optional"`
	}
	if _, err := asn1.Unmarshal(raw, &r); err != nil {
		return nil
	}
	for _, ext := range r.TBS.Exts {
		if ext.Id.Equal(oidOCSPNonce) && len(ext.Value) <= 128 {
			return &pkix.Extension{Id: oidOCSPNonce, Value: ext.Value}
		}
	}
	return nil
}

var _ = x509.Certificate{}
