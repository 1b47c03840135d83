package acmeserver

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"edgecert/internal/db"
)

// CA is what the ACME endpoints need of the certification authority (the
// CA engine, adapted by internal/enroll). Errors that are *Problem reach
// the client as they are; others become serverInternal.
type CA interface {
	// CheckOrder applies user's Enroll permission on template and the
	// template's name policy to each identifier, before any challenge
	// exists: one Subproblem per refused identifier (none: the order may
	// proceed); an unauthorized *Problem when user may not enroll (or is
	// removed or disabled).
	CheckOrder(ctx context.Context, user, template string, ids []Identifier) ([]Subproblem, error)
	// Issue submits a PKCS#10 request (DER) as user under template through
	// the CA's own path (policy, lint, group commit), recording ref with
	// the certificate; it returns the serial (upper-case hex).
	Issue(ctx context.Context, user, template string, csr []byte, ref string) (serial string, err error)
	// IssuedFor returns the serial recorded with ref, or "".
	IssuedFor(ctx context.Context, ref string) (string, error)
	// Certificate returns an issued certificate; a serial the CA did not
	// issue is ErrNoCertificate.
	Certificate(ctx context.Context, serial string) (der []byte, requester string, revoked bool, err error)
	// Chain is the issuing CA's certificate up to the root, DER.
	Chain() [][]byte
	// Revoke revokes a certificate for its holder with an RFC 5280
	// reason; how says how the holder proved it ("account", "certificate
	// key"), for the audit log.
	Revoke(ctx context.Context, actor, serial string, reason int, how string) error
}

// Preauthorizer is what a CA implements when a template may pre-authorize
// names (docs/acme.md): for each identifier of an order that CheckOrder let
// through, whether it is valid at once, without a challenge, for user.
type Preauthorizer interface {
	Preauthorized(ctx context.Context, user, template string, ids []Identifier) ([]bool, error)
}

// ErrNoCertificate is wrapped by CA.Certificate for an unknown serial.
var ErrNoCertificate = errors.New("no such certificate")

// Observer is told of what the ACME server does, for metrics: kind
// "order" (value "created", "valid", "invalid", "rejected"), "challenge"
// (value "<type> valid" or "<type> invalid"; "pre-authorized valid" for
// a name valid without a challenge) and "error" (value the
// problem type).
type Observer func(kind, value string)

// Lifetimes of orders and authorizations.
const (
	OrderLifetime = 24 * time.Hour
	// processingGrace is how long an order may stay processing before a
	// reader decides the finalize that moved it there died: its
	// certificate, if recorded, is attached (IssuedFor), else the order is
	// ready again.
	processingGrace = 2 * time.Minute
	maxIdentifiers  = 100
	maxOrdersListed = 1000
)

// service is the stateful half of a Server: the records in the CA's
// database and the CA.
type service struct {
	db      *db.DB
	ca      CA
	val     *validator
	now     func() time.Time
	rand    io.Reader
	observe Observer
}

func (s *Server) newService(c Config) error {
	if c.DB == nil {
		return nil
	}
	if c.CA == nil {
		return errors.New("acme server: a database without a CA")
	}
	sv := &service{db: c.DB, ca: c.CA, now: c.Now, rand: c.Rand, observe: c.Observe}
	if sv.now == nil {
		sv.now = time.Now
	}
	if sv.rand == nil {
		sv.rand = rand.Reader
	}
	if sv.observe == nil {
		sv.observe = func(string, string) {}
	}
	v, err := newValidator(c.Validation)
	if err != nil {
		return err
	}
	sv.val = v
	s.svc = sv
	return nil
}

// newID is a random id of 16 bytes, base64url.
func (sv *service) newID() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(sv.rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// call is one ACME request being served.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	t    Template
	dir  string
	path []string // after /acme/<template>/
	// acct is the account the JWS's kid named, once looked up.
	acct *db.ACMEAccount
}

// fail writes err as a problem with a fresh nonce, and counts it.
func (c *call) fail(err error) {
	p := ProblemFrom(err)
	if c.s.svc != nil {
		c.s.svc.observe("error", string(p.Type))
	}
	WriteProblem(c.w, p, c.s.nonces, c.dir)
}

// reply writes v as JSON with status, a fresh nonce, the index link, a
// Location when location is set and more Link headers.
func (c *call) reply(status int, v any, location string, links ...string) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		c.fail(err)
		return
	}
	c.replyBytes(status, "application/json", append(body, '\n'), location, links...)
}

