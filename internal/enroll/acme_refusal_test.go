package enroll

import (
	"bytes"
	"context"
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
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgecert/internal/acmeserver"
	"edgecert/internal/ca"
	"edgecert/internal/testtool"
	"edgecert/internal/testtool/testdns"
)

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

// TestACMERefusals: each refusal is the RFC's problem type, and none
// leaves a certificate in the CA.
func TestACMERefusals(t *testing.T) {
	e := newACMEEnv(t)
	h := startHTTP01(t, e.httpPort)
	before := e.certCount(t)

	c := newRawACME(t, e)
	if a := c.post(c.base+"new-account", map[string]any{"termsOfServiceAgreed": true}); a.problem() != "externalAccountRequired" {
		t.Fatalf("an account without EAB: %d %s", a.status, a.body)
	}
	other := newRawACME(t, e)
	url := c.base + "new-account"
	if a := c.post(url, map[string]any{"externalAccountBinding": eabBinding(e.eab(t, "alice"), other.key, url)}); a.problem() != "unauthorized" {
		t.Fatalf("an EAB binding another key: %d %s", a.status, a.body)
	}
	c.register(e, "alice")

	ids := func(names ...string) map[string]any {
		var out []map[string]string
		for _, n := range names {
			out = append(out, map[string]string{"type": "dns", "value": n})
		}
		return map[string]any{"identifiers": out}
	}
	a := c.post(c.base+"new-order", ids("ok.contoso.test", "evil.example", "*.contoso.test.evil.example"))
	var doc struct {
		Type        string
		Subproblems []struct {
			Type, Detail string
			Identifier   acmeserver.Identifier
		}
	}
	json.Unmarshal(a.body, &doc)
	if a.status != 400 || a.problem() != "rejectedIdentifier" || len(doc.Subproblems) != 2 || doc.Subproblems[0].Identifier.Value != "evil.example" ||
		!strings.Contains(doc.Subproblems[0].Detail, "outside the allowed names") {
		t.Fatalf("names outside the policy: %d %s", a.status, a.body)
	}

	newOrder := c.base + "new-order"
	n := c.nonce()
	body := jws(c.key, c.kid, n, newOrder, ids("a.contoso.test"))
	if a := c.postBody(newOrder, body); a.status != http.StatusCreated {
		t.Fatalf("first use of a nonce: %d %s", a.status, a.body)
	}
	for _, tc := range []struct {
		name, want string
		status     int
		body       []byte
		url        string
	}{
		{"replayed nonce", "badNonce", 400, body, newOrder},
		{"wrong url", "unauthorized", 403, jws(c.key, c.kid, c.nonce(), c.base+"new-account", ids("a.contoso.test")), newOrder},
		{"another key", "malformed", 400, jws(other.key, c.kid, c.nonce(), newOrder, ids("a.contoso.test")), newOrder},
		{"oversized body", "malformed", 413, append(jws(c.key, c.kid, c.nonce(), newOrder, ids("a.contoso.test")), bytes.Repeat([]byte(" "), acmeserver.MaxBody)...), newOrder},
		{"malformed body", "malformed", 400, []byte(`{"protected":`), newOrder},
		{"unknown account", "accountDoesNotExist", 400, jws(c.key, c.base+"acct/nobody", c.nonce(), newOrder, ids("a.contoso.test")), newOrder},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := c.postBody(tc.url, tc.body)
			if a.status != tc.status || a.problem() != tc.want {
				t.Fatalf("%d %s, want %d %s", a.status, a.body, tc.status, tc.want)
			}
		})
	}

	// carol has no Enroll permission: her account may order nothing.
	carol := newRawACME(t, e)
	carol.register(e, "carol")
	if a := carol.post(carol.base+"new-order", ids("c.contoso.test")); a.status != 403 || a.problem() != "unauthorized" {
		t.Fatalf("a user without Enroll: %d %s", a.status, a.body)
	}

	// bob loses Enroll between his order's validation and its finalize.
	bob := newRawACME(t, e)
	bob.register(e, "bob")
	orderURL, order := bob.readyOrder(e, h, "b.contoso.test")
	if a := bob.post(order["finalize"].(string), map[string]string{"csr": csrFor(t, "other.contoso.test")}); a.problem() != "badCSR" {
		t.Fatalf("a CSR with other names: %d %s", a.status, a.body)
	}
	none := []string{}
	if err := e.tc.eng.(*ca.Engine).ChangeUser(context.Background(), "bob", ca.UserChange{Groups: &none}); err != nil {
		t.Fatal(err)
	}
	if a := bob.post(order["finalize"].(string), map[string]string{"csr": csrFor(t, "b.contoso.test")}); a.status != 403 || a.problem() != "unauthorized" {
		t.Fatalf("finalize by a user who lost Enroll: %d %s", a.status, a.body)
	}
	if a := bob.post(orderURL, nil); !strings.Contains(string(a.body), `"ready"`) {
		t.Fatalf("the order after a refused finalize: %s", a.body)
	}
	if after := e.certCount(t); after != before {
		t.Fatalf("%d certificates after the refusals, %d before", after, before)
	}
}

