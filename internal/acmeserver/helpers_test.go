package acmeserver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

func newNonces(t testing.TB, c *clock) *Nonces {
	t.Helper()
	n, err := NewNonces(testSecret, NonceOptions{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testKeys are one account key of each accepted kind, made once.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]crypto.Signer{"RS256": r, "ES256": p256, "ES384": p384, "EdDSA": ed, "other": other}
})

var enc = base64.RawURLEncoding.EncodeToString

// jwkJSON writes the public JWK of pub.
func jwkJSON(pub crypto.PublicKey) json.RawMessage {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return json.RawMessage(fmt.Sprintf(`{"kty":"RSA","n":"%s","e":"%s"}`, enc(k.N.Bytes()), enc(big.NewInt(int64(k.E)).Bytes())))
	case *ecdsa.PublicKey:
		raw, _ := k.Bytes()
		size := (len(raw) - 1) / 2
		return json.RawMessage(fmt.Sprintf(`{"kty":"EC","crv":"%s","x":"%s","y":"%s"}`, k.Curve.Params().Name, enc(raw[1:1+size]), enc(raw[1+size:])))
	case ed25519.PublicKey:
		return json.RawMessage(fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":"%s"}`, enc(k)))
	}
	panic("key type")
}

// sign signs input with alg the way a JWS does.
func sign(t testing.TB, alg string, key any, input []byte) []byte {
	t.Helper()
	switch alg {
	case "RS256":
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case "ES256", "ES384":
		k := key.(*ecdsa.PrivateKey)
		var digest []byte
		if alg == "ES256" {
			s := sha256.Sum256(input)
			digest = s[:]
		} else {
			s := sha512.Sum384(input)
			digest = s[:]
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	case "EdDSA":
		return ed25519.Sign(key.(ed25519.PrivateKey), input)
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(input)
		return m.Sum(nil)
	case "none":
		return nil
	}
	t.Fatalf("alg %s", alg)
	return nil
}

// flattened builds a flattened JWS with header h and payload, signed by key
// with alg.
func flattened(t testing.TB, alg string, key any, h map[string]any, payload []byte) []byte {
	t.Helper()
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	p, pl := enc(hj), enc(payload)
	sig := sign(t, alg, key, []byte(p+"."+pl))
	out, _ := json.Marshal(map[string]string{"protected": p, "payload": pl, "signature": enc(sig)})
	return out
}

// accounts is an AccountKeys over a map.
type accounts map[string]crypto.PublicKey

func (a accounts) AccountKey(_ context.Context, kid string) (crypto.PublicKey, error) {
	if kid == "https://ca.test/acme/WebServer/account/gone" {
		return nil, fmt.Errorf("account 7: %w", ErrAccountDeactivated)
	}
	k, ok := a[kid]
	if !ok {
		return nil, fmt.Errorf("account %s: %w", kid, ErrNoAccount)
	}
	return k, nil
}

// eabKeys is an EABKeys over a map.
type eabKeys map[string][]byte

func (e eabKeys) EABKey(_ context.Context, kid string) ([]byte, error) {
	k, ok := e[kid]
	if !ok {
		return nil, fmt.Errorf("eab %s: %w", kid, ErrNoEABKey)
	}
	return k, nil
}

// problemType returns err's problem type, failing t if err is not a
// *Problem.
func problemType(t testing.TB, err error) ErrorType {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T) is not a *Problem", err, err)
	}
	return p.Type
}
