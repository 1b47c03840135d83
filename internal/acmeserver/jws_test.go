package acmeserver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const (
	testNewAccount = "https://ca.test/acme/WebServer/new-account"
	testNewOrder   = "https://ca.test/acme/WebServer/new-order"
	testRevoke     = "https://ca.test/acme/WebServer/revoke-cert"
	testKID        = "https://ca.test/acme/WebServer/account/1"
)

// TestVerifyAccepts: each accepted algorithm with a jwk and with a kid, and
// POST-as-GET.
func TestVerifyAccepts(t *testing.T) {
	keys := testKeys()
	for _, alg := range Algorithms {
		t.Run(alg, func(t *testing.T) {
			c := newClock()
			v := &Verifier{Nonces: newNonces(t, c), Accounts: accounts{testKID: keys[alg].Public()}}
			nonce, _ := v.Nonces.New()
			body := flattened(t, alg, keys[alg], map[string]any{"alg": alg, "nonce": nonce, "url": testNewAccount, "jwk": jwkJSON(keys[alg].Public())}, []byte(`{"termsOfServiceAgreed":true}`))
			req, err := v.VerifyJWS(context.Background(), body, testNewAccount, JWKRequired)
			if err != nil {
				t.Fatalf("jwk: %v", err)
			}
			if !sameKey(req.Key, keys[alg].Public()) || req.PostAsGet() || req.KID != "" {
				t.Fatalf("jwk request: %+v", req)
			}
			var na NewAccount
			if err := req.DecodePayload(&na); err != nil || !na.TermsOfServiceAgreed {
				t.Fatalf("payload: %v %+v", err, na)
			}

			nonce, _ = v.Nonces.New()
			body = flattened(t, alg, keys[alg], map[string]any{"alg": alg, "nonce": nonce, "url": testNewOrder, "kid": testKID}, nil)
			req, err = v.VerifyJWS(context.Background(), body, testNewOrder, KIDRequired)
			if err != nil {
				t.Fatalf("kid: %v", err)
			}
			if req.KID != testKID || !req.PostAsGet() || req.DecodePayload(&na) == nil {
				t.Fatalf("kid POST-as-GET request: %+v", req)
			}
			// revokeCert takes either.
			for _, h := range []map[string]any{{"kid": testKID}, {"jwk": jwkJSON(keys[alg].Public())}} {
				nonce, _ = v.Nonces.New()
				h["alg"], h["nonce"], h["url"] = alg, nonce, testRevoke
				if _, err := v.VerifyJWS(context.Background(), flattened(t, alg, keys[alg], h, []byte(`{}`)), testRevoke, JWKOrKID); err != nil {
					t.Fatalf("revokeCert %v: %v", h, err)
				}
			}
		})
	}
}

