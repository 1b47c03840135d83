package ca

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestUserChangesEndSessionsAndTokens: removing, disabling, demoting or
// re-passwording a user takes effect on its next request: the session's
// principal is refused or reloaded with the new role, and tokens fail.
func TestUserChangesEndSessionsAndTokens(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e, _ := newCA(t, b.dsn(t), "p256")
			ctx := context.Background()
			add := func(name string, admin bool) (*Principal, string) {
				t.Helper()
				if err := e.AddUser(ctx, UserSpec{Name: name, Admin: admin, Groups: []string{"g"}, Password: []byte(name + "-pw")}); err != nil {
					t.Fatal(err)
				}
				p, err := e.Authenticate(ctx, name, []byte(name+"-pw"))
				if err != nil {
					t.Fatal(err)
				}
				tok, err := e.NewToken(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.SessionPrincipal(ctx, name, p.Version); err != nil {
					t.Fatalf("a fresh session: %v", err)
				}
				return p, tok
			}
			yes, no := true, false
			cases := []struct {
				name      string
				change    func(name string) error
				tokenDies bool
			}{
				{"removed", func(n string) error { return e.RemoveUser(ctx, n) }, true},
				{"disabled", func(n string) error { return e.ChangeUser(ctx, n, UserChange{Disabled: &yes}) }, true},
				{"demoted", func(n string) error { return e.ChangeUser(ctx, n, UserChange{Admin: &no}) }, false},
				{"new password", func(n string) error { return e.ChangeUser(ctx, n, UserChange{Password: []byte("another-pw")}) }, false},
			}
			for _, c := range cases {
				name := strings.ReplaceAll(c.name, " ", "")
				p, tok := add(name, true)
				if err := c.change(name); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if _, err := e.SessionPrincipal(ctx, name, p.Version); !errors.Is(err, ErrUnauthenticated) {
					t.Errorf("%s: the session signed in before goes on: %v", c.name, err)
				}
				tp, err := e.AuthenticateToken(ctx, tok)
				if c.tokenDies != (err != nil) {
					t.Errorf("%s: token: %v", c.name, err)
				}
				if c.name == "demoted" && (err != nil || tp.Admin) {
					t.Errorf("demoted: the token still acts as an administrator: %+v %v", tp, err)
				}
			}
			// A user removed and added again under the same name does not
			// revive the old user's sessions.
			p, _ := add("again", false)
			if err := e.RemoveUser(ctx, "again"); err != nil {
				t.Fatal(err)
			}
			if err := e.AddUser(ctx, UserSpec{Name: "again", Password: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.SessionPrincipal(ctx, "again", p.Version); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("a re-added user revived the old session: %v", err)
			}
			// A disabled user cannot sign in with the right password, nor get a token.
			if _, err := e.Authenticate(ctx, "disabled", []byte("disabled-pw")); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("a disabled user signed in: %v", err)
			}
			if _, err := e.NewToken(ctx, "disabled"); !errors.Is(err, ErrConflict) {
				t.Errorf("a token for a disabled user: %v", err)
			}
			if _, err := e.PrincipalFor(ctx, "disabled"); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("acting as a disabled user: %v", err)
			}
			// Enabled again, with the new password only.
			if err := e.ChangeUser(ctx, "disabled", UserChange{Disabled: &no}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Authenticate(ctx, "disabled", []byte("disabled-pw")); err != nil {
				t.Errorf("enabled again: %v", err)
			}
			if _, err := e.Authenticate(ctx, "newpassword", []byte("newpassword-pw")); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("the old password still works: %v", err)
			}
			if _, err := e.Authenticate(ctx, "newpassword", []byte("another-pw")); err != nil {
				t.Errorf("the new password: %v", err)
			}
			for _, c := range []struct {
				name string
				err  error
				want error
			}{
				{"remove unknown", e.RemoveUser(ctx, "nobody"), ErrNotFound},
				{"change unknown", e.ChangeUser(ctx, "nobody", UserChange{Admin: &no}), ErrNotFound},
				{"bad group", e.ChangeUser(ctx, "demoted", UserChange{Groups: &[]string{"a b"}}), ErrBadRequest},
				{"password too long", e.ChangeUser(ctx, "demoted", UserChange{Password: make([]byte, maxPasswordLen+1)}), ErrBadRequest},
			} {
				if !errors.Is(c.err, c.want) {
					t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
				}
			}
			assertAudit(t, e, map[string]int{"user-remove": 2, "user-disable": 1, "user-enable": 1, "user-set": 1, "user-passwd": 1})
		})
	}
}

