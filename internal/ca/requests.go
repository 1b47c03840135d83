package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"edgecert/internal/certfmt"
	"edgecert/internal/db"
)

// result turns a stored request into a Result (with its certificate when issued).
func (e *Engine) result(ctx context.Context, r *db.Request) (*Result, error) {
	res := &Result{RequestID: r.ID, Status: Status(r.Status), Requester: r.Requester, Template: r.Template,
		Subject: r.Subject, Submitted: r.Submitted, Serial: r.Serial, Reason: r.Reason}
	if r.Status == db.StatusIssued && r.Serial != "" {
		c, err := e.db.Certificate(ctx, r.Serial)
		if err != nil {
			return nil, wrapDB(err)
		}
		if res.Certificate, err = x509.ParseCertificate(c.DER); err != nil {
			return nil, err
		}
		res.Chain = e.Chain()
		res.SANs = sanList(res.Certificate.DNSNames, res.Certificate.IPAddresses)
		if c.Revoked {
			res.Status = StatusRevoked
		}
		describeCert(res, res.Certificate)
	}
	if r.Status == db.StatusPending {
		m, err := e.loadTemplates(false)
		if err != nil {
			return nil, err
		}
		if n := pendingNames(m, r); n != nil {
			res.SANs = n.sans()
		}
	}
	describePending(res, r)
	return res, nil
}

// Request returns a request's state; callers see their own requests,
// administrators every request.
func (e *Engine) Request(ctx context.Context, p *Principal, id int64) (*Result, error) {
	if p == nil {
		return nil, fmt.Errorf("no caller: %w", ErrUnauthenticated)
	}
	r, err := e.db.Request(ctx, id)
	if err != nil {
		return nil, wrapDB(err)
	}
	if !p.Admin && r.Requester != p.Name {
		// Someone else's request does not exist for this caller: the
		// same error as an unknown id (wrapDB of "request N: not found").
		return nil, fmt.Errorf("request %d %w", id, ErrNotFound)
	}
	return e.result(ctx, r)
}

// MaxPage is the most requests one call of Requests returns.
const MaxPage = 1000

// Page is a window of a listing, newest first: the requests older than
// Before (0: from the newest), at most Limit of them (0 or more than
// MaxPage: MaxPage).
type Page struct {
	Before int64
	Limit  int
}

// Requests lists the requests p may see (all for an administrator), newest
// first, one page at a time, each with its certificate's status now
// (revoked, not issued, once revoked). The status filter is applied before
// paging: a page holds matches only, and next, the Before of the following
// page, is 0 unless more matches follow.
func (e *Engine) Requests(ctx context.Context, p *Principal, status Status, pg Page) (rs []Result, next int64, err error) {
	if p == nil {
		return nil, 0, fmt.Errorf("no caller: %w", ErrUnauthenticated)
	}
	if pg.Before < 0 {
		return nil, 0, fmt.Errorf("page: before must be a request id, not %d: %w", pg.Before, ErrBadRequest)
	}
	limit := pg.Limit
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	who := p.Name
	if p.Admin {
		who = ""
	}
	// One row more than the page says whether there are more matches.
	rows, err := e.db.Requests(ctx, who, string(status), pg.Before, limit+1)
	if err != nil {
		return nil, 0, wrapDB(err)
	}
	if len(rows) > limit {
		rows = rows[:limit]
		next = rows[limit-1].ID
	}
	templates, err := e.loadTemplates(false)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Result, 0, len(rows))
	for i := range rows {
		res := Result{RequestID: rows[i].ID, Status: Status(rows[i].Status), Requester: rows[i].Requester, Template: rows[i].Template,
			Subject: rows[i].Subject, Submitted: rows[i].Submitted, Serial: rows[i].Serial, Reason: rows[i].Reason}
		if rows[i].Status == db.StatusPending {
			// What an approver approves: the names it would be signed with.
			if n := pendingNames(templates, &rows[i]); n != nil {
				res.SANs = n.sans()
			}
		}
		if rows[i].Revoked {
			res.Status = StatusRevoked
		}
		describePending(&res, &rows[i])
		out = append(out, res)
	}
	return out, next, nil
}

