package ca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"

	"edgecert/internal/db"
)

var oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}

// maxOCSPRequests bounds the certificates one OCSP request may ask about.
const maxOCSPRequests = 64

// OCSP answers a DER OCSP request (RFC 6960) from the database, signed by
// the issuing CA itself, with one answer for each certificate it asks
// about (at most maxOCSPRequests). A request about a certificate of another
// issuer gets an "unauthorized" response; an unknown serial is "unknown".
// The request's nonce is echoed. While the database does not answer, a
// serial this process looked up (or revoked) within the responses'
// validity is answered with what it knew then, thisUpdate being when it
// knew it; if any other serial is asked about, the answer is "tryLater".
func (e *Engine) OCSP(ctx context.Context, raw []byte) ([]byte, error) {
	if e.signer == nil {
		return nil, fmt.Errorf("the CA was opened without its key: %w", ErrBadRequest)
	}
	ids, err := parseOCSPRequest(raw)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, fmt.Errorf("malformed OCSP request: %v: %w", err, ErrBadRequest)
	}
	for _, id := range ids {
		if !e.ocspIssuerMatches(id) {
			return ocsp.UnauthorizedErrorResponse, nil
		}
	}
	// producedAt and thisUpdate are the same instant, truncated to the
	// second, so that thisUpdate is never after producedAt (zlint).
	now := e.now().UTC().Truncate(time.Second)
	singles := make([]ocspSingle, 0, len(ids))
	for _, id := range ids {
		single := ocspSingle{CertID: ocspCertID{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: id.HashAlgorithm.Algorithm, Parameters: asn1.NullRawValue},
			NameHash: id.NameHash, IssuerKeyHash: id.IssuerKeyHash, SerialNumber: id.SerialNumber},
			ThisUpdate: now, NextUpdate: now.Add(ocspValidity)}
		var c *db.Cert
		serial := serialHex(id.SerialNumber)
		err := CheckSerialLength(id.SerialNumber)
		if err == nil {
			c, err = e.db.Certificate(ctx, serial)
		}
		switch {
		case errors.Is(err, db.ErrNotFound), errors.Is(err, ErrBadRequest):
			single.Unknown = true
		case err != nil:
			known, ok := e.ocspKnown.recall(serial, now)
			if !ok {
				return ocsp.TryLaterErrorResponse, wrapDB(err)
			}
			single.ThisUpdate, single.NextUpdate = known.checked, known.checked.Add(ocspValidity)
			if known.revoked {
				single.Revoked = ocspRevoked{RevocationTime: known.at, Reason: asn1.Enumerated(known.reason)}
			} else {
				single.Good = true
			}
		case c.Revoked:
			single.Revoked = ocspRevoked{RevocationTime: c.RevokedAt.UTC(), Reason: asn1.Enumerated(c.Reason)}
			e.ocspKnown.remember(serial, ocspStatus{checked: now, revoked: true, at: c.RevokedAt.UTC(), reason: c.Reason})
		default:
			single.Good = true
			e.ocspKnown.remember(serial, ocspStatus{checked: now})
		}
		singles = append(singles, single)
	}
	var exts []pkix.Extension
	if nonce := ocspNonce(raw); nonce != nil {
		exts = append(exts, *nonce)
	}
	return e.signOCSP(singles, now, exts)
}