// TestACMEFinalizeCrash: a finalize that died after the CA recorded the
// certificate (the process killed between the group commit and the
// order's update) leaves the order processing; the next read makes it
// valid with that one certificate, which downloads, and a repeated
// finalize issues no second one.
func TestACMEFinalizeCrash(t *testing.T) {
	e := newACMEEnv(t)
	h := startHTTP01(t, e.httpPort)
	c := newRawACME(t, e)
	c.register(e, "alice")
	orderURL, order := c.readyOrder(e, h, "crash.contoso.test")
	id := orderURL[strings.LastIndex(orderURL, "/")+1:]
	eng := e.tc.eng.(*ca.Engine)
	ctx := context.Background()
	// What the dead finalize did: the order processing, the certificate
	// recorded with the order's reference.
	o, err := eng.ACMEDB().ACMEOrder(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	o.Status = "processing"
	if err := eng.ACMEDB().SetACMEOrder(ctx, *o, "pending"); err != nil { // ready is derived, pending is stored
		t.Fatal(err)
	}
	p, _ := eng.PrincipalFor(ctx, "alice")
	csr, _ := base64.RawURLEncoding.DecodeString(csrFor(t, "crash.contoso.test"))
	res, err := eng.SubmitFor(ctx, p, csr, tmplAuto, "acme order "+id)
	if err != nil {
		t.Fatal(err)
	}
	before := e.certCount(t)

	a := c.post(orderURL, nil)
	json.Unmarshal(a.body, &order)
	if order["status"] != "valid" || order["certificate"] == nil {
		t.Fatalf("the order after the crash: %s", a.body)
	}
	if a := c.post(order["finalize"].(string), map[string]string{"csr": csrFor(t, "crash.contoso.test")}); !strings.Contains(string(a.body), `"valid"`) {
		t.Fatalf("a repeated finalize: %d %s", a.status, a.body)
	}
	got := c.post(order["certificate"].(string), nil)
	if got.status != 200 {
		t.Fatalf("download: %d %s", got.status, got.body)
	}
	if cert := leaf(t, got.body); strings.ToUpper(cert.SerialNumber.Text(16)) != res.Serial {
		t.Fatalf("downloaded %X, the order's certificate is %s", cert.SerialNumber, res.Serial)
	}
	if after := e.certCount(t); after != before {
		t.Fatalf("%d certificates, %d before", after, before)
	}
}

// TestACMEUnbound: a template opened to unbound accounts from a network
// takes accounts without EAB from it, acting as acme-unbound (whose
// Enroll the template must grant); from elsewhere, or for another
// template, a binding is still required.
func TestACMEUnbound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		network string
		want    int
		problem string
	}{
		{"inside the network", "127.0.0.0/8", http.StatusCreated, ""},
		{"outside the network", "10.0.0.0/8", 400, "externalAccountRequired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRealCAKey(t, "p256", "")
			eng := rc.eng.(*ca.Engine)
			if err := eng.AddUser(context.Background(), ca.UserSpec{Name: acmeserver.UnboundUser, Groups: []string{"webadmins"}}); err != nil {
				t.Fatal(err)
			}
			e := &acmeEnv{tc: rc, httpPort: freePort(t), tlsPort: freePort(t)}
			e.ts = startServer(t, rc, Config{ACME: &ACMEConfig{Unbound: map[string][]netip.Prefix{tmplAuto: {netip.MustParsePrefix(tc.network)}}}})
			e.dir = e.ts.url + "/acme/" + tmplAuto + "/directory"
			c := newRawACME(t, e)
			if c.dir["meta"].(map[string]any)["externalAccountRequired"] != false {
				t.Fatalf("directory meta: %v", c.dir["meta"])
			}
			a := c.post(c.base+"new-account", map[string]any{"termsOfServiceAgreed": true})
			if a.status != tc.want || a.problem() != tc.problem {
				t.Fatalf("%d %s", a.status, a.body)
			}
			if a.status == http.StatusCreated {
				c.kid = a.location
				if o := c.post(c.base+"new-order", map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "lab.contoso.test"}}}); o.status != http.StatusCreated {
					t.Fatalf("an unbound account's order: %d %s", o.status, o.body)
				}
			}
			other := newRawACME(t, e)
			other.base = e.ts.url + "/acme/WebServerApproval/"
			if a := other.post(other.base+"new-account", map[string]any{}); a.status != 404 {
				t.Fatalf("a template with approval serves ACME: %d %s", a.status, a.body)
			}
		})
	}
}