// TestVerifyRefuses: every refusal, with the RFC 8555 problem type it
// gets.
func TestVerifyRefuses(t *testing.T) {
	keys := testKeys()
	es := keys["ES256"]
	rsaKey := keys["RS256"]
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	withPrivate := strings.Replace(string(jwkJSON(es.Public())), `"kty"`, `"d":"AAAA","kty"`, 1)
	c := newClock()
	v := &Verifier{Nonces: newNonces(t, c), Accounts: accounts{testKID: es.Public()}}
	otherSecret := append([]byte("another CA's secret, 32 bytes at least "), 0)
	foreign, _ := NewNonces(otherSecret, NonceOptions{Now: c.Now})

	header := func(mod func(h map[string]any)) map[string]any {
		n, _ := v.Nonces.New()
		h := map[string]any{"alg": "ES256", "nonce": n, "url": testNewOrder, "kid": testKID}
		if mod != nil {
			mod(h)
		}
		return h
	}
	signed := func(alg string, key any, mod func(h map[string]any)) func() []byte {
		return func() []byte { return flattened(t, alg, key, header(mod), []byte(`{}`)) }
	}
	valid := signed("ES256", es, nil)
	used := valid()
	if _, err := v.VerifyJWS(context.Background(), used, testNewOrder, KIDRequired); err != nil {
		t.Fatal(err)
	}
	reencode := func(mod func(m map[string]any)) func() []byte {
		return func() []byte {
			var m map[string]any
			_ = json.Unmarshal(valid(), &m)
			mod(m)
			b, _ := json.Marshal(m)
			return b
		}
	}
	rawPayload := func(payloadB64 string) func() []byte {
		return func() []byte {
			hj, _ := json.Marshal(header(nil))
			p := enc(hj)
			sig := sign(t, "ES256", es, []byte(p+"."+payloadB64))
			b, _ := json.Marshal(map[string]string{"protected": p, "payload": payloadB64, "signature": enc(sig)})
			return b
		}
	}

	for _, tc := range []struct {
		name string
		body func() []byte
		url  string
		rule KeyRule
		want ErrorType
	}{
		{"replayed nonce", func() []byte { return used }, testNewOrder, KIDRequired, BadNonce},
		{"no nonce", signed("ES256", es, func(h map[string]any) { delete(h, "nonce") }), testNewOrder, KIDRequired, BadNonce},
		{"nonce of another CA", signed("ES256", es, func(h map[string]any) { h["nonce"], _ = foreign.New() }), testNewOrder, KIDRequired, BadNonce},
		{"nonce not base64", signed("ES256", es, func(h map[string]any) { h["nonce"] = strings.Repeat("*", NonceLen) }), testNewOrder, KIDRequired, BadNonce},
		{"wrong url", valid, testNewAccount, KIDRequired, Unauthorized},
		{"no url", signed("ES256", es, func(h map[string]any) { delete(h, "url") }), testNewOrder, KIDRequired, Malformed},
		{"jwk where kid is required", signed("ES256", es, func(h map[string]any) { delete(h, "kid"); h["jwk"] = jwkJSON(es.Public()) }), testNewOrder, KIDRequired, Malformed},
		{"kid where jwk is required", signed("ES256", es, func(h map[string]any) { h["url"] = testNewAccount }), testNewAccount, JWKRequired, Malformed},
		{"both jwk and kid", signed("ES256", es, func(h map[string]any) { h["jwk"] = jwkJSON(es.Public()) }), testNewOrder, JWKOrKID, Malformed},
		{"neither jwk nor kid", signed("ES256", es, func(h map[string]any) { delete(h, "kid") }), testNewOrder, JWKOrKID, Malformed},
		{"alg none", signed("none", nil, func(h map[string]any) { h["alg"] = "none" }), testNewOrder, KIDRequired, BadSignatureAlgorithm},
		{"alg HS256 with the public key as secret", signed("HS256", []byte(jwkJSON(es.Public())), func(h map[string]any) { h["alg"] = "HS256" }), testNewOrder, KIDRequired, BadSignatureAlgorithm},
		{"alg ES512", signed("ES256", es, func(h map[string]any) { h["alg"] = "ES512" }), testNewOrder, KIDRequired, BadSignatureAlgorithm},
		{"alg RS256 over an EC key", signed("RS256", rsaKey, func(h map[string]any) { h["alg"] = "RS256" }), testNewOrder, KIDRequired, BadSignatureAlgorithm},
		{"alg ES384 over a P-256 key", signed("ES384", keys["ES384"], func(h map[string]any) { h["alg"] = "ES384" }), testNewOrder, KIDRequired, BadSignatureAlgorithm},
		{"no alg", signed("ES256", es, func(h map[string]any) { delete(h, "alg") }), testNewOrder, KIDRequired, Malformed},
		{"signed by another key", signed("ES256", keys["other"], nil), testNewOrder, KIDRequired, Malformed},
		{"jwk signed by another key", signed("ES256", keys["other"], func(h map[string]any) { delete(h, "kid"); h["jwk"] = jwkJSON(es.Public()); h["url"] = testNewAccount }), testNewAccount, JWKRequired, Malformed},
		{"unknown account", signed("ES256", es, func(h map[string]any) { h["kid"] = testKID + "0" }), testNewOrder, KIDRequired, AccountDoesNotExist},
		{"deactivated account", signed("ES256", es, func(h map[string]any) { h["kid"] = "https://ca.test/acme/WebServer/account/gone" }), testNewOrder, KIDRequired, Unauthorized},
		{"crit", signed("ES256", es, func(h map[string]any) { h["crit"] = []string{"b64"}; h["b64"] = false }), testNewOrder, KIDRequired, Malformed},
		{"payload in standard base64", rawPayload("e30+/w=="), testNewOrder, KIDRequired, Malformed},
		{"payload padded", rawPayload("e30="), testNewOrder, KIDRequired, Malformed},
		{"signature not base64url", reencode(func(m map[string]any) { m["signature"] = "!!" }), testNewOrder, KIDRequired, Malformed},
		{"protected not base64url", reencode(func(m map[string]any) { m["protected"] = "eyJ=" }), testNewOrder, KIDRequired, Malformed},
		{"general serialization", reencode(func(m map[string]any) {
			m["signatures"] = []any{map[string]any{"protected": m["protected"], "signature": m["signature"]}}
			delete(m, "protected")
			delete(m, "signature")
		}), testNewOrder, KIDRequired, Malformed},
		{"unprotected header", reencode(func(m map[string]any) { m["header"] = map[string]any{"kid": testKID} }), testNewOrder, KIDRequired, Malformed},
		{"detached payload", reencode(func(m map[string]any) { delete(m, "payload") }), testNewOrder, KIDRequired, Malformed},
		{"member name in another case", reencode(func(m map[string]any) { m["Payload"] = m["payload"]; delete(m, "payload") }), testNewOrder, KIDRequired, Malformed},
		{"duplicate member", func() []byte {
			b := valid()
			return append(b[:len(b)-1], []byte(`,"payload":""}`)...)
		}, testNewOrder, KIDRequired, Malformed},
		{"duplicate header member", func() []byte {
			n, _ := v.Nonces.New()
			h := []byte(`{"alg":"ES256","nonce":"` + n + `","url":"` + testNewOrder + `","kid":"` + testKID + `","url":"https://evil.test/"}`)
			p, pl := enc(h), enc([]byte(`{}`))
			b, _ := json.Marshal(map[string]string{"protected": p, "payload": pl, "signature": enc(sign(t, "ES256", es, []byte(p+"."+pl)))})
			return b
		}, testNewOrder, KIDRequired, Malformed},
		{"trailing data", func() []byte { return append(valid(), []byte(` {}`)...) }, testNewOrder, KIDRequired, Malformed},
		{"not JSON", func() []byte { return []byte("eyJhbGciOiJFUzI1NiJ9.e30.AAAA") }, testNewOrder, KIDRequired, Malformed},
		{"oversized body", func() []byte { return bytes.Repeat([]byte(" "), MaxBody+1) }, testNewOrder, KIDRequired, Malformed},
		{"jwk with private key", signed("ES256", es, func(h map[string]any) {
			delete(h, "kid")
			h["jwk"] = json.RawMessage(withPrivate)
			h["url"] = testNewAccount
		}), testNewAccount, JWKRequired, Malformed},
		{"RSA key of 1024 bits", signed("RS256", small, func(h map[string]any) {
			delete(h, "kid")
			h["alg"], h["jwk"], h["url"] = "RS256", jwkJSON(small.Public()), testNewAccount
		}), testNewAccount, JWKRequired, BadPublicKey},
		{"EC point not on the curve", signed("ES256", es, func(h map[string]any) {
			delete(h, "kid")
			h["jwk"] = json.RawMessage(`{"kty":"EC","crv":"P-256","x":"` + enc(make([]byte, 32)) + `","y":"` + enc(append(make([]byte, 31), 1)) + `"}`)
			h["url"] = testNewAccount
		}), testNewAccount, JWKRequired, BadPublicKey},
		{"P-521 key", signed("ES256", es, func(h map[string]any) {
			k, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
			delete(h, "kid")
			h["jwk"], h["url"] = jwkJSON(k.Public()), testNewAccount
		}), testNewAccount, JWKRequired, BadPublicKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.VerifyJWS(context.Background(), tc.body(), tc.url, tc.rule)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			if got := problemType(t, err); got != tc.want {
				t.Fatalf("problem %s (%v), want %s", got, err, tc.want)
			}
			if tc.want == BadSignatureAlgorithm {
				if p := err.(*Problem); len(p.Algorithms) == 0 {
					t.Fatal("badSignatureAlgorithm without the algorithms list")
				}
			}
		})
	}
}