// ocspRequest is an OCSPRequest (RFC 6960 section 4.1.1); x/crypto/ocsp
// reads only the first certificate of a request.
type ocspRequest struct {
	TBS struct {
		Version   int           `asn1:"explicit,tag:0,default:0,optional"`
		Requestor asn1.RawValue `asn1:"explicit,tag:1,optional"`
		List      []struct {
			CertID ocspCertID
			Exts   []pkix.Extension `asn1:"explicit,tag:0,optional"`
		}
		Exts []pkix.Extension `asn1:"explicit,tag:2,optional"`
	}
	Sig asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

// parseOCSPRequest returns the certificates a DER OCSP request asks about.
func parseOCSPRequest(raw []byte) ([]ocspCertID, error) {
	var r ocspRequest
	rest, err := asn1.Unmarshal(raw, &r)
	switch {
	case err != nil:
		return nil, err
	case len(rest) > 0:
		return nil, errors.New("trailing data")
	case len(r.TBS.List) == 0:
		return nil, errors.New("no certificate asked about")
	case len(r.TBS.List) > maxOCSPRequests:
		return nil, fmt.Errorf("%d certificates asked about, at most %d", len(r.TBS.List), maxOCSPRequests)
	}
	ids := make([]ocspCertID, 0, len(r.TBS.List))
	for _, one := range r.TBS.List {
		if _, ok := ocspHashes[one.CertID.HashAlgorithm.Algorithm.String()]; !ok || one.CertID.SerialNumber == nil {
			return nil, fmt.Errorf("unsupported hash algorithm %s", one.CertID.HashAlgorithm.Algorithm)
		}
		ids = append(ids, one.CertID)
	}
	return ids, nil
}

// ocspHashes are the CertID hash algorithms the responder understands.
var ocspHashes = map[string]crypto.Hash{
	"1.3.14.3.2.26":          crypto.SHA1,
	"2.16.840.1.101.3.4.2.1": crypto.SHA256,
	"2.16.840.1.101.3.4.2.2": crypto.SHA384,
	"2.16.840.1.101.3.4.2.3": crypto.SHA512,
}

// ocspValidity is how long an OCSP answer is valid (its nextUpdate).
const ocspValidity = 4 * time.Hour

// ocspMemoryMax bounds the serials whose last known status is kept.
const ocspMemoryMax = 100_000

// ocspStatus is what the database said of a serial, and when.
type ocspStatus struct {
	checked time.Time
	revoked bool
	at      time.Time
	reason  int
}

// ocspMemory keeps the last known status of the serials asked for, to
// answer while the database is away.
type ocspMemory struct {
	mu sync.Mutex
	m  map[string]ocspStatus
}

func (o *ocspMemory) remember(serial string, st ocspStatus) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil || len(o.m) >= ocspMemoryMax {
		o.m = make(map[string]ocspStatus) // start again rather than grow
	}
	o.m[serial] = st
}

// recall returns a status known within the answers' validity.
func (o *ocspMemory) recall(serial string, now time.Time) (ocspStatus, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	st, ok := o.m[serial]
	if !ok || !now.Before(st.checked.Add(ocspValidity)) {
		return ocspStatus{}, false
	}
	return st, true
}

// OCSP structures (RFC 6960 section 4.2.1); x/crypto/ocsp cannot write
// response extensions, which the nonce needs.
type ocspCertID struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	NameHash      []byte
	IssuerKeyHash []byte
	SerialNumber  *big.Int
}

type ocspRevoked struct {
	RevocationTime time.Time       `asn1:"generalized"`
	Reason         asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

type ocspSingle struct {
	CertID     ocspCertID
	Good       asn1.Flag   `asn1:"tag:0,optional"`
	Revoked    ocspRevoked `asn1:"tag:1,optional"`
	Unknown    asn1.Flag   `asn1:"tag:2,optional"`
	ThisUpdate time.Time   `asn1:"generalized"`
	NextUpdate time.Time   `asn1:"generalized,explicit,tag:0,optional"`
}

type ocspResponseData struct {
	Version     int `asn1:"optional,default:0,explicit,tag:0"`
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []ocspSingle
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type ocspBasic struct {
	TBS       asn1.RawValue
	Algorithm asn1.RawValue
	Signature asn1.BitString
}

type ocspResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

type ocspResponse struct {
	Status   asn1.Enumerated
	Response ocspResponseBytes `asn1:"explicit,tag:0,optional"`
}

var oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// signOCSP builds and signs a successful basic OCSP response, the issuing
// CA being the responder (by name).
func (e *Engine) signOCSP(singles []ocspSingle, producedAt time.Time, exts []pkix.Extension) ([]byte, error) {
	tbs, err := asn1.Marshal(ocspResponseData{
		ResponderID: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: e.issuer.RawSubject},
		ProducedAt:  producedAt, Responses: singles, Extensions: exts,
	})
	if err != nil {
		return nil, err
	}
	alg, err := sigAlgorithmID(e.signer.Public())
	if err != nil {
		return nil, err
	}
	h := sigHash(e.signer.Public())
	d := h.New()
	d.Write(tbs)
	sig, err := e.signer.Sign(e.rand, d.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("signing the OCSP response: %w", err)
	}
	basic, err := asn1.Marshal(ocspBasic{TBS: asn1.RawValue{FullBytes: tbs}, Algorithm: asn1.RawValue{FullBytes: alg},
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(ocspResponse{Response: ocspResponseBytes{ResponseType: oidOCSPBasic, Response: basic}})
}

// ocspIssuerMatches checks a CertID's issuer name and key hashes.
func (e *Engine) ocspIssuerMatches(id ocspCertID) bool {
	h := ocspHashes[id.HashAlgorithm.Algorithm.String()]
	if h == 0 || !h.Available() {
		return false
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
	return bytes.Equal(nh.Sum(nil), id.NameHash) && bytes.Equal(kh.Sum(nil), id.IssuerKeyHash)
}

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
