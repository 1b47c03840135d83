package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/go-acme/lego/v5/acme/api"
)

// Window is the CA's suggested renewal window (ARI, RFC 9773) and when to
// ask again.
type Window struct {
	Start, End time.Time
	// RetryAfter is when the CA wants to be asked again.
	RetryAfter     time.Time
	ExplanationURL string
}

// ErrNoARI: the CA offers no renewal information.
var ErrNoARI = errors.New("the ACME CA offers no renewal information")

// RenewalInfo asks the CA when leaf should be renewed.
func (c *Client) RenewalInfo(ctx context.Context, leaf *x509.Certificate) (*Window, error) {
	id, err := api.MakeARICertID(leaf)
	if err != nil {
		return nil, fmt.Errorf("acme: renewal info: %w", err)
	}
	start := time.Now()
	info, err := c.core.Certificates.GetRenewalInfo(ctx, id)
	c.spent(start)
	if errors.Is(err, api.ErrNoARI) {
		return nil, ErrNoARI
	}
	if err != nil {
		return nil, fmt.Errorf("acme: renewal info: %w", describe(err))
	}
	retry := info.RetryAfter
	if retry <= 0 {
		retry = 6 * time.Hour
	}
	return &Window{Start: info.SuggestedWindow.Start, End: info.SuggestedWindow.End,
		RetryAfter: c.o.Now().Add(retry), ExplanationURL: info.ExplanationURL}, nil
}