// TestVerifyRefusalKeepsNonce: a request refused for its signature does not
// use its nonce, so an attacker who sees a nonce cannot burn it, and the
// client's own request with it still goes through.
func TestVerifyRefusalKeepsNonce(t *testing.T) {
	keys := testKeys()
	c := newClock()
	v := &Verifier{Nonces: newNonces(t, c), Accounts: accounts{testKID: keys["ES256"].Public()}}
	n, _ := v.Nonces.New()
	h := map[string]any{"alg": "ES256", "nonce": n, "url": testNewOrder, "kid": testKID}
	if _, err := v.VerifyJWS(context.Background(), flattened(t, "ES256", keys["other"], h, nil), testNewOrder, KIDRequired); err == nil {
		t.Fatal("forged request accepted")
	}
	if _, err := v.VerifyJWS(context.Background(), flattened(t, "ES256", keys["ES256"], h, nil), testNewOrder, KIDRequired); err != nil {
		t.Fatalf("the client's request after a forged one: %v", err)
	}
	if _, err := v.VerifyJWS(context.Background(), flattened(t, "ES256", keys["ES256"], h, nil), testNewOrder, KIDRequired); problemType(t, err) != BadNonce {
		t.Fatalf("replay: %v", err)
	}
}

// TestVerifyHTTP: the body bound and the media type, through Verify.
func TestVerifyHTTP(t *testing.T) {
	keys := testKeys()
	c := newClock()
	v := &Verifier{Nonces: newNonces(t, c), Accounts: accounts{testKID: keys["ES256"].Public()}}
	good := func() []byte {
		n, _ := v.Nonces.New()
		return flattened(t, "ES256", keys["ES256"], map[string]any{"alg": "ES256", "nonce": n, "url": testNewOrder, "kid": testKID}, nil)
	}
	big := bytes.Repeat([]byte("a"), MaxBody+1)
	for _, tc := range []struct {
		name        string
		contentType string
		body        func() []byte
		unknownLen  bool
		status      int
	}{
		{"ok", "application/jose+json", good, false, 0},
		{"ok with parameters", "application/jose+json; charset=utf-8", good, false, 0},
		{"application/json", "application/json", good, false, http.StatusUnsupportedMediaType},
		{"no content type", "", good, false, http.StatusUnsupportedMediaType},
		{"oversized, Content-Length", "application/jose+json", func() []byte { return big }, false, http.StatusRequestEntityTooLarge},
		{"oversized, chunked", "application/jose+json", func() []byte { return big }, true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.body()
			r := httptest.NewRequest(http.MethodPost, testNewOrder, bytes.NewReader(b))
			if tc.unknownLen {
				r.ContentLength = -1
			}
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			_, err := v.Verify(r, testNewOrder, KIDRequired)
			if tc.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || ProblemFrom(err).HTTPStatus() != tc.status {
				t.Fatalf("error %v, want status %d", err, tc.status)
			}
		})
	}
}

