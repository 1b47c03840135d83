package enroll

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"edgecert/internal/acmeserver"
	"edgecert/internal/ca"
	"edgecert/internal/db"
)

// ACMEConfig turns on the ACME server (RFC 8555, docs/acme.md) under
// /acme/<template>/ on the HTTPS listener.
type ACMEConfig struct {
	// BaseURL is the CA's HTTPS URL as ACME clients reach it; empty: the
	// listener's own (https://<address>:<port>).
	BaseURL    string
	Validation acmeserver.ValidationOptions
	// Unbound opens templates to accounts without External Account
	// Binding from the given networks; they act as the CA user
	// acmeserver.UnboundUser, which must exist and hold Enroll.
	Unbound map[string][]netip.Prefix
}

// ACMEEngine is what the ACME server needs of the CA engine (*ca.Engine
// satisfies it).
type ACMEEngine interface {
	ACMETemplate(name string) (*ca.ACMETemplateInfo, error)
	PrincipalFor(ctx context.Context, user string) (*ca.Principal, error)
	CheckOrder(ctx context.Context, p *ca.Principal, template string, names []string) ([]ca.NameRefusal, error)
	ACMEPreauthorized(ctx context.Context, p *ca.Principal, template string, names []string) ([]bool, error)
	SubmitFor(ctx context.Context, p *ca.Principal, csr []byte, template, ref string) (*ca.Result, error)
	IssuedFor(ctx context.Context, ref string) (string, error)
	CertificateDER(ctx context.Context, serial string) (der []byte, requester string, revoked bool, err error)
	RevokeAsHolder(ctx context.Context, actor string, serial *big.Int, code int, how string) error
	ACMEDB() *db.DB
	Chain() []*x509.Certificate
}

var _ ACMEEngine = (*ca.Engine)(nil)

// nonceSecretName names the nonce secret in the CA database: every process
// of the CA reads the same one, so a nonce from one is good at the others.
const nonceSecretName = "nonce-hmac"

// acmeState is the ACME server, built once the base URL is known.
type acmeState struct {
	h atomic.Pointer[http.Handler]
	// deadline bounds one ACME request: the database deadline, and a
	// challenge's validation attempts.
	deadline time.Duration
	outcome  sync.Map // acmeKey -> *atomic.Uint64
}

type acmeKey struct{ kind, value string }

func (a *acmeState) observe(kind, value string) {
	k := acmeKey{kind, value}
	v, ok := a.outcome.Load(k)
	if !ok {
		v, _ = a.outcome.LoadOrStore(k, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

// startACME builds the ACME server for base.
func (s *Server) startACME(ctx context.Context, base string) error {
	cfg := s.cfg.ACME
	eng, ok := s.rawEng.(ACMEEngine)
	if !ok {
		return errors.New("enroll: the engine does not serve ACME")
	}
	if cfg.BaseURL != "" {
		base = cfg.BaseURL
	}
	fresh := make([]byte, 32)
	if _, err := io.ReadFull(s.cfg.Rand, fresh); err != nil {
		return err
	}
	secret, err := eng.ACMEDB().ACMESecret(ctx, nonceSecretName, fresh)
	if err != nil {
		return fmt.Errorf("enroll: the ACME nonce secret: %w", err)
	}
	nonces, err := acmeserver.NewNonces(secret, acmeserver.NonceOptions{Now: s.now})
	if err != nil {
		return err
	}
	ad := &acmeCA{eng: eng, d: s.cfg.DBTimeout, unbound: cfg.Unbound}
	srv, err := acmeserver.NewServer(acmeserver.Config{
		BaseURL: base, Nonces: nonces, Templates: ad, DB: eng.ACMEDB(), CA: ad,
		Validation: cfg.Validation, Unbound: cfg.Unbound, Now: s.now, Rand: s.cfg.Rand, Observe: s.acme.observe,
	})
	if err != nil {
		return err
	}
	v := cfg.Validation
	s.acme.deadline = s.cfg.DBTimeout + time.Duration(max(v.Attempts, 3))*(max(v.Timeout, 10*time.Second)+max(v.Pause, time.Second))
	h := srv.Handler()
	s.acme.h.Store(&h)
	return nil
}

// handleACME serves /acme/ once the ACME server is built.
func (s *Server) handleACME(w http.ResponseWriter, r *http.Request) {
	h := s.acme.h.Load()
	if h == nil {
		http.Error(w, "ACME is not served", http.StatusNotFound)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.acme.deadline)
	defer cancel()
	(*h).ServeHTTP(w, r.WithContext(ctx))
}

func (s *Server) writeACMECounts(w *bufio.Writer) {
	type row struct {
		k acmeKey
		n uint64
	}
	var rows []row
	s.acme.outcome.Range(func(k, v any) bool {
		rows = append(rows, row{k.(acmeKey), v.(*atomic.Uint64).Load()})
		return true
	})
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].k.kind != rows[j].k.kind {
			return rows[i].k.kind < rows[j].k.kind
		}
		return rows[i].k.value < rows[j].k.value
	})
	for _, m := range []struct{ kind, name, help, label string }{
		{"order", "edgecert_acme_orders_total", "ACME orders by outcome: created, rejected (policy or permission), valid, invalid.", "outcome"},
		{"challenge", "edgecert_acme_challenges_total", "ACME challenge validations by type and outcome.", "challenge"},
		{"error", "edgecert_acme_errors_total", "ACME problem documents answered, by error type.", "type"},
	} {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", m.name, m.help, m.name)
		for _, r := range rows {
			if r.k.kind == m.kind {
				fmt.Fprintf(w, "%s{%s=%q} %d\n", m.name, m.label, r.k.value, r.n)
			}
		}
	}
}

