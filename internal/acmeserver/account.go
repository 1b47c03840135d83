package acmeserver

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"

	"edgecert/internal/db"
)

// accountJSON is an account object (RFC 8555 §7.1.2).
type accountJSON struct {
	Status                 string   `json:"status"`
	Contact                []string `json:"contact,omitempty"`
	TermsOfServiceAgreed   bool     `json:"termsOfServiceAgreed,omitempty"`
	Orders                 string   `json:"orders"`
	ExternalAccountBinding any      `json:"externalAccountBinding,omitempty"`
}

func (c *call) accountJSON(a *db.ACMEAccount) accountJSON {
	return accountJSON{Status: a.Status, Contact: a.Contact, Orders: c.url("acct", a.ID, "orders")}
}

// maxContacts bounds an account's contacts.
const maxContacts = 4

// checkContact accepts mailto: addresses only, one address each, no
// header fields (RFC 8555 §7.3).
func checkContact(contact []string) error {
	if len(contact) > maxContacts {
		return NewProblem(InvalidContact, "at most %d contacts", maxContacts)
	}
	for _, ct := range contact {
		addr, ok := strings.CutPrefix(ct, "mailto:")
		if !ok {
			return NewProblem(UnsupportedContact, "contact %s: only mailto: is supported", quoteShort(ct))
		}
		if len(addr) > 254 || strings.ContainsAny(addr, "?,<> \t\r\n") {
			return NewProblem(InvalidContact, "contact %s is not one e-mail address", quoteShort(ct))
		}
		if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
			return NewProblem(InvalidContact, "contact %s is not an e-mail address", quoteShort(ct))
		}
	}
	return nil
}

// newAccount creates an account, or finds the one of the key (RFC 8555
// §7.3, §7.3.1, §7.3.4).
func (c *call) newAccount() {
	ctx := c.r.Context()
	sv := c.s.svc
	req, err := c.verify(JWKRequired, c.url(EndpointNewAccount))
	if err != nil {
		c.fail(err)
		return
	}
	var na NewAccount
	if err := req.DecodePayload(&na); err != nil {
		c.fail(err)
		return
	}
	tp, err := Thumbprint(req.Key)
	if err != nil {
		c.fail(err)
		return
	}
	if a, err := sv.db.ACMEAccountByKey(ctx, c.t.Name, tp); err == nil {
		if a.Status != db.ACMEValid {
			c.fail(NewProblem(Unauthorized, "the account of this key is %s", a.Status))
			return
		}
		c.reply(http.StatusOK, c.accountJSON(a), c.url("acct", a.ID))
		return
	} else if !errors.Is(err, db.ErrNotFound) {
		c.fail(err)
		return
	}
	if na.OnlyReturnExisting {
		c.fail(NewProblem(AccountDoesNotExist, "no account has this key"))
		return
	}
	if c.t.TermsOfService != "" && !na.TermsOfServiceAgreed {
		c.fail(NewProblem(UserActionRequired, "agree to the terms of service (%s)", c.t.TermsOfService))
		return
	}
	if err := checkContact(na.Contact); err != nil {
		c.fail(err)
		return
	}
	user, kid, err := c.bind(ctx, na, req)
	if err != nil {
		c.fail(err)
		return
	}
	id, err := sv.newID()
	if err != nil {
		c.fail(err)
		return
	}
	jwk, err := thumbprintInput(req.Key)
	if err != nil {
		c.fail(err)
		return
	}
	a := db.ACMEAccount{ID: id, Template: c.t.Name, Thumbprint: tp, JWK: jwk, User: user, EABKID: kid, Status: db.ACMEValid, Contact: na.Contact, Created: sv.now()}
	err = sv.db.CreateACMEAccount(ctx, a)
	if errors.Is(err, db.ErrDuplicate) { // created meanwhile by the same key
		if found, ferr := sv.db.ACMEAccountByKey(ctx, c.t.Name, tp); ferr == nil {
			c.reply(http.StatusOK, c.accountJSON(found), c.url("acct", found.ID))
			return
		}
	}
	if err != nil {
		c.fail(err)
		return
	}
	_ = sv.db.AppendAudit(ctx, db.Audit{At: sv.now(), Actor: user, Action: "acme-account", Template: c.t.Name, Result: "created",
		Detail: "account " + id + boundBy(kid)})
	body := c.accountJSON(&a)
	body.TermsOfServiceAgreed = na.TermsOfServiceAgreed
	c.reply(http.StatusCreated, body, c.url("acct", id))
}

func boundBy(kid string) string {
	if kid == "" {
		return " (unbound)"
	}
	return " bound with " + kid
}

