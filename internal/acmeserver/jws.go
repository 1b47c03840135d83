package acmeserver

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"mime"
	"net/http"
)

// MaxBody bounds a request's body (a JWS): the largest ACME request, a
// finalize with an 8,192-bit key's CSR and many names, is a few KiB.
const MaxBody = 64 << 10

// Algorithms are the JWS algorithms accepted for account keys, in the
// order a badSignatureAlgorithm problem lists them.
var Algorithms = []string{"RS256", "ES256", "ES384", "EdDSA"}

// JWS is a parsed flattened JWS (RFC 7515 §7.2.2) whose signature is not
// yet verified.
type JWS struct {
	Alg   string
	Nonce string
	URL   string
	KID   string          // "" when the header has a jwk
	JWK   json.RawMessage // nil when the header has a kid
	// Payload is the decoded payload; empty for a POST-as-GET.
	Payload   []byte
	Signature []byte
	// signingInput is ASCII(BASE64URL(protected) || '.' || BASE64URL(payload)).
	signingInput []byte
	hasJWK       bool
	hasKID       bool
	hasNonce     bool
}

// PostAsGet reports whether the payload is empty (RFC 8555 §6.3).
func (j *JWS) PostAsGet() bool { return len(j.Payload) == 0 }

// ParseJWS reads a JWS in the flattened JSON serialization as RFC 8555 §6.2
// requires it: protected, payload and signature only (no unprotected
// header, no general serialization, no detached payload), strict base64url,
// and a protected header with alg, nonce, url and jwk or kid, without crit.
// It checks no signature, nonce or url; Verifier.Verify does.
func ParseJWS(body []byte) (*JWS, error) {
	outer, err := object("JWS", body)
	if err != nil {
		return nil, err
	}
	if _, ok := outer["signatures"]; ok {
		return nil, NewProblem(Malformed, "JWS: the general serialization is not accepted, only the flattened one")
	}
	if _, ok := outer["header"]; ok {
		return nil, NewProblem(Malformed, "JWS: an unprotected header is not accepted")
	}
	if err := only("JWS", outer, "protected", "payload", "signature"); err != nil {
		return nil, err
	}
	var enc [3]string
	for i, name := range []string{"protected", "payload", "signature"} {
		s, ok, err := str("JWS", outer, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, NewProblem(Malformed, "JWS: no %q member", name)
		}
		enc[i] = s
	}
	j := &JWS{signingInput: []byte(enc[0] + "." + enc[1])}
	protected, err := decodeB64("JWS protected header", enc[0])
	if err != nil {
		return nil, err
	}
	if j.Payload, err = decodeB64("JWS payload", enc[1]); err != nil {
		return nil, err
	}
	if j.Signature, err = decodeB64("JWS signature", enc[2]); err != nil {
		return nil, err
	}
	h, err := object("JWS protected header", protected)
	if err != nil {
		return nil, err
	}
	if _, ok := h["crit"]; ok {
		return nil, NewProblem(Malformed, "JWS protected header: crit names extensions this server does not support")
	}
	var present bool
	if j.Alg, present, err = str("JWS protected header", h, "alg"); err != nil {
		return nil, err
	} else if !present {
		return nil, NewProblem(Malformed, "JWS protected header: no alg")
	}
	if j.Nonce, j.hasNonce, err = str("JWS protected header", h, "nonce"); err != nil {
		return nil, err
	}
	if j.URL, present, err = str("JWS protected header", h, "url"); err != nil {
		return nil, err
	} else if !present {
		return nil, NewProblem(Malformed, "JWS protected header: no url")
	}
	if j.KID, j.hasKID, err = str("JWS protected header", h, "kid"); err != nil {
		return nil, err
	}
	if raw, ok := h["jwk"]; ok {
		j.JWK, j.hasJWK = raw, true
	}
	if j.hasJWK && j.hasKID {
		return nil, NewProblem(Malformed, "JWS protected header: both jwk and kid (exactly one is allowed)")
	}
	if !j.hasJWK && !j.hasKID {
		return nil, NewProblem(Malformed, "JWS protected header: neither jwk nor kid")
	}
	return j, nil
}

// KeyRule says which of jwk and kid an endpoint requires (RFC 8555 §6.2).
type KeyRule int

// The rules: kid for every request of an existing account; jwk for
// newAccount; either for revokeCert (by the account or by the
// certificate's key).
const (
	KIDRequired KeyRule = iota
	JWKRequired
	JWKOrKID
)

