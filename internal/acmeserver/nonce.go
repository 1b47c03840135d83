package acmeserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"
)

// Nonces issues and checks the Replay-Nonce values of RFC 8555 §6.5.
//
// A nonce is 16 random bytes, the time it was issued (Unix milliseconds)
// and an HMAC-SHA256 tag (16 bytes) over both, with a key derived from a
// secret that every `ca serve` process of one CA holds; so a process
// accepts the nonces of the others without asking the database. A nonce is
// accepted once by a process, during its lifetime (NonceOptions.Lifetime),
// and only if it was issued after the process started (so a restart, which
// empties the replay cache, does not open a replay window).
//
// The replay window, stated honestly: each process remembers the nonces it
// has accepted, not the ones the others have, so with N processes a nonce
// captured on the wire could be accepted at most once by each of them, N
// times in all, within its lifetime. Every such request also needs a valid
// signature by the account's key over that nonce, the url and the payload,
// so a replay can only repeat a request the account itself made, to a
// process that has not seen it; ACME's objects make a repeated request
// harmless or refused (a second finalize of a valid order, a second
// revocation), and TLS keeps requests off the wire. A deployment that wants
// no cross-process window at all routes each client to one process
// (sticky sessions) or shortens Lifetime.
type Nonces struct {
	key      [32]byte
	now      func() time.Time
	rand     io.Reader
	lifetime time.Duration
	skew     time.Duration
	start    int64 // Unix ms: nonces issued before are refused
	max      int

	mu   sync.Mutex
	used map[int64]map[[16]byte]struct{} // by expiry bucket
	n    int
}

// NonceOptions configures Nonces; zero values take the defaults.
type NonceOptions struct {
	Now  func() time.Time // the clock (time.Now)
	Rand io.Reader        // randomness (crypto/rand.Reader)
	// Lifetime bounds how long after its issue a nonce is accepted
	// (default 5 minutes).
	Lifetime time.Duration
	// MaxSkew is how far in the future another process's clock may have
	// stamped a nonce (default 30 s).
	MaxSkew time.Duration
	// MaxRemembered bounds the replay cache (default 1<<20 nonces, some
	// 35 MiB: about 3,500 requests a second over the default lifetime);
	// when it is full, nonces are refused with badNonce until remembered
	// ones expire, rather than accepted unrecorded.
	MaxRemembered int
}

// MinNonceSecret is the shortest secret NewNonces accepts.
const MinNonceSecret = 32

const (
	nonceIDLen  = 16
	nonceTagLen = 16
	nonceRawLen = nonceIDLen + 8 + nonceTagLen
	// NonceLen is the length of a nonce as sent (base64url, no padding).
	NonceLen    = (nonceRawLen*8 + 5) / 6
	bucketMilli = 10_000
)

// NewNonces derives the nonce key from secret (at least MinNonceSecret
// bytes, the same for every process of one CA) and starts the clock at
// opts.Now().
func NewNonces(secret []byte, opts NonceOptions) (*Nonces, error) {
	if len(secret) < MinNonceSecret {
		return nil, errors.New("acme nonce secret: shorter than 32 bytes")
	}
	n := &Nonces{now: opts.Now, rand: opts.Rand, lifetime: opts.Lifetime, skew: opts.MaxSkew, max: opts.MaxRemembered,
		used: map[int64]map[[16]byte]struct{}{}}
	if n.now == nil {
		n.now = time.Now
	}
	if n.rand == nil {
		n.rand = rand.Reader
	}
	if n.lifetime <= 0 {
		n.lifetime = 5 * time.Minute
	}
	if n.skew <= 0 {
		n.skew = 30 * time.Second
	}
	if n.max <= 0 {
		n.max = 1 << 20
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("edgecert acme nonce key v1"))
	copy(n.key[:], m.Sum(nil))
	n.start = n.now().UnixMilli()
	return n, nil
}

// Lifetime is how long a nonce is accepted after its issue.
func (n *Nonces) Lifetime() time.Duration { return n.lifetime }

// New returns a fresh nonce.
func (n *Nonces) New() (string, error) {
	var raw [nonceRawLen]byte
	if _, err := io.ReadFull(n.rand, raw[:nonceIDLen]); err != nil {
		return "", err
	}
	binary.BigEndian.PutUint64(raw[nonceIDLen:], uint64(n.now().UnixMilli()))
	n.tag(raw[nonceIDLen+8:], raw[:nonceIDLen+8])
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

func (n *Nonces) tag(dst, msg []byte) {
	m := hmac.New(sha256.New, n.key[:])
	m.Write(msg)
	copy(dst, m.Sum(nil))
}

// parse checks a nonce's form, tag and age without using it; it returns the
// nonce's id and expiry (Unix ms).
func (n *Nonces) parse(s string) (id [16]byte, expiry int64, err error) {
	if s == "" {
		return id, 0, NewProblem(BadNonce, "the JWS has no nonce")
	}
	if len(s) != NonceLen {
		return id, 0, NewProblem(BadNonce, "the nonce is not one this server issued")
	}
	var raw [nonceRawLen]byte
	if k, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(s)); err != nil || k != nonceRawLen {
		return id, 0, NewProblem(BadNonce, "the nonce is not one this server issued")
	}
	var want [nonceTagLen]byte
	n.tag(want[:], raw[:nonceIDLen+8])
	if !hmac.Equal(want[:], raw[nonceIDLen+8:]) {
		return id, 0, NewProblem(BadNonce, "the nonce is not one this server issued")
	}
	issued := int64(binary.BigEndian.Uint64(raw[nonceIDLen:]))
	now := n.now().UnixMilli()
	switch {
	case issued < n.start:
		return id, 0, NewProblem(BadNonce, "the nonce was issued before this server started")
	case issued > now+n.skew.Milliseconds():
		return id, 0, NewProblem(BadNonce, "the nonce was issued in the future")
	case now >= issued+n.lifetime.Milliseconds():
		return id, 0, NewProblem(BadNonce, "the nonce has expired")
	}
	copy(id[:], raw[:nonceIDLen])
	return id, issued + n.lifetime.Milliseconds(), nil
}

// Check reports whether s is a nonce this CA issued that is still within
// its lifetime, without using it: a cheap test before a signature is
// verified.
func (n *Nonces) Check(s string) error {
	_, _, err := n.parse(s)
	return err
}

// Use accepts s once: it returns a badNonce problem if s is not a valid
// nonce, has expired, or was used before.
func (n *Nonces) Use(s string) error {
	id, expiry, err := n.parse(s)
	if err != nil {
		return err
	}
	now := n.now().UnixMilli()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.prune(now)
	b := expiry / bucketMilli
	if _, dup := n.used[b][id]; dup {
		return NewProblem(BadNonce, "the nonce was already used")
	}
	if n.n >= n.max {
		return NewProblem(BadNonce, "the server remembers too many nonces now; retry with the fresh one")
	}
	m := n.used[b]
	if m == nil {
		m = map[[16]byte]struct{}{}
		n.used[b] = m
	}
	m[id] = struct{}{}
	n.n++
	return nil
}

// prune forgets the buckets whose nonces have all expired.
func (n *Nonces) prune(now int64) {
	for b, m := range n.used {
		if (b+1)*bucketMilli <= now {
			n.n -= len(m)
			delete(n.used, b)
		}
	}
}

// Remembered is the number of used nonces the replay cache holds.
func (n *Nonces) Remembered() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.n
}
