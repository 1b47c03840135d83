package enroll

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"edgecert/internal/acmeserver"
	"edgecert/internal/ca"
)

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
