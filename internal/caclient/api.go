// Package caclient is the client of the CA's JSON API (/api/v1): submit a
// request, retrieve a pending one, fetch the CA chain. The server is trusted
// through the SHA-256 fingerprint of the CA's root certificate, given or
// pinned on first use.
//
// CONTRACT (stubs to be implemented by the package owner; apply and cli use
// these signatures).
package caclient

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
)

// Sentinel errors.
var (
	ErrPending      = errors.New("request is pending approval")
	ErrFingerprint  = errors.New("CA root fingerprint mismatch")
	ErrUnauthorized = errors.New("not authorized")
)

// APIError is an error answer of the server.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Options configure a client.
type Options struct {
	Token string // bearer token
	// Fingerprint is the expected SHA-256 (hex, any case, colons allowed) of
	// the CA root. Empty: use the pin in PinFile, or pin on first use.
	Fingerprint string
	PinFile     string
	HTTPClient  *http.Client // optional; its transport is wrapped
}

// Response is the answer to a submission or retrieval.
type Response struct {
	RequestID   int64
	Status      string // issued | pending | denied | revoked
	Certificate *x509.Certificate
	Chain       []*x509.Certificate
	Serial      string
}

// Client talks to one CA.
type Client struct{}

// New returns a client for the CA at baseURL (https://host:port).
func New(baseURL string, opts Options) (*Client, error) {
	return nil, errors.New("caclient: not implemented")
}

// Submit sends a PEM or DER request for template.
func (c *Client) Submit(ctx context.Context, csr []byte, template string) (*Response, error) {
	return nil, errors.New("caclient: not implemented")
}

// Retrieve returns the state of request id.
func (c *Client) Retrieve(ctx context.Context, id int64) (*Response, error) {
	return nil, errors.New("caclient: not implemented")
}

// Chain downloads the CA chain as a DER .p7b and its certificates.
func (c *Client) Chain(ctx context.Context) ([]byte, []*x509.Certificate, error) {
	return nil, nil, errors.New("caclient: not implemented")
}
