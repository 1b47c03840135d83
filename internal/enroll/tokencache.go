package enroll

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"edgecert/internal/ca"
)

// tokenCacheMax bounds the cache; it is emptied when full.
const tokenCacheMax = 4096

// tokenCheckTimeout bounds a token check. A check runs without the
// cancellation of the request that started it, since others may wait for
// it; each caller waits with its own.
const tokenCheckTimeout = 10 * time.Second

// tokenCache remembers successful bearer-token checks for a short time, so
// that a busy API client does not cost two database reads per request. A
// token removed in the database stops working within the cache's TTL.
// Failed checks are never cached.
//
// One check per token is in flight at a time: callers of a token that is
// not (or no longer) cached wait for that check instead of each asking the
// database. Past half its TTL an entry is checked again by one caller while
// the others go on using it, so a busy token never expires under its
// clients: without that, every client of a token met an empty entry at
// once, every TTL (64 clients: 128 reads in a burst, a visible step in
// the latency of a saturated server).
type tokenCache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.RWMutex
	m  map[[32]byte]*tokenSlot

	onWait func() // tests: called when a caller starts waiting for a check (its own too)
}

// tokenSlot is one token's entry. Its fields are guarded by the cache's mu.
type tokenSlot struct {
	p       ca.Principal
	expires time.Time     // trusted until; zero until a check succeeds
	refresh time.Time     // from here one caller checks again
	done    chan struct{} // non-nil while a check is in flight, closed at its end
	err     error         // the last check's failure, for the callers that waited on it
}

func newTokenCache(ttl time.Duration, now func() time.Time) *tokenCache {
	return &tokenCache{ttl: ttl, now: now, m: map[[32]byte]*tokenSlot{}}
}

// authenticate returns the principal of token, from the cache or the engine.
// Callers get their own copy of the principal.
func (c *tokenCache) authenticate(ctx context.Context, eng Engine, token string) (*ca.Principal, error) {
	if c.ttl <= 0 {
		return eng.AuthenticateToken(ctx, token)
	}
	key := sha256.Sum256([]byte(token))
	if p, ok := c.cached(key); ok {
		return p, nil
	}
	for {
		now := c.now()
		c.mu.Lock()
		s := c.m[key]
		switch {
		case s != nil && now.Before(s.expires):
			p := s.principal()
			again := s.done == nil && !now.Before(s.refresh)
			if again {
				s.done = make(chan struct{})
			}
			c.mu.Unlock()
			if again {
				// A removed token fails at once; a database that does not
				// answer leaves the entry to its TTL.
				if _, err := c.check(ctx, eng, token, key, s); errors.Is(err, ca.ErrUnauthenticated) {
					return nil, err
				}
			}
			return p, nil
		case s != nil && s.done != nil:
			done := s.done
			c.mu.Unlock()
			if err := c.wait(ctx, s, done); err != nil {
				return nil, err
			}
		default:
			if s == nil {
				if len(c.m) >= tokenCacheMax {
					clear(c.m)
				}
				s = &tokenSlot{}
				c.m[key] = s
			}
			done := make(chan struct{})
			s.done = done
			c.mu.Unlock()
			// The check runs on its own, so that this caller, too, can give
			// up when its request ends without failing the others.
			go c.check(ctx, eng, token, key, s)
			if err := c.wait(ctx, s, done); err != nil {
				return nil, err
			}
		}
		// The check succeeded: take the entry on the next turn.
	}
}

// wait waits for the check of s that closes done and returns its failure.
func (c *tokenCache) wait(ctx context.Context, s *tokenSlot, done <-chan struct{}) error {
	if c.onWait != nil {
		c.onWait()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return s.err
}

// cached is the fast path: the principal of a valid entry that needs no
// check now (not yet half its TTL old, or being checked by another caller).
func (c *tokenCache) cached(key [32]byte) (*ca.Principal, bool) {
	now := c.now()
	c.mu.RLock()
	s := c.m[key]
	ok := s != nil && now.Before(s.expires) && (s.done != nil || now.Before(s.refresh))
	var p ca.Principal
	if ok {
		p = s.p // check replaces s.p whole; its Groups are never changed in place
	}
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return ownCopy(p), true
}

// check asks the engine about token for s, whose check the caller started
// (s.done), records the answer and wakes the callers waiting for it.
func (c *tokenCache) check(ctx context.Context, eng Engine, token string, key [32]byte, s *tokenSlot) (*ca.Principal, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenCheckTimeout)
	p, err := eng.AuthenticateToken(cctx, token)
	cancel()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	close(s.done)
	s.done, s.err = nil, err
	switch {
	case err == nil:
		s.p = *p
		s.expires, s.refresh = now.Add(c.ttl), now.Add(c.ttl/2)
		return s.principal(), nil
	case errors.Is(err, ca.ErrUnauthenticated):
		s.expires = time.Time{}
		if c.m[key] == s {
			delete(c.m, key)
		}
	case now.Before(s.expires):
		// The database failed a refresh: callers go on with the entry, and
		// the next of them tries again a little later, not at once.
		s.refresh = now.Add(c.ttl / 4)
	}
	return nil, err
}

// principal returns a copy of s's principal that the caller may change.
func (s *tokenSlot) principal() *ca.Principal { return ownCopy(s.p) }

// ownCopy returns p with a group list of its own.
func ownCopy(p ca.Principal) *ca.Principal {
	p.Groups = append([]string(nil), p.Groups...)
	return &p
}
