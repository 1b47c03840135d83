package acmeserver

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"slices"

	"edgecert/internal/db"
)

// Authorizations, their challenges and the certificate download.

type challengeJSON struct {
	Type      string `json:"type"`
	URL       string `json:"url"`
	Status    string `json:"status"`
	Token     string `json:"token"`
	Validated string `json:"validated,omitempty"`
	Error     any    `json:"error,omitempty"`
}

type authzJSON struct {
	Identifier Identifier      `json:"identifier"`
	Status     string          `json:"status"`
	Expires    string          `json:"expires"`
	Challenges []challengeJSON `json:"challenges"`
	Wildcard   bool            `json:"wildcard,omitempty"`
}

func (c *call) authzJSON(a *db.ACMEAuthz) authzJSON {
	j := authzJSON{Identifier: Identifier{Type: a.Type, Value: a.Value}, Status: a.Status, Expires: rfc3339(a.Expires), Wildcard: a.Wildcard, Challenges: []challengeJSON{}}
	for _, ch := range a.Challenges {
		if ch.Type != PreAuthorized {
			j.Challenges = append(j.Challenges, c.challengeJSON(a, ch))
		}
	}
	return j
}

func (c *call) challengeJSON(a *db.ACMEAuthz, ch db.ACMEChallenge) challengeJSON {
	j := challengeJSON{Type: ch.Type, URL: c.url("chall", a.ID, ch.Type), Status: ch.Status, Token: a.Token, Error: rawProblem(ch.Error)}
	if !ch.Validated.IsZero() {
		j.Validated = rfc3339(ch.Validated)
	}
	return j
}

// ownAuthz loads an authorization of the request's account.
func (c *call) ownAuthz(ctx context.Context, req *signed, id string) (*db.ACMEAuthz, error) {
	a, err := c.s.svc.db.ACMEAuthz(ctx, id)
	if err != nil {
		return nil, dbProblem("authorization", err)
	}
	if a.AccountID != req.acct.ID {
		return nil, notFound("authorization")
	}
	if a.Status == db.ACMEPending && c.s.svc.now().After(a.Expires) {
		a.Status = db.ACMEExpired
	}
	return a, nil
}

// authzResource reads or deactivates an authorization (§7.5, §7.5.2).
func (c *call) authzResource(id string) {
	ctx := c.r.Context()
	req, err := c.verifyKID(c.url("authz", id))
	if err != nil {
		c.fail(err)
		return
	}
	a, err := c.ownAuthz(ctx, req, id)
	if err != nil {
		c.fail(err)
		return
	}
	if !req.PostAsGet() {
		var body struct {
			Status string `json:"status"`
		}
		if err := req.DecodePayload(&body); err != nil {
			c.fail(err)
			return
		}
		if body.Status != db.ACMEDeactivated {
			c.fail(NewProblem(Malformed, "an authorization's status can only be set to deactivated"))
			return
		}
		if a.Status != db.ACMEPending && a.Status != db.ACMEValid {
			c.fail(NewProblem(Malformed, "the authorization is %s", a.Status))
			return
		}
		if err := c.s.svc.db.SetACMEAuthz(ctx, a.ID, a.Status, db.ACMEDeactivated); err != nil {
			c.fail(err)
			return
		}
		a.Status = db.ACMEDeactivated
	}
	c.reply(http.StatusOK, c.authzJSON(a), c.url("authz", a.ID))
}

// challenge reads a challenge, or (with a payload of {}) has the CA
// validate it now (§7.5.1, §8): the answer says valid or invalid.
func (c *call) challenge(authzID, typ string) {
	ctx := c.r.Context()
	sv := c.s.svc
	req, err := c.verifyKID(c.url("chall", authzID, typ))
	if err != nil {
		c.fail(err)
		return
	}
	a, err := c.ownAuthz(ctx, req, authzID)
	if err != nil {
		c.fail(err)
		return
	}
	i := slices.IndexFunc(a.Challenges, func(ch db.ACMEChallenge) bool { return ch.Type == typ && typ != PreAuthorized })
	if i < 0 {
		c.fail(notFound("challenge"))
		return
	}
	ch := a.Challenges[i]
	up := "<" + c.url("authz", a.ID) + `>;rel="up"`
	if req.PostAsGet() || ch.Status != db.ACMEPending || a.Status != db.ACMEPending {
		c.reply(http.StatusOK, c.challengeJSON(a, ch), "", up)
		return
	}
	var body map[string]json.RawMessage
	if err := req.DecodePayload(&body); err != nil {
		c.fail(err)
		return
	}
	keyAuth, err := keyAuthorization(a.Token, req.Key)
	if err != nil {
		c.fail(err)
		return
	}
	verr := sv.val.validate(ctx, typ, Identifier{Type: a.Type, Value: a.Value}, a.Token, keyAuth)
	next, authzStatus := db.ACMEChallenge{Type: typ, Status: db.ACMEValid, Validated: sv.now()}, db.ACMEValid
	if verr != nil {
		next, authzStatus = db.ACMEChallenge{Type: typ, Status: db.ACMEInvalid, Error: problemJSONText(ProblemFrom(verr))}, db.ACMEInvalid
	}
	sv.observe("challenge", typ+" "+next.Status)
	err = sv.db.SetACMEChallenge(ctx, a.ID, next, db.ACMEPending, authzStatus)
	switch {
	case err == nil: // what was written is what is shown
		a.Status, ch = authzStatus, next
		a.Challenges[i] = next
	case errors.Is(err, db.ErrConflict): // another request validated it: show what it wrote
		if fresh, ferr := sv.db.ACMEAuthz(ctx, a.ID); ferr == nil {
			a = fresh
			ch = a.Challenges[slices.IndexFunc(a.Challenges, func(ch db.ACMEChallenge) bool { return ch.Type == typ })]
		}
	default:
		c.fail(err)
		return
	}
	// An invalid authorization makes its order invalid now; a valid one
	// makes it ready when the order is next read (derived, not written).
	if a.Status != db.ACMEValid {
		if o, oerr := sv.db.ACMEOrder(ctx, a.OrderID); oerr == nil {
			_, _, _ = sv.refresh(ctx, o, false)
		}
	}
	c.reply(http.StatusOK, c.challengeJSON(a, ch), "", up)
}

// certificate downloads an order's certificate: the PEM chain, leaf first
// (§7.4.2).
func (c *call) certificate(orderID string) {
	ctx := c.r.Context()
	req, err := c.verifyKID(c.url("cert", orderID))
	if err != nil {
		c.fail(err)
		return
	}
	o, _, _, err := c.ownOrder(ctx, req, orderID, false)
	if err != nil {
		c.fail(err)
		return
	}
	if o.Status != db.ACMEValid || o.Serial == "" {
		c.fail(notFound("certificate"))
		return
	}
	der, _, _, err := c.s.svc.ca.Certificate(ctx, o.Serial)
	if err != nil {
		c.fail(err)
		return
	}
	var out []byte
	for _, d := range append([][]byte{der}, c.s.svc.ca.Chain()...) {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	c.replyBytes(http.StatusOK, "application/pem-certificate-chain", out, "")
}
