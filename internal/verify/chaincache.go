package verify

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"sync"
	"time"
)

// chainCacheMax bounds a chainCache; when full it starts over.
const chainCacheMax = 4096

// chainCache remembers the outcome of verifying one chain at one time: the
// members of a pool hold the same certificate and chain, and a run checks
// each on every member. The key covers every certificate of the chain
// whole and the second of the time (certificate times have seconds), so
// any other chain or second is verified anew. A nil cache verifies every
// time.
type chainCache struct {
	mu   sync.Mutex
	done map[[32]byte]error
}

// verify returns the outcome of check for chain (leaf first) at at,
// running check once per chain and time.
func (c *chainCache) verify(chain []*x509.Certificate, at time.Time, check func() error) error {
	if c == nil {
		return check()
	}
	h := sha256.New()
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(at.Unix()))
	h.Write(t[:])
	for _, cert := range chain {
		sum := sha256.Sum256(cert.Raw)
		h.Write(sum[:])
	}
	var k [32]byte
	h.Sum(k[:0])
	c.mu.Lock()
	err, ok := c.done[k]
	c.mu.Unlock()
	if ok {
		return err
	}
	err = check()
	c.mu.Lock()
	if c.done == nil || len(c.done) >= chainCacheMax {
		c.done = map[[32]byte]error{}
	}
	c.done[k] = err
	c.mu.Unlock()
	return err
}
