package db

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ACME statuses (RFC 8555 §7.1.6) as stored.
const (
	ACMEPending     = "pending"
	ACMEReady       = "ready"
	ACMEProcessing  = "processing"
	ACMEValid       = "valid"
	ACMEInvalid     = "invalid"
	ACMEDeactivated = "deactivated"
	ACMERevoked     = "revoked"
	ACMEExpired     = "expired"
)

// ACMEAccount is an ACME account: its key, the CA user it acts as and its
// state.
type ACMEAccount struct {
	ID         string
	Template   string // the directory that created it
	Thumbprint string // RFC 7638 thumbprint of the key, unique per template
	JWK        []byte // the key as the client sent it
	User       string // the CA user the account acts as
	EABKID     string // the External Account Binding key id ("" for an unbound account)
	Status     string
	Contact    []string
	Created    time.Time
}

// ACMEOrder is an order; its identifiers are "type:value" ("dns:a.contoso.com").
type ACMEOrder struct {
	ID          string
	AccountID   string
	Status      string
	Expires     time.Time
	Identifiers []string
	Error       string // a problem document (JSON) for an invalid order
	Serial      string // the certificate of a valid order
	Replaces    string // RFC 9773 certificate identifier this order replaces
	Created     time.Time
	Updated     time.Time
}

// ACMEChallenge is one challenge of an authorization.
type ACMEChallenge struct {
	Type      string
	Status    string
	Validated time.Time // zero until valid
	Error     string    // a problem document (JSON)
}

// ACMEAuthz is an authorization for one identifier, with its challenges.
type ACMEAuthz struct {
	ID         string
	OrderID    string
	AccountID  string
	Type       string // "dns" or "ip"
	Value      string
	Wildcard   bool
	Status     string
	Expires    time.Time
	Token      string // shared by the challenges
	Challenges []ACMEChallenge
}

func (d *DB) acme(what string, err error) error {
	if err == nil {
		return nil
	}
	return d.b.sqlSide().classify(what, err)
}

// PutEABKey stores an External Account Binding key for user.
func (d *DB) PutEABKey(ctx context.Context, kid, user string, key []byte, at time.Time) error {
	_, err := d.b.sqlSide().exec(ctx, `INSERT INTO acme_eab_keys(kid, user_name, hmac_key, created) VALUES(?,?,?,?)`, kid, user, key, at.Unix())
	return d.acme("store the external account key", err)
}

// EABKey returns the user and HMAC key of an External Account Binding key
// id; a key of a removed or disabled user wraps ErrNotFound.
func (d *DB) EABKey(ctx context.Context, kid string) (user string, key []byte, err error) {
	found := false
	err = d.b.sqlSide().query(ctx, `SELECT k.user_name, k.hmac_key, u.disabled FROM acme_eab_keys k JOIN users u ON u.name = k.user_name WHERE k.kid = ?`, []any{kid},
		func(sc scanner) error {
			var disabled bool
			if err := sc.Scan(&user, &key, &disabled); err != nil {
				return err
			}
			found = !disabled
			return nil
		})
	if err != nil {
		return "", nil, d.acme("external account key", err)
	}
	if !found {
		return "", nil, fmt.Errorf("external account key %s: %w", kid, ErrNotFound)
	}
	return user, key, nil
}

// ACMESecret returns the shared secret name, storing fresh (what every
// process of the CA then reads) when there is none yet.
func (d *DB) ACMESecret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	b := d.b.sqlSide()
	if _, err := b.exec(ctx, `INSERT INTO acme_secrets(name, value) VALUES(?,?) ON CONFLICT(name) DO NOTHING`, name, fresh); err != nil {
		return nil, d.acme("store the ACME secret", err)
	}
	var v []byte
	err := b.query(ctx, `SELECT value FROM acme_secrets WHERE name = ?`, []any{name}, func(sc scanner) error { return sc.Scan(&v) })
	if err == nil && v == nil {
		err = fmt.Errorf("ACME secret %s: %w", name, ErrNotFound)
	}
	return v, d.acme("read the ACME secret", err)
}

const acmeAccountCols = `id, template, thumbprint, jwk, user_name, eab_kid, status, contact, created`

