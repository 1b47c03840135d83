package ca

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"sync"
	"testing"

	"edgecert/internal/testtool"
)

// openMore opens n more engines on the CA in dir (its database included),
// as more `ca serve` processes would.
func openMore(t *testing.T, dir string, n int) []*Engine {
	t.Helper()
	var out []*Engine
	for range n {
		e, err := Open(context.Background(), dir, OpenOptions{Passphrase: testPassphrase})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		out = append(out, e)
	}
	return out
}

// crlFacts parses a CRL's number and, for a delta CRL, its base.
func crlFacts(t *testing.T, e *Engine, der []byte) (number, base int64, rl *x509.RevocationList) {
	t.Helper()
	rl, err := x509.ParseRevocationList(der)
	if err != nil || rl.CheckSignatureFrom(e.issuer) != nil {
		t.Fatalf("CRL: %v", err)
	}
	for _, ext := range rl.Extensions {
		if ext.Id.Equal(oidDeltaCRL) {
			var b *big.Int
			if _, err := asn1.Unmarshal(ext.Value, &b); err != nil {
				t.Fatal(err)
			}
			base = b.Int64()
		}
	}
	return rl.Number.Int64(), base, rl
}

func crlHas(rl *x509.RevocationList, serial *big.Int) bool {
	for _, r := range rl.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

// TestCRLsAgreeAcrossProcesses: three engines on one PostgreSQL database
// (three `ca serve` processes). Asked in turn, with revocations through
// any of them in between, the full CRL numbers never decrease, each delta
// CRL applies to the full CRL the same engine serves, and a revocation is
// in every engine's next CRL at once. Before CRLs were stored, each engine
// signed its own and numbers went backwards (5 then 1).
func TestCRLsAgreeAcrossProcesses(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			first, dir := newCA(t, b.dsn(t), "p256")
			engines := append([]*Engine{first}, openMore(t, dir, 2)...)
			ctx := context.Background()
			admin := mustPrincipal(t, first, "admin")
			var last int64
			for i := range 24 {
				e := engines[i%3]
				full, err := e.CRL(ctx, false)
				if err != nil {
					t.Fatal(err)
				}
				n, _, _ := crlFacts(t, e, full)
				if n < last {
					t.Fatalf("fetch %d (engine %d): full CRL %d after %d", i, i%3, n, last)
				}
				last = n
				delta, err := e.CRL(ctx, true)
				if err != nil {
					t.Fatal(err)
				}
				dn, base, _ := crlFacts(t, e, delta)
				if base != n || dn <= n {
					t.Fatalf("fetch %d: delta CRL %d on base %d served with full CRL %d", i, dn, base, n)
				}
				if i%4 == 1 {
					res, err := engines[(i+1)%3].Submit(ctx, admin, makeCSR(t, csrSpec{cn: "r.contoso.com"}), "WebServer")
					if err != nil {
						t.Fatal(err)
					}
					if err := engines[(i+2)%3].Revoke(ctx, admin, res.Certificate.SerialNumber, "superseded"); err != nil {
						t.Fatal(err)
					}
					for j, other := range engines {
						der, err := other.CRL(ctx, false)
						if err != nil {
							t.Fatal(err)
						}
						if _, _, rl := crlFacts(t, other, der); !crlHas(rl, res.Certificate.SerialNumber) {
							t.Fatalf("engine %d's full CRL lacks the revocation made through engine %d", j, (i+2)%3)
						}
					}
				}
			}
		})
	}
}

// TestCRLNumbersNeverDecreaseConcurrently: clients asking the three
// engines in random order while revocations go on see CRL numbers that
// never decrease.
func TestCRLNumbersNeverDecreaseConcurrently(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	first, dir := newCA(t, dsn, "p256")
	engines := append([]*Engine{first}, openMore(t, dir, 2)...)
	ctx := context.Background()
	admin := mustPrincipal(t, first, "admin")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 12 {
			res, err := engines[i%3].Submit(ctx, admin, makeCSR(t, csrSpec{cn: "c.contoso.com"}), "WebServer")
			if err == nil {
				err = engines[(i+1)%3].Revoke(ctx, admin, res.Certificate.SerialNumber, "superseded")
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
		close(stop)
	}()
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last, lastDelta int64
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := engines[(c+i*7)%3]
				der, err := e.CRL(ctx, i%2 == 1)
				if err != nil {
					t.Error(err)
					return
				}
				rl, err := x509.ParseRevocationList(der)
				if err != nil {
					t.Error(err)
					return
				}
				n := rl.Number.Int64()
				if i%2 == 1 {
					if n < lastDelta {
						t.Errorf("client %d: delta CRL %d after %d", c, n, lastDelta)
					}
					lastDelta = n
				} else {
					if n < last {
						t.Errorf("client %d: full CRL %d after %d", c, n, last)
					}
					last = n
				}
			}
		}()
	}
	wg.Wait()
}
