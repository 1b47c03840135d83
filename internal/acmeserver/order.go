package acmeserver

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"edgecert/internal/db"
)

// Challenge types the CA validates.
const (
	HTTP01    = "http-01"
	DNS01     = "dns-01"
	TLSALPN01 = "tls-alpn-01"
	// PreAuthorized is the record of a pre-authorized name: its
	// authorization's one challenge in the database, valid when the
	// order was created; clients see a valid authorization with no
	// challenge.
	PreAuthorized = "pre-authorized"
)

type orderJSON struct {
	Status         string       `json:"status"`
	Expires        string       `json:"expires"`
	Identifiers    []Identifier `json:"identifiers"`
	Authorizations []string     `json:"authorizations"`
	Finalize       string       `json:"finalize"`
	Certificate    string       `json:"certificate,omitempty"`
	Error          any          `json:"error,omitempty"`
	Replaces       string       `json:"replaces,omitempty"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func rawProblem(s string) any {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func problemJSONText(p *Problem) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// identifier reads a stored "type:value".
func identifier(s string) Identifier {
	t, v, _ := strings.Cut(s, ":")
	return Identifier{Type: t, Value: v}
}

func (c *call) orderJSON(o *db.ACMEOrder, authzs []db.ACMEAuthz) orderJSON {
	j := orderJSON{Status: o.Status, Expires: rfc3339(o.Expires), Finalize: c.url("order", o.ID, "finalize"), Error: rawProblem(o.Error), Replaces: o.Replaces, Authorizations: []string{}}
	for _, s := range o.Identifiers {
		j.Identifiers = append(j.Identifiers, identifier(s))
	}
	for _, a := range authzs {
		j.Authorizations = append(j.Authorizations, c.url("authz", a.ID))
	}
	if o.Status == db.ACMEValid {
		j.Certificate = c.url("cert", o.ID)
	}
	return j
}

// normalize checks and canonicalizes an order's identifiers: dns names in
// lower case without a final dot, ip addresses in their canonical text;
// duplicates dropped.
func normalize(ids []Identifier) ([]Identifier, error) {
	if len(ids) == 0 {
		return nil, NewProblem(Malformed, "an order needs at least one identifier")
	}
	if len(ids) > maxIdentifiers {
		return nil, NewProblem(RejectedIdentifier, "at most %d identifiers per order", maxIdentifiers)
	}
	var out []Identifier
	var unsupported []Subproblem
	for _, id := range ids {
		switch id.Type {
		case "dns":
			id.Value = strings.ToLower(strings.TrimSuffix(id.Value, "."))
			if id.Value == "" || len(id.Value) > 253 {
				return nil, NewProblem(Malformed, "dns identifier %s: empty or too long", quoteShort(id.Value))
			}
		case "ip":
			ip := net.ParseIP(id.Value)
			if ip == nil {
				return nil, NewProblem(Malformed, "ip identifier %s is not an IP address", quoteShort(id.Value))
			}
			id.Value = ip.String()
		default:
			unsupported = append(unsupported, Subproblem{Type: UnsupportedIdentifier, Detail: "identifier type " + quoteShort(id.Type) + " is not supported (dns, ip)", Identifier: id})
			continue
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(unsupported) > 0 {
		p := RejectedIdentifiers(unsupported)
		p.Type = UnsupportedIdentifier
		return nil, p
	}
	return out, nil
}

// newOrder creates an order (§7.4): the identifiers pass the template's
// policy and the account's user's Enroll permission before any
// authorization or challenge exists.
func (c *call) newOrder() {
	ctx := c.r.Context()
	sv := c.s.svc
	req, err := c.verifyKID(c.url(EndpointNewOrder))
	if err != nil {
		c.fail(err)
		return
	}
	var body struct {
		Identifiers []Identifier `json:"identifiers"`
		NotBefore   string       `json:"notBefore"`
		NotAfter    string       `json:"notAfter"`
		Replaces    string       `json:"replaces"`
	}
	if err := req.DecodePayload(&body); err != nil {
		c.fail(err)
		return
	}
	if body.NotBefore != "" || body.NotAfter != "" {
		c.fail(NewProblem(Malformed, "notBefore and notAfter are not supported: the template sets the validity"))
		return
	}
	ids, err := normalize(body.Identifiers)
	if err != nil {
		sv.observe("order", "rejected")
		c.fail(err)
		return
	}
	refused, err := sv.ca.CheckOrder(ctx, req.acct.User, c.t.Name, ids)
	if err != nil {
		sv.observe("order", "rejected")
		c.fail(err)
		return
	}
	if len(refused) > 0 {
		sv.observe("order", "rejected")
		c.fail(RejectedIdentifiers(refused))
		return
	}
	if body.Replaces != "" {
		if err := c.checkReplaces(ctx, req.acct, body.Replaces, ids); err != nil {
			c.fail(err)
			return
		}
	}
	pre := make([]bool, len(ids))
	if pa, ok := sv.ca.(Preauthorizer); ok {
		if pre, err = pa.Preauthorized(ctx, req.acct.User, c.t.Name, ids); err != nil {
			c.fail(err)
			return
		}
	}
	now := sv.now()
	oid, err := sv.newID()
	if err != nil {
		c.fail(err)
		return
	}
	o := db.ACMEOrder{ID: oid, AccountID: req.acct.ID, Status: db.ACMEPending, Expires: now.Add(OrderLifetime), Replaces: body.Replaces, Created: now, Updated: now}
	var authzs []db.ACMEAuthz
	ready := true
	for i, id := range ids {
		o.Identifiers = append(o.Identifiers, id.Type+":"+id.Value)
		aid, err := sv.newID()
		if err != nil {
			c.fail(err)
			return
		}
		tok, err := sv.newID()
		if err != nil {
			c.fail(err)
			return
		}
		a := db.ACMEAuthz{ID: aid, Type: id.Type, Value: id.Value, Status: db.ACMEPending, Expires: o.Expires, Token: tok}
		types := []string{HTTP01, DNS01, TLSALPN01}
		if id.Type == "ip" {
			types = []string{HTTP01, TLSALPN01}
		}
		if v, ok := strings.CutPrefix(id.Value, "*."); ok && id.Type == "dns" {
			a.Value, a.Wildcard, types = v, true, []string{DNS01}
		}
		if pre[i] && !a.Wildcard {
			// Pre-authorized: valid at once, and the authorization shows
			// it by having no challenge.
			a.Status, types = db.ACMEValid, nil
			a.Challenges = []db.ACMEChallenge{{Type: PreAuthorized, Status: db.ACMEValid, Validated: now}}
			sv.observe("challenge", PreAuthorized+" valid")
		} else {
			ready = false
		}
		for _, t := range types {
			a.Challenges = append(a.Challenges, db.ACMEChallenge{Type: t, Status: db.ACMEPending})
		}
		authzs = append(authzs, a)
	}
	if ready {
		o.Status = db.ACMEReady
	}
	if err := sv.db.CreateACMEOrder(ctx, o, authzs); err != nil {
		c.fail(err)
		return
	}
	sv.observe("order", "created")
	c.reply(http.StatusCreated, c.orderJSON(&o, authzs), c.url("order", oid))
}

// ownOrder loads an order of the request's account (others' are not found)
// and brings its status up to date; stored is the status in the database
// (pending for an order that is ready: refresh). The authorizations are
// loaded when withAuthzs is set or the status needs them.
func (c *call) ownOrder(ctx context.Context, req *signed, id string, withAuthzs bool) (o *db.ACMEOrder, authzs []db.ACMEAuthz, stored string, err error) {
	o, err = c.s.svc.db.ACMEOrder(ctx, id)
	if err != nil {
		return nil, nil, "", dbProblem("order", err)
	}
	if o.AccountID != req.acct.ID {
		return nil, nil, "", notFound("order")
	}
	authzs, stored, err = c.s.svc.refresh(ctx, o, withAuthzs)
	return o, authzs, stored, err
}

// refresh brings a stored order's status up to date with its
// authorizations, its expiry, and (for a processing order) the
// certificate recorded for it: an order whose finalize died after the
// certificate was recorded is valid with that certificate, one whose
// finalize died before is ready again after processingGrace. That a
// pending order is ready (all its authorizations valid) is derived, not
// written: it returns the status stored, which finalize moves from. It
// reads the order's authorizations when the order is pending (its status
// depends on them) or withAuthzs asks for them (to show them), else it
// returns none.
func (sv *service) refresh(ctx context.Context, o *db.ACMEOrder, withAuthzs bool) ([]db.ACMEAuthz, string, error) {
	var authzs []db.ACMEAuthz
	var err error
	if withAuthzs || o.Status == db.ACMEPending {
		if authzs, err = sv.db.ACMEOrderAuthzs(ctx, o.ID); err != nil {
			return nil, "", err
		}
	}
	now := sv.now()
	from := o.Status
	switch o.Status {
	case db.ACMEPending:
		valid := true
		for _, a := range authzs {
			switch a.Status {
			case db.ACMEValid:
			case db.ACMEPending:
				valid = false
			default:
				valid = false
				o.Status, o.Error = db.ACMEInvalid, problemJSONText(NewProblem(Unauthorized, "authorization for %s is %s", a.Value, a.Status))
			}
		}
		if o.Status == db.ACMEPending && valid {
			o.Status = db.ACMEReady
		}
		if o.Status != db.ACMEInvalid && now.After(o.Expires) {
			o.Status, o.Error = db.ACMEInvalid, problemJSONText(NewProblem(Malformed, "the order expired"))
		}
	case db.ACMEReady:
		if now.After(o.Expires) {
			o.Status, o.Error = db.ACMEInvalid, problemJSONText(NewProblem(Malformed, "the order expired"))
		}
	case db.ACMEProcessing:
		serial, err := sv.ca.IssuedFor(ctx, orderRef(o.ID))
		if err != nil {
			return nil, "", err
		}
		if serial != "" {
			o.Status, o.Serial = db.ACMEValid, serial
		} else if now.Sub(o.Updated) > processingGrace {
			o.Status = db.ACMEReady
		}
	}
	if o.Status == from || from == db.ACMEPending && o.Status == db.ACMEReady {
		return authzs, from, nil
	}
	o.Updated = now
	err = sv.db.SetACMEOrder(ctx, *o, from)
	if errors.Is(err, db.ErrConflict) { // another request moved it: read what it wrote
		fresh, ferr := sv.db.ACMEOrder(ctx, o.ID)
		if ferr != nil {
			return nil, "", ferr
		}
		*o = *fresh
		return authzs, o.Status, nil
	}
	if err == nil && (o.Status == db.ACMEValid || o.Status == db.ACMEInvalid) {
		sv.observe("order", o.Status)
	}
	return authzs, o.Status, err
}

// orderRef is what the CA records with an order's certificate.
func orderRef(id string) string { return "acme order " + id }

func (c *call) orderResource(id string) {
	req, err := c.verifyKID(c.url("order", id))
	if err != nil {
		c.fail(err)
		return
	}
	o, authzs, _, err := c.ownOrder(c.r.Context(), req, id, true)
	if err != nil {
		c.fail(err)
		return
	}
	c.replyOrder(o, authzs)
}

func (c *call) replyOrder(o *db.ACMEOrder, authzs []db.ACMEAuthz) {
	if o.Status == db.ACMEProcessing {
		c.w.Header().Set("Retry-After", "1")
	}
	c.reply(http.StatusOK, c.orderJSON(o, authzs), c.url("order", o.ID))
}

// finalize issues the order's certificate (§7.4): the CSR names exactly
// the order's identifiers and goes through the CA's own path.
func (c *call) finalize(id string) {
	ctx := c.r.Context()
	sv := c.s.svc
	req, err := c.verifyKID(c.url("order", id, "finalize"))
	if err != nil {
		c.fail(err)
		return
	}
	o, authzs, stored, err := c.ownOrder(ctx, req, id, true)
	if err != nil {
		c.fail(err)
		return
	}
	if o.Status != db.ACMEReady {
		if o.Status == db.ACMEValid || o.Status == db.ACMEProcessing {
			c.replyOrder(o, authzs) // a repeated finalize: the order as it is
			return
		}
		c.fail(NewProblem(OrderNotReady, "the order is %s, not ready", o.Status))
		return
	}
	var body struct {
		CSR string `json:"csr"`
	}
	if err := req.DecodePayload(&body); err != nil {
		c.fail(err)
		return
	}
	der, err := base64.RawURLEncoding.DecodeString(body.CSR)
	if err != nil {
		c.fail(NewProblem(BadCSR, "csr is not base64url DER"))
		return
	}
	if err := csrMatches(der, o.Identifiers); err != nil {
		c.fail(err)
		return
	}
	o.Status, o.Updated = db.ACMEProcessing, sv.now()
	if err := sv.db.SetACMEOrder(ctx, *o, stored); err != nil {
		if errors.Is(err, db.ErrConflict) {
			c.fail(NewProblem(OrderNotReady, "the order is being finalized"))
			return
		}
		c.fail(err)
		return
	}
	serial, err := sv.ca.Issue(ctx, req.acct.User, c.t.Name, der, orderRef(o.ID))
	if err != nil {
		var p *Problem
		if errors.As(err, &p) && p.Type != ServerInternal { // refused: the client may send another CSR
			o.Status, o.Updated = db.ACMEReady, sv.now()
			_ = sv.db.SetACMEOrder(ctx, *o, db.ACMEProcessing)
		}
		// Otherwise it stays processing: refresh attaches the certificate
		// if it was recorded, or makes the order ready again.
		c.fail(err)
		return
	}
	o.Status, o.Serial, o.Updated = db.ACMEValid, serial, sv.now()
	err = sv.db.SetACMEOrder(ctx, *o, db.ACMEProcessing)
	if errors.Is(err, db.ErrConflict) {
		fresh, ferr := sv.db.ACMEOrder(ctx, o.ID)
		if ferr != nil {
			c.fail(ferr)
			return
		}
		o = fresh
	} else if err != nil {
		c.fail(err)
		return
	} else {
		sv.observe("order", db.ACMEValid)
	}
	c.replyOrder(o, authzs)
}

// csrMatches checks a finalize CSR: a valid PKCS#10 whose signature holds
// and whose names (common name, DNS and IP SANs) are exactly the order's
// identifiers.
func csrMatches(der []byte, ids []string) error {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return NewProblem(BadCSR, "the CSR cannot be parsed: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return NewProblem(BadCSR, "the CSR's signature does not verify")
	}
	want := map[string]bool{}
	for _, s := range ids {
		want[s] = true
	}
	got := map[string]bool{}
	for _, d := range csr.DNSNames {
		got["dns:"+strings.ToLower(strings.TrimSuffix(d, "."))] = true
	}
	for _, ip := range csr.IPAddresses {
		got["ip:"+ip.String()] = true
	}
	if cn := csr.Subject.CommonName; cn != "" {
		k := "dns:" + strings.ToLower(cn)
		if ip := net.ParseIP(cn); ip != nil {
			k = "ip:" + ip.String()
		}
		if !want[k] {
			return NewProblem(BadCSR, "the CSR's common name %s is not an identifier of the order", quoteShort(cn))
		}
		got[k] = true
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return NewProblem(BadCSR, "the CSR has e-mail or URI names, which an order cannot authorize")
	}
	for k := range want {
		if !got[k] {
			return NewProblem(BadCSR, "the CSR lacks the order's identifier %s", quoteShort(k))
		}
	}
	for k := range got {
		if !want[k] {
			return NewProblem(BadCSR, "the CSR names %s, which is not an identifier of the order", quoteShort(k))
		}
	}
	return nil
}
