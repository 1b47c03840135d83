// Package ca is edgecert's internal certification authority: a root and an
// issuing CA, certificate templates with enroll permissions, users, groups and
// API tokens, issuance (parse, authorise, apply policy, lint, sign once,
// record), pending requests with approval, revocation, CRLs and OCSP.
//
// The engine knows nothing of HTTP: the web enrollment server and the CLI
// call it, and turn its error kinds into statuses and exit codes.
//
// CONTRACT (stubs to be implemented by the package owner; enroll, apply and
// cli use these signatures).
package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"time"
)

// Error kinds. Every engine error wraps exactly one of them, so that the
// edges (HTTP statuses, exit codes) can choose with errors.Is.
var (
	ErrBadRequest      = errors.New("bad request")          // malformed CSR, policy violation, lint failure (400)
	ErrUnauthenticated = errors.New("unauthenticated")      // unknown user, wrong password or token (401)
	ErrForbidden       = errors.New("not permitted")        // no Enroll permission, not an administrator (403)
	ErrNotFound        = errors.New("not found")            // unknown request, serial, template (404)
	ErrConflict        = errors.New("conflict")             // request not pending, already revoked (409)
	ErrUnavailable     = errors.New("database unavailable") // storage failure (503)
)

// InitOptions configure `ca init`.
type InitOptions struct {
	Name                          string // common name stem, e.g. "Contoso"; CA names derive from it
	Key                           string // rsa2048 | rsa3072 | rsa4096 | p256 | p384
	RootOnly                      bool   // no issuing CA
	RootValidity, IssuingValidity time.Duration
	PathLen                       int
	CRLURL                        string // base URL: <base><name>.crl and <base><name>+.crl
	AIAURL                        string // base URL: <base><name>.crt
	OCSPURL                       string
	Passphrase                    []byte // encrypts the CA keys at rest; required
	DSN                           string // database; empty = SQLite in the CA directory
	Now                           func() time.Time
	Rand                          io.Reader
	// AdminName and AdminPassword create the first administrator.
	AdminName     string
	AdminPassword []byte
}

// OpenOptions configure Open.
type OpenOptions struct {
	Passphrase []byte // to unseal the issuing key
	DSN        string // overrides the CA directory's configured database
	Now        func() time.Time
	Rand       io.Reader
}

// Principal is an authenticated caller.
type Principal struct {
	Name   string
	Groups []string
	Admin  bool
}

// Status of a request.
type Status string

// Request states (as Request-CsCertificate knows them, R87).
const (
	StatusPending Status = "pending"
	StatusIssued  Status = "issued"
	StatusDenied  Status = "denied"
	StatusRevoked Status = "revoked"
)

// Result is the state of one request.
type Result struct {
	RequestID   int64               `json:"request_id"`
	Status      Status              `json:"status"`
	Requester   string              `json:"requester"`
	Template    string              `json:"template"`
	Subject     string              `json:"subject"`
	Submitted   time.Time           `json:"submitted"`
	Certificate *x509.Certificate   `json:"-"`
	Chain       []*x509.Certificate `json:"-"`                // issuing CA up to the root
	Serial      string              `json:"serial,omitempty"` // upper-case hex
	Reason      string              `json:"reason,omitempty"` // why denied
}

// TemplateInfo summarises a template for listings.
type TemplateInfo struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	EKU         []string `json:"eku"`
	Validity    string   `json:"validity"`
	Approval    bool     `json:"approval"`
	Enroll      []string `json:"enroll"`
}

// Engine is an opened CA.
type Engine struct{}

// Init creates a CA in dir.
func Init(ctx context.Context, dir string, opts InitOptions) error {
	return errors.New("ca: not implemented")
}

// Open opens the CA in dir.
func Open(ctx context.Context, dir string, opts OpenOptions) (*Engine, error) {
	return nil, errors.New("ca: not implemented")
}

// Close releases the database.
func (e *Engine) Close() error { return nil }

// Authenticate checks a user's password.
func (e *Engine) Authenticate(ctx context.Context, user string, password []byte) (*Principal, error) {
	return nil, errors.New("ca: not implemented")
}

// AuthenticateToken checks an API bearer token.
func (e *Engine) AuthenticateToken(ctx context.Context, token string) (*Principal, error) {
	return nil, errors.New("ca: not implemented")
}

// Submit takes a PKCS#10 request (PEM or DER) for template (empty: the
// template named in the request) and either issues it or stores it as pending.
func (e *Engine) Submit(ctx context.Context, p *Principal, csr []byte, template string) (*Result, error) {
	return nil, errors.New("ca: not implemented")
}

// Request returns a request's state; callers see their own requests,
// administrators every request.
func (e *Engine) Request(ctx context.Context, p *Principal, id int64) (*Result, error) {
	return nil, errors.New("ca: not implemented")
}

// Requests lists the requests p may see (all for an administrator), newest first.
func (e *Engine) Requests(ctx context.Context, p *Principal, status Status) ([]Result, error) {
	return nil, errors.New("ca: not implemented")
}

// Approve issues a pending request (administrators; not one's own unless admin).
func (e *Engine) Approve(ctx context.Context, p *Principal, id int64) (*Result, error) {
	return nil, errors.New("ca: not implemented")
}

// Deny refuses a pending request.
func (e *Engine) Deny(ctx context.Context, p *Principal, id int64, reason string) error {
	return errors.New("ca: not implemented")
}

// Revoke revokes an issued certificate (administrators) with an RFC 5280 reason name.
func (e *Engine) Revoke(ctx context.Context, p *Principal, serial *big.Int, reason string) error {
	return errors.New("ca: not implemented")
}

// Templates lists the templates p may enroll in.
func (e *Engine) Templates(ctx context.Context, p *Principal) ([]TemplateInfo, error) {
	return nil, errors.New("ca: not implemented")
}

// Chain returns the issuing CA certificate first, up to the root.
func (e *Engine) Chain() []*x509.Certificate { return nil }

// FileName is the issuing CA's file-safe name used in CRL and AIA URLs.
func (e *Engine) FileName() string { return "" }

// CRL returns the current full (or delta) CRL, DER, regenerating it when due.
func (e *Engine) CRL(ctx context.Context, delta bool) ([]byte, error) {
	return nil, errors.New("ca: not implemented")
}

// OCSP answers a DER OCSP request (RFC 6960).
func (e *Engine) OCSP(ctx context.Context, req []byte) ([]byte, error) {
	return nil, errors.New("ca: not implemented")
}

// IssueServerCertificate issues a TLS certificate for the CA's own web
// server (names and IPs), outside templates, recorded like any other.
func (e *Engine) IssueServerCertificate(ctx context.Context, dnsNames []string, ips []string) (certPEM, keyPEM []byte, err error) {
	return nil, nil, errors.New("ca: not implemented")
}

// PrincipalFor looks a user up without a password, for offline commands run
// by the CA operator (who holds the CA key passphrase): `ca issue --as USER`
// and apply with --ca-dir.
func (e *Engine) PrincipalFor(ctx context.Context, user string) (*Principal, error) {
	return nil, errors.New("ca: not implemented")
}