// PendingCount is the number of requests waiting for approval, all of them
// (one page of Requests holds at most MaxPage). It is for monitoring and needs no caller.
func (e *Engine) PendingCount(ctx context.Context) (int, error) {
	n, err := e.db.CountRequests(ctx, db.StatusPending)
	if err != nil {
		return 0, wrapDB(err)
	}
	return int(n), nil
}

// Approve issues a pending request (administrators; not one's own unless admin).
func (e *Engine) Approve(ctx context.Context, p *Principal, id int64) (*Result, error) {
	r, err := e.pendingFor(ctx, p, id, "approve")
	if err != nil {
		return nil, err
	}
	req, err := parseCSR(r.CSR)
	if err != nil {
		return nil, err
	}
	t, err := e.template(r.Template)
	if err != nil {
		return nil, err
	}
	names, err := checkRequest(t, req) // the template may have changed since
	if err == nil && names.text != r.Subject {
		// The approver saw r.Subject: nothing else is signed in its name.
		err = fmt.Errorf("template %s changed since the request was submitted: it would now be issued as %q, not %q: %w", t.Name, names.text, r.Subject, ErrConflict)
	}
	if err != nil {
		e.audit(ctx, db.Audit{Actor: p.Name, Action: "approve", Template: t.Name, Subject: r.Subject, RequestID: id, Result: "refused", Detail: err.Error()})
		return nil, err
	}
	cert, err := e.issueCert(t, names, req.PublicKey)
	if err != nil {
		e.audit(ctx, db.Audit{Actor: p.Name, Action: "approve", Template: t.Name, Subject: r.Subject, RequestID: id, Result: "refused", Detail: err.Error()})
		return nil, err
	}
	serial := serialHex(cert.SerialNumber)
	c := &db.Cert{Serial: serial, RequestID: id, Requester: r.Requester, Template: t.Name, Subject: r.Subject,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, DER: cert.Raw}
	a := db.Audit{At: e.now(), Actor: p.Name, Action: "approve", Template: t.Name, Subject: r.Subject, Serial: serial, RequestID: id, Result: "issued"}
	if err := e.db.Complete(ctx, id, db.StatusIssued, "", p.Name, c, a); err != nil {
		return nil, wrapDB(err)
	}
	return &Result{RequestID: id, Status: StatusIssued, Requester: r.Requester, Template: t.Name, Subject: r.Subject, SANs: names.sans(),
		Submitted: r.Submitted, Certificate: cert, Chain: e.Chain(), Serial: serial}, nil
}

// pendingFor checks that p may decide request id and that it is pending.
func (e *Engine) pendingFor(ctx context.Context, p *Principal, id int64, action string) (*db.Request, error) {
	if p == nil {
		return nil, fmt.Errorf("no caller: %w", ErrUnauthenticated)
	}
	if !p.Admin {
		e.audit(ctx, db.Audit{Actor: p.Name, Action: action, RequestID: id, Result: "forbidden"})
		return nil, fmt.Errorf("only a CA administrator may %s requests: %w", action, ErrForbidden)
	}
	r, err := e.db.Request(ctx, id)
	if err != nil {
		return nil, wrapDB(err)
	}
	if r.Status != db.StatusPending {
		return nil, fmt.Errorf("request %d is %s, not pending: %w", id, r.Status, ErrConflict)
	}
	return r, nil
}

// Deny refuses a pending request.
func (e *Engine) Deny(ctx context.Context, p *Principal, id int64, reason string) error {
	r, err := e.pendingFor(ctx, p, id, "deny")
	if err != nil {
		return err
	}
	if reason == "" {
		reason = "denied by " + p.Name
	}
	a := db.Audit{At: e.now(), Actor: p.Name, Action: "deny", Template: r.Template, Subject: r.Subject, RequestID: id, Result: "denied", Detail: reason}
	return wrapDB(e.db.Complete(ctx, id, db.StatusDenied, reason, p.Name, nil, a))
}

