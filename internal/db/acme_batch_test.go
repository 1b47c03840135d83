package db

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestACMEWritesFailAlone sends many ACME writes at once, half of them
// bound to fail (an order whose authorization id another order took, found
// after the order's own row is written; a second move of the same order):
// every write that fails leaves nothing of itself, and every other one is
// stored. On SQLite the
// writes share commits, each inside its own savepoint.
func TestACMEWritesFailAlone(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			ctx := context.Background()
			now := time.Unix(1_800_000_000, 0).UTC()
			if err := d.CreateUser(ctx, User{Name: "web", Created: now}); err != nil {
				t.Fatal(err)
			}
			if err := d.CreateACMEAccount(ctx, ACMEAccount{ID: "a1", Template: "WebServer", Thumbprint: "tp", JWK: []byte("{}"), User: "web", Status: ACMEValid, Created: now}); err != nil {
				t.Fatal(err)
			}
			const pairs = 32
			order := func(id, authz string) (ACMEOrder, []ACMEAuthz) {
				return ACMEOrder{ID: id, AccountID: "a1", Status: ACMEPending, Expires: now.Add(time.Hour), Identifiers: []string{"dns:" + authz + ".contoso.com"}, Created: now},
					[]ACMEAuthz{{ID: authz, Type: "dns", Value: authz + ".contoso.com", Status: ACMEPending, Expires: now.Add(time.Hour), Token: "t" + authz,
						Challenges: []ACMEChallenge{{Type: "http-01", Status: ACMEPending}, {Type: "dns-01", Status: ACMEPending}}}}
			}
			start := make(chan struct{})
			errs := make([]error, 2*pairs)
			var wg sync.WaitGroup
			for i := range 2 * pairs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					o, az := order(fmt.Sprintf("o%d", i), fmt.Sprintf("z%d", i/2)) // two orders per authorization id
					errs[i] = d.CreateACMEOrder(ctx, o, az)
				}()
			}
			close(start)
			wg.Wait()
			winners := make([]string, pairs)
			for p := range pairs {
				a, b := errs[2*p], errs[2*p+1]
				if (a == nil) == (b == nil) {
					t.Fatalf("orders o%d and o%d: both or neither stored: %v / %v", 2*p, 2*p+1, a, b)
				}
				won, lost := 2*p, 2*p+1
				if a != nil {
					won, lost = lost, won
				}
				if !errors.Is(errs[lost], ErrDuplicate) {
					t.Fatalf("the second order o%d: %v", lost, errs[lost])
				}
				az, err := d.ACMEOrderAuthzs(ctx, fmt.Sprintf("o%d", won))
				if err != nil || len(az) != 1 || az[0].ID != fmt.Sprintf("z%d", p) || len(az[0].Challenges) != 2 {
					t.Fatalf("order o%d's authorizations: %+v %v", won, az, err)
				}
				if _, err := d.ACMEOrder(ctx, fmt.Sprintf("o%d", lost)); !errors.Is(err, ErrNotFound) {
					t.Fatalf("the failed order o%d was half stored: %v", lost, err)
				}
				winners[p] = fmt.Sprintf("o%d", won)
			}

			// Every order moved by several requests at once: one move each.
			moved := make([]error, 2*pairs)
			start = make(chan struct{})
			for i := range 2 * pairs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					moved[i] = d.SetACMEOrder(ctx, ACMEOrder{ID: winners[i/2], Status: ACMEProcessing, Updated: now.Add(time.Duration(i) * time.Second)}, ACMEPending)
				}()
			}
			close(start)
			wg.Wait()
			for p := range pairs {
				a, b := moved[2*p], moved[2*p+1]
				if (a == nil) == (b == nil) || !errors.Is(errors.Join(a, b), ErrConflict) {
					t.Fatalf("order %s moved by both or neither: %v / %v", winners[p], a, b)
				}
				o, err := d.ACMEOrder(ctx, winners[p])
				if err != nil || o.Status != ACMEProcessing {
					t.Fatalf("order %s: %+v %v", winners[p], o, err)
				}
			}
			if s, ok := d.b.(*sqliteStore); ok {
				r, w := s.acmeW.rounds.Load(), s.acmeW.writes.Load()
				t.Logf("%d writes in %d commits", w, r)
				if r >= w {
					t.Errorf("%d writes took %d commits: none shared one", w, r)
				}
			}
		})
	}
}

// TestACMEWriterClosed: a write after the database closed fails, and does
// not wait forever.
func TestACMEWriterClosed(t *testing.T) {
	d := backends(t)["sqlite"](t)
	d.Close()
	err := d.CreateACMEAccount(context.Background(), ACMEAccount{ID: "a1", Template: "WebServer", Thumbprint: "tp", JWK: []byte("{}"), User: "web", Status: ACMEValid})
	if err == nil {
		t.Fatal("a write after Close succeeded")
	}
}

// TestACMEWriteCancelledAlone: callers that give up (their context ends
// while their writes wait or run) do not take the writes of the others
// with them, and every answer is the truth: nil exactly when the record
// is there.
func TestACMEWriteCancelledAlone(t *testing.T) {
	d := backends(t)["sqlite"](t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0).UTC()
	if err := d.CreateUser(ctx, User{Name: "web", Created: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateACMEAccount(ctx, ACMEAccount{ID: "a1", Template: "WebServer", Thumbprint: "tp", JWK: []byte("{}"), User: "web", Status: ACMEValid, Created: now}); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		const n = 32
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx := ctx
				if i%2 == 1 {
					var cancel context.CancelFunc
					cctx, cancel = context.WithCancel(ctx)
					time.AfterFunc(time.Duration(i*i*5)*time.Microsecond, cancel)
				}
				id := fmt.Sprintf("r%d-%d", round, i)
				errs[i] = d.CreateACMEOrder(cctx, ACMEOrder{ID: "o" + id, AccountID: "a1", Status: ACMEPending, Expires: now, Created: now},
					[]ACMEAuthz{{ID: "z" + id, Type: "dns", Value: id + ".contoso.com", Status: ACMEPending, Expires: now, Token: "t" + id,
						Challenges: []ACMEChallenge{{Type: "http-01", Status: ACMEPending}}}})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			id := fmt.Sprintf("r%d-%d", round, i)
			if i%2 == 0 && err != nil {
				t.Fatalf("order o%s, not cancelled, failed: %v", id, err)
			}
			az, rerr := d.ACMEOrderAuthzs(ctx, "o"+id)
			if rerr != nil || (err == nil) != (len(az) == 1) {
				t.Fatalf("order o%s answered %v, stored authorizations %d (%v)", id, err, len(az), rerr)
			}
		}
	}
}
