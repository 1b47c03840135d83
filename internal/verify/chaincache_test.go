package verify

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

// TestChainCache checks that a chain verified at a second is verified once,
// outcome included, and that another chain or another second is verified
// anew.
func TestChainCache(t *testing.T) {
	// The cache keys on the certificates' bytes only.
	a, b, root := &x509.Certificate{Raw: []byte("leaf a")}, &x509.Certificate{Raw: []byte("leaf b")}, &x509.Certificate{Raw: []byte("root")}
	at := time.Date(2026, 12, 6, 10, 0, 0, 100, time.UTC)
	bad := errors.New("does not verify")
	var c chainCache
	calls := 0
	check := func(err error) func() error { return func() error { calls++; return err } }
	cases := []struct {
		name      string
		chain     []*x509.Certificate
		at        time.Time
		result    error
		wantCalls int
		wantErr   error
	}{
		{"first time", []*x509.Certificate{a, root}, at, bad, 1, bad},
		{"same chain, same second: remembered, outcome included", []*x509.Certificate{a, root}, at.Add(500 * time.Millisecond), nil, 1, bad},
		{"another leaf", []*x509.Certificate{b, root}, at, nil, 2, nil},
		{"another chain below the same leaf", []*x509.Certificate{a}, at, nil, 3, nil},
		{"another second", []*x509.Certificate{a, root}, at.Add(time.Second), nil, 4, nil},
	}
	for _, tc := range cases {
		err := c.verify(tc.chain, tc.at, check(tc.result))
		if calls != tc.wantCalls || !errors.Is(err, tc.wantErr) && err != tc.wantErr {
			t.Fatalf("%s: %d checks, err %v; want %d, %v", tc.name, calls, err, tc.wantCalls, tc.wantErr)
		}
	}
	var none *chainCache
	before := calls
	none.verify([]*x509.Certificate{a}, at, check(nil))
	none.verify([]*x509.Certificate{a}, at, check(nil))
	if calls != before+2 {
		t.Fatal("a nil cache remembered")
	}
}
