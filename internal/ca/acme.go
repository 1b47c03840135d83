package ca

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"time"

	"edgecert/internal/db"
)

// What the ACME server (internal/acmeserver, wired by internal/enroll)
// asks of the engine: External Account Binding keys, the names an order may
// carry, issuance that an order finds again after a crash, and revocation
// by a certificate's holder.

// EABKey is an External Account Binding key as `ca user acme-eab` prints
// it: the key id and the HMAC key, both base64url.
type EABKey struct {
	KID     string `json:"kid"`
	HMACKey string `json:"hmac_key"`
}

// NewEABKey creates an External Account Binding key for user: ACME accounts
// created with it act as user. It is audited; the HMAC key is stored (the
// server needs it to check the binding) in the CA database, whose files are
// private to the CA.
func (e *Engine) NewEABKey(ctx context.Context, user string) (*EABKey, error) {
	if u, err := e.db.User(ctx, user); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, fmt.Errorf("user %q %w", user, ErrNotFound)
		}
		return nil, wrapDB(err)
	} else if u.Disabled {
		return nil, fmt.Errorf("user %s is disabled: %w", user, ErrConflict)
	}
	b := make([]byte, 16+32)
	if _, err := io.ReadFull(e.rand, b); err != nil {
		return nil, err
	}
	k := &EABKey{KID: "eab-" + base64.RawURLEncoding.EncodeToString(b[:16]), HMACKey: base64.RawURLEncoding.EncodeToString(b[16:])}
	if err := e.db.PutEABKey(ctx, k.KID, user, b[16:], e.now()); err != nil {
		return nil, wrapDB(err)
	}
	return k, wrapDB(e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: operatorName(), Action: "acme-eab-create", Subject: user, Result: "ok",
		Detail: "key id " + k.KID}))
}

// ACMETemplateInfo is what the ACME server needs of a template.
type ACMETemplateInfo struct {
	Name string
	// Served: the template issues without approval to end entities, so
	// an ACME order can be finalized at once.
	Served bool
	// Preauthorizes: the template pre-authorizes its topology's names
	// (ACMEPreauthorized); false spares an order that look-up.
	Preauthorizes bool
}

// ACMETemplate looks a template up for the ACME server.
func (e *Engine) ACMETemplate(name string) (*ACMETemplateInfo, error) {
	t, err := e.template(name)
	if err != nil {
		return nil, err
	}
	return &ACMETemplateInfo{Name: t.Name, Served: !t.Approval && !t.CA && !t.hasEKU("ocspSigning"), Preauthorizes: t.ACMEPreauthorize.groups != nil}, nil
}

func (t *Template) hasEKU(name string) bool {
	for _, u := range t.EKU {
		if strings.EqualFold(u, name) {
			return true
		}
	}
	return false
}

// NameRefusal says why one name of an order is refused.
type NameRefusal struct {
	Name   string
	Reason string
}

// CheckOrder applies template's Enroll permission for p and its name
// policy to each name of an order (DNS names, or IP addresses), before any
// challenge exists: a caller without permission gets ErrForbidden, names
// the policy refuses one NameRefusal each (none: the order may proceed).
// A refusal is audited.
func (e *Engine) CheckOrder(ctx context.Context, p *Principal, template string, names []string) ([]NameRefusal, error) {
	t, err := e.template(template)
	if err != nil {
		return nil, err
	}
	if !t.mayEnroll(p) {
		e.audit(ctx, db.Audit{Actor: p.Name, Action: "acme-order", Template: t.Name, Subject: strings.Join(names, ","), Result: "forbidden"})
		return nil, fmt.Errorf("%s has no Enroll permission on template %s: %w", p.Name, t.Name, ErrForbidden)
	}
	var out []NameRefusal
	for _, n := range names {
		var err error
		if ip := net.ParseIP(n); ip != nil {
			err = checkIP(t, ip)
		} else {
			if !t.SANsFromRequest && len(names) > 1 {
				err = refuse(t, "this template takes one name (it does not take subject alternative names from the request)")
			} else if strings.HasPrefix(n, "*.") && !t.SANsFromRequest {
				err = refuse(t, "wildcard %q is allowed only as a SAN, which this template does not take from the request", n)
			} else {
				err = checkDNSName(t, n, true)
			}
		}
		if err != nil {
			out = append(out, NameRefusal{Name: n, Reason: strings.TrimSuffix(err.Error(), ": "+ErrBadRequest.Error())})
		}
	}
	if len(out) > 0 {
		e.audit(ctx, db.Audit{Actor: p.Name, Action: "acme-order", Template: t.Name, Subject: strings.Join(names, ","), Result: "refused", Detail: out[0].Reason})
	}
	return out, nil
}