// RFC 5280 CRLReason names.
var reasonCodes = map[string]int{
	"unspecified": 0, "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3, "superseded": 4,
	"cessationOfOperation": 5, "certificateHold": 6, "removeFromCRL": 8, "privilegeWithdrawn": 9, "aACompromise": 10,
}

// ReasonNames lists the revocation reasons Revoke accepts. Not
// certificateHold: a revocation by this CA is final, and a hold that can
// never be released (removeFromCRL) would only mislead.
func ReasonNames() []string {
	return []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
		"cessationOfOperation", "privilegeWithdrawn", "aACompromise"}
}

// reasonCode maps a reason name (case-insensitive) to its code.
func reasonCode(name string) (int, error) {
	if name == "" {
		return 0, nil
	}
	if strings.EqualFold(name, "certificateHold") || strings.EqualFold(name, "removeFromCRL") {
		return 0, fmt.Errorf("%s is not offered: a revocation by this CA is final (there is no hold to release); revoke with another reason (%s): %w",
			name, strings.Join(ReasonNames(), ", "), ErrBadRequest)
	}
	for n, c := range reasonCodes {
		if strings.EqualFold(n, name) {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown revocation reason %q (use one of %s): %w", name, strings.Join(ReasonNames(), ", "), ErrBadRequest)
}

// ReasonName is the RFC 5280 name of a reason code.
func ReasonName(code int) string {
	for n, c := range reasonCodes {
		if c == code {
			return n
		}
	}
	return fmt.Sprintf("reason-%d", code)
}

// Revoke revokes an issued certificate (administrators) with an RFC 5280 reason name.
func (e *Engine) Revoke(ctx context.Context, p *Principal, serial *big.Int, reason string) error {
	if p == nil {
		return fmt.Errorf("no caller: %w", ErrUnauthenticated)
	}
	if serial == nil || serial.Sign() <= 0 {
		return fmt.Errorf("invalid serial number: %w", ErrBadRequest)
	}
	if err := CheckSerialLength(serial); err != nil {
		return err
	}
	s := serialHex(serial)
	if !p.Admin {
		e.audit(ctx, db.Audit{Actor: p.Name, Action: "revoke", Serial: s, Result: "forbidden"})
		return fmt.Errorf("only a CA administrator may revoke: %w", ErrForbidden)
	}
	code, err := reasonCode(reason)
	if err != nil {
		return err
	}
	now := e.now().UTC().Truncate(time.Second)
	entry, err := crlEntry(s, now, code)
	if err != nil {
		return err
	}
	err = e.db.Revoke(ctx, db.Revocation{Serial: s, RevokedAt: now, Reason: code, Entry: entry},
		db.Audit{At: now, Actor: p.Name, Action: "revoke", Serial: s, Result: "revoked", Detail: ReasonName(code)})
	if errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("no certificate with serial %s was issued by this CA: %w", s, ErrNotFound)
	}
	if err != nil {
		return wrapDB(err)
	}
	e.ocspKnown.remember(s, ocspStatus{checked: now, revoked: true, at: now, reason: code})
	return nil
}

// CertInfo is a certificate as listed.
type CertInfo struct {
	Serial    string   `json:"serial"`
	RequestID int64    `json:"request_id"`
	Subject   string   `json:"subject"`
	SANs      []string `json:"sans,omitempty"`
	Template  string   `json:"template"`
	Requester string   `json:"requester"`
	NotBefore string   `json:"not_before"`
	NotAfter  string   `json:"not_after"`
	Revoked   bool     `json:"revoked"`
	RevokedAt string   `json:"revoked_at,omitempty"`
	Reason    string   `json:"reason,omitempty"`
}

// Certificates lists issued certificates, newest first (revokedOnly: only revoked ones).
func (e *Engine) Certificates(ctx context.Context, revokedOnly bool, limit int) ([]CertInfo, error) {
	cs, err := e.db.Certificates(ctx, revokedOnly, limit)
	if err != nil {
		return nil, wrapDB(err)
	}
	out := make([]CertInfo, 0, len(cs))
	for _, c := range cs {
		ci := CertInfo{Serial: c.Serial, RequestID: c.RequestID, Subject: c.Subject, Template: c.Template, Requester: c.Requester,
			NotBefore: c.NotBefore.UTC().Format("2006-01-02T15:04:05Z"), NotAfter: c.NotAfter.UTC().Format("2006-01-02T15:04:05Z"), Revoked: c.Revoked}
		if c.Revoked {
			ci.RevokedAt, ci.Reason = c.RevokedAt.UTC().Format("2006-01-02T15:04:05Z"), ReasonName(c.Reason)
		}
		if cert, err := x509.ParseCertificate(c.DER); err == nil {
			ci.SANs = sanList(cert.DNSNames, cert.IPAddresses)
		}
		out = append(out, ci)
	}
	return out, nil
}

// AuditLog returns the newest limit audit entries.
func (e *Engine) AuditLog(ctx context.Context, limit int) ([]db.Audit, error) {
	a, err := e.db.AuditLog(ctx, limit)
	return a, wrapDB(err)
}

// serverTemplate is the built-in profile of the CA's own web server certificate.
var serverTemplate = &Template{Name: "CAWebServer", Validity: Duration(396 * 24 * time.Hour), EKU: []string{"serverAuth"},
	KeyUsage: []string{"digitalSignature"}, KeyUsageCritical: true, SubjectFromRequest: true, SANsFromRequest: true,
	LintSources: []string{"RFC5280"}}

// IssueServerCertificate issues a TLS certificate for the CA's own web
// server (names and IPs), outside templates, recorded like any other. The
// certificate PEM holds the leaf and the issuing CA; the key is a P-256
// PKCS#8 PEM.
func (e *Engine) IssueServerCertificate(ctx context.Context, dnsNames []string, ips []string) (certPEM, keyPEM []byte, err error) {
	var ipList []net.IP
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, nil, fmt.Errorf("invalid IP address %q: %w", s, ErrBadRequest)
		}
		ipList = append(ipList, ip)
	}
	if len(dnsNames) == 0 && len(ipList) == 0 {
		return nil, nil, fmt.Errorf("the server certificate needs a name or an IP address: %w", ErrBadRequest)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), e.rand)
	if err != nil {
		return nil, nil, err
	}
	cn := "edgecert CA server"
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	}
	subj := pkix.Name{CommonName: cn}
	raw, err := asn1MarshalName(subj)
	if err != nil {
		return nil, nil, err
	}
	names := &certNames{subject: raw, text: subj.String(), cn: cn, dns: dnsNames, ips: ipList}
	cert, err := e.issueCert(serverTemplate, names, key.Public())
	if err != nil {
		return nil, nil, err
	}
	serial := serialHex(cert.SerialNumber)
	now := e.now()
	_, err = e.db.InsertIssued(ctx, db.Request{Requester: "ca-server", Template: serverTemplate.Name, Subject: cert.Subject.String(), Submitted: now},
		db.Cert{Serial: serial, Requester: "ca-server", Template: serverTemplate.Name, Subject: cert.Subject.String(), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, DER: cert.Raw},
		db.Audit{At: now, Actor: operatorName(), Action: "server-certificate", Template: serverTemplate.Name, Subject: cert.Subject.String(), Serial: serial, Result: "issued"})
	if err != nil {
		return nil, nil, wrapDB(err)
	}
	chain := []*x509.Certificate{cert}
	if !e.cfg.RootOnly {
		chain = append(chain, e.issuer)
	}
	keyPEM, err = certfmt.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return certfmt.EncodeCertificatePEM(chain...), keyPEM, nil
}

func asn1MarshalName(n pkix.Name) ([]byte, error) { return asn1.Marshal(n.ToRDNSequence()) }
