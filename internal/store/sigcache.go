package store

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
)

// sigCacheMax bounds the verified-signature cache; when full it starts over.
const sigCacheMax = 8192

// sigCache remembers (certificate, issuer) pairs whose signature has
// been checked, so building the same chain again in any store of this
// process costs two hashes instead of a signature verification. The key
// covers both whole certificates (the check also depends on the issuer's
// basic constraints), so any other pair is a different entry.
var sigCache struct {
	sync.Mutex
	ok map[[64]byte]struct{}
}

// signedBy reports whether parent's key made c's signature.
func signedBy(c, parent *x509.Certificate) bool {
	var k [64]byte
	a := sha256.Sum256(c.Raw)
	b := sha256.Sum256(parent.Raw)
	copy(k[:32], a[:])
	copy(k[32:], b[:])
	sigCache.Lock()
	_, hit := sigCache.ok[k]
	sigCache.Unlock()
	if hit {
		return true
	}
	if c.CheckSignatureFrom(parent) != nil {
		return false
	}
	sigCache.Lock()
	if sigCache.ok == nil || len(sigCache.ok) >= sigCacheMax {
		sigCache.ok = make(map[[64]byte]struct{}, 256)
	}
	sigCache.ok[k] = struct{}{}
	sigCache.Unlock()
	return true
}
