package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"

	"edgecert/internal/atomicfile"
	"edgecert/internal/certfmt"
)

// Issued is a certificate the CA issued, with the chain it sent.
type Issued struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	// URL is where the CA serves the certificate.
	URL string
}

// ErrOrderFailed is matched (errors.Is) by an error of Obtain that ended
// the order for good before a certificate could be issued for the
// request's key: the CA refused the order or the request, marked an
// authorization or the order invalid, or a challenge could not be
// published (a refused DNS update, a hook that failed) before the request
// was sent. The state directory is then as it was before Obtain, and the
// caller may drop the key. A lost connection, a timeout or a cancelled run
// is never such an error: the order may still go on at the CA, so its
// state is kept for the next run to resume it with the same key.
var ErrOrderFailed = errors.New("the ACME order failed before a certificate was issued")

// orderFailed marks an error as [ErrOrderFailed], keeping its message.
type orderFailed struct{ error }

func (e orderFailed) Unwrap() error        { return e.error }
func (e orderFailed) Is(target error) bool { return target == ErrOrderFailed }

// transient reports whether err is a lost connection, a timeout or a
// cancelled run rather than an answer.
func transient(err error) bool {
	var ne net.Error
	var p *Problem
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && !errors.As(err, &p)) || errors.Is(err, ErrUnreachable)
}

// restoreState puts back the recorded state of id as it was (prev nil:
// there was none).
func (c *Client) restoreState(id string, prev []byte) {
	p := statePath(c.o.Dir, id)
	if prev == nil {
		_ = os.Remove(p)
		return
	}
	_ = atomicfile.Write(p, prev, 0o600)
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
	// The recorded state as it was: a failure that ends the order for
	// good puts it back (see ErrOrderFailed).
	prevState, err := readBounded(statePath(c.o.Dir, id), maxStateFile)
	if err != nil {
		prevState = nil
	}
	fail := func(url string, err error, final bool) error {
		if final && !transient(err) {
			c.restoreState(id, prevState)
			return orderFailed{fmt.Errorf("acme: %s: %w", id, err)}
		}
		c.setState(id, names, keyID, url, StepFailed, err)
		return fmt.Errorf("acme: %s: %w", id, err)
	}
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
			// The CA's refusal of the order is final; no request was sent.
			return nil, fail("", describe(err), true)
		}
	}
	c.setState(id, names, keyID, order.Location, StepOrderPending, nil)
	if order.Status == acme.StatusPending {
		if err := c.authorize(ctx, id, names, keyID, order); err != nil {
			// The request has not been sent: any failure but a lost
			// connection or a cancelled run ends the order.
			return nil, fail(order.Location, err, true)
		}
	}
	iss, final, err := c.finalize(ctx, order.Location, csrDER)
	if err != nil {
		// Once the request is sent, only the CA's verdict that the order
		// is invalid ends it: a certificate may be on its way.
		return nil, fail(order.Location, describe(err), final)
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
//
// final reports, with an error, that no certificate can be issued for the
// request: it was never sent (the order still waits for its
// authorizations), or the CA says the order is invalid, or it refused the
// request and the order is still ready for one. Any other failure may
// leave a certificate on its way.
func (c *Client) finalize(ctx context.Context, orderURL string, csrDER []byte) (iss *Issued, final bool, err error) {
	o, err := c.getOrder(ctx, orderURL)
	if err != nil {
		return nil, false, err
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
			var pd *acme.ProblemDetails
			if !errors.As(err, &pd) {
				return nil, false, err
			}
			// The CA refused the request; an earlier attempt of the
			// retries may still have reached it, so its order says.
			now, gerr := c.getOrder(ctx, orderURL)
			final := gerr == nil && (now.Status == acme.StatusReady || now.Status == acme.StatusInvalid)
			return nil, final, &Problem{Type: pd.Type, Detail: pd.Detail}
		}
	}
	deadline := time.Now().Add(c.o.ValidationTimeout)
	for wait := 100 * time.Millisecond; o.Status != acme.StatusValid; wait = min(2*wait, 3*time.Second) {
		switch o.Status {
		case acme.StatusInvalid:
			if o.Error != nil {
				return nil, true, &Problem{Type: o.Error.Type, Detail: o.Error.Detail}
			}
			return nil, true, errors.New("the CA marked the order invalid")
		case acme.StatusPending:
			return nil, true, errors.New("the order still waits for its authorizations")
		}
		if time.Now().After(deadline) {
			return nil, false, fmt.Errorf("the CA did not issue within %s (order %s)", c.o.ValidationTimeout, o.Status)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, false, err
		}
		if o, err = c.getOrder(ctx, orderURL); err != nil {
			return nil, false, err
		}
	}
	var raw *acme.RawCertificate
	err = c.retry(ctx, func() error {
		var err error
		raw, err = c.core.Certificates.Get(ctx, o.Certificate, true)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	certs, err := certfmt.ParseCertificates(raw.Cert)
	if err != nil || len(certs) == 0 {
		return nil, false, fmt.Errorf("the certificate at %s does not parse: %v", o.Certificate, err)
	}
	return &Issued{Leaf: certs[0], Chain: certs[1:], URL: o.Certificate}, false, nil
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
