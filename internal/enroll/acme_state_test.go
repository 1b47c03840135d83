package enroll

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgecert/internal/acmeserver"
	"edgecert/internal/ca"
	"edgecert/internal/testtool"
	"edgecert/internal/testtool/testdns"
)

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

// TestACMEChallengeAnswers: a challenge's answer is what was recorded
// (valid with its time, or invalid with the reason), the authorization
// read afterwards says the same, and the order follows: ready after a
// valid challenge, invalid after a failed one; a second validation of a
// valid challenge changes nothing.
func TestACMEChallengeAnswers(t *testing.T) {
	e := newACMEEnv(t)
	h := startHTTP01(t, e.httpPort)
	c := newRawACME(t, e)
	c.register(e, "alice")
	tp, _ := acmeserver.Thumbprint(&c.key.PublicKey)
	type challenge struct{ Type, URL, Token, Status, Validated string }
	var authzAnswer struct {
		Status     string
		Challenges []challenge
		Error      json.RawMessage
	}
	for _, tc := range []struct {
		name, keyAuth       string // the responder's answer ("": the right one)
		challenge, ordering string // the statuses after
	}{
		{"right key", "", "valid", "ready"},
		{"wrong key", "not-the-key-authorization", "invalid", "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(tc.name, " ", "") + ".contoso.test"
			o := c.post(c.base+"new-order", map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": name}}})
			var order struct{ Authorizations []string }
			json.Unmarshal(o.body, &order)
			json.Unmarshal(c.post(order.Authorizations[0], nil).body, &authzAnswer)
			var ch challenge
			for _, x := range authzAnswer.Challenges {
				if x.Type == acmeserver.HTTP01 {
					ch = x
				}
			}
			answer := ch.Token + "." + tp
			if tc.keyAuth != "" {
				answer = tc.keyAuth
			}
			h.mu.Lock()
			h.keys[ch.Token] = answer
			h.mu.Unlock()
			var got struct {
				Status, Validated string
				Error             *struct{ Type, Detail string }
			}
			a := c.post(ch.URL, map[string]any{})
			json.Unmarshal(a.body, &got)
			if a.status != 200 || got.Status != tc.challenge || (got.Status == "valid") != (got.Validated != "") || (got.Status == "invalid") != (got.Error != nil) {
				t.Fatalf("challenge answer: %d %s", a.status, a.body)
			}
			again := c.post(ch.URL, map[string]any{})
			if !bytes.Equal(again.body, a.body) {
				t.Fatalf("the challenge again: %s, first %s", again.body, a.body)
			}
			authzAnswer.Challenges = nil
			json.Unmarshal(c.post(order.Authorizations[0], nil).body, &authzAnswer)
			if authzAnswer.Status != tc.challenge {
				t.Fatalf("authorization: %+v", authzAnswer)
			}
			for _, x := range authzAnswer.Challenges {
				if x.Type == acmeserver.HTTP01 && (x.Status != got.Status || x.Validated != got.Validated) {
					t.Fatalf("the authorization's challenge %+v, answered %s", x, a.body)
				}
			}
			if a := c.post(o.location, nil); !strings.Contains(string(a.body), `"status": "`+tc.ordering+`"`) {
				t.Fatalf("order: %s", a.body)
			}
		})
	}
}
