package acmeserver

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"time"

	"edgecert/internal/db"
)

// revokeCert revokes a certificate (§7.6): signed by the account whose
// user the certificate was issued to (kid), or by the certificate's own
// key (jwk).
func (c *call) revokeCert() {
	ctx := c.r.Context()
	sv := c.s.svc
	req, err := c.verify(JWKOrKID, c.url(EndpointRevokeCert))
	if err != nil {
		c.fail(err)
		return
	}
	var body struct {
		Certificate string `json:"certificate"`
		Reason      *int   `json:"reason"`
	}
	if err := req.DecodePayload(&body); err != nil {
		c.fail(err)
		return
	}
	der, err := base64.RawURLEncoding.DecodeString(body.Certificate)
	if err != nil {
		c.fail(NewProblem(Malformed, "certificate is not base64url DER"))
		return
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		c.fail(NewProblem(Malformed, "the certificate cannot be parsed"))
		return
	}
	serial := strings.ToUpper(cert.SerialNumber.Text(16))
	stored, requester, revoked, err := sv.ca.Certificate(ctx, serial)
	if errors.Is(err, ErrNoCertificate) || (err == nil && !bytes.Equal(stored, der)) {
		p := NewProblem(Malformed, "this CA did not issue that certificate")
		p.Status = http.StatusNotFound
		c.fail(p)
		return
	}
	if err != nil {
		c.fail(err)
		return
	}
	var actor, how string
	if req.KID != "" {
		acct, err := c.account(ctx, req.KID)
		if err != nil {
			c.fail(ProblemFrom(err))
			return
		}
		if acct.User != requester || acct.User == UnboundUser {
			c.fail(NewProblem(Unauthorized, "the account may not revoke a certificate issued to another user"))
			return
		}
		actor, how = acct.User, "account "+acct.ID
	} else {
		if !sameKey(req.Key, cert.PublicKey) {
			c.fail(NewProblem(Unauthorized, "the request is not signed by the certificate's key"))
			return
		}
		actor, how = "acme:certificate-key", "certificate key"
	}
	if revoked {
		c.fail(NewProblem(AlreadyRevoked, "the certificate is already revoked"))
		return
	}
	reason := 0
	if body.Reason != nil {
		reason = *body.Reason
	}
	if err := sv.ca.Revoke(ctx, actor, serial, reason, how); err != nil {
		c.fail(err)
		return
	}
	c.replyBytes(http.StatusOK, "application/json", nil, "")
}

// certID is an RFC 9773 certificate identifier: the authority key
// identifier and the serial number, each base64url.
type certID struct {
	aki    []byte
	serial string // upper-case hex
}

func parseCertID(s string) (certID, error) {
	bad := NewProblem(Malformed, "%s is not a certificate identifier (base64url key identifier '.' base64url serial)", quoteShort(s))
	if len(s) > 256 {
		return certID{}, bad
	}
	a, b, ok := strings.Cut(s, ".")
	if !ok {
		return certID{}, bad
	}
	aki, err1 := base64.RawURLEncoding.DecodeString(a)
	ser, err2 := base64.RawURLEncoding.DecodeString(b)
	// The serial is the DER INTEGER's content octets: positive, minimal
	// (no leading zero octet unless the next one has its high bit set).
	if err1 != nil || err2 != nil || len(aki) == 0 || len(ser) == 0 || len(ser) > 21 || ser[0]&0x80 != 0 ||
		ser[0] == 0 && (len(ser) == 1 || ser[1]&0x80 == 0) {
		return certID{}, bad
	}
	return certID{aki: aki, serial: strings.ToUpper(new(big.Int).SetBytes(ser).Text(16))}, nil
}

// lookupCertID finds the certificate of a certificate identifier.
func (c *call) lookupCertID(ctx context.Context, s string) (*x509.Certificate, string, bool, error) {
	id, err := parseCertID(s)
	if err != nil {
		return nil, "", false, err
	}
	der, requester, revoked, err := c.s.svc.ca.Certificate(ctx, id.serial)
	if errors.Is(err, ErrNoCertificate) {
		return nil, "", false, notFound("certificate " + quoteShort(s))
	}
	if err != nil {
		return nil, "", false, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil || !bytes.Equal(cert.AuthorityKeyId, id.aki) {
		return nil, "", false, notFound("certificate " + quoteShort(s))
	}
	return cert, requester, revoked, nil
}

// renewalInfo answers RFC 9773's GET: the window in which to renew, the
// last third of the lifetime's middle (from 2/3 to 5/6 of it), or now for
// a revoked certificate.
func (c *call) renewalInfo(id string) {
	cert, _, revoked, err := c.lookupCertID(c.r.Context(), id)
	if err != nil {
		c.fail(err)
		return
	}
	life := cert.NotAfter.Sub(cert.NotBefore)
	start, end := cert.NotBefore.Add(life*2/3), cert.NotBefore.Add(life*5/6)
	if revoked {
		now := c.s.svc.now()
		start, end = now.Add(-time.Hour), now
	}
	var body struct {
		SuggestedWindow struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"suggestedWindow"`
	}
	body.SuggestedWindow.Start, body.SuggestedWindow.End = rfc3339(start), rfc3339(end)
	c.w.Header().Set("Retry-After", "21600")
	c.reply(http.StatusOK, body, "")
}

// checkReplaces checks an order's replaces (RFC 9773 §5): a certificate of
// this CA issued to the account's user, sharing a name with the order, not
// already replaced by another order.
func (c *call) checkReplaces(ctx context.Context, acct *db.ACMEAccount, replaces string, ids []Identifier) error {
	cert, requester, _, err := c.lookupCertID(ctx, replaces)
	if err != nil {
		return prefixed("replaces: ", err)
	}
	if requester != acct.User {
		return NewProblem(Unauthorized, "replaces: the certificate was issued to another user")
	}
	shared := false
	for _, id := range ids {
		for _, n := range cert.DNSNames {
			shared = shared || strings.EqualFold(n, id.Value)
		}
		for _, ip := range cert.IPAddresses {
			shared = shared || ip.String() == id.Value
		}
	}
	if !shared {
		return NewProblem(Malformed, "replaces: the order shares no identifier with the certificate it replaces")
	}
	other, err := c.s.svc.db.ACMEReplaced(ctx, replaces)
	if err != nil {
		return err
	}
	if other != "" {
		p := NewProblem(AlreadyReplaced, "the certificate is already replaced by order %s", c.url("order", other))
		p.Status = http.StatusConflict
		return p
	}
	return nil
}
