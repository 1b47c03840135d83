package enroll

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/http01"

	"edgecert/internal/ca"
)

// preauthTopology: the pool's servers are operated by lync-ops.
const preauthTopology = `version: 1
organization: {name: Contoso Ltd, country: US}
sip_domains: [contoso.test]
simple_urls:
  meet: {contoso.test: https://meet.contoso.test}
  dialin: https://dialin.contoso.test
sites:
  - name: Redmond
    pools:
      - fqdn: pool01.contoso.test
        servers: [fe01.contoso.test]
        operators: [lync-ops]
`

// TestACMEPreauthorized: a template that pre-authorizes its topology's
// names lets an account of the servers' operators get them with no
// challenge at all (lego has no solver); an account of another group, and a
// name the topology does not assign, still need their challenges; the
// option is off until the template sets it.
func TestACMEPreauthorized(t *testing.T) {
	e := newACMEEnv(t)
	ctx := context.Background()
	eng := e.tc.eng.(*ca.Engine)
	if err := eng.AddUser(ctx, ca.UserSpec{Name: "dave", Groups: []string{"webadmins", "lync-ops"}}); err != nil {
		t.Fatal(err)
	}
	names := []string{"pool01.contoso.test", "fe01.contoso.test"}
	obtain := func(c interface {
		Obtain(context.Context, certificate.ObtainRequest) (*certificate.Resource, error)
	}, names ...string) error {
		_, err := c.Obtain(ctx, certificate.ObtainRequest{Domains: names, Bundle: true, KeyType: certcrypto.EC256})
		return err
	}

	dave := &legoUser{}
	dc := e.client(t, dave)
	e.register(t, dc, dave, "dave")
	before := e.certCount(t)
	if err := obtain(dc.Certificate, names...); err == nil {
		t.Fatal("off by default: an order with no challenge solved was issued")
	}

	topo := filepath.Join(e.tc.dir, "topology.yaml")
	if err := os.WriteFile(topo, []byte(preauthTopology), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SetTemplate(e.tc.dir, tmplAuto, ca.TemplateChange{ACMEPreauthorize: &ca.ACMEPreauth{Topology: "topology.yaml"}}); err != nil {
		t.Fatal(err)
	}
	p, _ := eng.PrincipalFor(ctx, "dave")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		pre, err := eng.ACMEPreauthorized(ctx, p, tmplAuto, names)
		if err == nil && slices.Equal(pre, []bool{true, true}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the engine does not read the template's pre-authorization: %v %v", pre, err)
		}
	}

	granted := func() (n int) {
		t.Helper()
		audit, err := eng.AuditLog(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range audit {
			if a.Action == "acme-preauthorize" {
				if a.Actor != "dave" || !strings.Contains(a.Subject, "(operators lync-ops)") {
					t.Fatalf("audit: %+v", a)
				}
				n++
			}
		}
		return n
	}
	polled := granted()

	// The operators' account: issued without any challenge server.
	if err := obtain(dc.Certificate, names...); err != nil {
		t.Fatalf("pre-authorized order: %v", err)
	}
	if n := e.certCount(t); n != before+1 {
		t.Fatalf("%d certificates, want %d", n, before+1)
	}
	// A name the topology does not assign needs its challenge.
	if err := obtain(dc.Certificate, "pool01.contoso.test", "other.contoso.test"); err == nil {
		t.Fatal("a name outside the topology was issued without its challenge")
	}
	// Another group's account needs challenges: none fails, http-01 works.
	alice := &legoUser{}
	ac := e.client(t, alice)
	e.register(t, ac, alice, "alice")
	if err := obtain(ac.Certificate, names...); err == nil {
		t.Fatal("an account of another group got the servers' names without a challenge")
	}
	if err := ac.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", strconv.Itoa(e.httpPort))); err != nil {
		t.Fatal(err)
	}
	if err := obtain(ac.Certificate, names...); err != nil {
		t.Fatalf("another group's account with http-01: %v", err)
	}
	if n := e.certCount(t); n != before+2 {
		t.Fatalf("%d certificates, want %d", n, before+2)
	}

	// What the client sees: the order is ready at once, its authorization
	// valid with no challenge; the audit names the grant.
	raw := newRawACME(t, e)
	raw.register(e, "dave")
	a := raw.post(raw.base+"new-order", map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "fe01.contoso.test"}}})
	var order struct {
		Status         string
		Authorizations []string
	}
	json.Unmarshal(a.body, &order)
	if a.status != http.StatusCreated || order.Status != "ready" || len(order.Authorizations) != 1 {
		t.Fatalf("new order: %d %s", a.status, a.body)
	}
	az := raw.post(order.Authorizations[0], nil)
	if !strings.Contains(string(az.body), `"status": "valid"`) || !strings.Contains(string(az.body), `"challenges": []`) {
		t.Fatalf("pre-authorized authorization: %s", az.body)
	}
	// dave's three orders, none of alice's.
	if n := granted() - polled; n != 3 {
		t.Fatalf("%d pre-authorization audit entries, want 3", n)
	}
}
