package apply

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"edgecert/internal/ca"
	"edgecert/internal/caclient"
)

// Issuer is the internal CA as apply needs it: its chain, and issuance.
type Issuer interface {
	// Chain returns the CA certificates, issuing CA first, up to the root.
	Chain(ctx context.Context) ([]*x509.Certificate, error)
	// Submit sends a DER request for template.
	Submit(ctx context.Context, csrDER []byte, template string) (*Issued, error)
	// Retrieve returns the state of a request that was pending.
	Retrieve(ctx context.Context, id int64) (*Issued, error)
}

// Issued is the answer of the CA: a certificate, or a pending request.
type Issued struct {
	RequestID int64
	Pending   bool
	Leaf      *x509.Certificate
	Chain     []*x509.Certificate
}

// ErrDenied is wrapped when the CA refused a request.
var ErrDenied = errors.New("request denied by the CA")

// LocalCA issues with a CA engine opened on this machine, as principal p
// (apply --ca-dir DIR --as USER).
func LocalCA(e *ca.Engine, p *ca.Principal) Issuer { return &localCA{e: e, p: p} }

type localCA struct {
	e *ca.Engine
	p *ca.Principal
}

func (l *localCA) Chain(ctx context.Context) ([]*x509.Certificate, error) {
	ch := l.e.Chain()
	if len(ch) == 0 {
		return nil, errors.New("apply: the CA has no chain")
	}
	return ch, nil
}

func (l *localCA) Submit(ctx context.Context, csrDER []byte, template string) (*Issued, error) {
	res, err := l.e.Submit(ctx, l.p, csrDER, template)
	if err != nil {
		return nil, fmt.Errorf("apply: CA: %w", err)
	}
	return fromResult(res)
}

func (l *localCA) Retrieve(ctx context.Context, id int64) (*Issued, error) {
	res, err := l.e.Request(ctx, l.p, id)
	if err != nil {
		return nil, fmt.Errorf("apply: CA: %w", err)
	}
	return fromResult(res)
}

func fromResult(res *ca.Result) (*Issued, error) {
	switch res.Status {
	case ca.StatusIssued:
		if res.Certificate == nil {
			return nil, errors.New("apply: CA: issued without a certificate")
		}
		return &Issued{RequestID: res.RequestID, Leaf: res.Certificate, Chain: res.Chain}, nil
	case ca.StatusPending:
		return &Issued{RequestID: res.RequestID, Pending: true}, nil
	case ca.StatusDenied:
		return nil, fmt.Errorf("apply: request %d: %w: %s", res.RequestID, ErrDenied, res.Reason)
	}
	return nil, fmt.Errorf("apply: request %d is %s", res.RequestID, res.Status)
}

// RemoteCA issues through the CA's HTTPS API (apply --ca URL).
func RemoteCA(c *caclient.Client) Issuer { return &remoteCA{c: c} }

type remoteCA struct{ c *caclient.Client }

func (r *remoteCA) Chain(ctx context.Context) ([]*x509.Certificate, error) {
	_, certs, err := r.c.Chain(ctx)
	if err != nil {
		return nil, fmt.Errorf("apply: CA chain: %w", err)
	}
	return certs, nil
}

func (r *remoteCA) Submit(ctx context.Context, csrDER []byte, template string) (*Issued, error) {
	res, err := r.c.Submit(ctx, csrDER, template)
	return fromResponse(res, err)
}

func (r *remoteCA) Retrieve(ctx context.Context, id int64) (*Issued, error) {
	res, err := r.c.Retrieve(ctx, id)
	return fromResponse(res, err)
}

func fromResponse(res *caclient.Response, err error) (*Issued, error) {
	if errors.Is(err, caclient.ErrPending) && res != nil {
		return &Issued{RequestID: res.RequestID, Pending: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apply: CA: %w", err)
	}
	switch res.Status {
	case "issued", "":
		if res.Certificate == nil {
			return nil, errors.New("apply: CA: issued without a certificate")
		}
		return &Issued{RequestID: res.RequestID, Leaf: res.Certificate, Chain: res.Chain}, nil
	case "pending":
		return &Issued{RequestID: res.RequestID, Pending: true}, nil
	case "denied":
		return nil, fmt.Errorf("apply: request %d: %w", res.RequestID, ErrDenied)
	}
	return nil, fmt.Errorf("apply: request %d is %s", res.RequestID, res.Status)
}