func scanAccount(sc scanner) (*ACMEAccount, error) {
	var a ACMEAccount
	var contact string
	var created int64
	if err := sc.Scan(&a.ID, &a.Template, &a.Thumbprint, &a.JWK, &a.User, &a.EABKID, &a.Status, &contact, &created); err != nil {
		return nil, err
	}
	a.Contact = splitLines(contact)
	a.Created = time.Unix(created, 0).UTC()
	return &a, nil
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// CreateACMEAccount stores a new account; a key that already has an
// account in the template wraps ErrDuplicate.
func (d *DB) CreateACMEAccount(ctx context.Context, a ACMEAccount) error {
	_, err := d.b.sqlSide().exec(ctx, `INSERT INTO acme_accounts(`+acmeAccountCols+`) VALUES(?,?,?,?,?,?,?,?,?)`,
		a.ID, a.Template, a.Thumbprint, a.JWK, a.User, a.EABKID, a.Status, strings.Join(a.Contact, "\n"), a.Created.Unix())
	return d.acme("create the ACME account", err)
}

func (d *DB) oneAccount(ctx context.Context, where string, args ...any) (*ACMEAccount, error) {
	var a *ACMEAccount
	err := d.b.sqlSide().query(ctx, `SELECT `+acmeAccountCols+` FROM acme_accounts WHERE `+where, args, func(sc scanner) (err error) {
		a, err = scanAccount(sc)
		return err
	})
	if err != nil {
		return nil, d.acme("ACME account", err)
	}
	if a == nil {
		return nil, fmt.Errorf("ACME account: %w", ErrNotFound)
	}
	return a, nil
}

// ACMEAccount returns an account by id.
func (d *DB) ACMEAccount(ctx context.Context, id string) (*ACMEAccount, error) {
	return d.oneAccount(ctx, `id = ?`, id)
}

// ACMEAccountByKey returns the account of a key thumbprint in a template.
func (d *DB) ACMEAccountByKey(ctx context.Context, template, thumbprint string) (*ACMEAccount, error) {
	return d.oneAccount(ctx, `template = ? AND thumbprint = ?`, template, thumbprint)
}

// UpdateACMEAccount sets a valid account's contact and status; an account
// that is no longer valid wraps ErrConflict.
func (d *DB) UpdateACMEAccount(ctx context.Context, id string, contact []string, status string) error {
	n, err := d.b.sqlSide().exec(ctx, `UPDATE acme_accounts SET contact = ?, status = ? WHERE id = ? AND status = 'valid'`, strings.Join(contact, "\n"), status, id)
	if err == nil && n == 0 {
		err = fmt.Errorf("ACME account %s is not valid: %w", id, ErrConflict)
	}
	return d.acme("update the ACME account", err)
}

// ChangeACMEAccountKey replaces a valid account's key, if it is still
// oldThumbprint (else ErrConflict); a key another account of the template
// holds wraps ErrDuplicate.
func (d *DB) ChangeACMEAccountKey(ctx context.Context, id, oldThumbprint, thumbprint string, jwk []byte) error {
	n, err := d.b.sqlSide().exec(ctx, `UPDATE acme_accounts SET thumbprint = ?, jwk = ? WHERE id = ? AND thumbprint = ? AND status = 'valid'`, thumbprint, jwk, id, oldThumbprint)
	if err == nil && n == 0 {
		err = fmt.Errorf("ACME account %s changed meanwhile: %w", id, ErrConflict)
	}
	return d.acme("change the ACME account key", err)
}

// CreateACMEOrder stores an order and its authorizations in one transaction.
func (d *DB) CreateACMEOrder(ctx context.Context, o ACMEOrder, authzs []ACMEAuthz) error {
	err := d.b.sqlSide().inTxn(ctx, func(x execer) error {
		if _, err := x.exec(ctx, `INSERT INTO acme_orders(id, account_id, status, expires, identifiers, error, serial, replaces, created, updated) VALUES(?,?,?,?,?,?,?,?,?,?)`,
			o.ID, o.AccountID, o.Status, o.Expires.Unix(), strings.Join(o.Identifiers, "\n"), o.Error, o.Serial, o.Replaces, o.Created.Unix(), o.Created.Unix()); err != nil {
			return err
		}
		for _, a := range authzs {
			if _, err := x.exec(ctx, `INSERT INTO acme_authzs(id, order_id, account_id, id_type, id_value, wildcard, status, expires, token) VALUES(?,?,?,?,?,?,?,?,?)`,
				a.ID, o.ID, o.AccountID, a.Type, a.Value, a.Wildcard, a.Status, a.Expires.Unix(), a.Token); err != nil {
				return err
			}
			for _, c := range a.Challenges {
				if _, err := x.exec(ctx, `INSERT INTO acme_challenges(authz_id, type, status, validated, error) VALUES(?,?,?,?,?)`,
					a.ID, c.Type, c.Status, unixOrZero(c.Validated), c.Error); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return d.acme("create the ACME order", err)
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(u int64) time.Time {
	if u == 0 {
		return time.Time{}
	}
	return time.Unix(u, 0).UTC()
}

const acmeOrderCols = `id, account_id, status, expires, identifiers, error, serial, replaces, created, updated`

func scanOrder(sc scanner) (*ACMEOrder, error) {
	var o ACMEOrder
	var ids string
	var exp, created, updated int64
	if err := sc.Scan(&o.ID, &o.AccountID, &o.Status, &exp, &ids, &o.Error, &o.Serial, &o.Replaces, &created, &updated); err != nil {
		return nil, err
	}
	o.Identifiers = splitLines(ids)
	o.Expires, o.Created, o.Updated = time.Unix(exp, 0).UTC(), time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC()
	return &o, nil
}

// ACMEOrder returns an order by id.
func (d *DB) ACMEOrder(ctx context.Context, id string) (*ACMEOrder, error) {
	var o *ACMEOrder
	err := d.b.sqlSide().query(ctx, `SELECT `+acmeOrderCols+` FROM acme_orders WHERE id = ?`, []any{id}, func(sc scanner) (err error) {
		o, err = scanOrder(sc)
		return err
	})
	if err == nil && o == nil {
		err = fmt.Errorf("ACME order %s: %w", id, ErrNotFound)
	}
	return o, d.acme("ACME order", err)
}

// ACMEOrders lists the ids of an account's orders, newest first, at most limit.
func (d *DB) ACMEOrders(ctx context.Context, accountID string, limit int) ([]string, error) {
	var out []string
	err := d.b.sqlSide().query(ctx, `SELECT id FROM acme_orders WHERE account_id = ? ORDER BY created DESC, id LIMIT ?`, []any{accountID, limit}, func(sc scanner) error {
		var id string
		if err := sc.Scan(&id); err != nil {
			return err
		}
		out = append(out, id)
		return nil
	})
	return out, d.acme("ACME orders", err)
}

// SetACMEOrder moves an order from status from to o's status, error and
// serial; an order no longer in from wraps ErrConflict.
func (d *DB) SetACMEOrder(ctx context.Context, o ACMEOrder, from string) error {
	n, err := d.b.sqlSide().exec(ctx, `UPDATE acme_orders SET status = ?, error = ?, serial = ?, updated = ? WHERE id = ? AND status = ?`,
		o.Status, o.Error, o.Serial, o.Updated.Unix(), o.ID, from)
	if err == nil && n == 0 {
		err = fmt.Errorf("ACME order %s is no longer %s: %w", o.ID, from, ErrConflict)
	}
	return d.acme("update the ACME order", err)
}

// ACMEReplaced reports the id of an order, other than invalid ones, that
// already replaces the certificate identified by certID ("" if none).
func (d *DB) ACMEReplaced(ctx context.Context, certID string) (string, error) {
	var id string
	err := d.b.sqlSide().query(ctx, `SELECT id FROM acme_orders WHERE replaces = ? AND status <> 'invalid' LIMIT 1`, []any{certID}, func(sc scanner) error { return sc.Scan(&id) })
	return id, d.acme("ACME replaced orders", err)
}

const acmeAuthzCols = `a.id, a.order_id, a.account_id, a.id_type, a.id_value, a.wildcard, a.status, a.expires, a.token, c.type, c.status, c.validated, c.error`

// ACMEAuthzs returns the authorizations whose column col ("id" or
// "order_id") is v, with their challenges, in insertion order.
func (d *DB) acmeAuthzs(ctx context.Context, col, v string) ([]ACMEAuthz, error) {
	var out []ACMEAuthz
	err := d.b.sqlSide().query(ctx, `SELECT `+acmeAuthzCols+` FROM acme_authzs a JOIN acme_challenges c ON c.authz_id = a.id WHERE a.`+col+` = ? ORDER BY a.id, c.type`, []any{v},
		func(sc scanner) error {
			var a ACMEAuthz
			var c ACMEChallenge
			var exp, validated int64
			if err := sc.Scan(&a.ID, &a.OrderID, &a.AccountID, &a.Type, &a.Value, &a.Wildcard, &a.Status, &exp, &a.Token, &c.Type, &c.Status, &validated, &c.Error); err != nil {
				return err
			}
			c.Validated = timeOrZero(validated)
			if n := len(out); n > 0 && out[n-1].ID == a.ID {
				out[n-1].Challenges = append(out[n-1].Challenges, c)
				return nil
			}
			a.Expires = time.Unix(exp, 0).UTC()
			a.Challenges = []ACMEChallenge{c}
			out = append(out, a)
			return nil
		})
	return out, d.acme("ACME authorizations", err)
}

// ACMEAuthz returns one authorization with its challenges.
func (d *DB) ACMEAuthz(ctx context.Context, id string) (*ACMEAuthz, error) {
	as, err := d.acmeAuthzs(ctx, "id", id)
	if err != nil {
		return nil, err
	}
	if len(as) == 0 {
		return nil, fmt.Errorf("ACME authorization %s: %w", id, ErrNotFound)
	}
	return &as[0], nil
}

// ACMEOrderAuthzs returns the authorizations of an order.
func (d *DB) ACMEOrderAuthzs(ctx context.Context, orderID string) ([]ACMEAuthz, error) {
	return d.acmeAuthzs(ctx, "order_id", orderID)
}

// SetACMEChallenge moves a challenge from status from to c, and its
// authorization to authzStatus, in one transaction; a challenge no longer
// in from wraps ErrConflict.
func (d *DB) SetACMEChallenge(ctx context.Context, authzID string, c ACMEChallenge, from, authzStatus string) error {
	err := d.b.sqlSide().inTxn(ctx, func(x execer) error {
		n, err := x.exec(ctx, `UPDATE acme_challenges SET status = ?, validated = ?, error = ? WHERE authz_id = ? AND type = ? AND status = ?`,
			c.Status, unixOrZero(c.Validated), c.Error, authzID, c.Type, from)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("ACME challenge %s/%s is no longer %s: %w", authzID, c.Type, from, ErrConflict)
		}
		_, err = x.exec(ctx, `UPDATE acme_authzs SET status = ? WHERE id = ?`, authzStatus, authzID)
		return err
	})
	return d.acme("update the ACME challenge", err)
}

// SetACMEAuthz sets an authorization's status (deactivation), if it is
// still from.
func (d *DB) SetACMEAuthz(ctx context.Context, id, from, status string) error {
	n, err := d.b.sqlSide().exec(ctx, `UPDATE acme_authzs SET status = ? WHERE id = ? AND status = ?`, status, id, from)
	if err == nil && n == 0 {
		err = fmt.Errorf("ACME authorization %s is no longer %s: %w", id, from, ErrConflict)
	}
	return d.acme("update the ACME authorization", err)
}

// IssuedFor returns the serial of the certificate whose issuance was
// audited with detail (the engine records an ACME order's id there, in the
// transaction of the certificate), or "" when none was.
func (d *DB) IssuedFor(ctx context.Context, detail string) (string, error) {
	var serial string
	err := d.b.sqlSide().query(ctx, `SELECT serial FROM audit WHERE detail = ? AND result = 'issued' ORDER BY id LIMIT 1`, []any{detail}, func(sc scanner) error { return sc.Scan(&serial) })
	return serial, d.acme("issued certificate", err)
}