// AccountKeys looks accounts up by their URL (a JWS kid). The CA's
// database implements it.
type AccountKeys interface {
	// AccountKey returns the public key of the account whose URL is
	// kid; an error wrapping ErrNoAccount when there is none, one wrapping
	// ErrAccountDeactivated when it is no longer valid.
	AccountKey(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// Errors AccountKeys returns.
var (
	ErrNoAccount          = errors.New("no such account")
	ErrAccountDeactivated = errors.New("account deactivated or revoked")
)

// Verifier checks ACME requests: the body, the JWS, its url and nonce
// headers and its signature.
type Verifier struct {
	Nonces   *Nonces
	Accounts AccountKeys // may be nil if no endpoint is KIDRequired or JWKOrKID
}

// Request is a verified ACME request.
type Request struct {
	*JWS
	// Key is the key that signed it: the jwk's, or the account's for a
	// kid.
	Key crypto.PublicKey
}

// DecodePayload reads the payload as JSON into v; a POST-as-GET or a
// payload that is not JSON for v is malformed.
func (r *Request) DecodePayload(v any) error {
	if r.PostAsGet() {
		return NewProblem(Malformed, "the request has an empty payload (POST-as-GET) where one is required")
	}
	if err := json.Unmarshal(r.Payload, v); err != nil {
		return NewProblem(Malformed, "payload: %v", err)
	}
	return nil
}

// Verify reads and checks the request r made to url (the absolute URL of
// the endpoint, as the directory gives it) under rule. The body is read at
// most MaxBody bytes; the nonce is checked before the signature (it costs
// an HMAC) and used only once the signature holds. Errors are *Problem.
func (v *Verifier) Verify(r *http.Request, url string, rule KeyRule) (*Request, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/jose+json" {
		p := NewProblem(Malformed, "the Content-Type must be application/jose+json")
		p.Status = http.StatusUnsupportedMediaType
		return nil, p
	}
	if r.ContentLength > MaxBody {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, NewProblem(Malformed, "reading the request: %v", err)
	}
	if len(body) > MaxBody {
		return nil, tooLarge()
	}
	return v.VerifyJWS(r.Context(), body, url, rule)
}

func tooLarge() *Problem {
	p := NewProblem(Malformed, "the request is larger than %d KiB", MaxBody>>10)
	p.Status = http.StatusRequestEntityTooLarge
	return p
}

// VerifyJWS checks body (at most MaxBody bytes, read by the caller) as a
// request to url under rule.
func (v *Verifier) VerifyJWS(ctx context.Context, body []byte, url string, rule KeyRule) (*Request, error) {
	if len(body) > MaxBody {
		return nil, tooLarge()
	}
	j, err := ParseJWS(body)
	if err != nil {
		return nil, err
	}
	if !acceptedAlg(j.Alg) {
		p := NewProblem(BadSignatureAlgorithm, "JWS alg %s is not accepted", quoteShort(j.Alg))
		p.Algorithms = Algorithms
		return nil, p
	}
	if j.URL != url {
		return nil, NewProblem(Unauthorized, "the JWS url header %s is not the URL requested (%s)", quoteShort(j.URL), url)
	}
	if err := v.Nonces.Check(j.Nonce); err != nil {
		return nil, err
	}
	switch {
	case rule == KIDRequired && j.hasJWK:
		return nil, NewProblem(Malformed, "this request must name its account with kid, not carry a jwk")
	case rule == JWKRequired && j.hasKID:
		return nil, NewProblem(Malformed, "this request must carry its key as jwk, not a kid")
	}
	var key crypto.PublicKey
	if j.hasJWK {
		if key, err = ParseJWK(j.JWK); err != nil {
			return nil, err
		}
	} else {
		if v.Accounts == nil {
			return nil, NewProblem(ServerInternal, "no account store")
		}
		key, err = v.Accounts.AccountKey(ctx, j.KID)
		switch {
		case errors.Is(err, ErrNoAccount):
			return nil, NewProblem(AccountDoesNotExist, "no account %s", quoteShort(j.KID))
		case errors.Is(err, ErrAccountDeactivated):
			return nil, NewProblem(Unauthorized, "account %s is deactivated", quoteShort(j.KID))
		case err != nil:
			return nil, ProblemFrom(err)
		}
	}
	if err := verifySignature(j.Alg, key, j.signingInput, j.Signature); err != nil {
		return nil, err
	}
	if err := v.Nonces.Use(j.Nonce); err != nil {
		return nil, err
	}
	return &Request{JWS: j, Key: key}, nil
}

func acceptedAlg(alg string) bool {
	for _, a := range Algorithms {
		if alg == a {
			return true
		}
	}
	return false
}

// verifySignature checks sig over input by key with alg, which must fit the
// key's type (RS256 an RSA key, ES256 P-256, ES384 P-384, EdDSA Ed25519).
func verifySignature(alg string, key crypto.PublicKey, input, sig []byte) error {
	bad := NewProblem(Malformed, "the JWS signature does not verify with the %s", keyName(key))
	misfit := func() error {
		p := NewProblem(BadSignatureAlgorithm, "JWS alg %s does not fit the %s", alg, keyName(key))
		p.Algorithms = Algorithms
		return p
	}
	switch alg {
	case "RS256":
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return misfit()
		}
		sum := sha256.Sum256(input)
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) != nil {
			return bad
		}
	case "ES256", "ES384":
		k, ok := key.(*ecdsa.PublicKey)
		size := 32
		if alg == "ES384" {
			size = 48
		}
		if !ok || (k.Curve.Params().BitSize+7)/8 != size {
			return misfit()
		}
		if len(sig) != 2*size {
			return bad
		}
		var digest []byte
		if alg == "ES256" {
			s := sha256.Sum256(input)
			digest = s[:]
		} else {
			s := sha512.Sum384(input)
			digest = s[:]
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, digest, r, s) {
			return bad
		}
	case "EdDSA":
		k, ok := key.(ed25519.PublicKey)
		if !ok {
			return misfit()
		}
		if !ed25519.Verify(k, input, sig) {
			return bad
		}
	default:
		return misfit()
	}
	return nil
}

func keyName(key crypto.PublicKey) string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return "RSA key"
	case *ecdsa.PublicKey:
		return k.Curve.Params().Name + " key"
	case ed25519.PublicKey:
		return "Ed25519 key"
	default:
		return "key"
	}
}
