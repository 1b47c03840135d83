package apply_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgecert/internal/acme"
	"edgecert/internal/apply"
	"edgecert/internal/apply/applytest"
)

// countingCA is a public CA that counts what would be network calls: its
// renewal window is 60 days from now, to be asked again in 6 hours.
type countingCA struct{ calls atomic.Int64 }

func (c *countingCA) Obtain(context.Context, string, []byte, *x509.Certificate) (*apply.Issued, error) {
	c.calls.Add(1)
	return nil, errors.New("no order expected")
}

func (c *countingCA) Roots() []*x509.Certificate { return nil }

func (c *countingCA) RenewalInfo(_ context.Context, leaf *x509.Certificate) (*acme.Window, error) {
	c.calls.Add(1)
	start := time.Now().Add(60 * 24 * time.Hour)
	return &acme.Window{Start: start, End: start.Add(48 * time.Hour), RetryAfter: time.Now().Add(6 * time.Hour)}, nil
}

// BenchmarkRenewNothingDue100 is renew from a timer with nothing near: 100
// edge pools of one server, so 100 public (and 100 internal) certificates,
// each with a cached renewal window. It fails if renew makes a network call.
func BenchmarkRenewNothingDue100(b *testing.B) {
	// The external certificates from the public CA (the stand-in, through
	// the outbox, for the first issuance).
	topo := strings.ReplaceAll(applytest.EdgePoolsYAML(100, 1), "        external_issuer: internal\n", "")
	e := applytest.New(b, topo, applytest.Options{})
	e.ApplyAll(b, e.Options())
	ca := &countingCA{}
	opts := e.Options()
	opts.PublicCA = ca
	ctx := context.Background()
	if _, err := apply.Renew(ctx, e.Plan, e.Workspace, 30*24*time.Hour, opts); err != nil { // fills the cache
		b.Fatal(err)
	}
	if n := ca.calls.Load(); n != 100 {
		b.Fatalf("the first renew asked the CA %d times, want 100 (once per public certificate)", n)
	}
	ca.calls.Store(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := apply.Renew(ctx, e.Plan, e.Workspace, 30*24*time.Hour, opts)
		if err != nil || len(res.Done) != 0 || len(res.Renewals) != 100 {
			b.Fatalf("renew: %v %+v", err, res)
		}
	}
	b.StopTimer()
	if n := ca.calls.Load(); n != 0 {
		b.Fatalf("renew with nothing near made %d network calls", n)
	}
}