func (c *call) replyBytes(status int, contentType string, body []byte, location string, links ...string) {
	h := c.w.Header()
	if n, err := c.s.nonces.New(); err == nil {
		h.Set("Replay-Nonce", n)
	}
	h.Add("Link", "<"+c.dir+`>;rel="index"`)
	for _, l := range links {
		h.Add("Link", l)
	}
	if location != "" {
		h.Set("Location", location)
	}
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// url is the URL of a resource under the call's template.
func (c *call) url(parts ...string) string {
	return c.s.URL(c.t.Name, strings.Join(parts, "/"))
}

// verify checks the call's JWS against the URL requested.
func (c *call) verify(rule KeyRule, url string) (*Request, error) {
	v := &Verifier{Nonces: c.s.nonces, Accounts: accountKeys{c}}
	return v.Verify(c.r, url, rule)
}

// accountKeys looks accounts up by kid: an account URL of the call's
// template.
type accountKeys struct{ c *call }

func (a accountKeys) AccountKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	acct, err := a.c.account(ctx, kid)
	if err != nil {
		return nil, err
	}
	a.c.acct = acct
	return ParseJWK(acct.JWK)
}

// account returns the account a kid names, in the call's template.
func (c *call) account(ctx context.Context, kid string) (*db.ACMEAccount, error) {
	id, ok := strings.CutPrefix(kid, c.url("acct")+"/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return nil, ErrNoAccount
	}
	a, err := c.s.svc.db.ACMEAccount(ctx, id)
	if errors.Is(err, db.ErrNotFound) || (err == nil && a.Template != c.t.Name) {
		return nil, ErrNoAccount
	}
	if err != nil {
		return nil, err
	}
	if a.Status != db.ACMEValid {
		return nil, ErrAccountDeactivated
	}
	return a, nil
}

// signed is a verified request of an existing account.
type signed struct {
	*Request
	acct *db.ACMEAccount
}

// verifyKID checks a request that must name its account with kid.
func (c *call) verifyKID(url string) (*signed, error) {
	req, err := c.verify(KIDRequired, url)
	if err != nil {
		return nil, err
	}
	if c.acct == nil { // verify looked it up for the kid
		return nil, NewProblem(ServerInternal, "no account")
	}
	return &signed{Request: req, acct: c.acct}, nil
}

// dbProblem turns a database error into a problem: a missing record is
// malformed 404, anything else serverInternal.
func dbProblem(what string, err error) error {
	if errors.Is(err, db.ErrNotFound) {
		p := NewProblem(Malformed, "no such %s", what)
		p.Status = http.StatusNotFound
		return p
	}
	return ProblemFrom(err)
}

// notFound is the problem for a resource that is not there, or not the
// caller's (the same answer, so ids cannot be probed).
func notFound(what string) *Problem {
	p := NewProblem(Malformed, "no such %s", what)
	p.Status = http.StatusNotFound
	return p
}

// route serves the stateful resources under /acme/<template>/.
func (c *call) route() {
	p := c.path
	post := func(f func()) {
		if allow(c.w, c.r, http.MethodPost) {
			f()
		}
	}
	switch {
	case len(p) == 1 && p[0] == EndpointNewAccount:
		post(c.newAccount)
	case len(p) == 1 && p[0] == EndpointKeyChange:
		post(c.keyChange)
	case len(p) == 1 && p[0] == EndpointNewOrder:
		post(c.newOrder)
	case len(p) == 1 && p[0] == EndpointRevokeCert:
		post(c.revokeCert)
	case len(p) == 2 && p[0] == EndpointRenewalInfo:
		if allow(c.w, c.r, http.MethodGet, http.MethodHead) {
			c.renewalInfo(p[1])
		}
	case len(p) == 2 && p[0] == "acct":
		post(func() { c.accountResource(p[1]) })
	case len(p) == 3 && p[0] == "acct" && p[2] == "orders":
		post(func() { c.ordersList(p[1]) })
	case len(p) == 2 && p[0] == "order":
		post(func() { c.orderResource(p[1]) })
	case len(p) == 3 && p[0] == "order" && p[2] == "finalize":
		post(func() { c.finalize(p[1]) })
	case len(p) == 2 && p[0] == "authz":
		post(func() { c.authzResource(p[1]) })
	case len(p) == 3 && p[0] == "chall":
		post(func() { c.challenge(p[1], p[2]) })
	case len(p) == 2 && p[0] == "cert":
		post(func() { c.certificate(p[1]) })
	default:
		c.fail(notFound("ACME resource " + quoteShort(strings.Join(p, "/"))))
	}
}
