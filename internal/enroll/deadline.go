package enroll

import (
	"context"
	"math/big"
	"time"

	"edgecert/internal/ca"
)

// timedEngine gives every engine call that may reach the database a
// deadline of its own (Config.DBTimeout), counted from the call rather
// than from the request's arrival, so that a slow upload does not eat it:
// a database that hangs costs a request a 503 after a few seconds, never
// the whole write timeout. Methods it does not list pass through.
type timedEngine struct {
	Engine
	d time.Duration
}

func (t timedEngine) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, t.d)
}

func (t timedEngine) Authenticate(ctx context.Context, user string, password []byte) (*ca.Principal, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Authenticate(ctx, user, password)
}

func (t timedEngine) AuthenticateToken(ctx context.Context, token string) (*ca.Principal, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.AuthenticateToken(ctx, token)
}

func (t timedEngine) Submit(ctx context.Context, p *ca.Principal, csr []byte, template string) (*ca.Result, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Submit(ctx, p, csr, template)
}

func (t timedEngine) Request(ctx context.Context, p *ca.Principal, id int64) (*ca.Result, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Request(ctx, p, id)
}

func (t timedEngine) Requests(ctx context.Context, p *ca.Principal, status ca.Status, pg ca.Page) ([]ca.Result, int64, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Requests(ctx, p, status, pg)
}

func (t timedEngine) PendingCount(ctx context.Context) (int, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.PendingCount(ctx)
}

func (t timedEngine) Approve(ctx context.Context, p *ca.Principal, id int64) (*ca.Result, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Approve(ctx, p, id)
}

func (t timedEngine) Deny(ctx context.Context, p *ca.Principal, id int64, reason string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Deny(ctx, p, id, reason)
}

func (t timedEngine) Revoke(ctx context.Context, p *ca.Principal, serial *big.Int, reason string) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Revoke(ctx, p, serial, reason)
}

func (t timedEngine) Templates(ctx context.Context, p *ca.Principal) ([]ca.TemplateInfo, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Templates(ctx, p)
}

func (t timedEngine) CRL(ctx context.Context, delta bool) ([]byte, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.CRL(ctx, delta)
}

func (t timedEngine) OCSP(ctx context.Context, req []byte) ([]byte, error) {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.OCSP(ctx, req)
}

func (t timedEngine) Ready(ctx context.Context) error {
	ctx, cancel := t.ctx(ctx)
	defer cancel()
	return t.Engine.Ready(ctx)
}
