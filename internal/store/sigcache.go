package store

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"

	"edgecert/internal/certfmt"
)

// sigCacheMax bounds the verified-signature cache; when full it starts over.
const sigCacheMax = 8192

// Kinds of signature checks the cache remembers.
const (
	checkTrust  uint8 = 1 << iota // crypto/x509's rules: chain building
	checkFiling                   // any hash, SHA-1 and MD5 included: filing
)

// sigCache remembers (certificate, issuer) pairs whose signature has
// been checked, so building the same chain again in any store of this
// process costs two hashes instead of a signature verification. The key
// covers both whole certificates (the check also depends on the issuer's
// basic constraints), so any other pair is a different entry; the value
// says which kinds of check passed.
var sigCache struct {
	sync.Mutex
	ok map[[64]byte]uint8
}

// signedBy reports whether parent's key made c's signature, by
// crypto/x509's rules (which refuse MD5 and SHA-1): for trust.
func signedBy(c, parent *x509.Certificate) bool {
	return cachedCheck(c, parent, checkTrust, func() bool { return c.CheckSignatureFrom(parent) == nil })
}

// issuedBy reports whether parent's key made c's signature, with any hash
// (for filing and for finding a file's own chain; trust is built by
// chainLocked with signedBy).
func issuedBy(c, parent *x509.Certificate) bool {
	return cachedCheck(c, parent, checkFiling, func() bool { return certfmt.IssuedBy(c, parent) })
}

// cachedCheck runs check unless the pair already passed this kind.
func cachedCheck(c, parent *x509.Certificate, kind uint8, check func() bool) bool {
	var k [64]byte
	a := sha256.Sum256(c.Raw)
	b := sha256.Sum256(parent.Raw)
	copy(k[:32], a[:])
	copy(k[32:], b[:])
	sigCache.Lock()
	hit := sigCache.ok[k]&kind != 0
	sigCache.Unlock()
	if hit {
		return true
	}
	if !check() {
		return false
	}
	sigCache.Lock()
	if sigCache.ok == nil || len(sigCache.ok) >= sigCacheMax {
		sigCache.ok = make(map[[64]byte]uint8, 256)
	}
	sigCache.ok[k] |= kind
	sigCache.Unlock()
	return true
}