// TestThumbprint: RFC 7638 §3.1's example.
func TestThumbprint(t *testing.T) {
	key, err := ParseJWK([]byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Thumbprint(key)
	if err != nil || got != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q, %v", got, err)
	}
	// Every accepted key type round-trips through its JWK to the same
	// thumbprint.
	for name, k := range testKeys() {
		back, err := ParseJWK(jwkJSON(k.Public()))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a, _ := Thumbprint(k.Public())
		b, _ := Thumbprint(back)
		if a == "" || a != b {
			t.Fatalf("%s: thumbprints %q and %q", name, a, b)
		}
	}
}

// BenchmarkVerify: the cost of checking one request per account key type
// (parse, nonce, key, signature, replay cache).
func BenchmarkVerify(b *testing.B) {
	keys := testKeys()
	for _, alg := range Algorithms {
		b.Run(alg, func(b *testing.B) {
			v := &Verifier{Nonces: newNonces(b, newClock()), Accounts: accounts{testKID: keys[alg].Public()}}
			bodies := make([][]byte, b.N)
			for i := range bodies {
				n, _ := v.Nonces.New()
				bodies[i] = flattened(b, alg, keys[alg], map[string]any{"alg": alg, "nonce": n, "url": testNewOrder, "kid": testKID}, []byte(`{"identifiers":[{"type":"dns","value":"fe01.contoso.net"}]}`))
			}
			b.ResetTimer()
			for i := range b.N {
				if _, err := v.VerifyJWS(context.Background(), bodies[i], testNewOrder, KIDRequired); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
