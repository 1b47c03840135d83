package enroll

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"edgecert/internal/ca"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func realEngine(t *testing.T, tc *testCA) *ca.Engine {
	t.Helper()
	e, ok := tc.eng.(*ca.Engine)
	if !ok {
		t.Fatalf("engine %T", tc.eng)
	}
	return e
}

// TestSessionsFollowTheUserRecord: a session acts with what its user may
// do now. A removed or disabled user's session cannot submit, a demoted
// administrator's cannot revoke or approve, a changed password signs the
// user out; nothing is recorded for the refused posts.
func TestSessionsFollowTheUserRecord(t *testing.T) {
	tc := newTestCA(t)
	e := realEngine(t, tc)
	ctx := context.Background()
	yes, no := true, false
	ts := startServer(t, tc, Config{})
	// An issued certificate for the revocations below.
	_, body := ts.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "s.contoso.com"), "template": tmplAuto})
	serial := decodeNoT(body).Serial

	for _, c := range []struct {
		name   string
		user   string
		admin  bool
		change func(name string) error
		path   string
		form   url.Values
	}{
		{"removed user submits", "eve", false, func(n string) error { return e.RemoveUser(ctx, n) },
			"/certsrv/request", url.Values{"csr": {newCSR(t, "eve.contoso.com")}, "template": {tmplAuto}}},
		{"disabled user submits", "frank", false, func(n string) error { return e.ChangeUser(ctx, n, ca.UserChange{Disabled: &yes}) },
			"/certsrv/request", url.Values{"csr": {newCSR(t, "frank.contoso.com")}, "template": {tmplAuto}}},
		{"demoted administrator revokes", "grace", true, func(n string) error { return e.ChangeUser(ctx, n, ca.UserChange{Admin: &no}) },
			"/certsrv/revoke", url.Values{"serial": {serial}, "reason": {"keyCompromise"}}},
		{"re-passworded administrator revokes", "heidi", true, func(n string) error {
			return e.ChangeUser(ctx, n, ca.UserChange{Password: []byte("a new password")})
		}, "/certsrv/revoke", url.Values{"serial": {serial}, "reason": {"keyCompromise"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := e.AddUser(ctx, ca.UserSpec{Name: c.user, Admin: c.admin, Groups: []string{"webadmins"}, Password: []byte(c.user + "-password")}); err != nil {
				t.Fatal(err)
			}
			us := &testServer{srv: ts.srv, url: ts.url, client: tc.client(t)}
			csrf := us.signIn(t, c.user, c.user+"-password")
			if err := c.change(c.user); err != nil {
				t.Fatal(err)
			}
			before := tc.written(t)
			c.form.Set("csrf", csrf)
			st, body, _ := us.postForm(t, c.path, c.form)
			if st != http.StatusUnauthorized || !strings.Contains(body, "sign in again") {
				t.Fatalf("status %d: %.300s", st, body)
			}
			if tc.written(t) != before {
				t.Errorf("the refused post was recorded")
			}
			// The session is gone: its pages send the browser to sign in.
			resp, err := us.client.Get(us.url + "/certsrv/pending")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/certsrv/signin") {
				t.Errorf("after the change: status %d to %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	if revoked, err := e.Certificates(ctx, true, 0); err != nil || len(revoked) != 0 {
		t.Errorf("certificates were revoked: %+v (%v)", revoked, err)
	}
}

// TestSessionAbsoluteLifetime: a session in constant use ends
// SessionMaxAge after sign-in; an idle one after SessionTTL.
func TestSessionAbsoluteLifetime(t *testing.T) {
	tc := newTestCA(t)
	clock := newTestClock()
	ts := startServerAt(t, tc, Config{SessionTTL: time.Hour, SessionMaxAge: 3 * time.Hour}, clock.now)
	live := func() bool {
		t.Helper()
		resp, err := ts.client.Get(ts.url + "/certsrv/pending")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	ts.signIn(t, "alice", tc.passAlice)
	for i := 0; i < 5; i++ { // 2h50m of activity every 40 minutes
		clock.advance(40 * time.Minute)
		if i < 4 && !live() {
			t.Fatalf("the session ended after %d min of use", (i+1)*40)
		}
	}
	clock.advance(10 * time.Minute) // 3h10m after sign-in
	if live() {
		t.Fatalf("a session in use outlived its absolute lifetime")
	}
	ts.signIn(t, "alice", tc.passAlice)
	clock.advance(61 * time.Minute)
	if live() {
		t.Fatalf("an idle session outlived its idle timeout")
	}
}

// TestRemovedTokenStops: a revoked token, or the token of a removed or
// disabled user, is refused once the server's token cache lets go of it:
// at once without a cache, within the cache's TTL with one.
func TestRemovedTokenStops(t *testing.T) {
	tc := newTestCA(t)
	e := realEngine(t, tc)
	ctx := context.Background()
	clock := newTestClock()
	const ttl = 2 * time.Second
	cached := startServerAt(t, tc, Config{TokenCacheTTL: ttl}, clock.now)
	uncached := startServerAt(t, tc, Config{TokenCacheTTL: -1}, clock.now)
	yes := true
	for _, c := range []struct {
		name   string
		revoke func(user, tok string) error
	}{
		{"token revoked", func(user, tok string) error { _, err := e.RevokeTokens(ctx, user, ca.TokenID(tok)); return err }},
		{"user removed", func(user, _ string) error { return e.RemoveUser(ctx, user) }},
		{"user disabled", func(user, _ string) error { return e.ChangeUser(ctx, user, ca.UserChange{Disabled: &yes}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			user := strings.ReplaceAll(c.name, " ", "")
			if err := e.AddUser(ctx, ca.UserSpec{Name: user, Groups: []string{"webadmins"}}); err != nil {
				t.Fatal(err)
			}
			tok, err := e.NewToken(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			for _, ts := range []*testServer{cached, uncached} {
				if st, body := ts.call(t, "GET", "/api/v1/templates", tok, nil); st != http.StatusOK {
					t.Fatalf("before: %d %s", st, body)
				}
			}
			if err := c.revoke(user, tok); err != nil {
				t.Fatal(err)
			}
			if st, _ := uncached.call(t, "GET", "/api/v1/templates", tok, nil); st != http.StatusUnauthorized {
				t.Errorf("without a cache: status %d right after", st)
			}
			// With the cache, the entry is trusted until its TTL: the one
			// refresh past half of it already sees the removal.
			clock.advance(ttl / 2)
			if st, _ := cached.call(t, "GET", "/api/v1/templates", tok, nil); st != http.StatusUnauthorized {
				t.Errorf("with a cache, past half its TTL: status %d", st)
			}
			clock.advance(ttl / 2)
			if st, _ := cached.call(t, "GET", "/api/v1/templates", tok, nil); st != http.StatusUnauthorized {
				t.Errorf("with a cache, after its TTL: status %d", st)
			}
		})
	}
}
