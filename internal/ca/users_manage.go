package ca

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"edgecert/internal/db"
)

// Users change under a running server: every change to a user record gives
// it a new random version, and a web session, which remembers the version
// it signed in with, ends when the record it was read from is gone,
// disabled or changed (SessionPrincipal). API tokens are checked against
// the database on every use (up to the web server's short cache).

// minPasswordLen and maxPasswordLen bound a user's password.
const (
	minPasswordLen = 1
	maxPasswordLen = 1024
)

func checkPasswordLength(p []byte) error {
	if len(p) < minPasswordLen || len(p) > maxPasswordLen {
		return fmt.Errorf("a password has %d to %d characters, this one %d: %w", minPasswordLen, maxPasswordLen, len(p), ErrBadRequest)
	}
	return nil
}

// newUserVersion returns a fresh record version: random, so that a user
// removed and added again under the same name does not revive the old
// user's sessions.
func (e *Engine) newUserVersion() (int64, error) {
	var b [8]byte
	if _, err := io.ReadFull(e.rand, b[:]); err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b[:])>>1) | 1, nil
}

// TokenID names a token without revealing it: the first 12 hex digits of
// the hash it is stored by. `ca user token` prints it; `ca user token
// revoke --id` takes it.
func TokenID(token string) string { return tokenHash(token)[:tokenIDLen] }

const tokenIDLen = 12

// UserChange is a change to an existing user; nil fields stay as they are.
type UserChange struct {
	Groups   *[]string
	Admin    *bool
	Disabled *bool
	Password []byte // not empty: the new password
}

// ChangeUser changes a user (an operator's action on the CA directory),
// audited with the record before and after. Any change ends the user's web
// sessions; disabling also stops its API tokens and password sign-ins.
func (e *Engine) ChangeUser(ctx context.Context, name string, c UserChange) error {
	u, err := e.db.User(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("user %q %w", name, ErrNotFound)
	}
	if err != nil {
		return wrapDB(err)
	}
	before := describeUser(u)
	action := "user-set"
	if c.Groups != nil {
		for _, g := range *c.Groups {
			if !validUserName(g) {
				return fmt.Errorf("invalid group name %q: %w", g, ErrBadRequest)
			}
		}
		u.Groups = append([]string(nil), *c.Groups...)
	}
	if c.Admin != nil {
		u.Admin = *c.Admin
	}
	if c.Disabled != nil && c.Groups == nil && c.Admin == nil && len(c.Password) == 0 {
		action = map[bool]string{true: "user-disable", false: "user-enable"}[*c.Disabled]
	}
	if c.Disabled != nil {
		u.Disabled = *c.Disabled
	}
	u.PasswordHash = "" // SetUser keeps the stored hash
	if len(c.Password) > 0 {
		if err := checkPasswordLength(c.Password); err != nil {
			return err
		}
		if u.PasswordHash, err = hashPassword(e.rand, c.Password); err != nil {
			return err
		}
		if c.Groups == nil && c.Admin == nil && c.Disabled == nil {
			action = "user-passwd"
		}
	}
	if u.Version, err = e.newUserVersion(); err != nil {
		return err
	}
	if err := e.db.SetUser(ctx, *u); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return fmt.Errorf("user %q %w", name, ErrNotFound)
		}
		return wrapDB(err)
	}
	detail := "before: " + before + "; after: " + describeUser(u)
	if len(c.Password) > 0 {
		detail += "; password changed"
	}
	return wrapDB(e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: operatorName(), Action: action, Subject: name, Result: "ok", Detail: detail}))
}

func describeUser(u *db.User) string {
	return fmt.Sprintf("groups=%s admin=%v disabled=%v", strings.Join(u.Groups, ","), u.Admin, u.Disabled)
}

// RemoveUser removes a user and its API tokens (an operator's action),
// audited. Its requests and certificates stay, under its name.
func (e *Engine) RemoveUser(ctx context.Context, name string) error {
	u, err := e.db.User(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("user %q %w", name, ErrNotFound)
	}
	if err != nil {
		return wrapDB(err)
	}
	toks, err := e.db.Tokens(ctx, name)
	if err != nil {
		return wrapDB(err)
	}
	if err := e.db.DeleteUser(ctx, name); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return fmt.Errorf("user %q %w", name, ErrNotFound)
		}
		return wrapDB(err)
	}
	return wrapDB(e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: operatorName(), Action: "user-remove", Subject: name, Result: "ok",
		Detail: fmt.Sprintf("%s; %d API tokens removed", describeUser(u), len(toks))}))
}

