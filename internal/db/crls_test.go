package db

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCRLStore: the head names the latest full CRL, the latest delta on
// it and the revocation counter; storing a full CRL drops those before the
// previous one, storing a delta the deltas of its base before the previous
// one; a number is stored once.
func TestCRLStore(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			ctx := context.Background()
			h, err := d.CRLHead(ctx)
			if err != nil || h.Full != nil || h.Delta != nil || h.Revocations != 0 {
				t.Fatalf("empty head: %+v %v", h, err)
			}
			at := time.Unix(1_700_000_000, 0).UTC()
			put := func(number, base int64) {
				t.Helper()
				c := CRL{Number: number, Base: base, ThisUpdate: at, NextUpdate: at.Add(time.Hour), Revocations: number * 10, DER: []byte{byte(number)}}
				if err := d.InsertCRL(ctx, c); err != nil {
					t.Fatalf("insert %d: %v", number, err)
				}
			}
			head := func(full, delta int64) {
				t.Helper()
				h, err := d.CRLHead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var gotDelta int64
				if h.Delta != nil {
					gotDelta = h.Delta.Number
					if h.Delta.Base != full {
						t.Fatalf("delta %d on base %d, want %d", gotDelta, h.Delta.Base, full)
					}
				}
				if h.Full == nil || h.Full.Number != full || gotDelta != delta {
					t.Fatalf("head %+v %+v, want full %d delta %d", h.Full, h.Delta, full, delta)
				}
				if h.Full.Revocations != full*10 || !h.Full.ThisUpdate.Equal(at) || !h.Full.NextUpdate.Equal(at.Add(time.Hour)) {
					t.Fatalf("full CRL metadata %+v", h.Full)
				}
			}
			stored := func(number int64, want bool) {
				t.Helper()
				c, err := d.CRLByNumber(ctx, number)
				if want && (err != nil || len(c.DER) != 1 || c.DER[0] != byte(number)) {
					t.Fatalf("CRL %d: %v", number, err)
				}
				if !want && !errors.Is(err, ErrNotFound) {
					t.Fatalf("CRL %d still stored (%v)", number, err)
				}
			}
			put(1, 0)
			head(1, 0)
			put(2, 1)
			put(3, 1)
			put(4, 1)
			head(1, 4)
			stored(2, false) // a delta before the previous one of its base
			stored(3, true)
			put(5, 0)
			head(5, 0) // the deltas of 1 are not on the latest full CRL
			put(6, 5)
			put(7, 0)
			head(7, 0)
			stored(1, false)
			stored(4, false)
			stored(5, true) // the previous full CRL stays for a process that read its head
			stored(6, true)
			if err := d.InsertCRL(ctx, CRL{Number: 7, ThisUpdate: at, NextUpdate: at, DER: []byte{0}}); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("a CRL number stored twice: %v", err)
			}
			if err := d.Revoke(ctx, Revocation{Serial: "AB", RevokedAt: at, Entry: []byte{1}}, Audit{At: at, Actor: "a", Action: "revoke", Result: "x"}); !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
			if _, err := d.InsertIssued(ctx, req(), cert("AB"), Audit{At: at, Actor: "a", Action: "submit", Result: "issued"}); err != nil {
				t.Fatal(err)
			}
			if err := d.Revoke(ctx, Revocation{Serial: "AB", RevokedAt: at, Entry: []byte{1}}, Audit{At: at, Actor: "a", Action: "revoke", Result: "revoked"}); err != nil {
				t.Fatal(err)
			}
			if h, _ := d.CRLHead(ctx); h.Revocations != 1 {
				t.Fatalf("revocation counter %d after one revocation", h.Revocations)
			}
		})
	}
}
