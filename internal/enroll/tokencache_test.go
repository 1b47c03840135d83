package enroll

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"edgecert/internal/ca"
)

// gateEngine answers token checks with answer, each check held until the
// test sends on release (when release is non-nil).
type gateEngine struct {
	Engine
	mu      sync.Mutex
	calls   int
	answer  error // nil: the principal alice
	entered chan struct{}
	release chan struct{}
}

func (g *gateEngine) AuthenticateToken(ctx context.Context, tok string) (*ca.Principal, error) {
	g.mu.Lock()
	g.calls++
	answer, release := g.answer, g.release
	g.mu.Unlock()
	if release != nil {
		g.entered <- struct{}{}
		<-release
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if answer != nil {
		return nil, answer
	}
	return &ca.Principal{Name: "alice", Groups: []string{"users"}}, nil
}

func (g *gateEngine) set(answer error, gated bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answer, g.release, g.entered = answer, nil, nil
	if gated {
		g.release, g.entered = make(chan struct{}), make(chan struct{})
	}
}

func (g *gateEngine) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// within fails the test when ch yields nothing for a long time (a caller
// that should not block did, or a check that should start did not).
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

type authResult struct {
	p   *ca.Principal
	err error
}

func authAsync(c *tokenCache, ctx context.Context, eng Engine) <-chan authResult {
	ch := make(chan authResult, 1)
	go func() {
		p, err := c.authenticate(ctx, eng, "edgecert_tok")
		ch <- authResult{p, err}
	}()
	return ch
}

// flights is one case's cache, engine and clock.
type flights struct {
	c       *tokenCache
	g       *gateEngine
	advance func(time.Duration)
}

// auth is one caller's answer, which must come.
func (f *flights) auth(t *testing.T, what string) authResult {
	t.Helper()
	return within(t, authAsync(f.c, context.Background(), f.g), what)
}

// flightTTL is the TTL of the caches of TestTokenCacheFlights.
const flightTTL = 2 * time.Second

// checkedThen has the token checked once, then sets the engine's next
// answer and moves the clock past half the TTL.
func (f *flights) checkedThen(t *testing.T, answer error, gated bool) {
	t.Helper()
	f.auth(t, "the first answer")
	f.g.set(answer, gated)
	f.advance(flightTTL * 3 / 4)
}

// TestTokenCacheFlights checks that a token is checked once however many
// callers need it, that a busy entry is checked again before it expires
// while its callers go on, and what failures do to an entry.
func TestTokenCacheFlights(t *testing.T) {
	errDown := fmt.Errorf("database: %w", ca.ErrUnavailable)
	errGone := fmt.Errorf("invalid token: %w", ca.ErrUnauthenticated)
	const ttl = flightTTL
	cases := []struct {
		name string
		run  func(t *testing.T, f *flights)
	}{
		{"callers of an unchecked token wait for one check", func(t *testing.T, f *flights) {
			c, g := f.c, f.g
			const callers = 20
			waiting := make(chan struct{}, callers)
			c.onWait = func() { waiting <- struct{}{} }
			g.set(nil, true)
			first := authAsync(c, context.Background(), g)
			within(t, g.entered, "the first check")
			within(t, waiting, "the first caller waiting")
			var rest []<-chan authResult
			for i := 1; i < callers; i++ {
				rest = append(rest, authAsync(c, context.Background(), g))
			}
			for i := 1; i < callers; i++ {
				within(t, waiting, "callers waiting for the check")
			}
			close(g.release)
			for _, ch := range append(rest, first) {
				if r := within(t, ch, "an answer"); r.err != nil || r.p.Name != "alice" {
					t.Fatalf("got %v, %v", r.p, r.err)
				}
			}
			if n := g.count(); n != 1 {
				t.Errorf("%d checks for %d callers", n, callers)
			}
		}},
		{"the first caller's cancellation does not fail the others", func(t *testing.T, f *flights) {
			c, g := f.c, f.g
			waiting := make(chan struct{}, 2)
			c.onWait = func() { waiting <- struct{}{} }
			g.set(nil, true)
			ctx, cancel := context.WithCancel(context.Background())
			first := authAsync(c, ctx, g)
			within(t, g.entered, "the first check")
			within(t, waiting, "the first caller waiting")
			second := authAsync(c, context.Background(), g)
			within(t, waiting, "the second caller waiting")
			cancel()
			// The first caller gives up while the check goes on.
			if r := within(t, first, "the first answer"); !errors.Is(r.err, context.Canceled) {
				t.Fatalf("first caller: %v, %v; want its cancellation", r.p, r.err)
			}
			close(g.release)
			if r := within(t, second, "the second answer"); r.err != nil {
				t.Fatalf("second caller: %v", r.err)
			}
		}},
		{"past half the TTL one caller checks again while others use the entry", func(t *testing.T, f *flights) {
			c, g, advance := f.c, f.g, f.advance
			f.checkedThen(t, nil, true)
			refresher := authAsync(c, context.Background(), g)
			within(t, g.entered, "the refresh")
			if r := f.auth(t, "a caller during the refresh"); r.err != nil || r.p.Name != "alice" {
				t.Fatalf("during the refresh: %v, %v", r.p, r.err)
			}
			close(g.release)
			within(t, refresher, "the refresher's answer")
			g.set(nil, false)
			advance(ttl * 3 / 8) // past the first check's TTL, before the refresh's half
			f.auth(t, "an answer")
			if n := g.count(); n != 2 {
				t.Errorf("%d checks, want 2 (the first and the refresh)", n)
			}
		}},
		{"a token removed in the database fails at its refresh", func(t *testing.T, f *flights) {
			f.checkedThen(t, errGone, false)
			for i := 0; i < 2; i++ {
				if r := f.auth(t, "an answer"); !errors.Is(r.err, ca.ErrUnauthenticated) {
					t.Fatalf("call %d after removal: %v, %v", i, r.p, r.err)
				}
			}
			if n := f.g.count(); n != 3 {
				t.Errorf("%d checks, want 3: a failure is not cached", n)
			}
		}},
		{"a database down at the refresh leaves the entry to its TTL", func(t *testing.T, f *flights) {
			f.checkedThen(t, errDown, false)
			for i := 0; i < 2; i++ {
				if r := f.auth(t, "an answer"); r.err != nil {
					t.Fatalf("within the TTL, call %d: %v", i, r.err)
				}
			}
			if n := f.g.count(); n != 2 {
				t.Errorf("%d checks, want 2: a failed refresh is not tried again at once", n)
			}
			f.advance(ttl / 2)
			if r := f.auth(t, "an answer"); !errors.Is(r.err, ca.ErrUnavailable) {
				t.Fatalf("past the TTL: %v, %v", r.p, r.err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			now := time.Unix(1e9, 0)
			c := newTokenCache(ttl, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			tc.run(t, &flights{c: c, g: &gateEngine{}, advance: advance})
		})
	}
}
