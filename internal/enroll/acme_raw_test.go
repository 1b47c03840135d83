package enroll

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"edgecert/internal/acmeserver"
	"edgecert/internal/ca"
)

// The ACME client of the tests, which builds every JWS itself.

var b64 = base64.RawURLEncoding.EncodeToString

// rawACME is an ACME client that builds every JWS itself, so that a test
// can send what no real client would.
type rawACME struct {
	t    testing.TB
	hc   *http.Client
	dir  map[string]any
	key  *ecdsa.PrivateKey
	kid  string
	base string // the template's URL prefix
	// next is the Replay-Nonce of the last answer, which post uses (as
	// clients do) instead of asking new-nonce.
	next string
}

func newRawACME(t testing.TB, e *acmeEnv) *rawACME {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := &rawACME{t: t, hc: e.tc.client(t), key: key, base: e.ts.url + "/acme/" + tmplAuto + "/"}
	resp, err := c.hc.Get(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&c.dir)
	return c
}

func jwkOf(k *ecdsa.PublicKey) map[string]string {
	raw, _ := k.Bytes()
	return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
}

func (c *rawACME) nonce() string {
	resp, err := c.hc.Head(c.base + "new-nonce")
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("Replay-Nonce")
}

// jws signs payload (nil: POST-as-GET) for url with key, naming the
// account by kid (or carrying the jwk when kid is ""), with nonce (none
// when "").
func jws(key *ecdsa.PrivateKey, kid, nonce, url string, payload any) []byte {
	h := map[string]any{"alg": "ES256", "url": url}
	if nonce != "" { // a key change's inner JWS has none
		h["nonce"] = nonce
	}
	if kid != "" {
		h["kid"] = kid
	} else {
		h["jwk"] = jwkOf(&key.PublicKey)
	}
	hb, _ := json.Marshal(h)
	pl := ""
	if payload != nil {
		pb, _ := json.Marshal(payload)
		pl = b64(pb)
	}
	input := b64(hb) + "." + pl
	sum := sha256.Sum256([]byte(input))
	r, s, _ := ecdsa.Sign(rand.Reader, key, sum[:])
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	out, _ := json.Marshal(map[string]string{"protected": b64(hb), "payload": pl, "signature": b64(sig)})
	return out
}

type rawAnswer struct {
	status   int
	location string
	body     []byte
}

func (a rawAnswer) problem() string {
	var p struct{ Type string }
	json.Unmarshal(a.body, &p)
	return strings.TrimPrefix(p.Type, "urn:ietf:params:acme:error:")
}

func (c *rawACME) postBody(url string, body []byte) rawAnswer {
	c.t.Helper()
	resp, err := c.hc.Post(url, "application/jose+json", bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	c.next = resp.Header.Get("Replay-Nonce")
	return rawAnswer{resp.StatusCode, resp.Header.Get("Location"), b}
}

func (c *rawACME) post(url string, payload any) rawAnswer {
	c.t.Helper()
	n := c.next
	if n == "" {
		n = c.nonce()
	}
	return c.postBody(url, jws(c.key, c.kid, n, url, payload))
}

// eabBinding is the externalAccountBinding of key for the EAB key k.
func eabBinding(k *ca.EABKey, key *ecdsa.PrivateKey, url string) map[string]string {
	hb, _ := json.Marshal(map[string]string{"alg": "HS256", "kid": k.KID, "url": url})
	pb, _ := json.Marshal(jwkOf(&key.PublicKey))
	mac, _ := base64.RawURLEncoding.DecodeString(k.HMACKey)
	m := hmac.New(sha256.New, mac)
	m.Write([]byte(b64(hb) + "." + b64(pb)))
	return map[string]string{"protected": b64(hb), "payload": b64(pb), "signature": b64(m.Sum(nil))}
}

// register creates the account with an EAB key of user.
func (c *rawACME) register(e *acmeEnv, user string) {
	c.t.Helper()
	url := c.base + "new-account"
	a := c.post(url, map[string]any{"termsOfServiceAgreed": true, "externalAccountBinding": eabBinding(e.eab(c.t, user), c.key, url)})
	if a.status != http.StatusCreated || a.location == "" {
		c.t.Fatalf("register: %d %s", a.status, a.body)
	}
	c.kid = a.location
}

// http01Responder answers http-01 on the port the CA validates on.
type http01Responder struct {
	mu   sync.Mutex
	keys map[string]string
}

func startHTTP01(t testing.TB, port int) *http01Responder {
	r := &http01Responder{keys: map[string]string{}}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		io.WriteString(w, r.keys[strings.TrimPrefix(req.URL.Path, "/.well-known/acme-challenge/")])
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return r
}

// readyOrder creates an order for names and validates it with http-01.
func (c *rawACME) readyOrder(e *acmeEnv, h *http01Responder, names ...string) (orderURL string, order map[string]any) {
	c.t.Helper()
	var ids []map[string]string
	for _, n := range names {
		ids = append(ids, map[string]string{"type": "dns", "value": n})
	}
	a := c.post(c.base+"new-order", map[string]any{"identifiers": ids})
	if a.status != http.StatusCreated {
		c.t.Fatalf("new order: %d %s", a.status, a.body)
	}
	json.Unmarshal(a.body, &order)
	tp, _ := acmeserver.Thumbprint(&c.key.PublicKey)
	for _, az := range order["authorizations"].([]any) {
		var authz struct {
			Challenges []struct{ Type, URL, Token string }
		}
		json.Unmarshal(c.post(az.(string), nil).body, &authz)
		for _, ch := range authz.Challenges {
			if ch.Type == acmeserver.HTTP01 {
				h.mu.Lock()
				h.keys[ch.Token] = ch.Token + "." + tp
				h.mu.Unlock()
				if got := c.post(ch.URL, map[string]any{}); !strings.Contains(string(got.body), `"valid"`) {
					c.t.Fatalf("challenge: %d %s", got.status, got.body)
				}
			}
		}
	}
	a = c.post(a.location, nil)
	json.Unmarshal(a.body, &order)
	if order["status"] != "ready" {
		c.t.Fatalf("order not ready: %s", a.body)
	}
	return a.location, order
}

func csrFor(t testing.TB, names ...string) string {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: names[0]}, DNSNames: names}, k)
	if err != nil {
		t.Fatal(err)
	}
	return b64(der)
}
