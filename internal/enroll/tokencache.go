package enroll

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"edgecert/internal/ca"
)

// tokenCacheMax bounds the cache; it is emptied when full.
const tokenCacheMax = 4096

// tokenCache remembers successful bearer-token checks for a short time, so
// that a busy API client does not cost two database reads per request. A
// token removed in the database stops working within the cache's TTL.
// Failed checks are never cached.
type tokenCache struct {
	ttl time.Duration
	now func() time.Time

	mu sync.RWMutex
	m  map[[32]byte]tokenEntry
}

type tokenEntry struct {
	p       ca.Principal
	expires time.Time
}

func newTokenCache(ttl time.Duration, now func() time.Time) *tokenCache {
	return &tokenCache{ttl: ttl, now: now, m: map[[32]byte]tokenEntry{}}
}

// authenticate returns the principal of token, from the cache or the engine.
// Callers get their own copy of the principal.
func (c *tokenCache) authenticate(ctx context.Context, eng Engine, token string) (*ca.Principal, error) {
	if c.ttl <= 0 {
		return eng.AuthenticateToken(ctx, token)
	}
	key := sha256.Sum256([]byte(token))
	now := c.now()
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		p := e.p
		p.Groups = append([]string(nil), e.p.Groups...)
		return &p, nil
	}
	p, err := eng.AuthenticateToken(ctx, token)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= tokenCacheMax {
		clear(c.m)
	}
	c.m[key] = tokenEntry{p: *p, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return p, nil
}