// assertAudit checks that the audit log holds at least these entries.
func assertAudit(t *testing.T, e *Engine, want map[string]int) {
	t.Helper()
	log, err := e.db.AuditLog(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, a := range log {
		got[a.Action]++
	}
	for action, n := range want {
		if got[action] < n {
			t.Errorf("audit: %d %q entries, want %d (%v)", got[action], action, n, got)
		}
	}
}

// TestRevokeTokens: one token by id, then all; each audited.
func TestRevokeTokens(t *testing.T) {
	e, _ := newCA(t, "", "p256")
	ctx := context.Background()
	if err := e.AddUser(ctx, UserSpec{Name: "bot"}); err != nil {
		t.Fatal(err)
	}
	var toks []string
	for range 3 {
		tok, err := e.NewToken(ctx, "bot")
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
	}
	list, err := e.Tokens(ctx, "bot")
	if err != nil || len(list) != 3 {
		t.Fatalf("tokens: %+v %v", list, err)
	}
	if n, err := e.RevokeTokens(ctx, "bot", strings.ToUpper(TokenID(toks[0]))); err != nil || n != 1 {
		t.Fatalf("revoke one: %d %v", n, err)
	}
	if _, err := e.AuthenticateToken(ctx, toks[0]); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a revoked token works: %v", err)
	}
	if _, err := e.AuthenticateToken(ctx, toks[1]); err != nil {
		t.Fatalf("another token stopped: %v", err)
	}
	for _, c := range []struct {
		name, user, id string
		want           error
	}{
		{"gone already", "bot", TokenID(toks[0]), ErrNotFound},
		{"a prefix", "bot", TokenID(toks[1])[:6], ErrBadRequest},
		{"not hex", "bot", "zzzzzzzzzzzz", ErrBadRequest},
		{"another user's token", "admin", TokenID(toks[1]), ErrNotFound},
		{"unknown user", "nobody", "", ErrNotFound},
	} {
		if _, err := e.RevokeTokens(ctx, c.user, c.id); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if n, err := e.RevokeTokens(ctx, "bot", ""); err != nil || n != 2 {
		t.Fatalf("revoke all: %d %v", n, err)
	}
	for _, tok := range toks {
		if _, err := e.AuthenticateToken(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("a revoked token works: %v", err)
		}
	}
	assertAudit(t, e, map[string]int{"token-revoke": 2, "token-create": 3})
}

// TestSigninWorkIsTheSame: a sign-in does one argon2id check with the
// parameters of real hashes whether the user exists, has a password, is
// disabled, or the password is right; the refusals read alike.
func TestSigninWorkIsTheSame(t *testing.T) {
	e, _ := newCA(t, "", "p256")
	ctx := context.Background()
	yes := true
	for _, u := range []UserSpec{{Name: "withpw", Password: []byte("secret-pw")}, {Name: "tokenonly"}, {Name: "off", Password: []byte("secret-pw")}} {
		if err := e.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.ChangeUser(ctx, "off", UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	stored, _ := e.db.User(ctx, "withpw")
	if params := func(h string) string { return strings.Join(strings.Split(h, "$")[:4], "$") }; params(dummyHash()) != params(stored.PasswordHash) {
		t.Fatalf("the dummy hash %q has other parameters than %q", dummyHash(), stored.PasswordHash)
	}
	// The dummy hash is a constant: no hash is made for it on first use.
	if h := dummyHash(); !strings.HasSuffix(h, "$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") {
		t.Errorf("dummy hash %q", h)
	}
	var refusal string
	for _, c := range []struct {
		name, user, pw string
		ok             bool
	}{
		{"right password", "withpw", "secret-pw", true},
		{"wrong password", "withpw", "wrong", false},
		{"unknown user", "nobody", "secret-pw", false},
		{"user without password", "tokenonly", "", false},
		{"user without password, any", "tokenonly", "secret-pw", false},
		{"disabled user, right password", "off", "secret-pw", false},
	} {
		before := e.passwordChecks.Load()
		_, err := e.Authenticate(ctx, c.user, []byte(c.pw))
		if got := e.passwordChecks.Load() - before; got != 1 {
			t.Errorf("%s: %d password checks, want 1", c.name, got)
		}
		if c.ok != (err == nil) {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil {
			if refusal == "" {
				refusal = err.Error()
			}
			if err.Error() != refusal {
				t.Errorf("%s: refusal %q differs from %q", c.name, err, refusal)
			}
		}
	}
}
