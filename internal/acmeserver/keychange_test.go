package acmeserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
)

const testKeyChange = "https://ca.test/acme/WebServer/key-change"

// TestVerifyKeyChange: a key rollover, accepted and refused.
func TestVerifyKeyChange(t *testing.T) {
	keys := testKeys()
	oldKey, newKey := keys["ES256"], keys["EdDSA"]
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	inner := func(alg string, signer any, h map[string]any, payload any) json.RawMessage {
		head := map[string]any{"alg": alg, "jwk": jwkJSON(newKey.Public()), "url": testKeyChange}
		for k, v := range h {
			if v == nil {
				delete(head, k)
			} else {
				head[k] = v
			}
		}
		if payload == nil {
			payload = map[string]any{"account": testKID, "oldKey": jwkJSON(oldKey.Public())}
		}
		pl, _ := json.Marshal(payload)
		return flattened(t, alg, signer, head, pl)
	}
	for _, tc := range []struct {
		name  string
		inner json.RawMessage
		want  ErrorType
	}{
		{"valid", inner("EdDSA", newKey, nil, nil), ""},
		{"signed by the old key", inner("ES256", oldKey, map[string]any{"alg": "ES256"}, nil), BadSignatureAlgorithm},
		{"signed by another Ed25519 key", inner("EdDSA", otherEd, nil, nil), Malformed},
		{"kid instead of jwk", inner("EdDSA", newKey, map[string]any{"jwk": nil, "kid": testKID}, nil), Malformed},
		{"with a nonce", inner("EdDSA", newKey, map[string]any{"nonce": "abc"}, nil), Malformed},
		{"another url", inner("EdDSA", newKey, map[string]any{"url": testNewOrder}, nil), Malformed},
		{"another account", inner("EdDSA", newKey, nil, map[string]any{"account": testKID + "9", "oldKey": jwkJSON(oldKey.Public())}), Malformed},
		{"wrong old key", inner("EdDSA", newKey, nil, map[string]any{"account": testKID, "oldKey": jwkJSON(keys["other"].Public())}), Malformed},
		{"alg HS256", inner("HS256", []byte("k"), map[string]any{"alg": "HS256"}, nil), BadSignatureAlgorithm},
		{"same key", inner("ES256", oldKey, map[string]any{"alg": "ES256", "jwk": jwkJSON(oldKey.Public())}, nil), Malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			v := &Verifier{Nonces: newNonces(t, c), Accounts: accounts{testKID: oldKey.Public()}}
			n, _ := v.Nonces.New()
			outer, err := v.VerifyJWS(context.Background(), flattened(t, "ES256", oldKey, map[string]any{"alg": "ES256", "nonce": n, "url": testKeyChange, "kid": testKID}, tc.inner), testKeyChange, KIDRequired)
			if err != nil {
				t.Fatal(err)
			}
			got, err := VerifyKeyChange(outer)
			if tc.want == "" {
				if err != nil || !sameKey(got, newKey.Public()) {
					t.Fatalf("key %v, %v", got, err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			if p := problemType(t, err); p != tc.want {
				t.Fatalf("problem %s (%v), want %s", p, err, tc.want)
			}
		})
	}
}
