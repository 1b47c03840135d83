package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"

	"edgecert/internal/certfmt"
)

// Issued is a certificate the CA issued, with the chain it sent.
type Issued struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	// URL is where the CA serves the certificate.
	URL string
}

// Problem is a failure the CA reported, in its own words.
type Problem struct {
	// Name is the identifier it concerns ("" for the whole order).
	Name   string
	Type   string // urn:ietf:params:acme:error:...
	Detail string
	// Checked is what was published for the CA to check: a TXT record and
	// where, or a URL.
	Checked string
}

func (p *Problem) Error() string {
	var b strings.Builder
	if p.Name != "" {
		b.WriteString(p.Name + ": ")
	}
	b.WriteString(p.Type)
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	if p.Checked != "" {
		b.WriteString(" (checked " + p.Checked + ")")
	}
	return b.String()
}

// describe turns lego's problem errors into a [Problem].
func describe(err error) error {
	var pd *acme.ProblemDetails
	if errors.As(err, &pd) {
		return &Problem{Type: pd.Type, Detail: pd.Detail}
	}
	return err
}

// Obtain gets a certificate for the DER request csrDER from the CA: one
// order with exactly the request's names (its subject name and DNS names).
// id names the certificate in the state directory; replaces, when not nil,
// is the certificate this one renews (ARI's replaces). An order left
// pending by an earlier run of the same request is resumed; otherwise a new
// one is placed. Every challenge record published is removed again, on
// success and failure alike.
func (c *Client) Obtain(ctx context.Context, id string, csrDER []byte, replaces *x509.Certificate) (*Issued, error) {
	req, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("acme: %s: %w: the request does not parse: %w", id, ErrInvalidInput, err)
	}
	names := requestNames(req)
	keyID := keyID(req.PublicKey)
	st := c.ReadState(id)
	var order acme.ExtendedOrder
	if st != nil && st.OrderURL != "" && st.Key == keyID && slices.Equal(st.Names, names) {
		if o, err := c.getOrder(ctx, st.OrderURL); err == nil && (o.Status == acme.StatusPending || o.Status == acme.StatusReady ||
			o.Status == acme.StatusProcessing || o.Status == acme.StatusValid) {
			order = acme.ExtendedOrder{Order: o, Location: st.OrderURL}
		}
	}
	if order.Location == "" {
		opts := &api.OrderOptions{Profile: c.o.Config.Profile}
		if replaces != nil {
			if certID, err := api.MakeARICertID(replaces); err == nil {
				opts.ReplacesCertID = certID
			}
		}
		err := c.retry(ctx, func() error {
			var err error
			order, err = c.core.Orders.New(ctx, names, opts)
			return err
		})
		if err != nil {
			err = describe(err)
			c.setState(id, names, keyID, "", StepFailed, err)
			return nil, fmt.Errorf("acme: order for %s: %w", id, err)
		}
	}
	c.setState(id, names, keyID, order.Location, StepOrderPending, nil)
	if order.Status == acme.StatusPending {
		if err := c.authorize(ctx, id, names, keyID, order); err != nil {
			c.setState(id, names, keyID, order.Location, StepFailed, err)
			return nil, fmt.Errorf("acme: %s: %w", id, err)
		}
	}
	iss, err := c.finalize(ctx, order.Location, csrDER)
	if err != nil {
		err = describe(err)
		c.setState(id, names, keyID, order.Location, StepFailed, err)
		return nil, fmt.Errorf("acme: %s: %w", id, err)
	}
	if !certfmt.PublicKeysEqual(iss.Leaf.PublicKey, req.PublicKey) {
		err := errors.New("the CA returned a certificate for another key")
		c.setState(id, names, keyID, order.Location, StepFailed, err)
		return nil, fmt.Errorf("acme: %s: %w", id, err)
	}
	if got := certNames(iss.Leaf); !slices.Equal(got, names) {
		err := fmt.Errorf("the CA returned a certificate for %s, not %s", strings.Join(got, ", "), strings.Join(names, ", "))
		c.setState(id, names, keyID, order.Location, StepFailed, err)
		return nil, fmt.Errorf("acme: %s: %w", id, err)
	}
	c.setState(id, names, keyID, order.Location, StepValid, nil)
	return iss, nil
}

