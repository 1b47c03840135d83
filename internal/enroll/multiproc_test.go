package enroll

import (
	"context"
	"crypto/x509"
	"io"
	"math/big"
	"net/http"
	"testing"

	"edgecert/internal/ca"
	"edgecert/internal/testtool"
)

// another opens the test CA again, as a second `ca serve` process on the
// same database would.
func (tc *testCA) another(t *testing.T) *testCA {
	t.Helper()
	eng, err := ca.Open(context.Background(), tc.dir, ca.OpenOptions{Passphrase: tc.pass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	other := *tc
	other.eng = eng
	return &other
}

// fetchCRL gets a CRL over plain HTTP and returns it parsed.
func fetchCRL(t *testing.T, ts *testServer, path string) *x509.RevocationList {
	t.Helper()
	resp, err := http.Get(ts.plain + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	rl, err := x509.ParseRevocationList(b)
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

// TestCRLFreshAcrossServers: two servers on one PostgreSQL database. A
// revocation through one is in the other's full CRL on the very next
// request (it used to serve its own cached CRL for up to a second), and a
// client asking the servers in turn never sees a CRL number decrease.
func TestCRLFreshAcrossServers(t *testing.T) {
	dsn := testtool.PostgresSchema(t)
	t.Parallel()
	tc := newRealCAKey(t, "p256", dsn)
	a := startServer(t, tc, Config{HTTPListen: "127.0.0.1:0"})
	b := startServer(t, tc.another(t), Config{HTTPListen: "127.0.0.1:0"})
	full := "/crl/" + tc.eng.FileName() + ".crl"
	var last int64
	for i := range 6 {
		for _, ts := range []*testServer{a, b, a} {
			if n := fetchCRL(t, ts, full).Number.Int64(); n < last {
				t.Fatalf("round %d: CRL number %d after %d", i, n, last)
			} else {
				last = n
			}
		}
		st, body := a.call(t, "POST", "/api/v1/certificates", tc.tokAlice, map[string]string{"csr": newCSR(t, "fresh.contoso.com"), "template": tmplAuto})
		if st != http.StatusCreated {
			t.Fatalf("submit: %d %s", st, body)
		}
		serial := decodeNoT(body).Serial
		if st, body := a.call(t, "POST", "/api/v1/revocations", tc.tokAdmin, map[string]string{"serial": serial, "reason": "superseded"}); st != http.StatusOK {
			t.Fatalf("revoke: %d %s", st, body)
		}
		want, _ := new(big.Int).SetString(serial, 16)
		rl := fetchCRL(t, b, full)
		found := false
		for _, e := range rl.RevokedCertificateEntries {
			found = found || e.SerialNumber.Cmp(want) == 0
		}
		if !found {
			t.Fatalf("round %d: the other server's CRL %d lacks %s, revoked a moment ago", i, rl.Number, serial)
		}
	}
}
