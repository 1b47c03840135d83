package ca

import (
	"context"
	"testing"
)

// TestRequestsStatusNowAndFilteredPages: a listing shows each request's
// certificate status now (revoked, not issued), filters before paging (a
// page of revoked requests used to come back empty when the revoked ones
// were older than the first page) and says next only when more matches
// follow.
func TestRequestsStatusNowAndFilteredPages(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e, _ := newCA(t, b.dsn(t), "p256")
			ctx := context.Background()
			admin := mustPrincipal(t, e, "admin")
			var ids []int64
			for range 6 {
				res, err := e.Submit(ctx, admin, makeCSR(t, csrSpec{cn: "list.contoso.com"}), "WebServer")
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, res.RequestID)
				if len(ids) <= 2 { // the two oldest are revoked
					if err := e.Revoke(ctx, admin, res.Certificate.SerialNumber, "superseded"); err != nil {
						t.Fatal(err)
					}
				}
			}
			all, next, err := e.Requests(ctx, admin, "", Page{})
			if err != nil || next != 0 || len(all) != 6 {
				t.Fatalf("all: %d, next %d, %v", len(all), next, err)
			}
			for _, r := range all {
				want := StatusIssued
				if r.RequestID == ids[0] || r.RequestID == ids[1] {
					want = StatusRevoked
				}
				if r.Status != want {
					t.Errorf("request %d listed %s, want %s", r.RequestID, r.Status, want)
				}
			}
			for _, c := range []struct {
				name   string
				status Status
				want   []int64
			}{
				{"revoked", StatusRevoked, []int64{ids[1], ids[0]}},
				{"issued", StatusIssued, []int64{ids[5], ids[4], ids[3], ids[2]}},
			} {
				t.Run(c.name, func(t *testing.T) {
					var got []int64
					pg := Page{Limit: 2}
					for pages := 0; ; pages++ {
						rs, next, err := e.Requests(ctx, admin, c.status, pg)
						if err != nil {
							t.Fatal(err)
						}
						if len(rs) == 0 {
							t.Fatalf("an empty page (before %d)", pg.Before)
						}
						for _, r := range rs {
							if r.Status != c.status {
								t.Fatalf("request %d is %s in the %s listing", r.RequestID, r.Status, c.status)
							}
							got = append(got, r.RequestID)
						}
						if next == 0 {
							break
						}
						pg.Before = next
					}
					if len(got) != len(c.want) {
						t.Fatalf("listed %v, want %v", got, c.want)
					}
					for i := range got {
						if got[i] != c.want[i] {
							t.Fatalf("listed %v, want %v", got, c.want)
						}
					}
				})
			}
		})
	}
}