// TestACMETwoServersOnePostgres: two servers on one PostgreSQL database,
// under one public URL (as behind a load balancer), are one ACME service:
// a nonce from one is accepted by the other (the nonce secret is in the
// database), an account created at one orders at the other, and an order
// validated at one finalizes at the other.
func TestACMETwoServersOnePostgres(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	tc := newRealCAKey(t, "p256", dsn)
	e := &acmeEnv{tc: tc, dns: testdns.Start(t), httpPort: freePort(t), tlsPort: freePort(t)}
	val := acmeserver.ValidationOptions{Resolver: e.dns.Addr, HTTPPort: e.httpPort, Attempts: 1, Timeout: 5 * time.Second}
	e.ts = startServer(t, tc, Config{ACME: &ACMEConfig{Validation: val}})
	e.dir = e.ts.url + "/acme/" + tmplAuto + "/directory"
	b := startServer(t, tc.another(t), Config{ACME: &ACMEConfig{BaseURL: e.ts.url, Validation: val}})
	h := startHTTP01(t, e.httpPort)

	c := newRawACME(t, e)
	c.register(e, "alice") // at A
	// The same request URLs, sent to B's socket.
	atB := func(url string, body []byte) rawAnswer {
		req, _ := http.NewRequest(http.MethodPost, strings.Replace(url, e.ts.url, b.url, 1), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/jose+json")
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		c.next = resp.Header.Get("Replay-Nonce")
		return rawAnswer{resp.StatusCode, resp.Header.Get("Location"), out}
	}
	order := c.base + "new-order"
	a := atB(order, jws(c.key, c.kid, c.next, order, map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "two.contoso.test"}}}))
	if a.status != http.StatusCreated {
		t.Fatalf("A's nonce and account at B: %d %s", a.status, a.body)
	}
	_, ready := c.readyOrder(e, h, "three.contoso.test") // at A, starting with B's nonce
	fin := ready["finalize"].(string)
	if a := atB(fin, jws(c.key, c.kid, c.next, fin, map[string]string{"csr": csrFor(t, "three.contoso.test")})); !strings.Contains(string(a.body), `"valid"`) {
		t.Fatalf("finalize at B of an order validated at A: %d %s", a.status, a.body)
	}
}