// SubmitFor is Submit for an ACME order: ref (the order's id) is recorded
// with the certificate, in the transaction that records it, so that
// IssuedFor finds the certificate of an order whose answer a crash lost.
func (e *Engine) SubmitFor(ctx context.Context, p *Principal, csr []byte, template, ref string) (*Result, error) {
	if ref == "" {
		return nil, fmt.Errorf("no reference: %w", ErrBadRequest)
	}
	return e.submit(ctx, p, csr, template, ref)
}

// IssuedFor returns the serial of the certificate submitted with ref
// (SubmitFor), or "" when none was issued.
func (e *Engine) IssuedFor(ctx context.Context, ref string) (string, error) {
	s, err := e.db.IssuedFor(ctx, ref)
	return s, wrapDB(err)
}

// RevokeAsHolder revokes a certificate for an ACME client that proved it
// holds it (its account acts as the certificate's requester, or it signed
// with the certificate's key: the ACME server checks which) with an RFC 5280
// reason code; how is audited ("account" or "certificate key").
func (e *Engine) RevokeAsHolder(ctx context.Context, actor string, serial *big.Int, code int, how string) error {
	if serial == nil || serial.Sign() <= 0 {
		return fmt.Errorf("invalid serial number: %w", ErrBadRequest)
	}
	if err := CheckSerialLength(serial); err != nil {
		return err
	}
	switch code {
	case 0, 1, 3, 4, 5: // unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation
	default:
		return fmt.Errorf("revocation reason %d is not one a certificate's holder may give (0, 1, 3, 4, 5): %w", code, ErrBadRequest)
	}
	s := serialHex(serial)
	now := e.now().UTC().Truncate(time.Second)
	entry, err := crlEntry(s, now, code)
	if err != nil {
		return err
	}
	err = e.db.Revoke(ctx, db.Revocation{Serial: s, RevokedAt: now, Reason: code, Entry: entry},
		db.Audit{At: now, Actor: actor, Action: "revoke", Serial: s, Result: "revoked", Detail: ReasonName(code) + " (ACME, by " + how + ")"})
	switch {
	case errors.Is(err, db.ErrNotFound):
		return fmt.Errorf("no certificate with serial %s was issued by this CA: %w", s, ErrNotFound)
	case errors.Is(err, db.ErrConflict):
		return fmt.Errorf("certificate %s is already revoked: %w", s, ErrConflict)
	case err != nil:
		return wrapDB(err)
	}
	e.ocspKnown.remember(s, ocspStatus{checked: now, revoked: true, at: now, reason: code})
	return nil
}

// CertificateDER returns an issued certificate's DER and requester.
func (e *Engine) CertificateDER(ctx context.Context, serial string) (der []byte, requester string, revoked bool, err error) {
	c, err := e.db.Certificate(ctx, serial)
	if errors.Is(err, db.ErrNotFound) {
		return nil, "", false, fmt.Errorf("no certificate %s: %w", serial, ErrNotFound)
	}
	if err != nil {
		return nil, "", false, wrapDB(err)
	}
	return c.DER, c.Requester, c.Revoked, nil
}

// ACMEDB is the database the ACME server keeps its records in.
func (e *Engine) ACMEDB() *db.DB { return e.db }
