// Package ca is edgecert's internal certification authority: a root and an
// issuing CA, certificate templates with enroll permissions, users, groups and
// API tokens, issuance (parse, authorise, apply policy, lint, sign once,
// record), pending requests with approval, revocation, CRLs and OCSP.
//
// The engine knows nothing of HTTP: the web enrollment server and the CLI
// call it, and turn its error kinds into statuses and exit codes.
//
// The CA directory holds ca.yaml (names, URLs, database), the root and
// issuing certificates, their keys sealed with the CA passphrase (or labels
// of keys in a PKCS#11 token), templates/*.yaml, root.crl, the web server's
// own certificate and sealed key (server.crt, server.key) and, by default,
// the SQLite database ca.db (with its write-ahead log and index, kept).
package ca

import (
	"crypto/x509"
	"errors"
	"io"
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
	ErrServerFault     = errors.New("CA fault")             // the CA's own files are wrong, e.g. a template (500)
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

	// IssuingRequest creates only an issuing CA key and writes its
	// certificate request (issuing.csr) for an existing, external root;
	// ImportIssuing completes the CA.
	IssuingRequest bool
	// PKCS11 keeps the CA keys in a token (pkcs11 build only); the
	// passphrase is the token PIN.
	PKCS11 *PKCS11Config
}

// OpenOptions configure Open.
type OpenOptions struct {
	Passphrase []byte // to unseal the issuing key
	DSN        string // overrides the CA directory's configured database
	Now        func() time.Time
	Rand       io.Reader
	// WithoutKey opens the CA for what needs no signature (users,
	// templates, listings); signing operations then fail.
	WithoutKey bool
	// OnTemplateProblem is told of each template file the CA skips
	// because it cannot use it, at every reading of the templates (the
	// server logs them). Nil: nobody is told; TemplateProblems lists them.
	OnTemplateProblem func(TemplateProblem)
	// Workers is how many submissions do their CPU work (parse, lint,
	// sign) at once; 0 chooses one per CPU for a key in memory and four per
	// CPU for a key in a token, whose signature may wait on a device.
	Workers int
}

// MaxWorkers bounds OpenOptions.Workers.
const MaxWorkers = 1024

// Principal is an authenticated caller.
type Principal struct {
	Name   string
	Groups []string
	Admin  bool
	// Version is the version of the user record the principal was read
	// from (zero for the operator); a web session keeps it from sign-in
	// and ends when the record changes (Engine.SessionPrincipal).
	Version int64
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
	RequestID int64  `json:"request_id"`
	Status    Status `json:"status"`
	Requester string `json:"requester"`
	Template  string `json:"template"`
	Subject   string `json:"subject"`
	// SANs are the subject alternative names the certificate has or, for
	// a pending request, will have: DNS names, then IP addresses.
	SANs        []string            `json:"sans,omitempty"`
	Submitted   time.Time           `json:"submitted"`
	Certificate *x509.Certificate   `json:"-"`
	Chain       []*x509.Certificate `json:"-"`                // issuing CA up to the root
	Serial      string              `json:"serial,omitempty"` // upper-case hex
	Reason      string              `json:"reason,omitempty"` // why denied
	// Key is the public key of the certificate, or of the request while it
	// waits for approval ("ECDSA P-256", "RSA 2048"). Set for one request,
	// and for pending ones in listings.
	Key string `json:"key,omitempty"`
	// Timing: where a submission's time went in the engine (Submit only).
	Timing Timing `json:"-"`
}

// Timing is where a submission's time went in the engine, for operators
// sizing a CA: a long Queue means the CPUs are the limit, a long Record the
// database.
type Timing struct {
	Queue  time.Duration // waiting for a worker
	Work   time.Duration // parsing, checking, linting and signing
	Record time.Duration // waiting for the database round that records it
}

// TemplateInfo summarises a template for listings.
type TemplateInfo struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	EKU         []string `json:"eku"`
	Validity    string   `json:"validity"`
	Approval    bool     `json:"approval"`
	Enroll      []string `json:"enroll"`
	// Error: the template's file cannot be used (listings of the CA
	// directory only; the server skips such a template).
	Error string `json:"error,omitempty"`
	// Special: a certificate that can sign certificates (a CA) or
	// revocation answers (OCSP signing), not one to pick by accident.
	Special bool `json:"special,omitempty"`
}
