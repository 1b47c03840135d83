package acmeserver

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"hash"
)

// EABKeys looks up the HMAC keys of External Account Bindings by key id
// (what `edgecert ca user acme-eab` prints). The CA's user store
// implements it.
type EABKeys interface {
	// EABKey returns the HMAC key of kid, or an error wrapping ErrNoEABKey
	// when there is none (unknown, revoked, its user removed or disabled).
	EABKey(ctx context.Context, kid string) ([]byte, error)
}

// ErrNoEABKey is wrapped by EABKeys for an unknown key id.
var ErrNoEABKey = errors.New("no such external account key")

// NewAccount is the payload of a newAccount request (RFC 8555 §7.3).
type NewAccount struct {
	Contact                []string        `json:"contact,omitempty"`
	TermsOfServiceAgreed   bool            `json:"termsOfServiceAgreed,omitempty"`
	OnlyReturnExisting     bool            `json:"onlyReturnExisting,omitempty"`
	ExternalAccountBinding json.RawMessage `json:"externalAccountBinding,omitempty"`
}

// VerifyEAB checks the externalAccountBinding of a newAccount request
// (RFC 8555 §7.3.4): a flattened JWS, MAC'd with HS256 (or HS384, HS512)
// under the key keys gives for its kid, with url = newAccountURL and no
// nonce, whose payload is the account key (the outer JWS's jwk). It
// returns the key id, which names the CA user the account acts as.
// A missing binding is externalAccountRequired; a wrong MAC, an unknown key
// id, another url or another account key is unauthorized.
func VerifyEAB(ctx context.Context, keys EABKeys, binding json.RawMessage, accountKey crypto.PublicKey, newAccountURL string) (string, error) {
	if len(bytes.TrimSpace(binding)) == 0 || bytes.Equal(bytes.TrimSpace(binding), []byte("null")) {
		return "", NewProblem(ExternalAccountRequired, "this directory requires an external account binding (edgecert ca user acme-eab gives its key id and HMAC key)")
	}
	j, err := ParseJWS(binding)
	if err != nil {
		return "", prefixed("externalAccountBinding: ", err)
	}
	var h func() hash.Hash
	switch j.Alg {
	case "HS256":
		h = sha256.New
	case "HS384":
		h = sha512.New384
	case "HS512":
		h = sha512.New
	default:
		p := NewProblem(BadSignatureAlgorithm, "externalAccountBinding: alg %s is not a MAC (accepted: HS256, HS384, HS512)", quoteShort(j.Alg))
		p.Algorithms = []string{"HS256", "HS384", "HS512"}
		return "", p
	}
	switch {
	case !j.hasKID || j.KID == "":
		return "", NewProblem(Malformed, "externalAccountBinding: no kid")
	case j.hasNonce:
		return "", NewProblem(Malformed, "externalAccountBinding: must not have a nonce")
	case j.URL != newAccountURL:
		return "", NewProblem(Unauthorized, "externalAccountBinding: url %s is not the newAccount URL (%s)", quoteShort(j.URL), newAccountURL)
	}
	bound, err := ParseJWK(j.Payload)
	if err != nil {
		return "", prefixed("externalAccountBinding payload: ", err)
	}
	if !sameKey(bound, accountKey) {
		return "", NewProblem(Unauthorized, "externalAccountBinding: binds another key than the account's")
	}
	key, err := keys.EABKey(ctx, j.KID)
	if errors.Is(err, ErrNoEABKey) {
		return "", NewProblem(Unauthorized, "externalAccountBinding: unknown key id %s", quoteShort(j.KID))
	} else if err != nil {
		return "", ProblemFrom(err)
	}
	m := hmac.New(h, key)
	m.Write(j.signingInput)
	if !hmac.Equal(m.Sum(nil), j.Signature) {
		return "", NewProblem(Unauthorized, "externalAccountBinding: the MAC does not verify with the key of %s", quoteShort(j.KID))
	}
	return j.KID, nil
}
