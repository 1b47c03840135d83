package acmeserver

import (
	"crypto"
	"encoding/json"
)

// VerifyKeyChange checks the inner JWS of a keyChange request (RFC 8555
// §7.3.5) whose outer JWS outer was verified with KIDRequired at the
// keyChange URL: the inner JWS is signed by the new key, carried as its
// jwk, with the outer url and no nonce, and its payload names the outer
// account and that account's current key. It returns the new key; that no
// other account holds it is the caller's check (409 Conflict).
func VerifyKeyChange(outer *Request) (crypto.PublicKey, error) {
	if outer.PostAsGet() {
		return nil, NewProblem(Malformed, "keyChange: no inner JWS")
	}
	inner, err := ParseJWS(outer.Payload)
	if err != nil {
		return nil, prefixed("keyChange inner JWS: ", err)
	}
	switch {
	case !acceptedAlg(inner.Alg):
		p := NewProblem(BadSignatureAlgorithm, "keyChange inner JWS: alg %s is not accepted", quoteShort(inner.Alg))
		p.Algorithms = Algorithms
		return nil, p
	case !inner.hasJWK:
		return nil, NewProblem(Malformed, "keyChange inner JWS: must carry the new key as jwk")
	case inner.hasNonce:
		return nil, NewProblem(Malformed, "keyChange inner JWS: must not have a nonce")
	case inner.URL != outer.URL:
		return nil, NewProblem(Malformed, "keyChange inner JWS: url %s is not the outer url", quoteShort(inner.URL))
	}
	newKey, err := ParseJWK(inner.JWK)
	if err != nil {
		return nil, prefixed("keyChange inner JWS: ", err)
	}
	if err := verifySignature(inner.Alg, newKey, inner.signingInput, inner.Signature); err != nil {
		return nil, prefixed("keyChange inner JWS: ", err)
	}
	var body struct {
		Account string          `json:"account"`
		OldKey  json.RawMessage `json:"oldKey"`
	}
	if err := json.Unmarshal(inner.Payload, &body); err != nil {
		return nil, NewProblem(Malformed, "keyChange inner payload: not an object with account and oldKey")
	}
	if body.Account != outer.KID {
		return nil, NewProblem(Malformed, "keyChange inner payload: account %s is not the account that signed the request", quoteShort(body.Account))
	}
	oldKey, err := ParseJWK(body.OldKey)
	if err != nil {
		return nil, prefixed("keyChange inner payload oldKey: ", err)
	}
	if !sameKey(oldKey, outer.Key) {
		return nil, NewProblem(Malformed, "keyChange inner payload: oldKey is not the account's current key")
	}
	if sameKey(newKey, outer.Key) {
		return nil, NewProblem(Malformed, "keyChange: the new key is the current key")
	}
	return newKey, nil
}