// TokenInfo is one API token of a user, as listed.
type TokenInfo struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

// Tokens lists the API tokens of user.
func (e *Engine) Tokens(ctx context.Context, user string) ([]TokenInfo, error) {
	if _, err := e.db.User(ctx, user); errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("user %q %w", user, ErrNotFound)
	} else if err != nil {
		return nil, wrapDB(err)
	}
	ts, err := e.db.Tokens(ctx, user)
	if err != nil {
		return nil, wrapDB(err)
	}
	out := make([]TokenInfo, 0, len(ts))
	for _, t := range ts {
		out = append(out, TokenInfo{ID: t.Hash[:tokenIDLen], Created: t.Created.UTC()})
	}
	return out, nil
}

// RevokeTokens removes user's API token with this id (TokenID), or all of
// its tokens when id is empty, audited; it returns how many it removed. A
// running server stops accepting a removed token within its token cache's
// lifetime (2 s by default).
func (e *Engine) RevokeTokens(ctx context.Context, user, id string) (int, error) {
	id = strings.ToLower(id)
	if id != "" && (len(id) != tokenIDLen || strings.Trim(id, "0123456789abcdef") != "") {
		return 0, fmt.Errorf("a token id is %d hex digits (as 'ca user token list' shows), not %q: %w", tokenIDLen, id, ErrBadRequest)
	}
	if _, err := e.db.User(ctx, user); errors.Is(err, db.ErrNotFound) {
		return 0, fmt.Errorf("user %q %w", user, ErrNotFound)
	} else if err != nil {
		return 0, wrapDB(err)
	}
	n, err := e.db.DeleteTokens(ctx, user, id)
	if err != nil {
		return 0, wrapDB(err)
	}
	if n == 0 && id != "" {
		return 0, fmt.Errorf("token %s of user %s %w", id, user, ErrNotFound)
	}
	which := "all tokens"
	if id != "" {
		which = "token " + id
	}
	return int(n), wrapDB(e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: operatorName(), Action: "token-revoke", Subject: user, Result: "ok",
		Detail: fmt.Sprintf("%s: %d removed", which, n)}))
}

// SessionPrincipal reloads the user a web session signed in as: the
// session goes on only while the user exists, is enabled and its record
// is the version it signed in with. A server calls it on every request of
// a session, so that a removed, disabled, demoted or re-passworded user's
// session stops at once.
func (e *Engine) SessionPrincipal(ctx context.Context, name string, version int64) (*Principal, error) {
	u, err := e.db.User(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		return nil, fmt.Errorf("the user was removed: %w", ErrUnauthenticated)
	}
	if err != nil {
		return nil, wrapDB(err)
	}
	if u.Disabled {
		return nil, fmt.Errorf("the user is disabled: %w", ErrUnauthenticated)
	}
	if u.Version != version {
		return nil, fmt.Errorf("the user was changed since sign-in: %w", ErrUnauthenticated)
	}
	return principalOf(u), nil
}

// Sign-in results RecordSignin audits.
const (
	SigninOK        = "ok"
	SigninDenied    = "denied"    // unknown user or wrong password
	SigninThrottled = "throttled" // refused without a check: too many failures
)

// RecordSignin audits a web sign-in attempt of user (as typed) from the
// address from.
func (e *Engine) RecordSignin(ctx context.Context, user, from, result string) error {
	return wrapDB(e.db.AppendAudit(ctx, db.Audit{At: e.now(), Actor: auditName(user), Action: "signin", Result: result, Detail: "from " + from}))
}

// auditName is a name as typed by a caller, fit for the audit log: a valid
// user name as it is, anything else quoted and cut to 64 bytes.
func auditName(s string) string {
	if validUserName(s) && strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	if len(s) > 64 {
		s = s[:64]
	}
	return fmt.Sprintf("%q", s)
}