// acmeCA adapts the engine to acmeserver.CA and acmeserver.Templates,
// turning its error kinds into problems, each call under the database
// deadline.
type acmeCA struct {
	eng     ACMEEngine
	d       time.Duration
	unbound map[string][]netip.Prefix
}

func (a *acmeCA) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.d)
}

func (a *acmeCA) ACMETemplate(ctx context.Context, name string) (acmeserver.Template, bool, error) {
	t, err := a.eng.ACMETemplate(name)
	if errors.Is(err, ca.ErrNotFound) || errors.Is(err, ca.ErrBadRequest) {
		return acmeserver.Template{}, false, nil
	}
	if err != nil {
		return acmeserver.Template{}, false, err
	}
	if !t.Served || t.Name != name { // the exact name only: URLs are compared as strings
		return acmeserver.Template{}, false, nil
	}
	return acmeserver.Template{Name: t.Name, ExternalAccountRequired: len(a.unbound[t.Name]) == 0}, true, nil
}

// problem turns an engine error into an ACME problem.
func acmeProblem(err error, bad acmeserver.ErrorType) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ca.ErrForbidden), errors.Is(err, ca.ErrUnauthenticated):
		return acmeserver.NewProblem(acmeserver.Unauthorized, "%s", err.Error())
	case errors.Is(err, ca.ErrBadRequest):
		return acmeserver.NewProblem(bad, "%s", err.Error())
	case errors.Is(err, ca.ErrConflict):
		return acmeserver.NewProblem(acmeserver.AlreadyRevoked, "%s", err.Error())
	case errors.Is(err, ca.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, db.ErrMaybeCommitted):
		p := acmeserver.NewProblem(acmeserver.ServerInternal, "the CA's database did not answer in time; retry")
		p.Status, p.RetryAfter = http.StatusServiceUnavailable, 5
		return p
	}
	return err
}

func (a *acmeCA) CheckOrder(ctx context.Context, user, template string, ids []acmeserver.Identifier) ([]acmeserver.Subproblem, error) {
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	p, err := a.eng.PrincipalFor(ctx, user)
	if err != nil {
		return nil, acmeProblem(err, acmeserver.Unauthorized)
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id.Value
	}
	refused, err := a.eng.CheckOrder(ctx, p, template, names)
	if err != nil {
		return nil, acmeProblem(err, acmeserver.Malformed)
	}
	var out []acmeserver.Subproblem
	for _, r := range refused {
		for _, id := range ids {
			if id.Value == r.Name {
				out = append(out, acmeserver.Subproblem{Type: acmeserver.RejectedIdentifier, Detail: r.Reason, Identifier: id})
			}
		}
	}
	return out, nil
}

// Preauthorized asks the engine only when the template pre-authorizes
// names (off, the default, costs an order no look-up).
func (a *acmeCA) Preauthorized(ctx context.Context, user, template string, ids []acmeserver.Identifier) ([]bool, error) {
	if t, err := a.eng.ACMETemplate(template); err != nil || !t.Preauthorizes {
		return make([]bool, len(ids)), nil
	}
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	p, err := a.eng.PrincipalFor(ctx, user)
	if err != nil {
		return nil, acmeProblem(err, acmeserver.Unauthorized)
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id.Value
	}
	pre, err := a.eng.ACMEPreauthorized(ctx, p, template, names)
	if err != nil {
		return nil, acmeProblem(err, acmeserver.Malformed)
	}
	return pre, nil
}

func (a *acmeCA) Issue(ctx context.Context, user, template string, csr []byte, ref string) (string, error) {
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	p, err := a.eng.PrincipalFor(ctx, user)
	if err != nil {
		return "", acmeProblem(err, acmeserver.Unauthorized)
	}
	res, err := a.eng.SubmitFor(ctx, p, csr, template, ref)
	if err != nil {
		return "", acmeProblem(err, acmeserver.BadCSR)
	}
	if res.Status != ca.StatusIssued {
		return "", fmt.Errorf("template %s put request %d up for approval", template, res.RequestID)
	}
	return res.Serial, nil
}

func (a *acmeCA) IssuedFor(ctx context.Context, ref string) (string, error) {
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	s, err := a.eng.IssuedFor(ctx, ref)
	return s, acmeProblem(err, acmeserver.Malformed)
}

func (a *acmeCA) Certificate(ctx context.Context, serial string) ([]byte, string, bool, error) {
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	der, req, revoked, err := a.eng.CertificateDER(ctx, serial)
	if errors.Is(err, ca.ErrNotFound) {
		return nil, "", false, acmeserver.ErrNoCertificate
	}
	return der, req, revoked, acmeProblem(err, acmeserver.Malformed)
}

func (a *acmeCA) Chain() [][]byte {
	var out [][]byte
	for _, c := range a.eng.Chain() {
		out = append(out, c.Raw)
	}
	return out
}

func (a *acmeCA) Revoke(ctx context.Context, actor, serial string, reason int, how string) error {
	ctx, cancel := a.ctx(ctx)
	defer cancel()
	n, ok := new(big.Int).SetString(serial, 16)
	if !ok {
		return acmeserver.NewProblem(acmeserver.Malformed, "bad serial")
	}
	return acmeProblem(a.eng.RevokeAsHolder(ctx, actor, n, reason, how), acmeserver.BadRevocationReason)
}

// ACMEURL is the base URL the ACME server gives out (after Listen).
func (s *Server) ACMEURL() string {
	if s.cfg.ACME != nil && s.cfg.ACME.BaseURL != "" {
		return s.cfg.ACME.BaseURL
	}
	return s.URL()
}
