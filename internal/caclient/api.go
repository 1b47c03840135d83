// Package caclient is the client of the CA's JSON API (/api/v1): submit a
// request, retrieve a pending one, fetch the CA chain. The server is trusted
// through the SHA-256 fingerprint of the CA's root certificate, given or
// pinned on first use.
//
// The CA server sends its root in the TLS handshake, so the client finds the
// root by its fingerprint among the certificates the server presents and
// verifies the server's chain (and host name) against that root alone.
package caclient

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Sentinel errors.
var (
	ErrPending      = errors.New("request is pending approval")
	ErrFingerprint  = errors.New("CA root fingerprint mismatch")
	ErrUnauthorized = errors.New("not authorized")
	// ErrDenied: the request was denied (Retrieve returns its Response too).
	ErrDenied = errors.New("request was denied")
	// ErrRevoked: the request's certificate was revoked (Retrieve returns
	// its Response, with the certificate, too).
	ErrRevoked = errors.New("certificate was revoked")
)

// APIError is an error answer of the server. errors.Is(err,
// ErrUnauthorized) holds for 401 and 403 answers.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Is matches ErrUnauthorized for 401 and 403 answers.
func (e *APIError) Is(target error) bool {
	return target == ErrUnauthorized && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// Options configure a client.
type Options struct {
	Token string // bearer token
	// Fingerprint is the expected SHA-256 (hex, any case, colons allowed) of
	// the CA root. Empty: use the pin in PinFile, or pin on first use.
	Fingerprint string
	// PinFile holds pinned fingerprints per CA URL. Empty: DefaultPinFile().
	PinFile    string
	HTTPClient *http.Client // optional; its transport is wrapped
	// Pinned, when set, is called after a root's fingerprint was written to
	// the pin file (first use, or a new --ca-fingerprint), so that the
	// caller can say so.
	Pinned func(Pin)
}

// Pin is a root fingerprint recorded for a CA URL.
type Pin struct {
	Origin      string // https://host:port
	Fingerprint string // SHA-256, upper-case hex
	File        string // the pin file
}

// PinMismatchError: the CA at Origin presents a root other than the one
// pinned for it. errors.Is(err, ErrFingerprint) holds.
type PinMismatchError struct {
	Origin string
	// File is the pin file holding the pin; empty when the fingerprint
	// was given (Options.Fingerprint), not read from it.
	File      string
	Pinned    string // the expected root's fingerprint
	Presented string // the root (or, without one, the top certificate) the server presents
}

func (e *PinMismatchError) Error() string {
	from := "the given fingerprint"
	if e.File != "" {
		from = "the pin in " + e.File
	}
	return fmt.Sprintf("caclient: %s presents the CA root %s, not %s of %s", e.Origin, e.Presented, e.Pinned, from)
}

// Is matches ErrFingerprint.
func (e *PinMismatchError) Is(target error) bool { return target == ErrFingerprint }

// Response is the answer to a submission or retrieval.
type Response struct {
	RequestID   int64
	Status      string // issued | pending | denied | revoked
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	Serial      string
}

// Client talks to one CA.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	trust *trust
}

// New returns a client for the CA at baseURL (https://host:port).
func New(baseURL string, opts Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("caclient: CA URL %q is not a URL like https://ca.example.com:8443", baseURL)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("caclient: CA URL %q must use https", baseURL)
	}
	t, err := newTrust(u, opts)
	if err != nil {
		return nil, err
	}
	hc, err := wrapClient(opts.HTTPClient, t)
	if err != nil {
		return nil, err
	}
	return &Client{base: u, token: opts.Token, hc: hc, trust: t}, nil
}

// Root returns the CA root the client trusts (after the first request).
func (c *Client) Root() *x509.Certificate {
	c.trust.mu.Lock()
	defer c.trust.mu.Unlock()
	return c.trust.root
}

// Submit sends a PEM or DER request for template. When the request awaits
// approval it returns the Response (Status "pending", with its RequestID)
// and an error wrapping ErrPending.
func (c *Client) Submit(ctx context.Context, csr []byte, template string) (*Response, error) {
	body := map[string]string{"csr": string(toPEM(csr)), "template": template}
	var v wireResult
	status, err := c.do(ctx, http.MethodPost, "/api/v1/certificates", body, &v)
	if err != nil {
		return nil, err
	}
	if status == http.StatusAccepted && v.Status == "" {
		v.Status = "pending"
	}
	return v.response()
}

// Retrieve returns the state of request id. Pending, denied and revoked
// requests return the Response with an error wrapping ErrPending,
// ErrDenied or ErrRevoked.
func (c *Client) Retrieve(ctx context.Context, id int64) (*Response, error) {
	var v wireResult
	if _, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/requests/%d", id), nil, &v); err != nil {
		return nil, err
	}
	return v.response()
}

// Chain downloads the CA chain as a DER .p7b and its certificates. The
// chain's root must be the trusted root.
func (c *Client) Chain(ctx context.Context) ([]byte, []*x509.Certificate, error) {
	der, err := c.get(ctx, "/api/v1/ca/chain")
	if err != nil {
		return nil, nil, err
	}
	certs, err := parseP7B(der)
	if err != nil {
		return nil, nil, fmt.Errorf("caclient: the CA's chain: %w", err)
	}
	if root := c.Root(); root != nil && !certs[len(certs)-1].Equal(root) {
		return nil, nil, fmt.Errorf("caclient: the chain's root is not the trusted root: %w", ErrFingerprint)
	}
	return der, certs, nil
}

// trust is the pinning state shared by the client's connections.
type trust struct {
	mu      sync.Mutex
	origin  string // https://host:port, the pin file key
	host    string
	want    []byte // expected root fingerprint; nil: pin on first use
	given   bool   // want came from Options.Fingerprint
	pinFile string
	pinned  func(Pin)
	root    *x509.Certificate
}