// bind decides which CA user a new account acts as: the one of its
// External Account Binding, or, for a template opened to unbound accounts,
// UnboundUser when the client's address is in one of the opened networks.
func (c *call) bind(ctx context.Context, na NewAccount, req *Request) (user, kid string, err error) {
	sv := c.s.svc
	hasBinding := len(strings.TrimSpace(string(na.ExternalAccountBinding))) > 0 && strings.TrimSpace(string(na.ExternalAccountBinding)) != "null"
	if !hasBinding && !c.t.ExternalAccountRequired && c.s.unboundAllowed(c.t.Name, c.r) {
		return UnboundUser, "", nil
	}
	keys := eabLookup{sv.db}
	kid, err = VerifyEAB(ctx, keys, na.ExternalAccountBinding, req.Key, c.url(EndpointNewAccount))
	if err != nil {
		return "", "", err
	}
	user, _, err = sv.db.EABKey(ctx, kid)
	if err != nil {
		return "", "", NewProblem(Unauthorized, "externalAccountBinding: unknown key id %s", quoteShort(kid))
	}
	return user, kid, nil
}

// UnboundUser is the CA user unbound accounts act as: a template opened
// to unbound accounts must also grant it (or a group it is in) Enroll.
const UnboundUser = "acme-unbound"

// eabLookup is EABKeys over the CA database.
type eabLookup struct{ d *db.DB }

func (e eabLookup) EABKey(ctx context.Context, kid string) ([]byte, error) {
	_, key, err := e.d.EABKey(ctx, kid)
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrNoEABKey
	}
	return key, err
}

// accountResource reads, updates or deactivates an account (§7.3.2, §7.3.6).
func (c *call) accountResource(id string) {
	ctx := c.r.Context()
	req, err := c.verifyKID(c.url("acct", id))
	if err != nil {
		c.fail(err)
		return
	}
	if req.acct.ID != id {
		c.fail(NewProblem(Unauthorized, "an account can only read or change itself"))
		return
	}
	a := req.acct
	if !req.PostAsGet() {
		var upd struct {
			Status  string   `json:"status"`
			Contact []string `json:"contact"`
		}
		if err := req.DecodePayload(&upd); err != nil {
			c.fail(err)
			return
		}
		status, contact := a.Status, a.Contact
		if upd.Contact != nil {
			if err := checkContact(upd.Contact); err != nil {
				c.fail(err)
				return
			}
			contact = upd.Contact
		}
		switch upd.Status {
		case "":
		case db.ACMEDeactivated:
			status = db.ACMEDeactivated
		default:
			c.fail(NewProblem(Malformed, "an account's status can only be set to deactivated"))
			return
		}
		if err := c.s.svc.db.UpdateACMEAccount(ctx, a.ID, contact, status); err != nil {
			c.fail(err)
			return
		}
		if status != a.Status {
			_ = c.s.svc.db.AppendAudit(ctx, db.Audit{At: c.s.svc.now(), Actor: a.User, Action: "acme-account", Template: c.t.Name, Result: status, Detail: "account " + a.ID})
		}
		a.Status, a.Contact = status, contact
	}
	c.reply(http.StatusOK, c.accountJSON(a), c.url("acct", a.ID))
}

// ordersList lists an account's orders (§7.1.2.1), newest first.
func (c *call) ordersList(id string) {
	req, err := c.verifyKID(c.url("acct", id, "orders"))
	if err != nil {
		c.fail(err)
		return
	}
	if req.acct.ID != id {
		c.fail(NewProblem(Unauthorized, "an account can only list its own orders"))
		return
	}
	ids, err := c.s.svc.db.ACMEOrders(c.r.Context(), id, maxOrdersListed)
	if err != nil {
		c.fail(err)
		return
	}
	out := struct {
		Orders []string `json:"orders"`
	}{Orders: []string{}}
	for _, o := range ids {
		out.Orders = append(out.Orders, c.url("order", o))
	}
	c.reply(http.StatusOK, out, "")
}

// keyChange rolls an account's key over (§7.3.5).
func (c *call) keyChange() {
	ctx := c.r.Context()
	req, err := c.verifyKID(c.url(EndpointKeyChange))
	if err != nil {
		c.fail(err)
		return
	}
	newKey, err := VerifyKeyChange(req.Request)
	if err != nil {
		c.fail(err)
		return
	}
	tp, err := Thumbprint(newKey)
	if err != nil {
		c.fail(err)
		return
	}
	if other, err := c.s.svc.db.ACMEAccountByKey(ctx, c.t.Name, tp); err == nil {
		p := NewProblem(Malformed, "another account holds the new key")
		p.Status = http.StatusConflict
		c.w.Header().Set("Location", c.url("acct", other.ID))
		c.fail(p)
		return
	}
	jwk, err := thumbprintInput(newKey)
	if err != nil {
		c.fail(err)
		return
	}
	err = c.s.svc.db.ChangeACMEAccountKey(ctx, req.acct.ID, req.acct.Thumbprint, tp, jwk)
	if errors.Is(err, db.ErrDuplicate) {
		p := NewProblem(Malformed, "another account holds the new key")
		p.Status = http.StatusConflict
		c.fail(p)
		return
	}
	if err != nil {
		c.fail(err)
		return
	}
	_ = c.s.svc.db.AppendAudit(ctx, db.Audit{At: c.s.svc.now(), Actor: req.acct.User, Action: "acme-key-change", Template: c.t.Name, Result: "ok", Detail: "account " + req.acct.ID})
	req.acct.JWK = jwk
	c.reply(http.StatusOK, c.accountJSON(req.acct), c.url("acct", req.acct.ID))
}
