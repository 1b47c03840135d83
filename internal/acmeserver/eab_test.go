package acmeserver

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestVerifyEAB: a newAccount's External Account Binding, accepted and
// refused.
func TestVerifyEAB(t *testing.T) {
	keys := testKeys()
	account := keys["ES256"]
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	store := eabKeys{"kid-1": hmacKey}
	binding := func(alg string, key []byte, h map[string]any, payload []byte) json.RawMessage {
		head := map[string]any{"alg": alg, "kid": "kid-1", "url": testNewAccount}
		for k, v := range h {
			if v == nil {
				delete(head, k)
			} else {
				head[k] = v
			}
		}
		if payload == nil {
			payload = jwkJSON(account.Public())
		}
		hj, _ := json.Marshal(head)
		p, pl := enc(hj), enc(payload)
		var sig []byte
		if alg == "HS256" {
			sig = sign(t, "HS256", key, []byte(p+"."+pl))
		} else {
			sig = sign(t, alg, keys[alg], []byte(p+"."+pl))
		}
		b, _ := json.Marshal(map[string]string{"protected": p, "payload": pl, "signature": enc(sig)})
		return b
	}
	for _, tc := range []struct {
		name    string
		binding json.RawMessage
		want    ErrorType // "" accepted
	}{
		{"valid", binding("HS256", hmacKey, nil, nil), ""},
		{"missing", nil, ExternalAccountRequired},
		{"null", json.RawMessage(`null`), ExternalAccountRequired},
		{"wrong HMAC key", binding("HS256", []byte("another key, 32 bytes long......"), nil, nil), Unauthorized},
		{"wrong url", binding("HS256", hmacKey, map[string]any{"url": testNewOrder}, nil), Unauthorized},
		{"unknown kid", binding("HS256", hmacKey, map[string]any{"kid": "kid-2"}, nil), Unauthorized},
		{"binds another account key", binding("HS256", hmacKey, nil, jwkJSON(keys["other"].Public())), Unauthorized},
		{"with a nonce", binding("HS256", hmacKey, map[string]any{"nonce": "abc"}, nil), Malformed},
		{"no kid", binding("HS256", hmacKey, map[string]any{"kid": nil, "jwk": jwkJSON(account.Public())}, nil), Malformed},
		{"signed, not MAC'd", binding("ES256", nil, map[string]any{"alg": "ES256"}, nil), BadSignatureAlgorithm},
		{"alg none", binding("HS256", hmacKey, map[string]any{"alg": "none"}, nil), BadSignatureAlgorithm},
		{"payload not a key", binding("HS256", hmacKey, nil, []byte(`"kid-1"`)), Malformed},
		{"not a JWS", json.RawMessage(`"eyJhbGciOiJIUzI1NiJ9.e30.AAAA"`), Malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kid, err := VerifyEAB(context.Background(), store, tc.binding, account.Public(), testNewAccount)
			if tc.want == "" {
				if err != nil || kid != "kid-1" {
					t.Fatalf("kid %q, %v", kid, err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			if got := problemType(t, err); got != tc.want {
				t.Fatalf("problem %s (%v), want %s", got, err, tc.want)
			}
			if tc.want != ExternalAccountRequired && !strings.Contains(err.Error(), "externalAccountBinding") {
				t.Fatalf("the detail does not say it is about the binding: %v", err)
			}
		})
	}
}

// TestNewAccountWithEAB: the binding as it arrives, inside a verified
// newAccount request.
func TestNewAccountWithEAB(t *testing.T) {
	keys := testKeys()
	account := keys["EdDSA"]
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	c := newClock()
	v := &Verifier{Nonces: newNonces(t, c)}
	hj, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": "kid-1", "url": testNewAccount})
	p, pl := enc(hj), enc(jwkJSON(account.Public()))
	eab, _ := json.Marshal(map[string]string{"protected": p, "payload": pl, "signature": enc(sign(t, "HS256", hmacKey, []byte(p+"."+pl)))})
	payload, _ := json.Marshal(map[string]any{"termsOfServiceAgreed": true, "contact": []string{"mailto:pki@contoso.net"}, "externalAccountBinding": json.RawMessage(eab)})
	n, _ := v.Nonces.New()
	body := flattened(t, "EdDSA", account, map[string]any{"alg": "EdDSA", "nonce": n, "url": testNewAccount, "jwk": jwkJSON(account.Public())}, payload)
	req, err := v.VerifyJWS(context.Background(), body, testNewAccount, JWKRequired)
	if err != nil {
		t.Fatal(err)
	}
	var na NewAccount
	if err := req.DecodePayload(&na); err != nil {
		t.Fatal(err)
	}
	kid, err := VerifyEAB(context.Background(), eabKeys{"kid-1": hmacKey}, na.ExternalAccountBinding, req.Key, testNewAccount)
	if err != nil || kid != "kid-1" {
		t.Fatalf("kid %q, %v", kid, err)
	}
}