// TestACMEFinalizeDiedBeforeCommit: a finalize that died before the CA
// recorded a certificate leaves the order processing; readers are told to
// retry, and two minutes later the order is ready again and finalizes.
func TestACMEFinalizeDiedBeforeCommit(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	e := newACMEEnvAt(t, now, "")
	h := startHTTP01(t, e.httpPort)
	c := newRawACME(t, e)
	c.register(e, "alice")
	orderURL, order := c.readyOrder(e, h, "died.contoso.test")
	id := orderURL[strings.LastIndex(orderURL, "/")+1:]
	d := e.tc.eng.(*ca.Engine).ACMEDB()
	o, err := d.ACMEOrder(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	o.Status, o.Updated = "processing", now()
	if err := d.SetACMEOrder(context.Background(), *o, "pending"); err != nil {
		t.Fatal(err)
	}
	if a := c.post(orderURL, nil); !strings.Contains(string(a.body), `"processing"`) {
		t.Fatalf("just after: %s", a.body)
	}
	skew.Store(int64(3 * time.Minute))
	if a := c.post(orderURL, nil); !strings.Contains(string(a.body), `"ready"`) {
		t.Fatalf("past the grace: %s", a.body)
	}
	if a := c.post(order["finalize"].(string), map[string]string{"csr": csrFor(t, "died.contoso.test")}); !strings.Contains(string(a.body), `"valid"`) {
		t.Fatalf("finalize again: %d %s", a.status, a.body)
	}
}

// TestACMEAccountResources: onlyReturnExisting, a second newAccount with
// the same key, contact updates, the orders list, authorization and
// account deactivation, and a key change to another account's key.
func TestACMEAccountResources(t *testing.T) {
	e := newACMEEnv(t)
	c := newRawACME(t, e)
	newAcct := c.base + "new-account"
	if a := c.post(newAcct, map[string]any{"onlyReturnExisting": true}); a.problem() != "accountDoesNotExist" {
		t.Fatalf("onlyReturnExisting for a new key: %d %s", a.status, a.body)
	}
	c.register(e, "alice")
	kid := c.kid
	c.kid = ""
	if a := c.post(newAcct, map[string]any{"onlyReturnExisting": true}); a.status != 200 || a.location != kid {
		t.Fatalf("onlyReturnExisting for the key: %d %s %s", a.status, a.location, a.body)
	}
	if a := c.post(newAcct, map[string]any{}); a.status != 200 || a.location != kid {
		t.Fatalf("newAccount again with the key: %d %s", a.status, a.body)
	}
	c.kid = kid
	for _, tc := range []struct {
		contact []string
		status  int
		want    string
	}{
		{[]string{"mailto:pki@contoso.test"}, 200, ""},
		{[]string{"tel:+1555"}, 400, "unsupportedContact"},
		{[]string{"mailto:a@b.test?subject=x"}, 400, "invalidContact"},
		{[]string{"mailto:a@b.test,c@d.test"}, 400, "invalidContact"},
	} {
		a := c.post(kid, map[string]any{"contact": tc.contact})
		if a.status != tc.status || a.problem() != tc.want {
			t.Fatalf("contact %v: %d %s", tc.contact, a.status, a.body)
		}
	}
	if a := c.post(kid, nil); !strings.Contains(string(a.body), "mailto:pki@contoso.test") {
		t.Fatalf("the account: %s", a.body)
	}
	o := c.post(c.base+"new-order", map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "list.contoso.test"}}})
	var order struct{ Authorizations []string }
	json.Unmarshal(o.body, &order)
	var list struct{ Orders []string }
	json.Unmarshal(c.post(kid+"/orders", nil).body, &list)
	if len(list.Orders) != 1 || list.Orders[0] != o.location {
		t.Fatalf("orders list: %+v, created %s", list, o.location)
	}
	if a := c.post(order.Authorizations[0], map[string]string{"status": "deactivated"}); !strings.Contains(string(a.body), `"deactivated"`) {
		t.Fatalf("authorization deactivation: %s", a.body)
	}
	if a := c.post(o.location, nil); !strings.Contains(string(a.body), `"invalid"`) {
		t.Fatalf("an order with a deactivated authorization: %s", a.body)
	}
	// Another account's key is refused for a key change (409).
	other := newRawACME(t, e)
	other.register(e, "bob")
	if a := other.post(c.base+"acct/"+strings.TrimPrefix(kid, c.base+"acct/"), nil); a.status != 403 {
		t.Fatalf("another account reads this one: %d %s", a.status, a.body)
	}
	kc := c.base + "key-change"
	inner := jws(other.key, "", "", kc, map[string]any{"account": kid, "oldKey": jwkOf(&c.key.PublicKey)})
	var innerObj map[string]any
	json.Unmarshal(inner, &innerObj)
	if a := c.post(kc, innerObj); a.status != http.StatusConflict {
		t.Fatalf("key change to another account's key: %d %s", a.status, a.body)
	}
	if a := c.post(kid, map[string]string{"status": "deactivated"}); !strings.Contains(string(a.body), `"deactivated"`) {
		t.Fatalf("deactivation: %s", a.body)
	}
	if a := c.post(kid, nil); a.status != 403 || a.problem() != "unauthorized" {
		t.Fatalf("a deactivated account: %d %s", a.status, a.body)
	}
}
