package db

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestACMERecords runs the ACME records through both backends: accounts
// unique per key and template, orders with their authorizations and
// challenges, conditional state changes, EAB keys that end with their
// user, the shared secret and the issuance found by its audit detail.
func TestACMERecords(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			ctx := context.Background()
			now := time.Unix(1_800_000_000, 0).UTC()
			if err := d.CreateUser(ctx, User{Name: "web", Created: now}); err != nil {
				t.Fatal(err)
			}
			if err := d.PutEABKey(ctx, "kid1", "web", []byte("0123456789abcdef0123456789abcdef"), now); err != nil {
				t.Fatal(err)
			}
			if u, k, err := d.EABKey(ctx, "kid1"); err != nil || u != "web" || string(k) != "0123456789abcdef0123456789abcdef" {
				t.Fatalf("EABKey = %q %q %v", u, k, err)
			}
			if _, _, err := d.EABKey(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown kid: %v", err)
			}
			if err := d.SetUser(ctx, User{Name: "web", Disabled: true, Version: 1}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.EABKey(ctx, "kid1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("disabled user's kid: %v", err)
			}

			acct := ACMEAccount{ID: "a1", Template: "WebServer", Thumbprint: "tp1", JWK: []byte(`{"kty":"EC"}`), User: "web", EABKID: "kid1", Status: ACMEValid, Contact: []string{"mailto:a@contoso.com"}, Created: now}
			if err := d.CreateACMEAccount(ctx, acct); err != nil {
				t.Fatal(err)
			}
			acct.ID = "a2"
			if err := d.CreateACMEAccount(ctx, acct); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("same key twice: %v", err)
			}
			got, err := d.ACMEAccountByKey(ctx, "WebServer", "tp1")
			if err != nil || got.ID != "a1" || got.User != "web" || len(got.Contact) != 1 || !got.Created.Equal(now) {
				t.Fatalf("by key: %+v %v", got, err)
			}
			if err := d.ChangeACMEAccountKey(ctx, "a1", "other", "tp2", []byte("{}")); !errors.Is(err, ErrConflict) {
				t.Fatalf("key change from a stale key: %v", err)
			}
			if err := d.ChangeACMEAccountKey(ctx, "a1", "tp1", "tp2", []byte("{}")); err != nil {
				t.Fatal(err)
			}
			if _, err := d.ACMEAccountByKey(ctx, "WebServer", "tp1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("old key still finds the account: %v", err)
			}

			o := ACMEOrder{ID: "o1", AccountID: "a1", Status: ACMEPending, Expires: now.Add(time.Hour), Identifiers: []string{"dns:a.contoso.com", "dns:b.contoso.com"}, Replaces: "x.y", Created: now}
			chal := []ACMEChallenge{{Type: "http-01", Status: ACMEPending}, {Type: "dns-01", Status: ACMEPending}}
			authzs := []ACMEAuthz{
				{ID: "z1", Type: "dns", Value: "a.contoso.com", Status: ACMEPending, Expires: now.Add(time.Hour), Token: "t1", Challenges: chal},
				{ID: "z2", Type: "dns", Value: "b.contoso.com", Status: ACMEPending, Expires: now.Add(time.Hour), Token: "t2", Challenges: chal},
			}
			if err := d.CreateACMEOrder(ctx, o, authzs); err != nil {
				t.Fatal(err)
			}
			if err := d.CreateACMEOrder(ctx, ACMEOrder{ID: "o2", AccountID: "a1", Status: ACMEPending, Created: now}, authzs[:1]); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("an order whose authorization exists: %v", err)
			}
			if _, err := d.ACMEOrder(ctx, "o2"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a failed order was half stored: %v", err)
			}
			az, err := d.ACMEOrderAuthzs(ctx, "o1")
			if err != nil || len(az) != 2 || len(az[0].Challenges) != 2 || az[1].Value != "b.contoso.com" {
				t.Fatalf("authzs: %+v %v", az, err)
			}
			v := ACMEChallenge{Type: "http-01", Status: ACMEValid, Validated: now}
			if err := d.SetACMEChallenge(ctx, "z1", v, ACMEPending, ACMEValid); err != nil {
				t.Fatal(err)
			}
			if err := d.SetACMEChallenge(ctx, "z1", v, ACMEPending, ACMEValid); !errors.Is(err, ErrConflict) {
				t.Fatalf("validated twice: %v", err)
			}
			z, err := d.ACMEAuthz(ctx, "z1")
			if err != nil || z.Status != ACMEValid || z.Challenges[1].Type != "http-01" || !z.Challenges[1].Validated.Equal(now) {
				t.Fatalf("authz: %+v %v", z, err)
			}
			o.Status, o.Serial, o.Updated = ACMEValid, "ABC", now
			if err := d.SetACMEOrder(ctx, o, ACMEReady); !errors.Is(err, ErrConflict) {
				t.Fatalf("order not ready: %v", err)
			}
			if err := d.SetACMEOrder(ctx, o, ACMEPending); err != nil {
				t.Fatal(err)
			}
			if got, err := d.ACMEOrder(ctx, "o1"); err != nil || got.Serial != "ABC" || got.Replaces != "x.y" || len(got.Identifiers) != 2 {
				t.Fatalf("order: %+v %v", got, err)
			}
			if id, err := d.ACMEReplaced(ctx, "x.y"); err != nil || id != "o1" {
				t.Fatalf("replaced: %q %v", id, err)
			}
			if ids, err := d.ACMEOrders(ctx, "a1", 10); err != nil || len(ids) != 1 {
				t.Fatalf("orders: %v %v", ids, err)
			}

			s1, err := d.ACMESecret(ctx, "nonce", []byte("first"))
			if err != nil {
				t.Fatal(err)
			}
			if s2, err := d.ACMESecret(ctx, "nonce", []byte("second")); err != nil || string(s1) != "first" || string(s2) != "first" {
				t.Fatalf("secret: %q %q %v", s1, s2, err)
			}

			if _, err := d.InsertIssued(ctx, req(), cert("AB12"), Audit{At: now, Actor: "web", Action: "submit", Serial: "AB12", Result: "issued", Detail: "acme order o1"}); err != nil {
				t.Fatal(err)
			}
			if s, err := d.IssuedFor(ctx, "acme order o1"); err != nil || s != "AB12" {
				t.Fatalf("issued for: %q %v", s, err)
			}
			if s, err := d.IssuedFor(ctx, "acme order o9"); err != nil || s != "" {
				t.Fatalf("issued for another: %q %v", s, err)
			}
			if err := d.DeleteUser(ctx, "web"); err != nil {
				t.Fatal(err)
			}
			if err := d.CreateUser(ctx, User{Name: "web", Created: now}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.EABKey(ctx, "kid1"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a removed user's key came back with a new user of that name: %v", err)
			}
		})
	}
}
