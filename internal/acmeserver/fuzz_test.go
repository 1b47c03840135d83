package acmeserver

import (
	"context"
	"errors"
	"testing"
)

// fuzzSeeds are valid requests of each kind and some near misses.
func fuzzSeeds(f *testing.F, v *Verifier) {
	keys := testKeys()
	for _, alg := range Algorithms {
		n, _ := v.Nonces.New()
		f.Add(flattened(f, alg, keys[alg], map[string]any{"alg": alg, "nonce": n, "url": testNewAccount, "jwk": jwkJSON(keys[alg].Public())}, []byte(`{"termsOfServiceAgreed":true}`)))
		n, _ = v.Nonces.New()
		f.Add(flattened(f, alg, keys[alg], map[string]any{"alg": alg, "nonce": n, "url": testNewOrder, "kid": testKID}, nil))
	}
	f.Add([]byte(`{"protected":"","payload":"","signature":""}`))
	f.Add([]byte(`{"protected":"e30","payload":"e30","signature":"e30","protected":"e30"}`))
	f.Add([]byte(`{"signatures":[{"protected":"e30","signature":""}],"payload":""}`))
	f.Add([]byte(`{"protected":"eyJhbGciOiJub25lIiwidXJsIjoieCIsImtpZCI6InkifQ","payload":"","signature":""}`))
}

// FuzzParseJWS: the parser of outside requests never panics, refuses with
// a problem, and what it accepts has the header RFC 8555 requires.
func FuzzParseJWS(f *testing.F) {
	v := &Verifier{Nonces: newNonces(f, newClock())}
	fuzzSeeds(f, v)
	f.Fuzz(func(t *testing.T, body []byte) {
		j, err := ParseJWS(body)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.Type != Malformed {
				t.Fatalf("error %v is not a malformed problem", err)
			}
			return
		}
		if j.hasJWK == j.hasKID || j.Alg == "" && j.URL == "" {
			t.Fatalf("accepted %+v", j)
		}
	})
}

// FuzzVerifyJWS: the whole check answers every input with nil or a
// *Problem, and accepts nothing it was not given a signature for (the
// fuzzer cannot sign with the test keys, so only the seeds' own requests,
// each once, may pass).
func FuzzVerifyJWS(f *testing.F) {
	keys := testKeys()
	c := newClock()
	v := &Verifier{Nonces: newNonces(f, c), Accounts: accounts{testKID: keys["ES256"].Public()}}
	fuzzSeeds(f, v)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rule := range []KeyRule{KIDRequired, JWKRequired, JWKOrKID} {
			_, err := v.VerifyJWS(context.Background(), body, testNewOrder, rule)
			var p *Problem
			if err != nil && !errors.As(err, &p) {
				t.Fatalf("error %v is not a problem", err)
			}
		}
	})
}

// FuzzParseJWK: account keys from outside never panic the reader, and a
// key it accepts has a thumbprint.
func FuzzParseJWK(f *testing.F) {
	for _, k := range testKeys() {
		f.Add([]byte(jwkJSON(k.Public())))
	}
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":""}`))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseJWK(data)
		if err != nil {
			return
		}
		if _, err := Thumbprint(k); err != nil {
			t.Fatalf("accepted key without a thumbprint: %v", err)
		}
	})
}

// FuzzNonce: any string given as a nonce is refused unless it is one this
// CA issued.
func FuzzNonce(f *testing.F) {
	n := newNonces(f, newClock())
	s, _ := n.New()
	f.Add(s)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		err := n.Use(s)
		if err == nil {
			return // only the seed can pass (the fuzzer cannot forge the tag)
		}
		var p *Problem
		if !errors.As(err, &p) || p.Type != BadNonce {
			t.Fatalf("error %v is not badNonce", err)
		}
	})
}

// FuzzVerifyEAB: a binding from outside is answered with a problem or, only
// for the one binding MAC'd with the key, the key id.
func FuzzVerifyEAB(f *testing.F) {
	keys := testKeys()
	account := keys["ES256"]
	hmacKey := []byte("0123456789abcdef0123456789abcdef")
	hj := []byte(`{"alg":"HS256","kid":"kid-1","url":"` + testNewAccount + `"}`)
	p, pl := enc(hj), enc(jwkJSON(account.Public()))
	good := `{"protected":"` + p + `","payload":"` + pl + `","signature":"` + enc(sign(f, "HS256", hmacKey, []byte(p+"."+pl))) + `"}`
	f.Add([]byte(good))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"protected":"` + p + `","payload":"` + pl + `","signature":""}`))
	f.Fuzz(func(t *testing.T, binding []byte) {
		kid, err := VerifyEAB(context.Background(), eabKeys{"kid-1": hmacKey}, binding, account.Public(), testNewAccount)
		if err == nil {
			if kid != "kid-1" {
				t.Fatalf("accepted with kid %q", kid)
			}
			return
		}
		var pr *Problem
		if !errors.As(err, &pr) {
			t.Fatalf("error %v is not a problem", err)
		}
	})
}