// requestNames returns the names of a request: its subject name and DNS
// names, lower case, sorted, once each.
func requestNames(req *x509.CertificateRequest) []string {
	var out []string
	if req.Subject.CommonName != "" {
		out = append(out, strings.ToLower(req.Subject.CommonName))
	}
	for _, n := range req.DNSNames {
		out = append(out, strings.ToLower(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func certNames(c *x509.Certificate) []string {
	out := make([]string, 0, len(c.DNSNames))
	for _, n := range c.DNSNames {
		out = append(out, strings.ToLower(n))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (c *Client) getOrder(ctx context.Context, url string) (acme.Order, error) {
	var o acme.ExtendedOrder
	err := c.retry(ctx, func() error {
		var err error
		o, err = c.core.Orders.Get(ctx, url)
		return err
	})
	return o.Order, err
}

// finalize sends the request, waits for the order to be valid and
// downloads the certificate with its chain.
func (c *Client) finalize(ctx context.Context, orderURL string, csrDER []byte) (*Issued, error) {
	o, err := c.getOrder(ctx, orderURL)
	if err != nil {
		return nil, err
	}
	if o.Status == acme.StatusReady {
		err := c.retry(ctx, func() error {
			u, err := c.core.Orders.UpdateForCSR(ctx, o.Finalize, csrDER)
			if err == nil {
				o = u.Order
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(c.o.ValidationTimeout)
	for wait := 100 * time.Millisecond; o.Status != acme.StatusValid; wait = min(2*wait, 3*time.Second) {
		switch o.Status {
		case acme.StatusInvalid:
			if o.Error != nil {
				return nil, &Problem{Type: o.Error.Type, Detail: o.Error.Detail}
			}
			return nil, errors.New("the CA marked the order invalid")
		case acme.StatusPending:
			return nil, errors.New("the order still waits for its authorizations")
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the CA did not issue within %s (order %s)", c.o.ValidationTimeout, o.Status)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
		if o, err = c.getOrder(ctx, orderURL); err != nil {
			return nil, err
		}
	}
	var raw *acme.RawCertificate
	err = c.retry(ctx, func() error {
		var err error
		raw, err = c.core.Certificates.Get(ctx, o.Certificate, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	certs, err := certfmt.ParseCertificates(raw.Cert)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("the certificate at %s does not parse: %v", o.Certificate, err)
	}
	return &Issued{Leaf: certs[0], Chain: certs[1:], URL: o.Certificate}, nil
}

// retry calls f until it succeeds or fails for good: a rate limit waits
// its Retry-After (at most a minute), an internal error of the CA or a
// connection error waits with an exponential backoff; bad nonces lego
// retries itself. Each call counts as ACME round-trip time.
func (c *Client) retry(ctx context.Context, f func() error) error {
	wait := 500 * time.Millisecond
	var err error
	for attempt := 0; attempt < 6; attempt++ {
		start := time.Now()
		err = f()
		c.spent(start)
		if err == nil {
			return nil
		}
		var rl *acme.RateLimitedError
		var pd *acme.ProblemDetails
		var nonce *acme.NonceError
		switch {
		case errors.As(err, &rl):
			if rl.RetryAfter > time.Minute {
				return fmt.Errorf("%w (the CA asks to wait %s)", err, rl.RetryAfter)
			}
			if rl.RetryAfter > 0 {
				wait = rl.RetryAfter
			}
		case errors.As(err, &nonce):
		case errors.As(err, &pd):
			if pd.Type != acme.ServerInternalErrorType && pd.HTTPStatus != 503 {
				return err
			}
		default:
			return err
		}
		if serr := sleep(ctx, wait); serr != nil {
			return serr
		}
		wait = min(2*wait, 30*time.Second)
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
